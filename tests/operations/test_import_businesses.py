"""`manage.py import_businesses`: CSV/JSONL, validation, error report, strict, dry run, resume.

Every run goes through `run()`, which returns (exit code, stdout, error message): the command
raises CommandError(returncode=...) and Django turns that into the process exit code.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from businesses import importing
from businesses.models import Business, Team
from schedules.models import Mapping
from tests.conftest import place_id

HEADER = "team_id,tier,platform,external_id,name\n"
FB = "https://www.facebook.com/page-{}"
TA = "https://www.tripadvisor.com/Hotel_Review-g1-d{}-Reviews-X.html"
BK = "https://www.booking.com/hotel/fr/hotel-{}.html"

pytestmark = pytest.mark.usefixtures("groups")


def run(*args: object) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("import_businesses", *map(str, args), "--no-progress", stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), str(exc)
    return 0, out.getvalue(), err.getvalue()


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def good_csv(tmp_path: Path, teams: int = 2, per_team: int = 4) -> Path:
    lines = [HEADER]
    for t in range(teams):
        for n in range(per_team):
            i = t * 100 + n
            platform, ext = [
                ("google", place_id(i)),
                ("facebook", FB.format(i)),
                ("tripadvisor", TA.format(i)),
                ("booking", BK.format(i)),
            ][n % 4]
            lines.append(f"t{t},professional,{platform},{ext},Business {i}\n")
    return write(tmp_path / "base.csv", "".join(lines))


def report_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_import_creates_teams_businesses_and_mappings(tmp_path: Path) -> None:
    code, out, _ = run(good_csv(tmp_path))
    assert code == 0
    assert Team.objects.filter(team_id__in=["t0", "t1"], tier="professional").count() == 2
    assert Business.objects.count() == 8
    assert Mapping.objects.count() == 16
    assert "businesses imported: 8" in out and "assignment checks: OK (2 teams)" in out
    assert not (tmp_path / "base.csv.errors.csv").exists()
    assert not (tmp_path / "base.csv.progress").exists()


def test_jsonl_with_aliases_and_csv_with_bom_and_aliases(tmp_path: Path) -> None:
    rows = [
        {"team": "j1", "tier": "starter", "platform": "google", "external id": place_id(1)},
        {"team": "j1", "tier": "starter", "platform": "Facebook", "external id": FB.format(1)},
    ]
    jsonl = write(tmp_path / "b.ndjson", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    assert run(jsonl)[0] == 0
    text = f"\ufeffTeam,Tier,Platform,External ID\nc1,free,booking,{BK.format(1)}\n"
    assert run(write(tmp_path / "b.txt", text), "--format", "csv")[0] == 0
    assert Business.objects.filter(team_id="j1").count() == 2
    assert Business.objects.get(team_id="c1").platform_key == "fr/hotel-1"


def test_rerun_is_idempotent(tmp_path: Path) -> None:
    path = good_csv(tmp_path)
    run(path)
    code, out, _ = run(path)
    assert code == 0
    assert "businesses imported: 0" in out and "already there:         8" in out
    assert "mappings created:   0" in out and "teams created:      0" in out
    assert (Business.objects.count(), Mapping.objects.count()) == (8, 16)


def test_dry_run_writes_nothing_and_reports(tmp_path: Path) -> None:
    code, out, _ = run(good_csv(tmp_path), "--dry-run")
    assert code == 0
    assert "Dry run: nothing written." in out and "businesses would be imported: 8" in out
    assert "teams would be created:      2" in out
    assert not Team.objects.exists() and not Business.objects.exists()
    assert not Mapping.objects.exists()


def bad_csv(tmp_path: Path) -> Path:
    return write(
        tmp_path / "mixed.csv",
        HEADER
        + f"a,starter,google,{place_id(1)},ok\n"  # line 2
        + f"a,gold,google,{place_id(2)},bad tier\n"  # line 3
        + "a,starter,myspace,whatever,bad platform\n"  # line 4
        + "a,starter,google,not a place id,bad identifier\n"  # line 5
        + f",starter,google,{place_id(3)},no team\n"  # line 6
        + f"a,starter,facebook,{FB.format(1)},ok\n",  # line 7
    )


def test_default_mode_imports_good_rows_and_reports_bad_ones(tmp_path: Path) -> None:
    path = bad_csv(tmp_path)
    code, out, message = run(path)
    assert code == 1 and "4 rows rejected" in message
    assert Business.objects.count() == 2
    assert "rejected:              4" in out
    rows = report_rows(tmp_path / "mixed.csv.errors.csv")
    assert [(r["line"], r["field"]) for r in rows] == [
        ("3", "tier"),
        ("4", "platform"),
        ("5", "external_id"),
        ("6", "team_id"),
    ]
    assert "Unknown tier 'gold'" in rows[0]["reason"]
    assert "Unknown platform 'myspace'" in rows[1]["reason"]
    assert "place id" in rows[2]["reason"]
    assert rows[0]["raw"].startswith("a,gold,google,")


def test_rows_whose_team_id_or_url_breaks_the_rules_are_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path / "unsafe.csv",
        HEADER
        + f'"a b",starter,google,{place_id(1)},space in the team id\n'  # line 2
        + f"<img>,starter,google,{place_id(2)},markup in the team id\n"  # line 3
        + "a,starter,facebook,https://www.facebook.com/<script>,markup in the URL\n"  # line 4
        + "a,starter,facebook,https://facebook.com@evil.com/x,user name before the host\n"
        + f"a,starter,google,{place_id(3)},ok\n",  # line 6
    )
    code, _, message = run(path)
    assert code == 1 and "4 rows rejected" in message
    rows = report_rows(tmp_path / "unsafe.csv.errors.csv")
    assert [(r["line"], r["field"]) for r in rows] == [
        ("2", "team_id"),
        ("3", "team_id"),
        ("4", "external_id"),
        ("5", "external_id"),
    ]
    assert rows[0]["reason"] == importing.services.TEAM_ID_INVALID
    assert list(Team.objects.values_list("team_id", flat=True)) == ["a"]
    assert Business.objects.count() == 1


def test_strict_with_a_bad_row_writes_nothing(tmp_path: Path) -> None:
    errors = tmp_path / "report.csv"
    code, _, message = run(bad_csv(tmp_path), "--strict", "--errors", errors)
    assert code == 1 and "--strict" in message
    assert not Team.objects.exists() and not Business.objects.exists()
    assert len(report_rows(errors)) == 4


def test_strict_with_a_clean_file_imports(tmp_path: Path) -> None:
    assert run(good_csv(tmp_path), "--strict")[0] == 0
    assert Business.objects.count() == 8


def test_missing_column_is_a_file_error(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", f"team_id,platform,external_id\na,google,{place_id(1)}\n")
    code, _, message = run(path)
    assert code == 2 and "Missing required column(s): tier" in message
    assert not Team.objects.exists()


def test_invalid_utf8_is_a_file_error_and_nothing_is_written(tmp_path: Path) -> None:
    body = (HEADER + f"a,free,google,{place_id(1)},fine\n").encode()
    body += b"a,free,google," + place_id(2).encode() + b",caf\xe9\n"
    code, _, message = run(write(tmp_path / "latin1.csv", body), "--chunk-size", "1")
    assert code == 2 and "Line 3 is not valid UTF-8" in message and "0xe9" in message
    assert not Team.objects.exists() and not Business.objects.exists()


def test_duplicate_rows_are_reported_and_the_first_is_kept(tmp_path: Path) -> None:
    pid = place_id(1)
    path = write(
        tmp_path / "dup.csv",
        HEADER
        + f"a,free,google,{pid},first\n"
        + f"a,free,google,place_id:{pid},second\n"  # same normalised key
        + f"b,free,google,{pid},other team\n"
        + f"a,enterprise,facebook,{FB.format(1)},tier conflict\n",
    )
    code, _, _ = run(path)
    assert code == 1
    assert Business.objects.get(team_id="a", platform="google").name == "first"
    assert Business.objects.filter(team_id="b").count() == 1
    rows = report_rows(tmp_path / "dup.csv.errors.csv")
    assert [(r["line"], r["field"]) for r in rows] == [("3", "external_id"), ("5", "tier")]
    assert "Duplicate row" in rows[0]["reason"] and "on line 2" in rows[1]["reason"]


def test_tier_change_moves_the_teams_businesses(tmp_path: Path) -> None:
    path = good_csv(tmp_path, teams=1)
    run(path)
    assert set(Mapping.objects.values_list("batch__group__interval_minutes", flat=True)) == {
        settings.SCHEDULER_TIER_INTERVALS["professional"]
    }
    write(path, path.read_text().replace("professional", "enterprise"))
    code, out, _ = run(path)
    assert code == 0 and "teams updated (tier): 1" in out
    assert Team.objects.get(team_id="t0").tier == "enterprise"
    assert set(Mapping.objects.values_list("batch__group__interval_minutes", flat=True)) == {
        settings.SCHEDULER_TIER_INTERVALS["enterprise"]
    }
    assert "assignment checks: OK" in out


def test_resume_after_a_crash_skips_committed_chunks(tmp_path, monkeypatch) -> None:
    path = good_csv(tmp_path, teams=2, per_team=3)  # 6 rows on lines 2..7
    real = importing.businesses_bulk_register_prepared
    calls = []

    def crash_on_second_chunk(**kwargs):
        calls.append(len(kwargs["prepared"]))
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real(**kwargs)

    monkeypatch.setattr(importing, "businesses_bulk_register_prepared", crash_on_second_chunk)
    with pytest.raises(RuntimeError):
        run(path, "--chunk-size", "2")
    progress = tmp_path / "base.csv.progress"
    assert progress.read_text().strip() == "3"  # lines 2-3 committed, chunk 2 rolled back
    assert Business.objects.count() == 2

    monkeypatch.setattr(importing, "businesses_bulk_register_prepared", real)
    calls.clear()
    code, out, _ = run(path, "--chunk-size", "2", "--resume")
    assert code == 0
    assert "skipped (committed by an earlier run): 2" in out
    assert "businesses imported: 4" in out and "already there:         0" in out
    assert Business.objects.count() == 6 and Mapping.objects.count() == 12
    assert not progress.exists()


def test_resume_from_a_hand_written_progress_file(tmp_path: Path) -> None:
    path = good_csv(tmp_path, teams=1, per_team=4)
    write(tmp_path / "base.csv.progress", "3\n")
    code, out, _ = run(path, "--resume")
    assert code == 0 and "skipped (committed by an earlier run): 2" in out
    assert Business.objects.count() == 2  # lines 2 and 3 were taken as already committed


def test_exit_code_in_real_use(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", "team_id,platform\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "manage.py", "import_businesses", str(path), "--no-progress"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Missing required column(s): tier, external_id" in done.stderr

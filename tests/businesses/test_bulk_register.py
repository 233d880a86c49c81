"""Bulk registration (the import path) is set-based: the statements of a call do not grow with
its rows, teams or batches, and the portable path (the embedded SQLite default) writes the
same businesses and mappings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection
from django.test.utils import CaptureQueriesContext

from businesses.models import Team
from businesses.services import BusinessRow, businesses_bulk_register
from schedules.models import Batch, Mapping
from tests.conftest import place_id

REPO = Path(__file__).resolve().parents[2]


def _rows(start: int, google: int, booking: int) -> list[BusinessRow]:
    rows = [BusinessRow("alice", "google", place_id(n)) for n in range(start, start + google)]
    return rows + [
        BusinessRow("bob", "booking", f"https://www.booking.com/hotel/fr/h{n}.html")
        for n in range(start, start + booking)
    ]


def _statements(rows: list[BusinessRow]) -> int:
    with CaptureQueriesContext(connection) as queries:
        result = businesses_bulk_register(rows=rows)
    assert result.created == len(rows)
    return len(queries.captured_queries)


def test_the_statements_of_a_chunk_do_not_grow_with_its_rows_teams_or_groups(
    alice: Team, bob: Team, charlie: Team
) -> None:
    businesses_bulk_register(rows=_rows(0, 50, 30))  # batches with room left in 4 groups
    # Both fill open batches and open new ones; the second in 8 groups, 3 teams, 4 platforms.
    small = _statements(_rows(1_000, 250, 120))
    large = _statements(
        _rows(10_000, 2_500, 1_000)
        + [BusinessRow("charlie", "facebook", f"facebook.com/p{n}") for n in range(300)]
        + [
            BusinessRow("alice", "tripadvisor", f"tripadvisor.com/Hotel_Review-g1-d{n}-R.html")
            for n in range(200)
        ]
    )
    assert small == large
    assert Mapping.objects.count() == 2 * (80 + 370 + 4_000)
    for batch in Batch.objects.all():
        assert batch.business_count == batch.mappings.count() <= batch.capacity


def test_the_import_works_on_the_embedded_sqlite_default(tmp_path: Path) -> None:
    """The portable path, end to end in a process of its own (the suite runs PostgreSQL)."""
    source = tmp_path / "businesses.csv"
    lines = ["team_id,tier,platform,external_id,name"]
    lines += [f"t{n % 3},free,google,{place_id(n)},B {n}" for n in range(300)]
    lines += [f"t1,free,booking,https://www.booking.com/hotel/fr/h{n}.html," for n in range(40)]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "DEBUG": "true"}

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    assert manage("migrate", "--verbosity", "0").returncode == 0
    first = manage("import_businesses", str(source), "--chunk-size", "100", "--no-progress")
    assert first.returncode == 0, first.stderr
    assert "businesses imported: 340" in first.stdout
    assert "mappings created:   680" in first.stdout
    assert "assignment checks: OK (3 teams)" in first.stdout
    again = manage("import_businesses", str(source), "--no-progress")
    assert again.returncode == 0, again.stderr
    assert "already there:         340" in again.stdout

import csv
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import CommandError
from django.db import transaction
from tqdm import tqdm

from businesses.importing import (
    FileLevelError,
    ImportStats,
    Record,
    assignment_check,
    check_encoding,
    detect_format,
    import_file,
)
from scheduler_project.cli import SchedulerCommand, positive_int

EPILOG = """\
file: a CSV with a header row (columns team_id, tier, platform, external_id and optionally
name; aliases such as "team" or "external id" are accepted) or JSON Lines (one object per
line, same keys), UTF-8 with or without BOM.

Rows are committed in chunks of --chunk-size rows, one transaction each. After every
committed chunk the number of the last committed line is written to FILE.progress; the file
is removed when the import completes. After a crash, run the same command again with
--resume: the committed chunks are skipped (their rows are still read and checked, so
in-file duplicates are still found). Re-running without --resume is safe too: the import is
idempotent (existing businesses are kept and counted as already there).

Exit codes: 0 all rows imported or already there; 1 some rows rejected (see the error
report), or --strict refused the file; 2 file-level error (unreadable, not UTF-8, required
columns missing), nothing written; 3 the assignment checks after the import failed.
"""


class ErrorReport:
    """The rejected rows (line, field, reason, raw), written on the first rejection only."""

    def __init__(self, path: Path) -> None:
        self.path, self.rows = path, 0
        self._handle: TextIO | None = None
        self._writer: Any = None
        self.path.unlink(missing_ok=True)  # a report of an earlier run would mislead

    def add(self, record: Record, problems: list[tuple[str, str]]) -> None:
        if self._writer is None:
            self._handle = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._handle)
            self._writer.writerow(("line", "field", "reason", "raw"))
        self.rows += 1
        for column, reason in problems:
            self._writer.writerow((record.line, column, reason, record.raw))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def progress_read(path: Path) -> int:
    """The last committed line of an interrupted run (0 when there is none)."""
    try:
        return int(path.read_text(encoding="utf-8").split()[0])
    except (OSError, IndexError, ValueError):
        return 0


def progress_write(path: Path, line: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{line}\n", encoding="utf-8")
    os.replace(tmp, path)


class DryRunRollback(Exception):
    """Raised inside the dry run's transaction to roll everything back."""


class Command(SchedulerCommand):
    help = (
        "Import teams and businesses from a CSV or JSON Lines file, streamed, in chunked "
        "transactions; bad rows are reported in an error report with their line numbers."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        from argparse import RawDescriptionHelpFormatter

        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.epilog = EPILOG
        parser.formatter_class = RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The .csv, .jsonl or .ndjson file.")
        parser.add_argument("--format", choices=("csv", "jsonl"), help="Override the extension.")
        parser.add_argument(
            "--chunk-size", type=positive_int, default=5000, help="Rows per transaction."
        )
        parser.add_argument(
            "--errors", type=Path, help="Error report (CSV). Default: FILE.errors.csv."
        )
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Validate the whole file first; import nothing at all if any row is bad.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and count what would happen, then roll back: nothing is written to the "
            "database (the error report is still written).",
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="Skip the chunks committed by an interrupted run (read from FILE.progress).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: object, **options) -> None:
        path: Path = options["file"]
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.", returncode=2)
        started = time.perf_counter()
        report = ErrorReport(options["errors"] or path.with_name(path.name + ".errors.csv"))
        progress_path = path.with_name(path.name + ".progress")
        resume_after = progress_read(progress_path) if options["resume"] else 0
        bar = tqdm(
            total=path.stat().st_size if path.is_file() else 0,
            unit="B",
            unit_scale=True,
            file=sys.stderr,
            disable=options["no_progress"] or not sys.stderr.isatty(),
        )

        phase = [""]

        def on_progress(desc: str, done: int) -> None:
            if bar.disable:
                return
            if phase[0] != desc:
                phase[0] = desc
                bar.reset()
                bar.set_description(desc)
            bar.update(done - bar.n)

        try:
            fmt = detect_format(path, options["format"])
            check_encoding(path)
            if (
                options["strict"]
                and import_file(
                    path, fmt, on_reject=report.add, on_progress=on_progress, write=False
                ).rejected
            ):
                report.close()
                raise CommandError(
                    f"--strict: {report.rows} rows rejected, nothing imported; see {report.path}.",
                    returncode=1,
                )
            stats, problems = self._import(path, fmt, report, options, resume_after, on_progress)
        except FileLevelError as exc:
            raise CommandError(f"{path}: {exc} Nothing was written.", returncode=2) from None
        finally:
            bar.close()
            report.close()
        if not options["dry_run"]:
            progress_path.unlink(missing_ok=True)
        self._summary(stats, problems, report, options, time.perf_counter() - started)
        if problems:
            raise CommandError("Assignment checks failed: " + "; ".join(problems), returncode=3)
        if stats.rejected:
            raise CommandError(f"{stats.rejected} rows rejected; see {report.path}.", returncode=1)

    def _import(self, path, fmt, report, options, resume_after, on_progress):
        dry_run = options["dry_run"]
        progress_path = path.with_name(path.name + ".progress")
        kwargs = {
            "on_reject": report.add,
            "on_commit": lambda line: None if dry_run else progress_write(progress_path, line),
            "chunk_size": options["chunk_size"],
            "resume_after": resume_after,
            "on_progress": on_progress,
        }
        if not dry_run:
            try:
                stats = import_file(path, fmt, **kwargs)
            except FileLevelError:
                raise
            except Exception:
                self.stderr.write(
                    f"Import interrupted; the committed chunks are recorded in "
                    f"{progress_path}. Fix the cause and rerun with --resume."
                )
                raise
            return stats, assignment_check(stats.team_ids)
        try:
            with transaction.atomic():
                stats = import_file(path, fmt, **kwargs)
                problems = assignment_check(stats.team_ids)
                raise DryRunRollback
        except DryRunRollback:
            return stats, problems

    def _summary(
        self, stats: ImportStats, problems: list[str], report, options, seconds: float
    ) -> None:
        would = "would be " if options["dry_run"] else ""
        lines = [
            f"{'Dry run: nothing written. ' if options['dry_run'] else ''}"
            f"{stats.rows_read} rows read in {seconds:.1f} s "
            f"({stats.rows_read / seconds if seconds else 0:,.0f} rows/s).",
            f"  businesses {would}imported: {stats.imported}",
            f"  already there:         {stats.already_there}",
            f"  rejected:              {stats.rejected}"
            + (f" (see {report.path})" if stats.rejected else ""),
            f"  teams {would}created:      {stats.teams_created}",
            f"  teams {would}updated (tier): {stats.teams_updated}",
            f"  mappings {would}created:   {stats.mappings_created}",
        ]
        if stats.skipped:
            lines.append(f"  skipped (committed by an earlier run): {stats.skipped}")
        lines.append(
            "  assignment checks: "
            + ("; ".join(problems) if problems else f"OK ({len(stats.team_ids)} teams)")
        )
        style = self.style.WARNING if stats.rejected or problems else self.style.SUCCESS
        self.stdout.write(style("\n".join(lines)))

import json
import time

from django.core.management.base import CommandError, CommandParser
from django.db import connection

from businesses.models import Team
from scheduler_project.cli import SchedulerCommand
from schedules.validation import CheckResult, Scope, repair, run_checks

SHOWN_PER_CHECK = 5
NEEDS_POSTGRESQL = (
    "validate_global_schedules checks with PostgreSQL's SQL; this database is {vendor}. "
    "Point DATABASE_URL at the PostgreSQL database to check (postgres://…)."
)


class Command(SchedulerCommand):
    help = (
        "Check the global schedules for inconsistencies (missing/orphan/duplicate mappings, "
        "batch counts, team isolation, empty batches, identifiers, intervals, next runs). "
        "Exit code 0 when every check passes, 1 otherwise. --fix repairs what can be "
        "repaired in one transaction, then checks again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true", help="Repair the repairable findings.")
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")
        parser.add_argument(
            "--team",
            help="Only this team's businesses and mappings (and the batches holding them); "
            "empty batches and group intervals are always checked globally.",
        )

    def handle(self, *args: object, **options: object) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(NEEDS_POSTGRESQL.format(vendor=connection.vendor), returncode=2)
        team = options["team"]
        if team is not None and not Team.objects.filter(team_id=team).exists():
            raise CommandError(f"Unknown team {team!r}.", returncode=2)
        verbose = int(options["verbosity"]) >= 2 and not options["json"]
        scope = Scope(team=team, progress=self._progress if verbose else None)

        start = time.perf_counter()
        results = run_checks(scope)
        before: list[CheckResult] | None = None
        fixed: dict[str, int] | None = None
        if options["fix"] and any(not r.ok for r in results):
            fixed = repair(results, scope)
            before, results = results, run_checks(scope)
        seconds = time.perf_counter() - start
        failed = [r for r in results if not r.ok]

        if options["json"]:
            payload = {
                "status": "fail" if failed else "ok",
                "team": team,
                "seconds": round(seconds, 3),
                "checks": [r.as_dict() for r in results],
            }
            if before is not None:
                payload["before_fix"] = [r.as_dict() for r in before]
                payload["fixed"] = fixed
            self.stdout.write(json.dumps(payload, indent=2, default=str))
        else:
            if before is not None:
                self.stdout.write("Before --fix:")
                self._report(before)
                self.stdout.write("Repairs:")
                for what, count in (fixed or {}).items():
                    self.stdout.write(f"  {what}: {count}")
                self.stdout.write("After --fix:")
            self._report(results)
            scope_text = f" (team {team})" if team else ""
            summary = (
                f"{len(results) - len(failed)}/{len(results)} checks passed{scope_text}, "
                f"{sum(len(r.findings) for r in failed)} findings, {seconds:.2f} s."
            )
            style = self.style.ERROR if failed else self.style.SUCCESS
            self.stdout.write(style(summary))

        if failed:
            names = ", ".join(r.name for r in failed)
            raise CommandError(f"Checks failed: {names}", returncode=1)

    def _progress(self, message: str) -> None:
        self.stderr.write(f"  … {message}")

    def _report(self, results: list[CheckResult]) -> None:
        for result in results:
            head = f"{result.name:<20} {result.title} ({result.seconds:.2f} s)"
            if result.ok:
                self.stdout.write(f"  {self.style.SUCCESS('OK  ')} {head}")
                continue
            repairable = sum(f.repairable for f in result.findings)
            self.stdout.write(
                f"  {self.style.ERROR('FAIL')} {head}: {len(result.findings)} findings "
                f"({repairable} repairable)"
            )
            for finding in result.findings[:SHOWN_PER_CHECK]:
                self.stdout.write(f"         {finding.label()}: {finding.message}")
            if len(result.findings) > SHOWN_PER_CHECK:
                self.stdout.write(f"         … and {len(result.findings) - SHOWN_PER_CHECK} more")

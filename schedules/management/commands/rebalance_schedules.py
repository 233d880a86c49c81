"""rebalance_schedules; its base class is shared with consolidate_schedules."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from businesses.platforms import PLATFORM_CHOICES, ScrapeType
from scheduler_project.cli import SchedulerCommand, positive_int
from schedules.services.operations import GroupMoves, groups_rebalance

ACTOR = "manage.py"


class _DryRunRollback(Exception):
    """Raised inside the dry run's transaction so nothing it did is kept."""


def _counts(counts: dict[str, int]) -> str:
    return " ".join(f"#{index}:{count}" for index, count in counts.items()) or "(no batch)"


class GroupOperationCommand(SchedulerCommand):
    verb = ""  # "rebalance" / "consolidate"
    operation: Callable[..., list[GroupMoves]]

    def add_arguments(self, parser):
        parser.add_argument(
            "--platform", choices=[name for name, _ in PLATFORM_CHOICES], help="Only this platform."
        )
        parser.add_argument("--scrape-type", choices=ScrapeType.values, help="Only this type.")
        parser.add_argument(
            "--interval", type=positive_int, help="Only groups of this interval, in minutes."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Compute and show the moves, then roll everything back: nothing is written.",
        )
        parser.add_argument("--reason", default="", help="Recorded on the audit events.")

    def handle(self, *args: object, **options: object) -> None:
        filters = {
            "platform": options["platform"],
            "scrape_type": options["scrape_type"],
            "interval": options["interval"],
        }
        kwargs = {**filters, "actor": ACTOR, "reason": options["reason"]}
        operation = type(self).operation
        if options["dry_run"]:
            # The real service, in one transaction that is rolled back: the plan is exactly
            # what a real run would do now, and no row (nor audit event) is kept.
            results: list[GroupMoves] = []
            try:
                with transaction.atomic():
                    results = operation(**kwargs)
                    raise _DryRunRollback
            except _DryRunRollback:
                pass
        else:
            results = operation(**kwargs)
        self._report(results, dry_run=bool(options["dry_run"]), verbose=options["verbosity"] > 1)

    def _report(self, results: list[GroupMoves], *, dry_run: bool, verbose: bool) -> None:
        prefix = "[dry run] would " if dry_run else ""
        changed = [r for r in results if r.moved or r.retired]
        for r in results:
            if not (r.moved or r.retired) and not verbose:
                continue
            g = r.group
            self.stdout.write(
                f"{prefix}{self.verb} {g.platform}/{g.scrape_type} every {g.interval_minutes} min"
                f"{' cron ' + g.cron_expression if g.cron_expression else ''} (group {g.pk}): "
                f"moved {r.moved}, retired {r.retired}; batches {_counts(r.before)} → "
                f"{_counts(r.after)}"
            )
        moved = sum(r.moved for r in results)
        retired = sum(r.retired for r in results)
        summary = (
            f"{len(results)} groups checked, {len(changed)} changed: {moved} mappings moved, "
            f"{retired} batches retired."
        )
        if dry_run:
            self.stdout.write(self.style.WARNING(f"Dry run, nothing written. {summary}"))
        else:
            self.stdout.write(self.style.SUCCESS(summary))


class Command(GroupOperationCommand):
    help = (
        "Even out the active batches of the matching schedule groups (audited as "
        "group.rebalance, actor manage.py). --dry-run shows the moves without writing."
    )
    verb = "rebalance"
    operation = staticmethod(groups_rebalance)

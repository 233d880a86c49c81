from scheduler_project.cli import SchedulerCommand
from schedules.services.retention import (
    RetentionPolicy,
    history_prune,
    history_prune_preview,
)


class Command(SchedulerCommand):
    help = (
        "Delete old history in bulk: executions past SCHEDULER_RETENTION_EXECUTIONS_DAYS "
        "(keeping the latest SCHEDULER_RETENTION_KEEP_PER_BATCH per batch, never active ones) "
        "with their unmatched items, webhook dedupe records past SCHEDULER_RETENTION_WEBHOOK_DAYS "
        "(at least 3) and closed retry entries. --dry-run only counts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count, delete nothing.")

    def handle(self, *args: object, **options: object) -> None:
        policy = RetentionPolicy.from_settings()
        dry_run = options["dry_run"]
        result = history_prune_preview(policy) if dry_run else history_prune(policy)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(
            f"Policy: executions older than {policy.executions_days} days (keeping the latest "
            f"{policy.keep_per_batch} per batch), webhook events older than "
            f"{policy.webhook_days} days."
        )
        for name, count in result.as_dict().items():
            self.stdout.write(f"{verb} {count} {name.replace('_', ' ')}")
        if dry_run:
            self.stdout.write(self.style.WARNING("Dry run, nothing deleted."))
        else:
            self.stdout.write(self.style.SUCCESS("Done."))

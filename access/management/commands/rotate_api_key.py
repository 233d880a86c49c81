from datetime import timedelta

from django.core.management.base import CommandError, CommandParser

from access.models import ApiKey
from access.services import api_key_rotate
from scheduler_project.cli import SchedulerCommand
from scheduler_project.errors import ConflictError


class Command(SchedulerCommand):
    help = (
        "Give an API key a new secret and print it ONCE. The old secret keeps working for the "
        "grace period, so the client can switch without downtime; then it answers 401."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The key's name (see the Django admin's key list).")
        parser.add_argument(
            "--grace-hours",
            type=int,
            default=24,
            metavar="HOURS",
            help="How long the old secret still works (default: %(default)s).",
        )

    def handle(self, *args: object, **options: object) -> None:
        if options["grace_hours"] < 0:
            raise CommandError("--grace-hours takes 0 or more hours.")
        try:
            key = ApiKey.objects.get(name=options["name"])
        except ApiKey.DoesNotExist:
            raise CommandError(f"No API key named {options['name']!r}.") from None
        try:
            secret = api_key_rotate(
                key=key,
                grace=timedelta(hours=options["grace_hours"]),
                actor="manage.py rotate_api_key",
            )
        except ConflictError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"Rotated {key.name!r}: the old secret works for {options['grace_hours']} h more. "
            "Store the new one now: it is not shown again."
        )
        self.stdout.write(secret)

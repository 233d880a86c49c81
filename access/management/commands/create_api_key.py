from datetime import timedelta

from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from access.services import api_key_create
from scheduler_project.cli import SchedulerCommand


class Command(SchedulerCommand):
    help = (
        "Create an API key and print it ONCE (only its hash is stored). Clients send it as "
        "`Authorization: Api-Key <key>`. A plain key reaches the product API of every team "
        "(a trusted product service); --team binds it to one team's paths; --admin keys also "
        "reach the admin API."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who uses the key, e.g. reviews-service.")
        kind = parser.add_mutually_exclusive_group()
        kind.add_argument("--admin", action="store_true", help="Operator key (admin API).")
        kind.add_argument(
            "--team", default="", metavar="TEAM_ID", help="Bind the key to this team's paths."
        )
        parser.add_argument(
            "--expires-in-days",
            type=int,
            default=None,
            metavar="DAYS",
            help="The key answers 401 after this many days (default: never).",
        )

    def handle(self, *args: object, **options: object) -> None:
        days = options["expires_in_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-in-days takes a whole number of days, 1 or more.")
        try:
            row, key = api_key_create(
                name=options["name"],
                is_admin=options["admin"],
                team_id=options["team"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
                actor="manage.py create_api_key",
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.message_dict.items())
            ) from exc
        team_model = apps.get_model("businesses", "Team")
        if row.team_id and not team_model.objects.filter(team_id=row.team_id).exists():
            self.stderr.write(
                f"Team {row.team_id!r} does not exist yet: the key answers 404 until the "
                "product service (an unbound key) creates it."
            )
        expiry = f", expires {row.expires_at:%Y-%m-%d %H:%M} UTC" if row.expires_at else ""
        self.stderr.write(
            f"Created key {row.name!r} ({row.scope}{expiry}). Store it now: it is not shown again."
        )
        self.stdout.write(key)

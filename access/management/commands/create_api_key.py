from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from access.services import api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key and print it ONCE (only its hash is stored). Product services send "
        "it as `Authorization: Api-Key <key>`; --admin keys also reach the admin API."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who uses the key, e.g. reviews-service.")
        parser.add_argument("--admin", action="store_true", help="Operator key (admin API).")

    def handle(self, *args: object, **options: object) -> None:
        try:
            row, key = api_key_create(name=options["name"], is_admin=options["admin"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.message_dict["name"])) from exc
        kind = "admin" if row.is_admin else "product"
        self.stderr.write(f"Created {kind} key {row.name!r}. Store it now: it is not shown again.")
        self.stdout.write(key)

from django.db import transaction
from django.db.models.functions import Now

from businesses.models import Business
from businesses.services import (
    BusinessRow,
    businesses_bulk_register,
    custom_interval_set,
    team_upsert,
)
from scheduler_project.cli import SchedulerCommand
from schedules.models import Batch
from schedules.services.assignment import schedule_groups_init

DEMO_TEAMS = {"demo-alice": "enterprise", "demo-bob": "professional", "demo-charlie": "free"}


def demo_rows(team_id: str, offset: int) -> list[BusinessRow]:
    n = range(offset, offset + 4)
    return (
        [BusinessRow(team_id, "google", f"ChIJdemo{i:019d}", f"Café {i}") for i in n]
        + [
            BusinessRow(team_id, "facebook", f"https://www.facebook.com/demo-page-{i}", f"Page {i}")
            for i in n
        ]
        + [
            BusinessRow(
                team_id,
                "tripadvisor",
                f"https://www.tripadvisor.com/Hotel_Review-g1-d{9000 + i}-Reviews-Demo.html",
                f"Hotel {i}",
            )
            for i in n
        ]
        + [
            BusinessRow(
                team_id,
                "booking",
                f"https://www.booking.com/hotel/fr/demo-{i}.html",
                f"Booking {i}",
            )
            for i in n
        ]
    )


class Command(SchedulerCommand):
    help = (
        "Create demo teams and businesses on all four platforms, with a 15-minute custom "
        "interval, and make their batches due now: with the Apify sandbox, a first run shows "
        "batches firing, reviews arriving and retries working. Does nothing if businesses "
        "already exist (unless --force)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Seed even if data exists.")

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        if Business.objects.exists() and not options["force"]:
            self.stdout.write("Businesses already exist: no demo data added.")
            return
        schedule_groups_init()
        rows = []
        for index, (team_id, tier) in enumerate(DEMO_TEAMS.items()):
            team, _ = team_upsert(team_id=team_id, tier=tier)
            custom_interval_set(team=team, interval_minutes=15, reason="demo", created_by="demo")
            rows += demo_rows(team_id, index * 10)
        result = businesses_bulk_register(rows=rows)
        due = Batch.objects.filter(mappings__team_id__in=DEMO_TEAMS).distinct()
        Batch.objects.filter(id__in=due.values("id")).update(next_run_at=Now())
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo: {len(DEMO_TEAMS)} teams, {result.created} businesses, "
                f"{result.mappings_created} assignments; their batches are due now."
            )
        )

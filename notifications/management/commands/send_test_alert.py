"""Send one test alert to every ALERT_URLS channel now; exit 1 if any channel failed."""

from django.core.management.base import CommandError

from notifications.models import AlertChannelState
from notifications.services.alerts import alert_send, alert_urls, alert_write, dashboard_link
from scheduler_project.cli import SchedulerCommand
from scheduler_project.dbclock import db_now


class Command(SchedulerCommand):
    help = "Send a test alert to every ALERT_URLS channel and say what each answered."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--message", default="This is a test alert.", help="(default: %(default)s)"
        )

    def handle(self, *args, message: str, **options) -> None:
        if not alert_urls():
            raise CommandError("ALERT_URLS is empty: no channel to send to.")
        alert = alert_write(
            key="test",
            kind="test",
            status="healthy",
            title="Global Scheduler test alert",
            body=f"{message}\nDashboard: {dashboard_link()}",
            send_later=False,
        )
        channels = alert_send(alert)
        failed = [name for name, result in channels.items() if not result["ok"]]
        alert.channels, alert.attempts = channels, 1
        alert.state = AlertChannelState.FAILED if failed else AlertChannelState.SENT
        alert.sent_at = None if failed else db_now()
        alert.save()
        for name, result in channels.items():
            line = f"{name}: {'sent' if result['ok'] else 'FAILED: ' + result['error']}"
            self.stdout.write(self.style.SUCCESS(line) if result["ok"] else self.style.ERROR(line))
        if failed:
            raise CommandError(f"{len(failed)} of {len(channels)} channels failed.")

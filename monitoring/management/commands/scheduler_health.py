import json
import sys

from monitoring.health import CRITICAL, HEALTHY, WARNING, health_report
from scheduler_project.cli import SchedulerCommand

EXIT_CODES = {HEALTHY: 0, WARNING: 1, CRITICAL: 2}
MARKS = {HEALTHY: "ok", WARNING: "WARN", CRITICAL: "CRIT"}


class Command(SchedulerCommand):
    help = (
        "Print the scheduler's health and the reason of each check. Exit code 0 healthy, "
        "1 warning, 2 critical: usable from cron alerts and container probes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print JSON instead of text.")

    def handle(self, *args: object, **options: object) -> None:
        status, checks = health_report()
        if options["json"]:
            payload = {
                "status": status,
                "checks": [
                    {
                        "name": c.name,
                        "status": c.status,
                        "value": c.value,
                        "threshold": c.threshold,
                        "reason": c.reason,
                    }
                    for c in checks
                ],
            }
            self.stdout.write(json.dumps(payload, indent=2))
        else:
            style = {HEALTHY: self.style.SUCCESS, WARNING: self.style.WARNING}.get(
                status, self.style.ERROR
            )
            self.stdout.write(style(f"status: {status}"))
            for check in checks:
                self.stdout.write(f"  [{MARKS[check.status]:>4}] {check.name}: {check.reason}")
        code = EXIT_CODES[status]
        if code:
            self.stdout.flush()
            sys.exit(code)

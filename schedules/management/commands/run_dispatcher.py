import logging
import signal
import time

from django.db import close_old_connections

from scheduler_project import conf
from scheduler_project.cli import SchedulerCommand, positive_seconds
from schedules.services.dispatch import TickResult, dispatch_tick

logger = logging.getLogger(__name__)


class Command(SchedulerCommand):
    help = (
        "Run the dispatcher loop in the foreground (an alternative or a complement to the "
        "beat's periodic tick; any number may run at once). Stops cleanly on SIGTERM/SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval",
            type=positive_seconds,
            default=conf.get().dispatch_tick_seconds,
            help="Seconds between ticks (above 0; DISPATCH_TICK_SECONDS sets the default).",
        )
        parser.add_argument("--once", action="store_true", help="Run one tick and exit.")

    def handle(self, *args: object, **options: object) -> None:
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self.stopping:
            try:
                self.tick()
            except Exception:
                if options["once"]:
                    raise
                # A lost connection (failover, pg_terminate_backend, a restart) must not end
                # the loop: the tick rolled back, and the next one reconnects and claims again.
                logger.exception("dispatch tick failed", extra={"action": "dispatch"})
            if options["once"]:
                break
            deadline = time.monotonic() + float(options["interval"])
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.1)

    def tick(self) -> TickResult:
        """One pass; tests call this directly."""
        close_old_connections()
        result = dispatch_tick()
        if result.claimed:
            self.stdout.write(
                f"claimed {result.claimed}, started {result.created}, "
                f"skipped {result.skipped_overlap}, missed {result.missed_slots}"
            )
        return result

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True

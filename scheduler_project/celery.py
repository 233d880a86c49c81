import os

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_project.settings")

app = Celery("scheduler_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_filesystem_broker_folders(sender: Celery, **kwargs: object) -> None:
    """The filesystem transport fails on missing folders; create them on first use."""
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Every worker records a heartbeat now and every 30 s, so health and the dashboard
    show which workers are alive."""

    requires = {"celery.worker.components:Timer"}

    def start(self, worker: object) -> None:
        from schedules.heartbeats import WORKER_HEARTBEAT_SECONDS, worker_heartbeat

        worker_heartbeat(worker.hostname)
        self.timer = worker.timer.call_repeatedly(
            WORKER_HEARTBEAT_SECONDS, worker_heartbeat, (worker.hostname,), priority=10
        )

    def stop(self, worker: object) -> None:
        if getattr(self, "timer", None):
            self.timer.cancel()


app.steps["worker"].add(WorkerHeartbeat)

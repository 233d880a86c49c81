import os
import time

from celery import Celery
from celery.signals import before_task_publish, celeryd_init

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


@celeryd_init.connect
def _refuse_unsafe_worker(**kwargs: object) -> None:
    """Unsafe production settings stop a worker before it consumes (beat: schedules/beat.py)."""
    from scheduler_project.production import refuse_unsafe_production

    refuse_unsafe_production("Celery worker")


PUBLISHED_AT_HEADER = "published_at"


@before_task_publish.connect
def _stamp_publish_time(headers: dict | None = None, **kwargs: object) -> None:
    """Every message says when it was published: the `queues` health check reads the age of
    each queue's oldest message from the broker (monitoring/queues.py)."""
    if headers is not None:
        headers.setdefault(PUBLISHED_AT_HEADER, time.time())


# Every worker records a heartbeat (schedules/heartbeats.py), named here so this module,
# at the bottom of the house, imports no app.
app.steps["worker"].add("schedules.heartbeats:WorkerHeartbeat")

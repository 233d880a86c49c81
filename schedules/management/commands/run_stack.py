import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Run the whole stack in the foreground: migrate, create the standard schedules, then "
        "start the web server, a Celery worker and the Celery beat. Works on the embedded "
        "default (SQLite + filesystem broker) and on PostgreSQL + Redis alike. Ctrl-C stops all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Web server address.")
        parser.add_argument("--concurrency", type=int, default=4, help="Worker threads.")

    def handle(self, *args: object, **options: object) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("init_global_schedules")
        celery = [sys.executable, "-m", "celery", "-A", "scheduler_project"]
        commands = {
            "web": [sys.executable, "manage.py", "runserver", options["addr"], "--noreload"],
            "worker": [
                *celery,
                "worker",
                "--pool=threads",
                f"--concurrency={options['concurrency']}",
                "-Q",
                settings.CELERY_TASK_DEFAULT_QUEUE,
                "--loglevel=INFO",
            ],
            "beat": [
                *celery,
                "beat",
                "--loglevel=INFO",
                f"--schedule={settings.VAR_DIR / 'celerybeat-schedule'}",
            ],
        }
        processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        self.stdout.write(
            self.style.SUCCESS(
                f"Global Scheduler is running: http://{options['addr']}/admin/ "
                f"(database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
                f"broker: {settings.CELERY_BROKER_URL.split('://')[0]}). "
                "Create a login with `python manage.py createsuperuser`. Ctrl-C stops everything."
            )
        )
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping:
            exited = [name for name, p in processes.items() if p.poll() is not None]
            if exited:
                self.stderr.write(f"{', '.join(exited)} exited; stopping the stack.")
                break
            time.sleep(0.5)
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

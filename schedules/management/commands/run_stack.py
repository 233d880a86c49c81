import json
import os
import secrets
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from scheduler_project.production import SECRETS

SANDBOX_TOKEN = "sandbox-token"


class Command(BaseCommand):
    help = (
        "Run the whole stack in the foreground: migrate, create the standard schedules, then "
        "start the web server, a Celery worker, the Celery beat and (by default) the Apify "
        "sandbox with demo businesses, so a first run shows batches firing, reviews arriving "
        "and retries working. Works on the embedded default (SQLite + filesystem broker) and "
        "on PostgreSQL + Redis alike. Ctrl-C stops everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Web server address.")
        parser.add_argument("--concurrency", type=int, default=4, help="Worker threads.")
        parser.add_argument(
            "--no-sandbox",
            action="store_true",
            help="Use the Apify API of APIFY_API_URL / APIFY_TOKEN instead of the local sandbox.",
        )
        parser.add_argument("--no-demo", action="store_true", help="Do not seed demo businesses.")
        parser.add_argument("--sandbox-port", type=int, default=8765)
        parser.add_argument(
            "--sandbox-delay", type=float, default=5.0, help="Seconds a sandbox run takes."
        )
        parser.add_argument(
            "--sandbox-failure-rate",
            type=float,
            default=0.1,
            help="Share of sandbox runs that fail (their businesses are retried).",
        )
        parser.add_argument(
            "--sandbox-error-item-rate",
            type=float,
            default=0.05,
            help="Share of businesses that get an error item instead of reviews.",
        )

    def handle(self, *args: object, **options: object) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("init_global_schedules")
        env = {**os.environ, "WEBHOOK_BASE_URL": f"http://{options['addr']}"}
        if "DATABASE_URL" not in os.environ and not settings.DEBUG:
            env.update(self._first_run_secrets(env))
        python = [sys.executable, "manage.py"]
        celery = [sys.executable, "-m", "celery", "-A", "scheduler_project"]
        commands = {}
        if not options["no_sandbox"]:
            env["APIFY_API_URL"] = f"http://127.0.0.1:{options['sandbox_port']}"
            env["APIFY_TOKEN"] = SANDBOX_TOKEN
            commands["sandbox"] = [
                *python,
                "apify_sandbox",
                f"--port={options['sandbox_port']}",
                f"--token={SANDBOX_TOKEN}",
                f"--delay={options['sandbox_delay']}",
                f"--failure-rate={options['sandbox_failure_rate']}",
                f"--error-item-rate={options['sandbox_error_item_rate']}",
            ]
            if not options["no_demo"]:
                call_command("seed_demo")
        commands["web"] = [*python, "runserver", options["addr"], "--noreload"]
        commands["worker"] = [
            *celery,
            "worker",
            "--pool=threads",
            f"--concurrency={options['concurrency']}",
            "-Q",
            settings.ALL_QUEUES,
            "--loglevel=INFO",
        ]
        commands["beat"] = [
            *celery,
            "beat",
            "--loglevel=INFO",
            f"--schedule={settings.VAR_DIR / 'celerybeat-schedule'}",
        ]
        processes = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
        apify = "the local Apify sandbox" if "sandbox" in commands else env.get("APIFY_API_URL")
        self.stdout.write(
            self.style.SUCCESS(
                f"Global Scheduler is running: http://{options['addr']}/admin/ "
                f"(database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
                f"broker: {settings.CELERY_BROKER_URL.split('://')[0]}, Apify: {apify}). "
                "Create a login with `python manage.py createsuperuser`. Ctrl-C stops everything."
            )
        )
        self._supervise(processes)

    def _first_run_secrets(self, env: dict[str, str]) -> dict[str, str]:
        """On the embedded default (a first run on this machine), secrets of this machine's
        own, made once and kept in SCHEDULER_VAR_DIR: the processes it starts refuse the
        development defaults like any production process would."""
        path = settings.VAR_DIR / "first-run-secrets.json"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            made = {name: secrets.token_urlsafe(50) for name in SECRETS}
            path.write_text(json.dumps(made))
            path.chmod(0o600)
        kept = json.loads(path.read_text())
        chosen = {name: env.get(name) or kept[name] for name in SECRETS}
        chosen["ALLOWED_HOSTS"] = env.get("ALLOWED_HOSTS") or "127.0.0.1,localhost,[::1]"
        self.stdout.write(f"First run on the embedded default: secrets of this machine in {path}.")
        return chosen

    def _supervise(self, processes: dict[str, subprocess.Popen]) -> None:
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

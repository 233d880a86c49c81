"""`python manage.py run_stack`: the whole service in the foreground, for a first run and for
development: one log, each line prefixed with the process that wrote it."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser

from scheduler_project.cli import (
    SchedulerCommand,
    address,
    non_negative_seconds,
    port,
    positive_int,
    share,
)
from scheduler_project.production import SECRETS

SANDBOX_TOKEN = "sandbox-token"
DEMO_OPERATOR = "operator"
PORT_TAKEN = (
    "Cannot start: {what} {host}:{port} is taken ({error}). Stop what uses it, or choose "
    "another with {option}."
)
EXITED = "{names} exited (code {codes}); the stack was stopped. Its last lines are above."


def _check_free(what: str, host: str, number: int, option: str) -> None:
    """Fail before starting anything when a port the stack needs is taken: otherwise the
    banner says 'running' and the web server dies a second later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, number))
        except OSError as exc:
            raise CommandError(
                PORT_TAKEN.format(
                    what=what, host=host, port=number, error=exc.strerror, option=option
                )
            ) from None


class Command(SchedulerCommand):
    help = (
        "Run the whole stack in the foreground: migrate, create the standard schedules, then "
        "start the web server, a Celery worker, the Celery beat and (by default) the Apify "
        "sandbox with demo businesses, so a first run shows batches firing, reviews arriving "
        "and retries working. Works on the embedded default (SQLite + filesystem broker) and "
        "on PostgreSQL + Redis alike. Ctrl-C stops everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--addr", type=address, default="127.0.0.1:8000", help="Web server HOST:PORT."
        )
        parser.add_argument("--concurrency", type=positive_int, default=4, help="Worker threads.")
        parser.add_argument(
            "--no-sandbox",
            action="store_true",
            help="Use the Apify API of APIFY_API_URL / APIFY_TOKEN instead of the local sandbox.",
        )
        parser.add_argument("--no-demo", action="store_true", help="Do not seed demo businesses.")
        parser.add_argument(
            "--sandbox-port", type=port, default=8765, help="Port of the local Apify sandbox."
        )
        parser.add_argument(
            "--sandbox-delay",
            type=non_negative_seconds,
            default=5.0,
            help="Seconds a sandbox run takes.",
        )
        parser.add_argument(
            "--sandbox-failure-rate",
            type=share,
            default=0.1,
            help="Share of sandbox runs that fail (their businesses are retried).",
        )
        parser.add_argument(
            "--sandbox-error-item-rate",
            type=share,
            default=0.05,
            help="Share of businesses that get an error item instead of reviews.",
        )

    def handle(self, *args: object, **options: object) -> None:
        host, _, web_port = options["addr"].rpartition(":")
        _check_free("the web address", host, int(web_port), "--addr")
        if not options["no_sandbox"]:
            _check_free("the sandbox port", "127.0.0.1", options["sandbox_port"], "--sandbox-port")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("init_global_schedules")
        embedded = "DATABASE_URL" not in os.environ
        env = {**os.environ, "WEBHOOK_BASE_URL": f"http://{options['addr']}"}
        if embedded and not settings.DEBUG:
            env.update(self._first_run_secrets(env))
        commands = self._commands(options, env)
        login = self._demo_operator() if embedded else None
        processes = {
            name: subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for name, cmd in commands.items()
        }
        self._banner(options, env, "sandbox" in commands, login)
        self._supervise(processes)

    def _commands(self, options: dict, env: dict[str, str]) -> dict[str, list[str]]:
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
            *celery, "worker", "--pool=threads", f"--concurrency={options['concurrency']}",
            "-Q", settings.ALL_QUEUES, "--loglevel=INFO",
        ]  # fmt: skip
        commands["beat"] = [
            *celery, "beat", "--loglevel=INFO",
            f"--schedule={settings.VAR_DIR / 'celerybeat-schedule'}",
        ]  # fmt: skip
        return commands

    def _demo_operator(self) -> tuple[str, str | None]:
        """On the embedded default only: a staff login to open the dashboard with, whose
        password is printed once, when it is made (never stored in clear)."""
        users = get_user_model().objects
        if users.filter(username=DEMO_OPERATOR).exists():
            return DEMO_OPERATOR, None
        password = secrets.token_urlsafe(12)
        users.create_user(DEMO_OPERATOR, password=password, is_staff=True, is_superuser=True)
        return DEMO_OPERATOR, password

    def _banner(
        self, options: dict, env: dict[str, str], sandbox: bool,
        login: tuple[str, str | None] | None,
    ) -> None:  # fmt: skip
        apify = "the local Apify sandbox" if sandbox else env.get("APIFY_API_URL")
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        lines = [
            f"Global Scheduler is running. Dashboard: http://{options['addr']}/dashboard/",
            f"  database: {engine}, broker: {settings.CELERY_BROKER_URL.split('://')[0]}, "
            f"Apify: {apify}",
        ]
        if login and login[1]:
            lines.append(f"  log in as {login[0]} / {login[1]}  (shown once: note it now)")
        elif login:
            lines.append(
                f"  log in as {login[0]} (its password was shown at the first run; "
                f"`python manage.py changepassword {login[0]}` sets a new one)"
            )
        else:
            lines.append("  log in with a staff user: `python manage.py createsuperuser`")
        lines.append("  Ctrl-C stops everything.")
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))

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

    def _relay(self, name: str, stream: IO[str], lock: threading.Lock) -> None:
        width = 7
        for line in stream:
            with lock:
                self.stdout.write(f"{name:<{width}}| {line.rstrip()}")
                self.stdout.flush()

    def _supervise(self, processes: dict[str, subprocess.Popen]) -> None:
        """Relay every process's output; stop all on Ctrl-C, SIGTERM or when one exits (then
        exit non-zero: the stack is not running any more)."""
        stopping = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        lock = threading.Lock()
        relays = [
            threading.Thread(target=self._relay, args=(name, p.stdout, lock), daemon=True)
            for name, p in processes.items()
        ]
        for relay in relays:
            relay.start()
        exited: dict[str, int] = {}
        while not stopping.is_set() and not exited:
            exited = {n: p.returncode for n, p in processes.items() if p.poll() is not None}
            time.sleep(0.3)
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for relay in relays:
            relay.join(timeout=2)
        if exited and not stopping.is_set():
            raise CommandError(
                EXITED.format(
                    names=", ".join(exited), codes=", ".join(str(c) for c in exited.values())
                )
            )

"""With DEBUG off, every process that serves refuses to start on public or missing secrets,
naming the variable; `check --deploy` reports the same; a safe production env starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler_project.production import DEV_SECRET_KEY, DEV_WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]
SAFE = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-secret-key-of-more-than-thirty-two-chars",
    "APIFY_WEBHOOK_SECRET": "a-production-webhook-secret-of-more-than-32-chars",
    "ALLOWED_HOSTS": "scheduler.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SECURE_COOKIES": "true",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    "CACHE_URL": "redis://127.0.0.1:6379/1",
}
WEB = [sys.executable, "-c", "import scheduler_project.wsgi"]
WORKER = [sys.executable, "-m", "celery", "-A", "scheduler_project", "worker", "--pool=solo"]
BEAT = [sys.executable, "-m", "celery", "-A", "scheduler_project", "beat"]
DISPATCHER = [sys.executable, "manage.py", "run_dispatcher"]


def _run(command: list[str], tmp_path: Path, **changes: str | None) -> subprocess.CompletedProcess:
    # A clean environment, as a deployment's: nothing of the test process leaks in.
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env |= {
        **SAFE,
        "DJANGO_SETTINGS_MODULE": "scheduler_project.settings",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1/scheduler"),
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],  # the suite's (tests/settings.py)
        "SCHEDULER_VAR_DIR": str(tmp_path),
    }
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


UNSAFE = [
    ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
    ({"SECRET_KEY": DEV_SECRET_KEY}, "SECRET_KEY is the development default"),
    ({"SECRET_KEY": "short"}, "SECRET_KEY is shorter than 32 characters"),
    ({"APIFY_WEBHOOK_SECRET": None}, "APIFY_WEBHOOK_SECRET is not set"),
    ({"APIFY_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET}, "APIFY_WEBHOOK_SECRET is the development"),
    ({"APIFY_WEBHOOK_SECRET": "x" * 31}, "APIFY_WEBHOOK_SECRET is shorter than 32"),
    ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS is not set"),
]


@pytest.mark.parametrize(("changes", "named"), UNSAFE, ids=[u[1] for u in UNSAFE])
def test_the_web_process_refuses_each_unsafe_setting(
    tmp_path: Path, changes: dict, named: str
) -> None:
    result = _run(WEB, tmp_path, **changes)
    assert result.returncode != 0
    assert named in result.stderr
    assert "Refusing to start the web server with DEBUG off" in result.stderr


@pytest.mark.parametrize(
    ("command", "process"),
    [(WORKER, "Celery worker"), (BEAT, "Celery beat"), (DISPATCHER, "run_dispatcher")],
    ids=["worker", "beat", "dispatcher"],
)
def test_workers_beat_and_the_dispatcher_refuse_too(
    tmp_path: Path, command: list[str], process: str
) -> None:
    result = _run(command, tmp_path, SECRET_KEY=DEV_SECRET_KEY)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"Refusing to start the {process}" in output
    assert "SECRET_KEY is the development default" in output


def test_debug_on_serves_with_the_development_defaults(tmp_path: Path) -> None:
    result = _run(WEB, tmp_path, DEBUG="true", SECRET_KEY=None, APIFY_WEBHOOK_SECRET=None)
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_with_the_documented_production_env(tmp_path: Path) -> None:
    result = _run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_reports_the_unsafe_secret_as_an_error(tmp_path: Path) -> None:
    result = _run([sys.executable, "manage.py", "check", "--deploy"], tmp_path, SECRET_KEY=None)
    assert result.returncode != 0
    assert "scheduler.E001" in result.stderr and "SECRET_KEY is not set" in result.stderr


def test_check_deploy_warns_while_the_cache_is_each_process_own(tmp_path: Path) -> None:
    result = _run([sys.executable, "manage.py", "check", "--deploy"], tmp_path, CACHE_URL=None)
    assert "scheduler.W002" in result.stderr + result.stdout

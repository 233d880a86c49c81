"""The deploy files match the code: no Docker engine runs here, so they are parsed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml
from django.apps import apps
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def _our_packages() -> set[str]:
    return {
        config.name.split(".")[0]
        for config in apps.get_app_configs()
        if (ROOT / config.name.split(".")[0]).is_dir()
    }


def test_the_image_copies_every_package_of_the_project() -> None:
    copied = set(re.findall(r"^COPY (\w+) ", (ROOT / "Dockerfile").read_text(), re.M))
    assert _our_packages() | {"scheduler_project"} <= copied


def test_the_compose_workers_consume_every_queue_the_project_routes_to() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    consumed: set[str] = set()
    for service in compose["services"].values():
        command = service.get("command", "")
        args = shlex.split(command) if isinstance(command, str) else command
        if "worker" in args and "-Q" in args:
            consumed |= set(args[args.index("-Q") + 1].split(","))
    assert set(settings.SCHEDULER_QUEUES) | {settings.CELERY_TASK_DEFAULT_QUEUE} <= consumed


def test_the_compose_stack_has_no_default_secret_and_runs_with_debug_off() -> None:
    """A `${VAR:-default}` secret would start production on a value written in the
    repository; `${VAR:?message}` makes compose stop and say what to set."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    environment = compose["x-app"]["environment"]
    for secret in ("SECRET_KEY", "APIFY_WEBHOOK_SECRET"):
        assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", environment[secret]), secret
    assert environment["ALLOWED_HOSTS"]
    assert str(environment.get("DEBUG", "false")).lower() == "false"

"""The deploy files match the code: no Docker engine runs here, so they are parsed."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, override_settings
from django.urls import resolve

from schedules.models import Heartbeat
from tests.deploy.helpers import (
    IMAGE,
    check_entry_point,
    compose,
    compose_args,
    csv,
    dockerfile_cmd,
    option,
    ping_destination,
    settings_env_names,
)

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
    consumed: set[str] = set()
    for service in compose()["services"].values():
        command = service.get("command", "")
        args = shlex.split(command) if isinstance(command, str) else command
        if "worker" in args and "-Q" in args:
            consumed |= set(args[args.index("-Q") + 1].split(","))
    assert set(settings.SCHEDULER_QUEUES) | {settings.CELERY_TASK_DEFAULT_QUEUE} <= consumed


def test_the_compose_stack_has_no_default_secret_and_runs_with_debug_off() -> None:
    """A `${VAR:-default}` secret would start production on a value written in the
    repository; `${VAR:?message}` makes compose stop and say what to set."""
    environment = compose()["x-app"]["environment"]
    for secret in ("SECRET_KEY", "APIFY_WEBHOOK_SECRET"):
        assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", environment[secret]), secret
    assert environment["ALLOWED_HOSTS"]
    assert str(environment.get("DEBUG", "false")).lower() == "false"


# --- The compose stack, checked as deploy/k8s/ is (tests/deploy/helpers.py) -------------

APP_SERVICES = {name for name, s in compose()["services"].items() if s.get("image") == IMAGE}
WORKERS = {name for name in APP_SERVICES if "worker" in compose_args(compose()["services"][name])}


def _superuser_env_names() -> set[str]:
    """What `createsuperuser --noinput` reads (django.contrib.auth's command)."""
    user = get_user_model()
    fields = [user.USERNAME_FIELD, *user.REQUIRED_FIELDS]
    return {"DJANGO_SUPERUSER_PASSWORD"} | {f"DJANGO_SUPERUSER_{f.upper()}" for f in fields}


def test_every_app_service_runs_an_entry_point_of_the_project() -> None:
    assert {"web", "migrate", "superuser", "beat", "dispatcher", "sandbox"} <= APP_SERVICES
    assert len(WORKERS) == 4
    for name in APP_SERVICES:
        service = compose()["services"][name]
        check_entry_point(compose_args(service))
        test = service.get("healthcheck", {}).get("test", [])
        if test[:1] == ["CMD-SHELL"]:
            check_entry_point(["sh", "-c", test[1].replace("$$", "$")])


def test_the_compose_env_names_are_read_by_the_project() -> None:
    services = compose()["services"]
    known = settings_env_names()
    for name in APP_SERVICES:
        names = set(services[name]["environment"])
        extra = _superuser_env_names() if name == "superuser" else set()
        assert names - extra <= known, (name, names - extra - known)
    assert set(services["superuser"]["environment"]) - known == _superuser_env_names()


@pytest.mark.django_db
def test_the_web_healthcheck_gets_readyz_on_the_port_gunicorn_binds() -> None:
    compose_file = compose()
    check = compose_file["services"]["web"]["healthcheck"]
    assert check["test"][:3] == ["CMD", "python", "-c"], "the image has no curl"
    (host, port, path, timeout) = re.fullmatch(
        r"import urllib\.request; urllib\.request\.urlopen\('http://([^:/]+):(\d+)(/\S*)', "
        r"timeout=(\d+)\)",
        check["test"][3],
    ).groups()
    assert resolve(path).url_name == "readyz"
    assert option(dockerfile_cmd(), "--bind") == f"0.0.0.0:{port}"
    assert int(timeout) < int(check["timeout"].rstrip("s")), "urlopen gives up first"
    allowed = csv(compose_file["x-app"]["environment"]["ALLOWED_HOSTS"])
    with override_settings(ALLOWED_HOSTS=allowed):
        assert Client().get(path, headers={"Host": f"{host}:{port}"}).status_code == 200


def test_every_worker_healthcheck_pings_the_worker_itself() -> None:
    for name in WORKERS:
        service = compose()["services"][name]
        node = option(compose_args(service), "--hostname")
        assert node.endswith("@%h"), name
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD-SHELL", name
        destination = ping_destination(["sh", "-c", test[1].replace("$$", "$")])
        assert destination == node.replace("%h", "$HOSTNAME"), name
        assert "$$HOSTNAME" in test[1], "compose would read $HOSTNAME from the host"


def _run_superuser_step(env: dict[str, str]) -> subprocess.CompletedProcess:
    script = compose_args(compose()["services"]["superuser"])
    db = connection.settings_dict
    base = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    for name in _superuser_env_names():
        base.pop(name, None)
    return subprocess.run(
        script, cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.mark.django_db(transaction=True)
def test_the_superuser_step_is_one_shot_and_never_fails_a_second_up() -> None:
    superuser = compose()["services"]["superuser"]
    assert superuser["restart"] == "no"
    assert superuser["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    users = get_user_model().objects
    # The variables unset (compose passes them empty): skipped, and still a success.
    skipped = _run_superuser_step(
        {"DJANGO_SUPERUSER_USERNAME": "", "DJANGO_SUPERUSER_PASSWORD": ""}
    )
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert not users.exists()
    asked = {"DJANGO_SUPERUSER_USERNAME": "ops", "DJANGO_SUPERUSER_EMAIL": ""}
    first = _run_superuser_step({**asked, "DJANGO_SUPERUSER_PASSWORD": "first-password"})
    assert first.returncode == 0, first.stdout + first.stderr
    # A second `up`, even with another password: the user exists and is left as it is.
    again = _run_superuser_step({**asked, "DJANGO_SUPERUSER_PASSWORD": "second-password"})
    assert again.returncode == 0, again.stdout + again.stderr
    (user,) = users.all()
    assert (user.username, user.is_superuser, user.is_staff) == ("ops", True, True)
    assert user.check_password("first-password")


def test_the_sandbox_runs_only_in_its_profile_and_the_app_can_be_pointed_at_it() -> None:
    services = compose()["services"]
    profiled = {name: s["profiles"] for name, s in services.items() if "profiles" in s}
    assert profiled == {"sandbox": ["sandbox"]}
    for name, service in services.items():
        assert "sandbox" not in service.get("depends_on", {}), f"{name} would need the profile"
    args = compose_args(services["sandbox"])
    assert args[:3] == ["python", "manage.py", "apify_sandbox"]
    assert option(args, "--host") == "0.0.0.0", "reachable from the other containers"
    port = option(args, "--port")
    assert f"{port}:{port}" in services["sandbox"]["ports"]
    text = (ROOT / "docker-compose.yml").read_text()
    assert f"APIFY_API_URL=http://sandbox:{port}" in text, "how to point the app at it"
    assert "WEBHOOK_BASE_URL=http://web:8000" in text, "how the sandbox calls back"
    assert "web" in csv(compose()["x-app"]["environment"]["ALLOWED_HOSTS"])


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_healthcheck_passes_on_its_worker_and_fails_on_another(tmp_path) -> None:
    service = compose()["services"]["worker-retry"]
    args = compose_args(service)
    db = connection.settings_dict
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "HOSTNAME": socket.gethostname(),  # Docker and Kubernetes set it to the host name
    }
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    check = ["sh", "-c", service["healthcheck"]["test"][1].replace("$$", "$")]
    try:
        deadline = time.monotonic() + 120  # a bound for a loaded machine
        while not Heartbeat.objects.filter(name=f"worker:retry@{socket.gethostname()}").exists():
            assert worker.poll() is None and time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.2)
        while subprocess.run(check, cwd=ROOT, env=env, capture_output=True).returncode != 0:
            assert worker.poll() is None and time.monotonic() < deadline, "no pong"
        other = [check[0], check[1], check[2].replace("retry@", "start@").replace("-t 10", "-t 2")]
        assert subprocess.run(other, cwd=ROOT, env=env, capture_output=True).returncode != 0
    finally:
        worker.terminate()
        worker.wait(timeout=30)

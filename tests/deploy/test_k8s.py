"""deploy/k8s/ matches the project and docker-compose.yml: real entry points, every queue
consumed, probes that answer 200 under the ConfigMap's settings, grace periods that cover
the SIGTERM handling, and a Secret template with no real value in it."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.test import Client, override_settings
from django.urls import resolve

from scheduler_project import conf, production
from tests.deploy.helpers import (
    IMAGE,
    K8S,
    PLACEHOLDER,
    ROOT,
    check_entry_point,
    compose,
    compose_args,
    configmap_data,
    containers,
    csv,
    gunicorn_graceful_timeout,
    k8s_documents,
    k8s_kind,
    option,
    ping_destination,
    pod_spec,
    settings_default,
    settings_env_names,
    worker_queues,
)

SECRET_TEMPLATE = K8S / "secret.template.yaml"


def deployments() -> dict[str, dict[str, Any]]:
    return k8s_kind("Deployment")


def main_container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod_spec(workload)["containers"]
    return container


def workers() -> dict[str, dict[str, Any]]:
    return {name: d for name, d in deployments().items() if "-worker-" in name}


def secret() -> dict[str, Any]:
    return yaml.safe_load(SECRET_TEMPLATE.read_text())


def seconds(duration: str) -> int:
    value, unit = re.fullmatch(r"(\d+)([sm])", duration).groups()
    return int(value) * (60 if unit == "m" else 1)


def test_every_container_runs_an_entry_point_of_the_project() -> None:
    checked = 0
    for workload in [*deployments().values(), *k8s_kind("Job").values()]:
        for container in containers(workload):
            checked += check_entry_point(container["command"])
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if "exec" in container.get(probe, {}):
                    checked += check_entry_point(container[probe]["exec"]["command"])
    assert checked >= 20


def test_one_image_name_everywhere() -> None:
    images = {c["image"] for d in k8s_documents() if "template" in d.get("spec", {})
              for c in containers(d)}  # fmt: skip
    assert images == {IMAGE}
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert [image["name"] for image in kustomization["images"]] == [IMAGE.split(":")[0]]
    assert compose()["x-app"]["image"] == IMAGE


def test_the_deployments_are_the_long_running_services_of_compose() -> None:
    services = compose()["services"]
    for name in ("web", "worker-dispatch", "worker-start", "worker-ingest", "worker-retry",
                 "dispatcher", "beat"):  # fmt: skip
        container = main_container(deployments()[f"global-scheduler-{name}"])
        args = compose_args(services[name])
        if name == "web":  # the image's CMD, with its graceful timeout written out
            assert container["command"][: len(args)] == args
        else:
            assert container["command"] == args, name


def test_the_worker_deployments_consume_every_queue() -> None:
    consumed = set()
    for workload in workers().values():
        consumed |= worker_queues(main_container(workload)["command"])
    assert set(settings.SCHEDULER_QUEUES) | {settings.CELERY_TASK_DEFAULT_QUEUE} <= consumed


def test_worker_probes_ping_the_worker_itself() -> None:
    for name, workload in workers().items():
        container = main_container(workload)
        node = option(container["command"], "--hostname")
        assert node.endswith("@%h"), node
        for probe in ("startupProbe", "livenessProbe"):
            command = container[probe]["exec"]["command"]
            assert ping_destination(command) == node.replace("%h", "$HOSTNAME"), name
            assert float(option(command[2].split(), "-t")) < container[probe]["timeoutSeconds"]


def test_web_probes_and_service_point_at_the_container_port() -> None:
    (workload,) = [d for n, d in deployments().items() if n.endswith("-web")]
    container = main_container(workload)
    bind = option(container["command"], "--bind")
    (port,) = container["ports"]
    assert bind == f"0.0.0.0:{port['containerPort']}"
    for probe, view in (("livenessProbe", "healthz"), ("readinessProbe", "readyz")):
        http = container[probe]["httpGet"]
        assert http["port"] == port["name"]
        assert resolve(http["path"]).url_name == view
    (service,) = k8s_kind("Service").values()
    assert service["spec"]["selector"] == workload["spec"]["selector"]["matchLabels"]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == [port["name"]]


@pytest.mark.django_db
def test_web_probes_answer_200_under_the_configmaps_settings() -> None:
    """The kubelet calls the pod's IP: its Host header must be allowed, and a redirect to
    HTTPS would never reach the view (probes come over plain HTTP)."""
    data = configmap_data()
    (workload,) = [d for n, d in deployments().items() if n.endswith("-web")]
    container = main_container(workload)
    as_deployed = override_settings(
        ALLOWED_HOSTS=csv(data["ALLOWED_HOSTS"]),
        SECURE_SSL_REDIRECT=conf.parse_bool("", data.get("SECURE_SSL_REDIRECT", "")),
        SECURE_PROXY_SSL_HEADER=tuple(csv(data.get("SECURE_PROXY_SSL_HEADER", ""))) or None,
    )
    with as_deployed:
        for probe in ("livenessProbe", "readinessProbe"):
            http = container[probe]["httpGet"]
            headers = {h["name"]: h["value"] for h in http.get("httpHeaders", [])}
            assert "Host" in headers, "without it the kubelet sends the pod's IP"
            response = Client().get(http["path"], headers=headers)
            assert response.status_code == 200, (probe, response.status_code)


def test_the_readiness_timeout_outlasts_the_slowest_readiness_answer() -> None:
    data = configmap_data()
    (workload,) = [d for n, d in deployments().items() if n.endswith("-web")]
    connect = int(
        data.get("DATABASE_CONNECT_TIMEOUT", settings_default("DATABASE_CONNECT_TIMEOUT"))
    )
    broker = float(
        data.get("READYZ_TIMEOUT_SECONDS", conf.SchedulerSettings.readyz_timeout_seconds)
    )
    assert main_container(workload)["readinessProbe"]["timeoutSeconds"] > connect + broker


def test_grace_periods_cover_the_sigterm_handling() -> None:
    grace = {
        name: pod_spec(d)["terminationGracePeriodSeconds"] for name, d in deployments().items()
    }
    web = main_container(deployments()["global-scheduler-web"])
    pre_stop = int(web["lifecycle"]["preStop"]["exec"]["command"][1])
    # gunicorn: the preStop sleep, then --graceful-timeout for the requests in flight.
    assert grace["global-scheduler-web"] > pre_stop + gunicorn_graceful_timeout(web["command"])
    # A worker's warm shutdown waits for its tasks; the slowest is one Apify call with its
    # retries, each attempt bounded by the client's timeout_max (schedules/apify.py).
    attempts = settings_default("APIFY_MAX_RETRIES") + 1
    source = (ROOT / "schedules" / "apify.py").read_text()
    timeout = int(re.search(r"timeout_max=timedelta\(seconds=(\d+)\)", source)[1])
    for name in workers():
        assert grace[name] > attempts * timeout, name
    assert grace["global-scheduler-dispatcher"] >= 30  # the tick in progress
    # docker compose stop gives each the same time (its default is 10 s).
    services = compose()["services"]
    for service in ("web", "dispatcher", "worker-dispatch", "worker-start", "worker-ingest",
                    "worker-retry"):  # fmt: skip
        expected = grace[f"global-scheduler-{service}"]
        assert seconds(services[service]["stop_grace_period"]) == expected, service


def test_beat_is_one_pod_and_a_rollout_never_runs_two() -> None:
    beat = deployments()["global-scheduler-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"


def test_the_migrate_job_runs_what_the_compose_step_runs_in_order() -> None:
    (job,) = k8s_kind("Job").values()
    commands = [c["command"] for c in containers(job)]
    script = compose_args(compose()["services"]["migrate"])[2]
    assert [" ".join(c) for c in commands] == [s.strip() for s in script.split("&&")]
    assert pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")


def test_every_pod_waits_for_the_migrations_first() -> None:
    for name, workload in deployments().items():
        (init,) = pod_spec(workload)["initContainers"]
        assert "manage.py migrate --check" in init["command"][2], name


def test_env_names_are_read_by_the_project() -> None:
    known = settings_env_names()
    names = set(configmap_data()) | set(secret()["stringData"])
    for workload in deployments().values():
        for container in containers(workload):
            names |= {env["name"] for env in container.get("env", [])}
            refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
            assert refs == {"global-scheduler-config", secret()["metadata"]["name"]}
    assert names <= known, names - known
    # What every process needs (docs/operations.md "Separate hosts") and production demands.
    needed = {"DATABASE_URL", "CELERY_BROKER_URL", "APIFY_TOKEN", "WEBHOOK_BASE_URL"}
    assert needed | set(production.SECRETS) | {"ALLOWED_HOSTS"} <= names


def test_the_secret_template_holds_placeholders_only() -> None:
    template = secret()
    assert "data" not in template, "base64 would hide what a value is"
    values = template["stringData"]
    assert all(PLACEHOLDER in value for value in values.values()), values
    assert not set(production.SECRETS) & set(configmap_data()), "a secret in the ConfigMap"
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert SECRET_TEMPLATE.name not in kustomization["resources"], "an apply would reset it"


def test_a_secret_left_as_its_placeholder_is_refused_at_start_up() -> None:
    values = secret()["stringData"]
    environ = {name: values[name] for name in production.SECRETS} | {"ALLOWED_HOSTS": "x"}
    with override_settings(DEBUG=False, **{name: values[name] for name in production.SECRETS}):
        problems = production.unsafe_settings(environ)
    for name in production.SECRETS:
        assert any(problem.startswith(name) for problem in problems), name


def test_the_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", SECRET_TEMPLATE.name}
    assert set(kustomization["resources"]) == files


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_every_resource_in_one_namespace() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    expected = {(d["kind"], d["metadata"]["name"]) for d in k8s_documents()} - {
        ("Secret", secret()["metadata"]["name"])
    }
    assert {(d["kind"], d["metadata"]["name"]) for d in built} == expected
    namespace = yaml.safe_load((K8S / "kustomization.yaml").read_text())["namespace"]
    for doc in built:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace, doc["metadata"]["name"]


@pytest.mark.skipif(
    shutil.which("kubernetes-validate") is None,
    reason="kubernetes-validate is not installed (pip install kubernetes-validate)",
)
def test_every_manifest_matches_the_kubernetes_schemas() -> None:
    files = [str(p) for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"]
    result = subprocess.run(
        ["kubernetes-validate", "--strict", "--quiet", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr

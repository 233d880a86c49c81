"""deploy/prometheus/ and deploy/grafana/ use only what GET /metrics really exports, with
label values it really carries; promtool checks the rules and the Grafana queries."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.urls import resolve

from businesses.models import Team
from monitoring.metrics import CAPACITY_GAUGES
from scheduler_project.observations import HISTOGRAMS, observe
from schedules.services.capacity import account_refresh
from tests.conftest import register_google
from tests.deploy.helpers import (
    GRAFANA,
    K8S,
    LABEL_TEMPLATE,
    PROMETHEUS,
    check_promql,
    configmap_data,
    csv,
    exported_series,
    k8s_kind,
    settings_env_names,
)
from tests.fakes.apify_server import FakeApify

ALERTS = PROMETHEUS / "alerts.yml"
NEEDS_PROMTOOL = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is not installed (Debian: apt-get install prometheus)",
)


@pytest.fixture
def series(
    client, fake_apify: FakeApify, alice: Team, django_capture_on_commit_callbacks
) -> dict[str, dict[str, set[str]]]:
    """What /metrics exports with every family present: an Apify account read (the
    capacity gauges), an active batch (utilisation) and one observation per histogram."""
    fake_apify.set_limits(max_concurrent_runs=4, max_memory_mbytes=8192, max_monthly_usage_usd=50)
    account_refresh()
    register_google(alice)
    with django_capture_on_commit_callbacks(execute=True):
        for histogram in HISTOGRAMS:
            observe(histogram, 1.0, platform="google")
    response = client.get("/metrics")
    assert response.status_code == 200
    exported = exported_series(response.content.decode())
    expected = {f"scheduler_apify_{name}" for name in CAPACITY_GAUGES} | {
        f"scheduler_{h.name}_bucket" for h in HISTOGRAMS
    }
    assert expected <= set(exported), "the fixture should make every family export"
    return exported


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def grafana_targets(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "expr" in node:
            yield node
        for value in node.values():
            yield from grafana_targets(value)
    elif isinstance(node, list):
        for value in node:
            yield from grafana_targets(value)


def grafana() -> dict[str, Any]:
    return json.loads(GRAFANA.read_text())


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)


# --- Alert rules ------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_alert_uses_exported_metrics_labels_and_values(series) -> None:
    assert rules()
    for rule in rules():
        labels = check_promql(rule["expr"], series)
        for text in rule.get("annotations", {}).values():
            for label in re.findall(r"\$labels\.(\w+)", text):
                assert label in labels, (rule["alert"], label)


def test_every_alert_has_a_severity_and_says_what_to_do() -> None:
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))
    for rule in rules():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_the_settings_the_alerts_name_exist() -> None:
    """`SCHEDULER_HEALTH_*` names a family: some setting must start so."""
    named = set(re.findall(r"\b(?:SCHEDULER|APIFY)_[A-Z0-9_]+", ALERTS.read_text()))
    assert named, "the alerts name the settings that tune them"
    known = settings_env_names()
    for name in named:
        assert name in known or (name.endswith("_") and any(k.startswith(name) for k in known))


@NEEDS_PROMTOOL
def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


# --- The scrape job ---------------------------------------------------------------------


def test_the_scrape_job_targets_the_web_service_on_an_allowed_host() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == [ALERTS.name]
    (job,) = config["scrape_configs"]
    assert resolve(job["metrics_path"]).url_name == "metrics"
    (target,) = [t for static in job["static_configs"] for t in static["targets"]]
    host, port = target.rsplit(":", 1)
    assert host in csv(configmap_data()["ALLOWED_HOSTS"]), "Django would answer 400"
    (service,) = k8s_kind("Service").values()
    namespace = yaml.safe_load((K8S / "kustomization.yaml").read_text())["namespace"]
    assert host == f"{service['metadata']['name']}.{namespace}.svc"
    assert int(port) in [p["port"] for p in service["spec"]["ports"]]


@NEEDS_PROMTOOL
def test_promtool_accepts_the_scrape_config() -> None:
    result = promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


# --- Grafana ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_grafana_query_uses_exported_metrics_and_labels(series) -> None:
    targets = list(grafana_targets(grafana()["panels"]))
    assert len(targets) >= 20
    for target in targets:
        labels = check_promql(target["expr"], series)
        legend = set(LABEL_TEMPLATE.findall(target.get("legendFormat", "")))
        assert legend <= labels, (target["expr"], legend - labels)


def test_the_dashboard_is_one_grid_on_a_chosen_prometheus() -> None:
    dashboard = grafana()
    (variable,) = dashboard["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
            refs = [target["refId"] for target in panel["targets"]]
            assert len(refs) == len(set(refs)), panel["title"]


@NEEDS_PROMTOOL
def test_promtool_parses_every_grafana_query(tmp_path: Path) -> None:
    """Each query as a recording rule, Grafana's $__rate_interval made a plain duration."""
    records = [
        {
            "record": f"grafana:panel_{panel['id']}_{target['refId']}",
            "expr": target["expr"].replace("$__rate_interval", "5m"),
        }
        for panel in grafana()["panels"]
        for target in panel.get("targets", [])
    ]
    path = tmp_path / "grafana-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana", "rules": records}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr

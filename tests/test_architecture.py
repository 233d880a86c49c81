"""The shape of the code that a newcomer relies on: small modules, short services, one
webhook path. (The import directions are checked by `lint-imports`, contracts in
pyproject.toml.)"""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings
from django.urls import resolve, reverse

from schedules import apify

ROOT = Path(__file__).resolve().parents[1]
APPS = [
    "scheduler_project", "access", "businesses", "schedules", "retry", "webhooks",
    "monitoring", "dashboard", "apify_sandbox",
]  # fmt: skip


def _modules() -> list[Path]:
    return [
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    ]


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert long == {}


def test_no_service_function_is_over_60_lines() -> None:
    long = {}
    for path in _modules():
        if "services" not in path.parts and path.name != "services.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    assert long == {}


def test_the_webhook_apify_calls_is_the_route_the_endpoint_serves() -> None:
    url = apify.run_webhook("some-execution")["request_url"]
    base = settings.WEBHOOK_BASE_URL.rstrip("/")
    assert url.startswith(base)
    path = url[len(base) :]
    assert path == reverse("apify-webhook") == "/api/v1/webhooks/apify/"
    assert resolve(path).func.view_class.__name__ == "ApifyWebhookApi"

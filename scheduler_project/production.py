"""Refuse to serve on unsafe settings: with DEBUG off, a process that serves (web, worker,
beat, the dispatcher, run_stack on a real database) stops at start-up, naming each variable,
while a secret is unset, short or one of the development defaults written in this repository
(anyone could sign sessions or forge Apify callbacks with those), or ALLOWED_HOSTS is unset.

`manage.py check --deploy` reports the same problems as errors, and warns while the cache is
each process's own (the product API's rate limit would count per process: access/throttles.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
DEV_WEBHOOK_SECRET = "dev-only-webhook-secret"
MIN_SECRET_LENGTH = 32
SECRETS = {"SECRET_KEY": DEV_SECRET_KEY, "APIFY_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET}


def unsafe_settings(environ: Mapping[str, str] | None = None) -> list[str]:
    """What makes these settings unsafe to serve with, one line per variable (empty when
    DEBUG is on: a developer's machine)."""
    if settings.DEBUG:
        return []
    environ = os.environ if environ is None else environ
    problems = []
    for name, development_default in SECRETS.items():
        value = getattr(settings, name)
        if not environ.get(name):
            problems.append(f"{name} is not set.")
        elif value == development_default:
            problems.append(f"{name} is the development default written in the repository.")
        elif len(value) < MIN_SECRET_LENGTH:
            problems.append(f"{name} is shorter than {MIN_SECRET_LENGTH} characters.")
    if not environ.get("ALLOWED_HOSTS"):
        problems.append("ALLOWED_HOSTS is not set (the host names this service answers to).")
    return problems


def refuse_unsafe_production(process: str) -> None:
    """Stop `process` from starting on unsafe settings (ImproperlyConfigured, exit non-zero)."""
    problems = unsafe_settings()
    if problems:
        raise ImproperlyConfigured(
            f"Refusing to start the {process} with DEBUG off: "
            + " ".join(problems)
            + " Set them (python -c 'import secrets; print(secrets.token_urlsafe(50))' makes "
            "a secret), or set DEBUG=true on a development machine."
        )


@register(Tags.security, deploy=True)
def check_production_secrets(app_configs: object = None, **kwargs: object) -> list[Error]:
    return [Error(problem, id="scheduler.E001") for problem in unsafe_settings()]


@register(Tags.caches, deploy=True)
def check_shared_cache(app_configs: object = None, **kwargs: object) -> list[Warning]:
    if settings.DEBUG or not settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        return []
    return [
        Warning(
            "CACHE_URL is not set: each process counts the product API's rate limit on its "
            "own, so a key gets PRODUCT_API_RATE once per web worker.",
            hint="Set CACHE_URL=redis://host:6379/1 (the broker's Redis, another db).",
            id="scheduler.W002",
        )
    ]

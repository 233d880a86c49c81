"""The scheduler's own knobs: every one, its type and its default, in this one place.

`settings.py` reads them from the environment with `from_environ()`: strict, so a malformed
number or boolean stops the start with the variable's name instead of turning into a
default or `False`. Code reads them typed with `conf.get()`, which follows Django's settings
as they change, so `override_settings` and the tests' `settings` fixture reach it too.

Each field `x` is the setting and environment variable `SCHEDULER_<X>`, unless its metadata
names another (`DISPATCH_TICK_SECONDS`, `READYZ_TIMEOUT_SECONDS`, `METRICS_TOKEN`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

# Where the service runs: filters the code-defined system schedules (a typo would silently
# disable every one of them, the dispatch tick included, so anything else is refused).
ENVIRONMENTS = ("production", "staging", "development")

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class SchedulerSettings:
    # Dispatch (SPEC §3 Dispatch, Misfire)
    dispatch_tick_seconds: int = field(default=10, metadata={"env": "DISPATCH_TICK_SECONDS"})
    env: str = field(default="production", metadata={"choices": ENVIRONMENTS})
    tier_intervals: dict[str, int] = field(
        default_factory=lambda: {
            "free": 72 * 60,
            "starter": 24 * 60,
            "professional": 12 * 60,
            "enterprise": 6 * 60,
        }
    )
    # Over the registry's: platform → batch capacity, "google.reviews" → actor id, and
    # "google.reviews" → the memory (MB) its runs request.
    capacity: dict[str, int] = field(default_factory=dict)
    actor_ids: dict[str, str] = field(default_factory=dict)
    run_memory: dict[str, int] = field(default_factory=dict)
    max_reviews_per_business: int = 50
    stagger_step_minutes: int = 5
    catchup_window_seconds: int = 600
    claim_chunk: int = 500
    start_message_size: int = 10
    # Runs (SPEC §3 Run)
    lease_seconds: int = 300
    run_timeout_seconds: int = 3600
    run_memory_mbytes: int = 1024
    run_grace_seconds: int = 600  # a run `running` this long past its timeout is asked about
    # A reviews run asks only for reviews newer than its batch's oldest last success minus
    # this overlap (late-indexed reviews, clock skew, the actor's date rounding).
    newer_than_overlap_hours: int = field(default=48, metadata={"min": 0})
    reconcile_tick_seconds: int = 60
    webhook_requeue_seconds: int = 120  # a callback unprocessed this long is enqueued again
    # Account capacity (SPEC §7): admission of starts into the Apify account's limits.
    # Ours may lower the account's (0 = the account's own limit).
    apify_max_memory_mbytes: int = field(
        default=0, metadata={"env": "APIFY_MAX_MEMORY_MBYTES", "min": 0}
    )
    apify_max_concurrent_runs: int = field(
        default=0, metadata={"env": "APIFY_MAX_CONCURRENT_RUNS", "min": 0}
    )
    capacity_admission: bool = True  # off only to measure the world without it (bench)
    capacity_refresh_seconds: int = field(default=30, metadata={"min": 5})
    capacity_refusal_hold_seconds: float = field(default=5.0, metadata={"min": 0})
    capacity_rate_limit_hold_seconds: float = field(default=30.0, metadata={"min": 0})
    capacity_admit_chunk: int = field(default=200, metadata={"min": 1})
    retry_capacity_share: float = field(default=0.25, metadata={"min": 0})
    monthly_usage_headroom_usd: float = field(default=1.0, metadata={"min": 0})
    health_capacity_demand_warning: float = 80.0  # percent of the account's run hours per day
    # Retry (SPEC §3 Failure and retry)
    retry_delays_minutes: tuple[int, ...] = (5, 15, 45)
    retry_max_attempts: int = 3
    retry_retention_days: int = 14
    retry_tick_seconds: int = 30
    # Health (SPEC §3 Health): every threshold
    health_utilisation_warning: float = 80.0  # percent of the active batches' capacity
    health_utilisation_critical: float = 95.0
    health_pending_retries_warning: int = 10
    health_dead_retries_critical: int = 10
    health_heartbeat_critical_seconds: int = 300
    health_stuck_executions_warning: int = 0
    health_stuck_executions_critical: int = 10
    health_webhook_failures_warning: int = 0
    health_webhook_failures_window_seconds: int = 3600
    readyz_timeout_seconds: float = field(default=2.0, metadata={"env": "READYZ_TIMEOUT_SECONDS"})
    # When set, /metrics asks for `Authorization: Bearer <token>`.
    metrics_token: str = field(default="", metadata={"env": "METRICS_TOKEN"})
    # Alerts (SPEC §7 Alerts): Apprise URLs, comma-separated; empty = no alerts sent.
    alert_urls: str = field(default="", metadata={"env": "ALERT_URLS"})
    alert_tick_seconds: int = field(default=60, metadata={"min": 5})
    alert_batch_failures: int = field(default=3, metadata={"min": 1})  # failed runs in a row
    alert_digest_hour_utc: int = field(default=-1, metadata={"min": -1})  # -1 = no digest
    alert_retry_seconds: tuple[int, ...] = (30, 120, 600, 1800, 3600)
    # Links in alerts and webhooks point here (e.g. https://scheduler.example.com).
    public_url: str = field(default="", metadata={"env": "PUBLIC_URL"})
    # Product webhooks (SPEC §7 Product notifications), per Standard Webhooks.
    webhook_timeout_seconds: float = field(default=5.0, metadata={"min": 0.1})
    # The wait before each retry (a Svix-like schedule: about 27 h in all).
    webhook_retry_seconds: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    webhook_disable_after_days: int = field(default=5, metadata={"min": 1})
    webhook_allow_private_urls: bool = False  # only for a receiver on your own network
    webhook_send_chunk: int = field(default=200, metadata={"min": 1})
    webhook_send_concurrency: int = field(default=16, metadata={"min": 1})
    webhook_tick_seconds: int = field(default=5, metadata={"min": 1})
    # The dashboard's list pages poll their rows this often.
    dashboard_poll_seconds: int = field(
        default=5, metadata={"env": "DASHBOARD_POLL_SECONDS", "min": 1}
    )
    # Retention (bulk, hourly)
    retention_executions_days: int = 30
    retention_keep_per_batch: int = 50
    retention_webhook_days: int = 7  # never under 3: Apify retries a delivery for ~32 h
    retention_chunk: int = 1000


def setting_name(knob: dataclasses.Field) -> str:
    return knob.metadata.get("env", f"SCHEDULER_{knob.name.upper()}")


KNOBS: dict[str, dataclasses.Field] = {setting_name(f): f for f in fields(SchedulerSettings)}


def _default(knob: dataclasses.Field) -> Any:
    if knob.default is not dataclasses.MISSING:
        return knob.default
    return knob.default_factory()


def parse_bool(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false, 1/0, on/off).")


def parse_int(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None


def parse_float(name: str, raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None


def _parse_table(name: str, raw: str, value_type: str) -> dict:
    """`a=1,b=2` → {"a": 1, "b": 2}."""
    table = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ImproperlyConfigured(f"{name}: {pair!r} is not key=value.")
        table[key.strip()] = parse_int(name, value) if value_type == "int" else value.strip()
    return table


def parse(name: str, raw: str, type_name: str) -> Any:
    """One environment value by the knob's annotated type (a string, as annotations are)."""
    if type_name == "bool":
        return parse_bool(name, raw)
    if type_name == "int":
        return parse_int(name, raw)
    if type_name == "float":
        return parse_float(name, raw)
    if type_name == "dict[str, int]":
        return _parse_table(name, raw, "int")
    if type_name == "dict[str, str]":
        return _parse_table(name, raw, "str")
    if type_name == "tuple[int, ...]":
        return tuple(parse_int(name, part) for part in raw.split(",") if part.strip())
    return raw


def check_choice(name: str, value: object) -> None:
    """A knob with a fixed vocabulary (SCHEDULER_ENV) or a floor takes nothing else."""
    metadata = KNOBS[name].metadata
    choices = metadata.get("choices")
    if choices and value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {', '.join(choices)}.")
    if "min" in metadata and value < metadata["min"]:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {metadata['min']}.")


def from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """Every knob as a Django setting: the environment's value, or the default."""
    values = {}
    for name, knob in KNOBS.items():
        values[name] = parse(name, environ[name], knob.type) if name in environ else _default(knob)
        check_choice(name, values[name])
    return values


def get() -> SchedulerSettings:
    """The knobs as Django's settings hold them now (typed).

    Read once and kept (building them took 0.13 ms, and the bulk assignment asked 176 times
    per chunk); `override_settings` and the tests' `settings` fixture announce each change
    (`setting_changed`), which drops the kept copy."""
    return _current()


@functools.cache
def _current() -> SchedulerSettings:
    from django.conf import settings

    values = {}
    for name, knob in KNOBS.items():
        value = getattr(settings, name, _default(knob))
        values[knob.name] = tuple(value) if knob.type == "tuple[int, ...]" else value
    return SchedulerSettings(**values)


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: object) -> None:
    if setting in KNOBS:
        _current.cache_clear()


def env_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean outside the knobs (DEBUG, ...), as strict as they are."""
    return parse_bool(name, environ[name]) if name in environ else default


def env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    return parse_int(name, environ[name]) if name in environ else default

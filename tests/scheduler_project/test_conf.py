"""The typed knobs: one place for defaults, strict parsing of the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from scheduler_project import conf

ROOT = Path(__file__).resolve().parents[2]


def test_with_an_empty_environment_every_knob_is_its_default() -> None:
    values = conf.from_environ({})
    defaults = conf.SchedulerSettings()
    assert values["SCHEDULER_LEASE_SECONDS"] == defaults.lease_seconds == 300
    assert values["DISPATCH_TICK_SECONDS"] == 10
    assert values["SCHEDULER_RETRY_DELAYS_MINUTES"] == (5, 15, 45)
    assert values["SCHEDULER_TIER_INTERVALS"]["free"] == 72 * 60
    assert set(values) == set(conf.KNOBS)


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("SCHEDULER_LEASE_SECONDS", " 120 ", 120),
        ("SCHEDULER_HEALTH_UTILISATION_WARNING", "75.5", 75.5),
        ("SCHEDULER_RETRY_DELAYS_MINUTES", "1,2,4", (1, 2, 4)),
        ("SCHEDULER_CAPACITY", "google=300, booking=120", {"google": 300, "booking": 120}),
        ("SCHEDULER_ACTOR_IDS", "google.reviews=me/actor", {"google.reviews": "me/actor"}),
        ("SCHEDULER_ENV", "staging", "staging"),
        ("READYZ_TIMEOUT_SECONDS", "0.5", 0.5),
    ],
)
def test_the_environment_overrides_a_knob_by_its_type(name: str, raw: str, expected) -> None:
    assert conf.from_environ({name: raw})[name] == expected


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SCHEDULER_LEASE_SECONDS", "5m"),
        ("SCHEDULER_HEALTH_UTILISATION_WARNING", "high"),
        ("SCHEDULER_RETRY_DELAYS_MINUTES", "5,x"),
        ("SCHEDULER_CAPACITY", "google"),
        ("SCHEDULER_CAPACITY", "google=many"),
        ("SCHEDULER_ENV", "prod"),
    ],
)
def test_a_malformed_value_is_refused_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=name):
        conf.from_environ({name: raw})


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("0", False), ("On", True)])
def test_booleans_take_the_usual_words(raw: str, expected: bool) -> None:
    assert conf.env_bool({"DEBUG": raw}, "DEBUG", default=not expected) is expected


def test_a_boolean_that_is_no_boolean_is_an_error_not_false() -> None:
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe'"):
        conf.env_bool({"DEBUG": "maybe"}, "DEBUG", default=False)


def test_the_service_does_not_start_on_a_malformed_knob() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "scheduler_project.settings"}
    env.update({"SCHEDULER_CLAIM_CHUNK": "lots", "DATABASE_URL": "sqlite:///:memory:"})
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "SCHEDULER_CLAIM_CHUNK='lots' is not a whole number" in done.stderr


def test_code_reads_the_knobs_as_django_settings_hold_them_now(settings) -> None:
    settings.SCHEDULER_LEASE_SECONDS = 42
    settings.SCHEDULER_RETRY_DELAYS_MINUTES = [1, 2]
    knobs = conf.get()
    assert knobs.lease_seconds == 42
    assert knobs.retry_delays_minutes == (1, 2)


def test_the_knobs_are_read_once_and_again_after_each_change(settings) -> None:
    first = conf.get()
    assert conf.get() is first  # kept, not rebuilt per call
    settings.SCHEDULER_LEASE_SECONDS = first.lease_seconds + 7
    assert conf.get().lease_seconds == first.lease_seconds + 7
    with override_settings(SCHEDULER_LEASE_SECONDS=1, DISPATCH_TICK_SECONDS=3):
        assert (conf.get().lease_seconds, conf.get().dispatch_tick_seconds) == (1, 3)
    assert conf.get().lease_seconds == first.lease_seconds + 7
    assert conf.get().dispatch_tick_seconds == first.dispatch_tick_seconds

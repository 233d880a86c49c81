"""Guessing is not free: repeated wrong passwords lock the user name and the address out
(django-axes), an operator sees and lifts it; passwords are validated; sessions are short."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client

PASSWORD = "correct horse battery staple"
LOGIN = "/dashboard/login/"


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user("operator", password=PASSWORD, is_staff=True)


def _log_in(client: Client, username: str, password: str, ip: str = "10.0.0.1") -> int:
    answer = client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)
    return answer.status_code


def test_five_wrong_passwords_lock_the_user_out_even_with_the_right_one(
    client: Client, operator, settings
) -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    assert [_log_in(client, "operator", f"guess-{n}") for n in range(4)] == [200] * 4
    answer = client.post(LOGIN, {"username": "operator", "password": "guess-5"})
    assert answer.status_code == 429
    assert b"Too many failed logins" in answer.content
    # From another address too: the user name itself is locked.
    assert _log_in(client, "operator", PASSWORD, ip="10.9.9.9") == 429
    assert "_auth_user_id" not in client.session


def test_one_address_guessing_many_user_names_is_locked_out(client: Client, operator) -> None:
    for n in range(5):
        _log_in(client, f"user-{n}", "guess", ip="10.0.0.66")
    assert _log_in(client, "operator", PASSWORD, ip="10.0.0.66") == 429
    assert _log_in(client, "operator", PASSWORD, ip="10.0.0.7") == 302  # others still log in


def test_an_operator_sees_the_lockout_and_lifts_it(
    client: Client, admin_client: Client, operator
) -> None:
    for n in range(5):
        _log_in(client, "operator", f"guess-{n}")
    listed = admin_client.get("/admin/axes/accessattempt/")
    assert listed.status_code == 200 and b"operator" in listed.content

    call_command("axes_reset_username", "operator", stdout=StringIO())
    assert _log_in(client, "operator", PASSWORD, ip="10.0.0.8") == 302


def test_passwords_are_validated() -> None:
    for weak in ("12345678", "password", "short"):
        with pytest.raises(ValidationError):
            password_validation.validate_password(weak)
    password_validation.validate_password(PASSWORD)


def test_an_operator_session_lasts_twelve_hours(client: Client, operator, settings) -> None:
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    client.post(LOGIN, {"username": "operator", "password": PASSWORD})
    assert client.cookies["sessionid"]["max-age"] == 12 * 3600

"""Who is calling: a product service (API key), an operator (admin key or staff session).

One place resolves the caller; views only say which kind they accept.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from access.models import ApiKey
from scheduler_project.prepared import prepared_cursor

KEY_INVALID = "Invalid or revoked API key."
KEY_EXPIRED = "This API key has expired."
OTHER_TEAM = "This key is bound to team {team}: it reaches only /api/v1/teams/{team}/…."
TEAM_WRITE = (
    "A team-bound key cannot create a team or change its tier: that is the product "
    "service's (an unbound key's) job."
)
SESSION_NOT_STAFF = "The API takes a staff login or an API key; product services use an API key."
LAST_USED_PRECISION = timedelta(minutes=1)
KEYWORD = "Api-Key"


@dataclass(frozen=True)
class ApiKeyCaller:
    """request.user for a call made with an API key."""

    key: ApiKey

    is_authenticated = True
    is_anonymous = False

    @property
    def is_staff(self) -> bool:
        return self.key.is_admin

    @property
    def pk(self) -> str:
        """Throttles count per caller: per key, never shared with a user id."""
        return f"api-key:{self.key.id}"

    def get_username(self) -> str:
        return f"api-key:{self.key.name}"


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key <key>`; keys look like `gs_<prefix>_<secret>`."""

    def authenticate(self, request: Request) -> tuple[ApiKeyCaller, ApiKey] | None:
        header = request.headers.get("Authorization", "")
        keyword, _, key = header.partition(" ")
        if keyword != KEYWORD:
            return None
        key = key.strip()
        parts = key.split("_")
        if len(parts) != 3 or parts[0] != "gs":
            raise AuthenticationFailed(KEY_INVALID)
        found = _key_for(parts[1], ApiKey.hash(key))
        if found is None:
            raise AuthenticationFailed(KEY_INVALID)
        if found.expires_at is not None and found.expires_at <= timezone.now():
            raise AuthenticationFailed(KEY_EXPIRED)
        if found.last_used_at is None or timezone.now() - found.last_used_at > LAST_USED_PRECISION:
            # Not a write per request: "last used" to the minute is what operators need.
            ApiKey.objects.filter(id=found.id).update(last_used_at=Now())
        return ApiKeyCaller(found), found

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


def _key_for(prefix: str, key_hash: str) -> ApiKey | None:
    """The live key with this secret: its current one, or the one it had before a rotation
    while the grace period lasts."""
    sql, names = _live_keys_sql()
    with prepared_cursor() as cursor:
        cursor.execute(sql, [prefix, prefix])
        rows = cursor.fetchall()
    for row in rows:
        found = ApiKey.from_db(connection.alias, names, row)
        current = found.prefix == prefix and hmac.compare_digest(found.key_hash, key_hash)
        previous = found.previous_prefix == prefix and hmac.compare_digest(
            found.previous_key_hash, key_hash
        )
        if current or previous:
            return found
    return None


_PREFIX = "\x00prefix"  # a placeholder no key has, replaced by the request's


@functools.cache
def _live_keys_sql() -> tuple[str, list[str]]:
    """The keys that may carry a prefix, compiled by the ORM once: every API request looks its
    key up, and compiling this query took four times as long as running it."""
    queryset = ApiKey.objects.filter(
        Q(prefix=_PREFIX) | Q(previous_prefix=_PREFIX, previous_valid_until__gt=Now()),
        revoked_at__isnull=True,
    )
    sql, params = queryset.query.sql_with_params()
    assert list(params) == [_PREFIX, _PREFIX], params
    return sql, [field.attname for field in ApiKey._meta.concrete_fields]


class StaffSessionAuthentication(SessionAuthentication):
    """A logged-in staff user (the dashboard's session), with DRF's CSRF check. A session of
    a non-staff user is refused outright: the API is for operators and for keys."""

    def authenticate(self, request: Request) -> tuple | None:
        result = super().authenticate(request)
        if result is not None and not (result[0].is_active and result[0].is_staff):
            raise PermissionDenied(SESSION_NOT_STAFF)
        return result


def bound_team(request: Request) -> str | None:
    """The team a request's key is bound to, or None (unbound key, operator)."""
    user = request.user
    return (user.key.team_id or None) if isinstance(user, ApiKeyCaller) else None


class IsProductClient(BasePermission):
    """Any API key, or an operator; a team-bound key only on its own team's paths (every
    product URL carries `team_id`), and never to create a team or change its tier."""

    def has_permission(self, request: Request, view: object) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        team = bound_team(request)
        if team is None:
            return True
        if view.kwargs.get("team_id") != team:
            raise PermissionDenied(OTHER_TEAM.format(team=team))
        if getattr(view, "team_write_methods", ()) and request.method in view.team_write_methods:
            raise PermissionDenied(TEAM_WRITE)
        return True


class IsApiClient(BasePermission):
    """Any API key or an operator, on a path without a team: the view scopes what a
    team-bound key sees (`bound_team`)."""

    def has_permission(self, request: Request, view: object) -> bool:
        return bool(request.user and request.user.is_authenticated)


class IsOperator(BasePermission):
    """An admin key or a staff user; a product key is refused (403)."""

    message = "This endpoint needs an admin API key or a staff login."

    def has_permission(self, request: Request, view: object) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


def actor_of(request: Request) -> str:
    """The name written into audit events."""
    return request.user.get_username() if request.user else "anonymous"

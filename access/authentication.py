"""Who is calling: a product service (API key), an operator (admin key or staff session).

One place resolves the caller; views only say which kind they accept.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.db.models.functions import Now
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from access.models import ApiKey

KEY_INVALID = "Invalid or revoked API key."
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
        found = ApiKey.objects.filter(prefix=parts[1], revoked_at__isnull=True).first()
        if found is None or not hmac.compare_digest(found.key_hash, ApiKey.hash(key)):
            raise AuthenticationFailed(KEY_INVALID)
        if found.last_used_at is None or timezone.now() - found.last_used_at > LAST_USED_PRECISION:
            # Not a write per request: "last used" to the minute is what operators need.
            ApiKey.objects.filter(id=found.id).update(last_used_at=Now())
        return ApiKeyCaller(found), found

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class StaffSessionAuthentication(SessionAuthentication):
    """A logged-in staff user (the dashboard's session), with DRF's CSRF check."""


class IsProductClient(BasePermission):
    """Any API key, or an operator."""

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

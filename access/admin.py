"""Audit events (append-only) and API keys in the Django admin."""

from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from access.admin_mixins import admin_actor
from access.models import ApiKey, AuditEvent
from access.services import api_key_create, api_key_rotate, api_keys_revoke
from scheduler_project.errors import ConflictError

ROTATION_GRACE = timedelta(hours=24)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "object_type", "object_id", "reason")
    list_filter = ("action", "object_type")
    search_fields = ("actor", "object_id", "reason")
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the audit trail is append-only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here or with `manage.py create_api_key` (the key is shown once, in a
    message); listed with what they reach and when they were last used; rotated (the old
    secret keeps working for a day) and revoked through the services, audited."""

    list_display = (
        "name",
        "prefix",
        "scope",
        "expires_at",
        "created_at",
        "last_used_at",
        "previous_valid_until",
        "revoked_at",
    )
    list_filter = ("is_admin", "revoked_at")
    search_fields = ("name", "prefix", "team_id")
    fields = ("name", "is_admin", "team_id", "expires_at")
    actions = ("rotate", "revoke")

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple:
        # Once made, a key's scope is what its client was given: make a new key instead.
        return ("name", "is_admin", "team_id", "expires_at") if obj else ()

    def save_model(self, request: HttpRequest, obj: ApiKey, form: object, change: bool) -> None:
        if change:
            return
        try:
            row, key = api_key_create(
                name=obj.name,
                is_admin=obj.is_admin,
                team_id=obj.team_id,
                expires_at=obj.expires_at,
                actor=admin_actor(request),
            )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            return
        obj.pk = row.pk
        messages.warning(request, f"Key for {row.name} ({row.scope}), shown once: {key}")

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoke instead: the audit log keeps naming the key

    @admin.action(description="Rotate the selected keys (old secrets work 24 h more)")
    def rotate(self, request: HttpRequest, queryset: QuerySet) -> None:
        for key in queryset.order_by("id"):
            try:
                secret = api_key_rotate(key=key, grace=ROTATION_GRACE, actor=admin_actor(request))
            except ConflictError as exc:
                messages.error(request, f"{key.name}: {exc}")
                continue
            messages.warning(request, f"New secret for {key.name}, shown once: {secret}")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = api_keys_revoke(keys=queryset.order_by("id"), actor=admin_actor(request))
        messages.success(request, f"Revoked {revoked} keys.")

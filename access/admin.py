from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from access.admin_mixins import admin_actor
from access.models import ApiKey, AuditEvent
from access.services import api_keys_revoke


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
    """Keys are created with `manage.py create_api_key` (shown once); here they are listed
    and revoked."""

    list_display = ("name", "prefix", "is_admin", "created_at", "last_used_at", "revoked_at")
    list_filter = ("is_admin",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at")
    actions = ("revoke",)

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = api_keys_revoke(keys=queryset.order_by("id"), actor=admin_actor(request))
        messages.success(request, f"Revoked {revoked} keys.")

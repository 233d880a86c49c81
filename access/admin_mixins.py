"""Django-admin building blocks shared by the apps: edits there go through the same services
(and audit) as the API, or the model is shown read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """Listed, filtered and searched, never edited here: its rows are written by services
    (dispatch, ingest, the retry queue) that keep their invariants."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def admin_actor(request: HttpRequest) -> str:
    """The name written into audit events for an edit made in the Django admin."""
    return f"admin:{request.user.get_username()}"

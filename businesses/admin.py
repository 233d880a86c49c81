"""The catalogue in the Django admin: edits go through the same services as the API (a
tier change moves the team's businesses, a delete keeps batch counts exact) and are audited;
registration stays with the API and the import, which validate identifiers."""

from __future__ import annotations

import contextlib
from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from access.admin_mixins import ReadOnlyAdmin, admin_actor
from access.services import audit_event_record
from businesses.models import Business, CustomInterval, ReviewItem, ScrapeOutcome, Team
from businesses.services import (
    EXPIRY_IN_PAST,
    TEAM_ID_INVALID,
    business_delete,
    business_update,
    custom_interval_remove,
    custom_interval_set,
    team_upsert,
)
from scheduler_project.identifiers import is_valid_team_id


class TeamForm(forms.ModelForm):
    """The service's team id rule, checked as a form error before the save (only on add:
    the id is read-only afterwards)."""

    def clean_team_id(self) -> str:
        team_id = self.cleaned_data.get("team_id", "")
        if not is_valid_team_id(team_id):
            raise forms.ValidationError(TEAM_ID_INVALID)
        return team_id


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamForm
    list_display = ("team_id", "tier", "created_at", "updated_at")
    list_filter = ("tier",)
    search_fields = ("team_id",)
    fields = ("team_id", "tier")

    def get_readonly_fields(self, request: HttpRequest, obj: Team | None = None) -> tuple:
        return ("team_id",) if obj else ()

    def has_delete_permission(self, request: HttpRequest, obj: Team | None = None) -> bool:
        return False  # a team's businesses are deleted one by one, through their service

    def save_model(self, request: HttpRequest, obj: Team, form: object, change: bool) -> None:
        before = {"tier": form.initial.get("tier")} if change else None
        team, _ = team_upsert(team_id=obj.team_id, tier=obj.tier)
        obj.pk = team.pk
        audit_event_record(
            actor=admin_actor(request),
            action="team.change" if change else "team.create",
            obj=team,
            before=before,
            after={"tier": team.tier},
        )


@admin.register(Business)
class BusinessAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "team",
        "platform",
        "name",
        "external_id",
        "active",
        "last_status",
        "last_scraped_at",
    )
    list_filter = ("platform", "active", "last_status")
    search_fields = ("=id", "team__team_id", "name", "external_id", "platform_key")
    list_select_related = ("team",)
    fields = (
        "team",
        "platform",
        "external_id",
        "platform_key",
        "name",
        "active",
        "scrape_types",
        "last_status",
        "last_scraped_at",
        "last_error",
        "created_at",
        "updated_at",
    )
    # Only name and active are edited here (through business_update); the rest is the
    # registration's and the scrapes'.
    readonly_fields = tuple(f for f in fields if f not in ("name", "active"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Business, form: object, change: bool) -> None:
        before = {k: form.initial.get(k) for k in ("name", "active")}
        try:
            business_update(business=obj, name=obj.name, active=obj.active)
        except Business.DoesNotExist:
            messages.error(request, f"Business {obj.pk} was deleted meanwhile: nothing changed.")
            return
        audit_event_record(
            actor=admin_actor(request),
            action="business.update",
            obj=obj,
            before=before,
            after={"name": obj.name, "active": obj.active},
        )

    def get_deleted_objects(self, objs: object, request: HttpRequest) -> tuple:
        """The confirmation lists what goes with the business; the rows only services write
        (mappings, retries, reviews) are removed by business_delete, so their read-only
        admins do not block it."""
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    @transaction.atomic
    def delete_model(self, request: HttpRequest, obj: Business) -> None:
        """Deleted through business_delete; one deleted by someone else meanwhile is gone
        already (their delete is the one audited)."""
        before = {"team": obj.team_id, "platform": obj.platform, "name": obj.name}
        try:
            business_delete(business=obj)
        except Business.DoesNotExist:
            return
        audit_event_record(
            actor=admin_actor(request), action="business.delete", obj=obj, before=before
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for business in queryset.order_by("id"):
            self.delete_model(request, business)


class CustomIntervalForm(forms.ModelForm):
    """The service's rule on expiry, checked as a form error before the save."""

    def clean_expires_at(self) -> datetime | None:
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError(EXPIRY_IN_PAST)
        return expires_at


@admin.register(CustomInterval)
class CustomIntervalAdmin(admin.ModelAdmin):
    form = CustomIntervalForm
    list_display = ("team", "platform", "interval_minutes", "expires_at", "created_by", "reason")
    list_filter = ("platform",)
    search_fields = ("team__team_id", "reason", "created_by")
    raw_id_fields = ("team",)
    fields = ("team", "platform", "interval_minutes", "expires_at", "reason")

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> tuple:
        return ("team", "platform") if obj else ()

    def save_model(
        self, request: HttpRequest, obj: CustomInterval, form: object, change: bool
    ) -> None:
        saved = custom_interval_set(
            team=obj.team,
            interval_minutes=obj.interval_minutes,
            platform=obj.platform or None,
            expires_at=obj.expires_at,
            reason=obj.reason,
            actor=admin_actor(request),
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: CustomInterval) -> None:
        # Removed (or expired) meanwhile: the team is already back on its default.
        with contextlib.suppress(ValidationError):
            custom_interval_remove(
                team=obj.team, platform=obj.platform or None, actor=admin_actor(request)
            )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for custom in queryset.select_related("team").order_by("id"):
            self.delete_model(request, custom)


@admin.register(ReviewItem)
class ReviewItemAdmin(ReadOnlyAdmin):
    list_display = ("id", "business", "platform_item_id", "published_at", "scraped_at")
    list_filter = ("business__platform",)
    search_fields = ("platform_item_id", "business__name", "business__team__team_id")
    list_select_related = ("business",)


@admin.register(ScrapeOutcome)
class ScrapeOutcomeAdmin(ReadOnlyAdmin):
    """The last scrape per (business, scrape type): written by ingest only."""

    list_display = ("business", "scrape_type", "last_status", "last_scraped_at", "last_error")
    list_filter = ("last_status", "scrape_type", "business__platform")
    search_fields = ("=business__id", "business__team__team_id", "business__name", "last_error")
    list_select_related = ("business",)

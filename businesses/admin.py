from django.contrib import admin

from businesses.models import Business, CustomInterval, ReviewItem, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("team_id", "tier", "created_at", "updated_at")
    list_filter = ("tier",)
    search_fields = ("team_id",)


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
    readonly_fields = ("platform_key", "created_at", "updated_at")
    raw_id_fields = ("team",)


@admin.register(CustomInterval)
class CustomIntervalAdmin(admin.ModelAdmin):
    list_display = ("team", "platform", "interval_minutes", "expires_at", "created_by", "reason")
    list_filter = ("platform",)
    search_fields = ("team__team_id", "reason", "created_by")
    raw_id_fields = ("team",)


@admin.register(ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    list_display = ("id", "business", "platform_item_id", "published_at", "scraped_at")
    list_filter = ("business__platform",)
    search_fields = ("platform_item_id", "business__name", "business__team__team_id")
    list_select_related = ("business",)
    raw_id_fields = ("business", "execution")

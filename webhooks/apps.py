"""The Apify callback inbox: authenticate, validate, store each callback once, enqueue its
processing and record the outcome. What a callback means for its run is ingest's
(schedules)."""

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

"""Pushing what happened to the outside: operator alerts through Apprise when a health check
changes status, and signed product webhooks (Standard Webhooks) when a business was scraped or
gave up. Both are outboxes: rows written in the transaction that caused them, sent by tasks
that retry with backoff, every attempt on record."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

"""The product's catalogue and its writes: teams (tier), businesses (one profile on one
platform), custom intervals, scraped review items, and THE platform registry
(platforms.py). Its models, registry and selectors sit below schedules; its services and
APIs sit above (a write assigns batches in the same transaction): see docs/architecture.md."""

from django.apps import AppConfig


class BusinessesConfig(AppConfig):
    name = "businesses"
    default_auto_field = "django.db.models.BigAutoField"

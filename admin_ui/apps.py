from django.apps import AppConfig


class AdminUiConfig(AppConfig):
    name = "admin_ui"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class AdminUiConfig(AppConfig):
    name = "admin_ui"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from admin_ui import schema  # noqa: F401 -- registers the OpenAPI auth schemes

"""Access and audit: who may call (API keys, staff sessions, the operator API base) and what
they did (the audit log). Every domain app may import it; it imports none of them."""

from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    # The tables and migrations of ApiKey and AuditEvent were created under the label of the
    # app they first lived in (admin_ui); keeping the label keeps the data and history in
    # place on every existing database, with no migration to run by hand.
    label = "admin_ui"
    verbose_name = "Access and audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from access import schema  # noqa: F401 -- registers the OpenAPI auth schemes

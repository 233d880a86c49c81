from django.apps import AppConfig


class ApifySandboxConfig(AppConfig):
    """A local stand-in for Apify (no models): `python manage.py apify_sandbox`."""

    name = "apify_sandbox"
    verbose_name = "Apify sandbox"

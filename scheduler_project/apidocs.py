"""The OpenAPI schema and its docs page, for callers only (docs/api.md "Schema and docs").

An operator (staff session or admin key) sees every endpoint; a product key sees the product
API alone, so the operators' endpoints are not advertised to the services that cannot call
them. A browser that is not logged in is sent to the dashboard's login and back.

The docs page is drf-spectacular's Swagger UI, served from the project
(drf-spectacular-sidecar) and made to pass the site's Content-Security-Policy: its start-up
script is fetched as a file (`SpectacularSwaggerSplitView`), its template's inline style moved
to a static file.
"""

from __future__ import annotations

from typing import Any

from csp.constants import SELF
from csp.decorators import csp_update
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBase
from django.utils.decorators import method_decorator
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

# Every product endpoint lives under one of them (businesses/urls.py, notifications/urls.py,
# mounted in scheduler_project/urls.py).
PRODUCT_PATHS = ("/api/v1/teams/", "/api/v1/webhook-endpoints/")
# Swagger UI's stylesheet draws its icons as data: images; its page adds them to the site's
# policy, no other page does. (ReDoc is not served: it styles itself with <style> elements
# written at run time, which would need style-src 'unsafe-inline', and loads its logo from
# cdn.redoc.ly.)
SWAGGER_CSP = {"img-src": [SELF, "data:"]}


class ProductEndpoints(EndpointEnumerator):
    """The endpoints a product key may call: those under PRODUCT_PATHS."""

    def get_api_endpoints(self, patterns: Any = None, prefix: str = "") -> list[tuple]:
        endpoints = super().get_api_endpoints(patterns, prefix)
        return [endpoint for endpoint in endpoints if endpoint[0].startswith(PRODUCT_PATHS)]


class ProductSchemaGenerator(SchemaGenerator):
    """The schema of the product API alone (its components follow from its endpoints)."""

    endpoint_inspector_cls = ProductEndpoints


class SchemaApi(SpectacularAPIView):
    """The OpenAPI schema: whole for operators, the product API for product keys; anonymous
    callers get 401."""

    permission_classes = [IsAuthenticated]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # Per request, on this view instance: drf-spectacular's custom_settings would patch
        # the process-wide settings, which another thread's request could then read.
        if not request.user.is_staff:
            self.generator_class = ProductSchemaGenerator


@method_decorator(csp_update(SWAGGER_CSP), name="dispatch")
class SwaggerDocsPage(SpectacularSwaggerSplitView):
    """Swagger UI over the caller's schema; its script is a second request, not inline. A
    browser that is not logged in goes to the login, then back."""

    permission_classes = [IsAuthenticated]
    template_name = "api_docs/swagger_ui.html"

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        if isinstance(exc, NotAuthenticated):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)

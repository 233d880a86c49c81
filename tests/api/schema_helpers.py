"""The OpenAPI schema an operator is served, built without a request (and so without a key or
a database): the schema fuzz test loads it while tests are collected."""

from __future__ import annotations

import json

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer


def operator_schema() -> dict:
    """What `GET /api/v1/schema/` answers an operator (scheduler_project/apidocs.py), as JSON
    types; tests/scheduler_project/test_apidocs.py checks the two agree."""
    raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(raw))


def product_schema() -> dict:
    """What the schema endpoint answers a product key: the product API alone."""
    from scheduler_project.apidocs import ProductSchemaGenerator

    raw = ProductSchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(raw))

"""List pages served from plain `.values()` rows, shaped by the endpoint's own serializer.

On PostgreSQL the busiest two lists go further: the database writes their JSON
(scheduler_project/json_pages.py); this is their path on the embedded SQLite.

A DRF serializer per row (field objects deep-copied, attributes read one by one, a model
instance built first) was most of a list request's time (bench/api_load.py: the product
business list spent 18 of its 34 ms there). `RowShape` reads the serializer's declared fields
once, selects exactly their columns (following `source="group.platform"` as
`group__platform`), and builds each answer row as a dict in the serializer's field order.
The serializer stays the one declaration of the answer (the OpenAPI schema reads it); a test
per endpoint holds both to the same output.

Only fields whose serializer output is the column's value unchanged are served this way; the
JSON encoder then writes datetimes exactly as DateTimeField does (ISO 8601, `Z` for UTC).
Anything else (a method field, a nested serializer) needs a `computed` function of the row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import QuerySet
from rest_framework import fields as drf_fields
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from scheduler_project.api import Pagination

# Serializer fields whose output is the database value itself.
PASS_THROUGH = (
    drf_fields.CharField,
    drf_fields.IntegerField,
    drf_fields.BooleanField,
    drf_fields.DateTimeField,
    drf_fields.ChoiceField,
    drf_fields.JSONField,
    drf_fields.FloatField,
    drf_fields.ReadOnlyField,
    serializers.ModelField,
)
Computed = Callable[[dict], Any]


class RowShape:
    """`serializer_class`'s answer for `.values()` rows; `computed` fills the fields that
    are not a column (method fields), from the row's columns."""

    def __init__(self, serializer_class: type, computed: dict[str, Computed] | None = None):
        self.computed = computed or {}
        self.names: list[str] = list(serializer_class.Meta.fields)
        declared = serializer_class().fields
        self.columns: dict[str, str] = {}
        for name in self.names:
            if name in self.computed:
                continue
            field = declared[name]
            if not isinstance(field, PASS_THROUGH) or getattr(field, "many", False):
                raise TypeError(f"{serializer_class.__name__}.{name}: not a plain column")
            self.columns[name] = field.source.replace(".", "__")

    def page(
        self,
        request: Request,
        queryset: QuerySet,
        view: object,
        attach: Callable[[list[dict]], list[dict]] | None = None,
        extra_columns: Iterable[str] = (),
    ) -> Response:
        """One page in `Pagination`'s shape (its COUNT and slice, on the rows' columns only),
        `attach` adding what other tables hold for the page's rows."""
        paginator = Pagination()
        columns = {*self.columns.values(), *extra_columns}
        rows = paginator.paginate_queryset(queryset.values(*columns), request, view=view)
        if attach is not None:
            rows = attach(rows)
        return paginator.get_paginated_response([self.row(row) for row in rows])

    def row(self, values: dict) -> dict:
        out = {}
        for name in self.names:
            compute = self.computed.get(name)
            out[name] = compute(values) if compute else values[self.columns[name]]
        return out

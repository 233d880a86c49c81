"""API-wide plumbing: domain errors → HTTP, shared pagination."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import (
    ObjectDoesNotExist,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination, LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from scheduler_project.errors import ConflictError
from scheduler_project.views import TOO_MANY_PARTS, body_too_big_message

UNKNOWN_FIELD = "Unknown field."
CURSOR_INVALID = "Invalid cursor: use the `next` or `previous` link of a page."


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Services raise Django's ValidationError and ConflictError; answer them in DRF's shapes
    (`{"field": ["reason"]}` → 400, `{"detail": "…"}` → 409, a duplicate's
    `{"field": ["reason"]}` → 409). `detail` is always one string, never a list, whatever
    raised it; a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, not Django's HTML 400."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else " ".join(exc.messages)
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, ConflictError):
        body = {exc.field: [str(exc)]} if exc.field else {"detail": str(exc)}
        return Response(body, status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": body_too_big_message()}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return Response({"detail": TOO_MANY_PARTS}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = _detail_as_string(response.data)
    return response


def _detail_as_string(data: object) -> object:
    """`["a", "b"]` or `{"detail": ["a", "b"]}` (a ValidationError raised with a message or
    a list) → `{"detail": "a b"}`: clients read `detail` as one string on every endpoint."""
    if isinstance(data, list):
        return {"detail": " ".join(str(m) for m in data)}
    if isinstance(data, dict) and isinstance(data.get("detail"), list):
        return {**data, "detail": " ".join(str(m) for m in data["detail"])}
    return data


class StrictInputSerializer(serializers.Serializer):
    """The base of every endpoint's InputSerializer: a body field the endpoint does not take
    is a 400 naming it (`{"colour": ["Unknown field."]}`), not silently dropped, so a
    misspelt `actve: false` cannot answer 200 and change nothing. Query-string filters stay
    lenient (FilterSerializers do not use it)."""

    # Sent by any HTML form of a session (Django's CSRF field), never an input of ours.
    IGNORED_FIELDS = frozenset({"csrfmiddlewaretoken"})

    def to_internal_value(self, data: object) -> object:
        unknown = {}
        if isinstance(data, Mapping):
            known = {name for name, field in self.fields.items() if not field.read_only}
            unknown = {
                str(key): [UNKNOWN_FIELD]
                for key in data
                if key not in known and key not in self.IGNORED_FIELDS
            }
        try:
            value = super().to_internal_value(data)
        except exceptions.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise exceptions.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise exceptions.ValidationError(unknown)
        return value


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class NewestFirstCursorPagination(CursorPagination):
    """Newest first by `scraped_at`. A cursor that does not decode, or whose position is not
    a moment, is a 400 naming `cursor` (DRF answers the first with a 404, and the second
    reached the database as a string: a Django ValidationError)."""

    ordering = ("-scraped_at", "-id")
    page_size = 50
    max_page_size = 500
    page_size_query_param = "limit"

    def decode_cursor(self, request: Request) -> object:
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({"cursor": [CURSOR_INVALID]}) from None
        if cursor is not None and cursor.position is not None:
            try:
                moment = parse_datetime(cursor.position)
            except ValueError:
                moment = None
            if moment is None:
                raise exceptions.ValidationError({"cursor": [CURSOR_INVALID]})
        return cursor


_DETAIL = inline_serializer("ErrorDetail", {"detail": serializers.CharField()})

# The error answers every endpoint documents (SPEC §4 Errors).
ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description='`{"field": ["reason"]}`'),
    401: OpenApiResponse(_DETAIL, description="No or invalid credentials."),
    403: OpenApiResponse(_DETAIL, description="Credentials that may not use this endpoint."),
    404: OpenApiResponse(_DETAIL, description="No such object in this scope."),
}
CONFLICT = {409: OpenApiResponse(_DETAIL, description="The object's state forbids it now.")}
DUPLICATE = {
    409: OpenApiResponse(
        OpenApiTypes.OBJECT, description='It exists already: `{"field": ["reason"]}`.'
    )
}


def page_of(name: str, serializer: serializers.BaseSerializer) -> serializers.Serializer:
    """The OpenAPI shape of a `Pagination` page of `serializer` (an APIView's schema does not
    know it paginates)."""
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer,
        },
    )


# `?limit=&offset=` of `Pagination`, for list endpoints' schemas.
PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="Rows per page (default 50, at most 500)."),
    OpenApiParameter("offset", int, description="Rows to skip."),
]


def paginate(request: Request, queryset: object, serializer_class: type, view: object) -> Response:
    """One page of `queryset` serialised with `serializer_class`, in `Pagination`'s shape."""
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


def query_filters(request: Request, serializer_class: type[serializers.Serializer]) -> dict:
    """The validated query-string filters of a list endpoint (a 400 naming the field)."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data

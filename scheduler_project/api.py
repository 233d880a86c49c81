"""API-wide plumbing: domain errors → HTTP, shared pagination."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination, LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from scheduler_project.errors import ConflictError


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Services raise Django's ValidationError and ConflictError; answer them in DRF's shapes
    (`{"field": ["reason"]}` → 400, `{"detail": "…"}` → 409, a duplicate's
    `{"field": ["reason"]}` → 409)."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, ConflictError):
        body = {exc.field: [str(exc)]} if exc.field else {"detail": str(exc)}
        return Response(body, status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class NewestFirstCursorPagination(CursorPagination):
    ordering = ("-scraped_at", "-id")
    page_size = 50
    max_page_size = 500
    page_size_query_param = "limit"


_DETAIL = inline_serializer("ErrorDetail", {"detail": serializers.CharField()})

# The error answers every endpoint documents (SPEC §4 Errors).
ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description='`{"field": ["reason"]}`'),
    401: OpenApiResponse(_DETAIL, description="No or invalid credentials."),
    403: OpenApiResponse(_DETAIL, description="Credentials that may not use this endpoint."),
    404: OpenApiResponse(_DETAIL, description="No such object in this scope."),
}
CONFLICT = {409: OpenApiResponse(_DETAIL, description="The object's state forbids it now.")}


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

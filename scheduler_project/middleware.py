"""Refuse input PostgreSQL cannot store before any view reads it, and keep API writes from
being redirected.

A NUL character is valid in a URL (`%00`) and in a form field, but a PostgreSQL text value
cannot hold it: left to the database it is an error deep in a query (a 500). Here it is a
400 naming where it was, for every path, path parameters and query strings included. (JSON
bodies are checked by their serializers' fields and the strict parser.) A form body over
DATA_UPLOAD_MAX_MEMORY_SIZE, met while looking, is a 413 in JSON on API paths.

Django's APPEND_SLASH answers a path missing its trailing slash with a 301; a client
following it replays a POST as a GET, or drops the body. `ApiCommonMiddleware` keeps the
redirect for reads and answers an API write a 404 naming the path it meant.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.middleware.common import CommonMiddleware

from scheduler_project.views import API_PREFIX, TOO_MANY_PARTS, body_too_big_message

NUL = "\x00"
# Django's own words for these (request.body / request.POST raise them): an API client gets
# them as JSON; other paths keep Django's page.
BODY_LIMITS = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)
SLASH_MISSING = "Not found. Did you mean {path} ?"
REDIRECTABLE_METHODS = ("GET", "HEAD")


def _where_nul(request: HttpRequest) -> str | None:
    if NUL in request.path:
        return "the path"
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in v for v in values):
            return f"the query parameter {name!r}"
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        for name, values in request.POST.lists():
            if NUL in name or any(NUL in v for v in values):
                return f"the form field {name!r}"
    return None


class RejectUnstorableInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            where = _where_nul(request)
        except BODY_LIMITS as exc:
            if not request.path.startswith(API_PREFIX):
                raise
            return _body_limit_response(exc)
        if where is None:
            return self.get_response(request)
        message = f"A NUL character in {where} cannot be stored."
        if request.path.startswith(API_PREFIX):
            return JsonResponse({"detail": message}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain")


def _body_limit_response(exc: Exception) -> JsonResponse:
    if isinstance(exc, RequestDataTooBig):
        return JsonResponse({"detail": body_too_big_message()}, status=413)
    return JsonResponse({"detail": TOO_MANY_PARTS}, status=400)


def _is_api_write(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX) and request.method not in REDIRECTABLE_METHODS


class ApiCommonMiddleware(CommonMiddleware):
    """Django's CommonMiddleware (it replaces it in MIDDLEWARE), except that a write to an
    API path missing its trailing slash is never redirected: a 404 in JSON names the path
    with the slash, and nothing is written."""

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        return not _is_api_write(request) and super().should_redirect_with_slash(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if (
            response.status_code == 404
            and _is_api_write(request)
            and super().should_redirect_with_slash(request)
        ):
            path = f"{request.path}/"
            response = JsonResponse({"detail": SLASH_MISSING.format(path=path)}, status=404)
        return super().process_response(request, response)

"""Refuse input PostgreSQL cannot store before any view reads it.

A NUL character is valid in a URL (`%00`) and in a form field, but a PostgreSQL text value
cannot hold it: left to the database it is an error deep in a query (a 500). Here it is a
400 naming where it was, for every path, path parameters and query strings included. (JSON
bodies are checked by their serializers' fields and the strict parser.)
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

NUL = "\x00"


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
        where = _where_nul(request)
        if where is None:
            return self.get_response(request)
        message = f"A NUL character in {where} cannot be stored."
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain")

"""Site-wide error pages: API paths answer JSON in DRF's shape, the rest an HTML page in the
dashboard's look (dashboard/error.html); and /favicon.ico."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    HttpResponseServerError,
    JsonResponse,
)
from django.template import loader
from django.templatetags.static import static

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
ERROR_TEMPLATE = "dashboard/error.html"
# status → (title, what happened and what to do), as the page shows them.
ERROR_PAGES = {
    400: ("Bad request", "The request could not be understood; go back and try again."),
    403: (
        "Access denied",
        "This account may not open this page: the dashboard is for operators (staff accounts).",
    ),
    404: (
        "Page not found",
        "Nothing is at this address: what it showed may have been deleted, or the link is wrong.",
    ),
    500: (
        "Server error",
        "Something went wrong on our side and it has been logged. Try again in a moment.",
    ),
}
# The 500 page's own fallback, should rendering the styled one fail too.
PLAIN_SERVER_ERROR = "<!doctype html><title>Server error</title><h1>Server error (500)</h1>"
BODY_TOO_BIG = "The request body is over the {limit:,} bytes this service accepts."
TOO_MANY_PARTS = "The request has more form fields or files than this service accepts."


def body_too_big_message() -> str:
    """The 413's detail (DATA_UPLOAD_MAX_MEMORY_SIZE, Django's default 2.5 MB, is the limit)."""
    return BODY_TOO_BIG.format(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def error_page(request: HttpRequest, status: int, *, with_request: bool) -> HttpResponse:
    """The HTML error page. With the request (403, 404) its top bar is the operator's own;
    without it (400, 500) no context processor runs, so nothing reads the session, the user
    or the database: a 500 caused by the database still gets its page."""
    title, message = ERROR_PAGES[status]
    context = {"status": status, "title": title, "message": message}
    if status == 404:
        context["path"] = request.path
    body = loader.get_template(ERROR_TEMPLATE).render(context, request if with_request else None)
    return HttpResponse(body, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 (a SuspiciousOperation raised outside a DRF view); a body over the limit
    is a 413 on API paths."""
    if not request.path.startswith(API_PREFIX):
        # No request: a DisallowedHost is a 400 too, and the request cannot be trusted.
        return error_page(request, 400, with_request=False)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"detail": body_too_big_message()}, status=413)
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action."}, status=403
        )
    return error_page(request, 403, with_request=True)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Not found."}, status=404)
    return error_page(request, 404, with_request=True)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Server error."}, status=500)
    try:
        return error_page(request, 500, with_request=False)
    except Exception:  # the page must never be the second error
        logger.exception("The 500 page failed to render", extra={"action": "error_page"})
        return HttpResponseServerError(PLAIN_SERVER_ERROR)


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for on pages without a <link rel="icon"> (the Django
    admin, a JSON answer): the dashboard's SVG icon rather than a 404."""
    response = HttpResponseRedirect(static("dashboard/favicon.svg"))
    response["Cache-Control"] = "public, max-age=86400"  # not permanent: the file may move
    return response

"""Site-wide error pages: API paths answer JSON in DRF's shape, the rest stays HTML."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/"
BODY_TOO_BIG = "The request body is over the {limit:,} bytes this service accepts."
TOO_MANY_PARTS = "The request has more form fields or files than this service accepts."


def body_too_big_message() -> str:
    """The 413's detail (DATA_UPLOAD_MAX_MEMORY_SIZE, Django's default 2.5 MB, is the limit)."""
    return BODY_TOO_BIG.format(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 (a SuspiciousOperation raised outside a DRF view); a body over the limit
    is a 413 on API paths."""
    if not request.path.startswith(API_PREFIX):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"detail": body_too_big_message()}, status=413)
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action."}, status=403
        )
    return defaults.permission_denied(request, exception)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)

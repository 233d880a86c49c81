"""The real URLconf plus views that fail, for the error page tests (settings.ROOT_URLCONF)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from scheduler_project import urls as real


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a view that fails, on purpose")


urlpatterns = [
    path("dashboard/boom/", boom),
    path("api/v1/boom/", boom),
    *real.urlpatterns,
]

# Django reads the error handlers from the root URLconf: the project's own.
handler400 = real.handler400
handler403 = real.handler403
handler404 = real.handler404
handler500 = real.handler500

"""What every dashboard page shares: staff only, POST+CSRF writes, audit actor, messages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from scheduler_project.errors import ConflictError


class StaffRequiredMixin(AccessMixin):
    """Anonymous visitors go to the login page; a logged-in non-staff user gets a 403."""

    raise_exception = False

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return self.handle_no_permission()
        if not (user.is_active and user.is_staff):
            self.raise_exception = True
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)


class ActionView(StaffRequiredMixin, View):
    """A write from the dashboard: POST only (CSRF checked by the middleware), calls ONE
    service, reports its outcome as a message and goes back where the operator was."""

    http_method_names = ["post"]

    def act(self, request: HttpRequest, **kwargs: object) -> str:
        """Do the write; return the success message. Domain errors become error messages."""
        raise NotImplementedError

    def post(self, request: HttpRequest, **kwargs: object) -> HttpResponse:
        try:
            messages.success(request, self.act(request, **kwargs))
        except ObjectDoesNotExist as exc:
            # Found when the page was drawn, deleted before the write locked it: the same
            # answer as an unknown object, never a 500.
            raise Http404(str(exc)) from None
        except ValidationError as exc:
            text = (
                "; ".join(
                    f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items()
                )
                if hasattr(exc, "error_dict")
                else " ".join(exc.messages)
            )
            messages.error(request, text)
        except ConflictError as exc:
            messages.error(request, str(exc))
        back = request.POST.get("next") or request.headers.get("Referer") or ""
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("dashboard:overview")
        return HttpResponseRedirect(back)


def actor(request: HttpRequest) -> str:
    return request.user.get_username()


PAGE_SIZE = 50


def paginate(request: HttpRequest, queryset: QuerySet, per_page: int = PAGE_SIZE) -> Page:
    """One page of a queryset for a template (`?page=`); render it with
    `{% include "dashboard/partials/pagination.html" with page=page %}`."""
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The current filters as a query string, to carry them across pages."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()

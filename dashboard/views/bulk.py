"""Bulk actions of the list pages (pause / resume batches, retry entries of the retry queue,
cancel executions).

The list posts the checked rows' ids, the action and a reason (required). The first POST
answers a confirmation page: each object, what it is now and what will happen to it (or why
it will be refused). Confirming posts the same again with `confirmed`; the owning app's bulk
service then calls the single-object service the API uses once per object (one audit event
each, with the reason). Refusals are reported by the object's name; the others stay done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from dashboard.forms import BulkActionForm
from dashboard.views.base import StaffRequiredMixin, actor
from scheduler_project.bulk import NOT_FOUND, BulkResult

MAX_REFUSALS_SHOWN = 20


@dataclass(frozen=True)
class BulkAction:
    value: str  # the button's `action` value
    label: str  # the button: "Pause selected…"
    verb: str  # the confirmation: "Pause"
    done: str  # the report: "paused"
    outcome: str  # what happens to each object: "stops being dispatched"
    run: Callable[..., BulkResult]  # the service: (ids=, reason=, actor=)
    refusal: Callable[[object], str]  # why an object will be refused ("" when it applies)
    style: str = "secondary"


@dataclass(frozen=True)
class Row:
    """An object as the confirmation page and the report name it."""

    label: str
    url: str
    state: str


class BulkView(StaffRequiredMixin, View):
    """Subclasses name their objects (`noun`), their id type, the list to go back to, their
    actions, and how to load (one query) and describe them."""

    http_method_names = ["post"]
    noun: tuple[str, str] = ("object", "objects")
    kind: type = int
    list_url = "dashboard:overview"
    actions: tuple[BulkAction, ...] = ()

    def objects(self, ids: list) -> dict:
        """id → object, for the ids that exist; one query."""
        raise NotImplementedError

    def row(self, obj: object) -> Row:
        raise NotImplementedError

    def post(self, request: HttpRequest) -> HttpResponse:
        form = BulkActionForm(request.POST, actions=[a.value for a in self.actions], kind=self.kind)
        back = _back(request, reverse(self.list_url))
        if not form.is_valid():
            messages.error(request, f"Nothing was done. {form.error_text()}")
            return HttpResponseRedirect(back)
        action = next(a for a in self.actions if a.value == form.cleaned_data["action"])
        ids, reason = form.cleaned_data["ids"], form.cleaned_data["reason"]
        found = self.objects(ids)
        if not form.cleaned_data["confirmed"]:
            return self._confirmation(request, action, ids, found, reason, back)
        result = action.run(ids=ids, reason=reason, actor=actor(request))
        self._report(request, action, ids, found, result)
        return HttpResponseRedirect(back)

    def _name(self, key: object, found: dict) -> str:
        obj = found.get(key)
        return self.row(obj).label if obj is not None else f"{self.noun[0]} {key}"

    def _preview(self, key: object, obj: object | None, action: BulkAction) -> dict:
        """One row of the confirmation: the object, and why the action will refuse it."""
        if obj is None:
            return {"key": key, "row": Row(f"{self.noun[0]} {key}", "", ""), "refusal": NOT_FOUND}
        return {"key": key, "row": self.row(obj), "refusal": action.refusal(obj)}

    def _confirmation(
        self,
        request: HttpRequest,
        action: BulkAction,
        ids: list,
        found: dict,
        reason: str,
        back: str,
    ) -> HttpResponse:
        rows = [self._preview(key, found.get(key), action) for key in ids]
        applies = sum(1 for r in rows if not r["refusal"])
        return render(
            request,
            "dashboard/bulk_confirm.html",
            {
                "action": action,
                "rows": rows,
                "applies": applies,
                "noun": self.noun[0] if applies == 1 else self.noun[1],
                "reason": reason,
                "back": back,
            },
        )

    def _report(
        self, request: HttpRequest, action: BulkAction, ids: list, found: dict, result: BulkResult
    ) -> None:
        refused = {r.key: r.message for r in result.refused}
        done = [self._name(key, found) for key in ids if key not in refused]
        if done:
            noun = self.noun[0] if len(done) == 1 else self.noun[1]
            messages.success(
                request, f"{action.done.capitalize()} {len(done)} {noun}: {_join(done)}."
            )
        for key, message in list(refused.items())[:MAX_REFUSALS_SHOWN]:
            messages.error(request, f"Not {action.done}: {self._name(key, found)}: {message}")
        if len(refused) > MAX_REFUSALS_SHOWN:
            messages.error(
                request, f"…and {len(refused) - MAX_REFUSALS_SHOWN} more {self.noun[1]} refused."
            )


def _join(names: Iterable[str]) -> str:
    return "; ".join(names)


def _back(request: HttpRequest, default: str) -> str:
    """Where the operator came from (the list with its filters), when it is this site."""
    back = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return back
    return default

"""Teams: who they are, how often they are scraped, and the operator's custom intervals."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from businesses.models import Team
from businesses.platforms import PLATFORM_CHOICES
from businesses.selectors import team_effective_intervals, team_get, tier_interval_minutes
from businesses.services import custom_interval_remove, custom_interval_set
from dashboard.forms import TeamFilterForm
from dashboard.views.base import (
    ActionView,
    StaffRequiredMixin,
    actor,
    paginate,
    query_without_page,
)
from dashboard.views.lists import list_page, render_list
from scheduler_project.dbclock import db_now
from schedules.selectors import team_mappings


def _team_or_404(team_id: str) -> Team:
    try:
        return team_get(team_id=team_id)
    except Team.DoesNotExist:
        raise Http404("No such team.") from None


def _form_errors(form: forms.Form) -> ValidationError:
    """A form's errors in the services' shape, so ActionView reports them alike."""
    return ValidationError({field: list(errors) for field, errors in form.errors.items()})


class TeamListView(StaffRequiredMixin, View):
    """Every team with its tier, business count and custom intervals; search by team id."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = TeamFilterForm(request.GET)
        filters = form.filters() if form.is_valid() else {}
        teams = (
            Team.objects.annotate(business_count=Count("businesses"))
            .prefetch_related("custom_intervals")
            .order_by("team_id")
        )
        if filters.get("q"):
            teams = teams.filter(team_id__icontains=filters["q"])
        if filters.get("tier"):
            teams = teams.filter(tier=filters["tier"])
        return render_list(
            request,
            template="dashboard/teams.html",
            partial="dashboard/partials/teams_table.html",
            form=form,
            context={"page": list_page(form, teams)},
        )


class CustomIntervalForm(forms.Form):
    """Only the shape of the input; the rules (range, future expiry) are the service's."""

    interval_minutes = forms.IntegerField()
    platform = forms.ChoiceField(choices=[("", "All platforms"), *PLATFORM_CHOICES], required=False)
    expires_at = forms.DateTimeField(required=False)
    reason = forms.CharField(required=False, max_length=1000)


def _source(platform: str, live: set[str]) -> str:
    if platform in live:
        return f"custom ({platform})"
    if "" in live:
        return "custom (all platforms)"
    return "tier default"


class TeamDetailView(StaffRequiredMixin, View):
    """A team's tier, effective intervals, custom intervals and (paginated) assignments —
    the pieces `team_schedules_get` puts together for the API, with the assignments paged."""

    def get(self, request: HttpRequest, team_id: str) -> HttpResponse:
        team = _team_or_404(team_id)
        custom_intervals = list(team.custom_intervals.order_by("platform"))
        now = db_now()
        live = {c.platform for c in custom_intervals if not c.expires_at or c.expires_at > now}
        tier_default = tier_interval_minutes(team.tier)
        return render(
            request,
            "dashboard/team.html",
            {
                "team": team,
                "tier_minutes": tier_default,
                "effective": [
                    {"platform": p, "minutes": m, "source": _source(p, live)}
                    for p, m in team_effective_intervals(team).items()
                ],
                "custom_intervals": custom_intervals,
                "page": paginate(request, team_mappings(team=team)),
                "filters": query_without_page(request),
                "form": CustomIntervalForm(),
                "platforms": PLATFORM_CHOICES,
            },
        )


class CustomIntervalSetView(ActionView):
    def act(self, request: HttpRequest, team_id: str) -> str:
        team = _team_or_404(team_id)
        form = CustomIntervalForm(request.POST)
        if not form.is_valid():
            raise _form_errors(form)
        data = form.cleaned_data
        custom = custom_interval_set(
            team=team,
            interval_minutes=data["interval_minutes"],
            platform=data["platform"] or None,
            expires_at=data["expires_at"],
            reason=data["reason"],
            actor=actor(request),
        )
        scope = custom.platform or "all platforms"
        until = f" until {custom.expires_at:%Y-%m-%d %H:%M} UTC" if custom.expires_at else ""
        return f"Team {team.team_id}: {custom.interval_minutes} min on {scope}{until}."


class CustomIntervalRemoveView(ActionView):
    def act(self, request: HttpRequest, team_id: str) -> str:
        team = _team_or_404(team_id)
        platform = request.POST.get("platform", "")
        if platform and platform not in dict(PLATFORM_CHOICES):
            raise ValidationError({"platform": [f"Unknown platform {platform!r}."]})
        custom_interval_remove(
            team=team,
            platform=platform or None,
            actor=actor(request),
            reason=request.POST.get("reason", "")[:1000],
        )
        scope = platform or "all platforms"
        return f"Team {team.team_id}: custom interval on {scope} removed."

"""The list pages' GET filters and the bulk actions' POST, as Django forms.

A filter with a bad value (an unknown platform, a state that does not exist, a page or a
batch id that is not a number) is never dropped quietly: the page answers 400, lists
nothing, and names the field. Unknown parameters are ignored; they filter nothing.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField

from businesses.models import ScrapeStatus, Tier
from businesses.platforms import PLATFORM_CHOICES, ScrapeType
from retry.models import RetryState
from scheduler_project.bulk import MAX_OBJECTS
from schedules.models import BatchStatus, ScheduleGroup, Trigger
from schedules.states import ExecutionState

ANY = [("", "any")]
REASON_MAX = 1000
REASON_REQUIRED = "Say why (the reason is recorded in the audit log with each change)."
NEVER = "never"


def interval_label(minutes: int) -> str:
    """720 → "12 h", 4320 → "3 d", 90 → "90 min": what an operator reads at a glance."""
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def _choices(values: list[str]) -> list[tuple[str, str]]:
    return ANY + [(v, v) for v in values]


class ListFilterForm(forms.Form):
    """The filters of one list page and its page number (`?page=`, 1 when absent)."""

    page = forms.IntegerField(min_value=1, required=False)

    def filter_fields(self) -> list[BoundField]:
        """The fields the filter bar shows (not the page: a new filter starts at page 1)."""
        return [self[name] for name in self.fields if name != "page"]

    def filters(self) -> dict:
        """The valid filters that are set; call after `is_valid()`."""
        return {k: v for k, v in self.cleaned_data.items() if k != "page" and v not in ("", None)}

    def page_number(self) -> int:
        return self.cleaned_data.get("page") or 1

    def error_list(self) -> list[tuple[str, str]]:
        """(label, message) per bad field, for the summary above the list."""
        return [
            (str(self[name].label) if name in self.fields else name, " ".join(errs))
            for name, errs in self.errors.items()
        ]


def _text(max_length: int, label: str | None = None, **kwargs: object) -> forms.CharField:
    return forms.CharField(max_length=max_length, required=False, label=label, **kwargs)


class ScheduleFilterForm(ListFilterForm):
    """The same names as the admin API's (`interval` in minutes)."""

    platform = forms.ChoiceField(choices=ANY + PLATFORM_CHOICES, required=False)
    scrape_type = forms.ChoiceField(
        choices=ANY + ScrapeType.choices, required=False, label="Scrape type"
    )
    interval = forms.TypedChoiceField(choices=(), coerce=int, empty_value=None, required=False)
    status = forms.ChoiceField(choices=ANY + BatchStatus.choices, required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        minutes = (
            ScheduleGroup.objects.order_by("interval_minutes")
            .values_list("interval_minutes", flat=True)
            .distinct()
        )
        self.fields["interval"].choices = ANY + [(str(m), interval_label(m)) for m in minutes]


class TeamFilterForm(ListFilterForm):
    q = _text(64, "Team id", widget=forms.TextInput(attrs={"type": "search"}))
    tier = forms.ChoiceField(choices=ANY + Tier.choices, required=False)


class BusinessFilterForm(ListFilterForm):
    q = _text(500, "Search", widget=forms.TextInput(attrs={"type": "search", "size": 28}))
    team = _text(64, "Team")
    platform = forms.ChoiceField(choices=ANY + PLATFORM_CHOICES, required=False)
    status = forms.ChoiceField(
        choices=ANY + ScrapeStatus.choices + [(NEVER, "never scraped")],
        required=False,
        label="Last status",
    )


class RetryFilterForm(ListFilterForm):
    state = forms.ChoiceField(
        choices=[("", "all (pending and dead first)"), *RetryState.choices], required=False
    )
    platform = forms.ChoiceField(choices=ANY + PLATFORM_CHOICES, required=False)
    scrape_type = forms.ChoiceField(
        choices=_choices(ScrapeType.values), required=False, label="Scrape type"
    )
    team = _text(64, "Team")
    batch = forms.IntegerField(min_value=1, required=False, label="Batch id")


class ExecutionFilterForm(ListFilterForm):
    """The same as the API's (`schedule_id` is the batch id)."""

    state = forms.ChoiceField(choices=ANY + ExecutionState.choices, required=False)
    trigger = forms.ChoiceField(choices=ANY + Trigger.choices, required=False)
    platform = forms.ChoiceField(choices=ANY + PLATFORM_CHOICES, required=False)
    scrape_type = forms.ChoiceField(
        choices=_choices(ScrapeType.values), required=False, label="Scrape type"
    )
    schedule_id = forms.IntegerField(min_value=1, required=False, label="Batch id")


class AuditFilterForm(ListFilterForm):
    """Exact matches, as the API's; the action and object type are offered as the values the
    log holds (`offered`: field → values), and any other value filters to nothing."""

    action = _text(100)
    object_type = _text(100, "Object type")
    object_id = _text(100, "Object id")
    actor = _text(150)

    def __init__(self, *args: object, offered: dict[str, list[str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        for name, values in offered.items():
            current = self.data.get(name, "")
            if current and current not in values:
                values = [*values, current]
            self.fields[name].widget = forms.Select(choices=_choices(values))


class IdListField(forms.Field):
    """The selected rows' ids (`<input type=checkbox name=ids>`), distinct, in order."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": "Select at least one row.",
        "invalid": "“%(value)s” is not a row id.",
        "too_many": f"Select at most {MAX_OBJECTS} rows at once.",
    }

    def __init__(self, *, kind: type = int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.kind = kind

    def to_python(self, value: object) -> list:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        if len(values) > MAX_OBJECTS:
            raise ValidationError(self.error_messages["too_many"], code="too_many")
        ids = []
        for raw in values:
            try:
                ids.append(self.kind(str(raw).strip()))
            except ValueError:
                raise ValidationError(
                    self.error_messages["invalid"], code="invalid", params={"value": raw}
                ) from None
        return list(dict.fromkeys(ids))


class BulkActionForm(forms.Form):
    """A bulk action on the selected rows: which action, which rows, why; `confirmed` once
    the operator saw the confirmation page."""

    action = forms.ChoiceField(choices=())
    ids = IdListField()
    reason = forms.CharField(
        max_length=REASON_MAX, error_messages={"required": REASON_REQUIRED}, strip=True
    )
    confirmed = forms.BooleanField(required=False)

    def __init__(self, *args: object, actions: list[str], kind: type = int, **kwargs: object):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [(a, a) for a in actions]
        self.fields["ids"].kind = kind

    def error_text(self) -> str:
        return "; ".join(f"{name}: {' '.join(errs)}" for name, errs in self.errors.items())

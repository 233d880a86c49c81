"""The platform's side of ad-hoc webhooks (APIFY.md §1.5, §2): decode and validate them at run
start, render the payload and headers templates, and POST one dispatch.

Shared by the sandbox (which delivers on its own, with retries) and the test fake (which delivers
when a test says so), so both send byte-for-byte the same requests."""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apify_sandbox.runs import TERMINAL_EVENT, ApiError, SandboxRun, apify_id, iso

# Headers the platform always sets itself; a headersTemplate cannot override them.
PLATFORM_HEADERS = {
    "host",
    "content-type",
    "x-apify-webhook",
    "x-apify-webhook-dispatch-id",
    "x-apify-request-origin",
}
TEMPLATE_VARIABLES = {"userId", "createdAt", "eventType", "eventData", "resource", "globals"}
VARIABLE_RE = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
WEBHOOKS_INVALID = (
    "webhooks: base64 of a JSON array of {eventTypes, requestUrl, payloadTemplate?, "
    "headersTemplate?} with known template variables and string header values"
)


@dataclass(frozen=True)
class Dispatch:
    """One webhook POST, ready to send (and to send again, for a retry)."""

    run_id: str
    event_type: str
    url: str
    body: bytes
    headers: dict[str, str]
    do_not_retry: bool = False

    @property
    def dispatch_id(self) -> str:
        return self.headers["X-Apify-Webhook-Dispatch-Id"]


@dataclass
class Delivery:
    """What became of one dispatch: every attempt's HTTP status (0 = no answer), or lost."""

    dispatch: Dispatch
    statuses: list[int] = field(default_factory=list)
    lost: bool = False
    duplicate: bool = False

    @property
    def delivered(self) -> bool:
        return bool(self.statuses) and 200 <= self.statuses[-1] < 300


def decode_webhooks(raw: str) -> list[dict[str, Any]]:
    """Decode `?webhooks=` (standard base64 of a JSON array) and validate it like the API:
    required keys, only known template variables, string-valued headers."""
    try:
        hooks = json.loads(base64.b64decode(raw, validate=True))
        for hook in hooks if isinstance(hooks, list) else [None]:
            if not hook["eventTypes"] or not isinstance(hook["requestUrl"], str):
                raise ValueError
            for template in (hook.get("payloadTemplate"), hook.get("headersTemplate")):
                if template is not None and _unknown_variables(template):
                    raise ValueError
            headers = json.loads(render(hook.get("headersTemplate") or "{}", _SAMPLE_CONTEXT))
            if not isinstance(headers, dict) or any(
                not isinstance(v, str) for v in headers.values()
            ):
                raise ValueError
        return hooks
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ApiError(400, "invalid-parameter", WEBHOOKS_INVALID) from None


def _unknown_variables(template: str) -> list[str]:
    return [
        name
        for name in VARIABLE_RE.findall(template)
        if name.split(".", 1)[0] not in TEMPLATE_VARIABLES
    ]


class _Anything(dict):
    """A sample context value for validation: any attribute path resolves to a string."""

    def __missing__(self, key: str) -> Any:
        return _Anything()

    def __str__(self) -> str:
        return "sample"


_SAMPLE_CONTEXT: dict[str, Any] = {name: _Anything() for name in TEMPLATE_VARIABLES}


def _lookup(context: dict[str, Any], path: str) -> Any:
    """The value at a dotted path; null for a missing field (the root was validated)."""
    value: Any = context
    for part in path.split("."):
        try:
            value = value[part]
        except (KeyError, TypeError, IndexError):
            return None
    return "sample" if isinstance(value, _Anything) else value


def render(template: str, context: dict[str, Any], *, interpolate: bool = False) -> str:
    """Render a template: `{{a.b}}` outside strings becomes the value's JSON. Inside a JSON
    string it is left alone, unless `interpolate` (shouldInterpolateStrings): then a string that
    is only `"{{a.b}}"` becomes the raw value, and `{{a.b}}` within text its string form."""
    out: list[str] = []
    in_string, i = False, 0
    while i < len(template):
        char = template[i]
        if in_string and char == "\\":  # an escape: copy it and the escaped character
            out.append(template[i : i + 2])
            i += 2
            continue
        match = VARIABLE_RE.match(template, i) if char == "{" else None
        if match is None:
            in_string = in_string != (char == '"')
            out.append(char)
            i += 1
            continue
        value = _lookup(context, match.group(1))
        if not in_string:
            out.append(json.dumps(value))
        elif not interpolate:
            out.append(match.group(0))
        elif out and out[-1] == '"' and template[match.end() : match.end() + 1] == '"':
            out[-1] = json.dumps(value)  # a string that is only the variable: the raw value
            in_string = False
            i = match.end() + 1
            continue
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            out.append(json.dumps(text)[1:-1])
        i = match.end()
    return "".join(out)


def dispatches_for(run: SandboxRun, user_id: str, event_type: str | None = None) -> list[Dispatch]:
    """One Dispatch per ad-hoc webhook of `run` subscribed to its event (by default the event of
    its terminal status), each with a fresh dispatch id. Call with the run's lock held."""
    event = event_type or TERMINAL_EVENT.get(run.status)
    dispatches: list[Dispatch] = []
    for index, hook in enumerate(run.webhooks):
        if event is None or event not in hook["eventTypes"]:
            continue
        now = datetime.now(UTC)
        context = {
            "userId": user_id,
            "createdAt": iso(now),
            "eventType": event,
            "eventData": {"actorId": run.act_id, "actorRunId": run.id},
            "resource": run.to_json(user_id),
        }
        default_payload = json.dumps(context)
        context["globals"] = {"dateISO": iso(now), "dateUnix": int(now.timestamp())}
        interpolate = bool(hook.get("shouldInterpolateStrings"))
        template = hook.get("payloadTemplate")
        body = render(template, context, interpolate=interpolate) if template else default_payload
        custom = json.loads(render(hook.get("headersTemplate") or "{}", context))
        headers = {
            name: value if isinstance(value, str) else json.dumps(value)
            for name, value in custom.items()
            if name.lower() not in PLATFORM_HEADERS
        }
        headers |= {
            "Content-Type": "application/json",
            "User-Agent": "ApifySandbox-Webhooks/1.0",
            "X-Apify-Webhook": run.webhook_ids[index],
            "X-Apify-Webhook-Dispatch-Id": apify_id(),
        }
        dispatches.append(
            Dispatch(
                run_id=run.id,
                event_type=event,
                url=hook["requestUrl"],
                body=body.encode(),
                headers=headers,
                do_not_retry=bool(hook.get("doNotRetry")),
            )
        )
    return dispatches


def post(dispatch: Dispatch, timeout: float = 30.0) -> int:
    """POST once; the HTTP status, or 0 when nothing answered (refused, timeout, bad URL).
    Apify's own request timeout is 30 s."""
    request = urllib.request.Request(dispatch.url, dispatch.body, dispatch.headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):  # URLError, refused connection, timeout, malformed URL
        return 0

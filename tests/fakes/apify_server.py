"""Strict, inspectable in-process fake of the Apify API v2 subset that apify-client 3.4.0 uses.

Serves run start, run get/abort and dataset items, and plays the platform's side of ad-hoc
webhooks (see /work/shared/APIFY.md §1.2-1.9, §2, §6). Standard library only."""

from __future__ import annotations

import base64
import functools
import gzip
import json
import operator
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_PAYLOAD_BYTES = 9_437_184  # measured decompressed; larger bodies get 413 request-too-large
TERMINAL_EVENT = {
    "SUCCEEDED": "ACTOR.RUN.SUCCEEDED",
    "FAILED": "ACTOR.RUN.FAILED",
    "TIMED-OUT": "ACTOR.RUN.TIMED_OUT",
    "ABORTED": "ACTOR.RUN.ABORTED",
}
PLATFORM_HEADERS = {"host", "content-type", "x-apify-webhook", "x-apify-webhook-dispatch-id"}
ERROR_TYPES = {
    400: "invalid-input",
    401: "token-not-valid",
    404: "record-not-found",
    429: "rate-limit-exceeded",
}  # anything else: internal-server-error
JSON_TYPE = "application/json; charset=utf-8"
Response = tuple[int, Any, dict[str, str]]  # status, JSON payload, extra headers


def apify_id() -> str:
    """A random 17-character alphanumeric id, shaped like Apify's."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(17))


def iso(moment: datetime) -> str:
    """Apify's timestamp format: UTC with milliseconds and a trailing Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ApiError(Exception):
    """ApiError(status, type, message): answered as `{"error": {"type", "message"}}`."""


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: dict[str, str]  # unquoted, single-valued
    headers: dict[str, str]  # lower-cased keys
    body: bytes  # already gunzipped
    json: Any  # parsed JSON body, or None (also for the literal body `null`)
    webhooks: list[dict[str, Any]] | None = None  # decoded ad-hoc webhooks of a run start


@dataclass
class FakeRun:
    id: str
    actor_id: str  # as in the path, e.g. "compass~google-maps-reviews-scraper"
    status: str
    input: Any
    webhooks: list[dict[str, Any]]
    dataset_id: str
    started_at: datetime
    options: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    finished_at: datetime | None = None
    act_id: str = field(default_factory=apify_id)
    webhook_ids: list[str] = field(default_factory=list)  # sent as X-Apify-Webhook

    def to_json(self, user_id: str) -> dict[str, Any]:
        """The Run object as the API returns it (passes apify-client's pydantic `Run`)."""
        run: dict[str, Any] = {
            "id": self.id,
            "actId": self.act_id,
            "userId": user_id,
            "status": self.status,
            "startedAt": iso(self.started_at),
            "finishedAt": iso(self.finished_at) if self.finished_at else None,
            "meta": {"origin": "API"},
            "stats": {},
            "options": self.options,
            "buildId": "B" + self.act_id[1:],
            "defaultRequestQueueId": "Q" + self.id[1:],
            "defaultKeyValueStoreId": "K" + self.id[1:],
            "defaultDatasetId": self.dataset_id,
        }
        if self.finished_at is not None:
            sec = max((self.finished_at - self.started_at).total_seconds(), 0.001)
            units = round(sec * self.options["memoryMbytes"] / 1024 / 3600, 6)
            run["stats"] = dict(runTimeSecs=sec, durationMillis=int(sec * 1e3), computeUnits=units)
            run["exitCode"] = 0 if self.status == "SUCCEEDED" else 1
            run["usageTotalUsd"] = round(units * 0.4 + len(self.items) * 0.0005, 6)
        return run


class FakeApify:
    """Threaded HTTP fake of the Apify API; pass `url` as `api_url` to ApifyClient."""

    def __init__(self, token: str = "test-token", *, port: int = 0) -> None:
        self.token = token
        self.user_id = apify_id()
        self.requests: list[RecordedRequest] = []
        self.runs: dict[str, FakeRun] = {}
        self._lock = threading.Lock()  # guards requests, runs and the failure queue
        self._failures: list[tuple[int, str]] = []
        self._act_ids: dict[str, str] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._loop: threading.Thread | None = None

    def start(self) -> FakeApify:
        self._loop = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._loop.start()
        return self

    def stop(self) -> None:
        if self._loop is not None:  # shutdown() would wait forever if never started
            self._server.shutdown()  # quick: 0.05 s poll; daemon request threads never block
            self._loop = None
        self._server.server_close()

    def __enter__(self) -> FakeApify:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, status: int, count: int = 1, error_type: str | None = None) -> None:
        """Answer the next `count` requests (any route, before auth) with an Apify error."""
        kind = error_type or ERROR_TYPES.get(status, "internal-server-error")
        with self._lock:
            self._failures.extend([(status, kind)] * count)

    def finish_run(
        self,
        run_id: str,
        status: str = "SUCCEEDED",
        items: list[dict[str, Any]] | None = None,
        *,
        deliver_webhooks: bool = True,
    ) -> list[int]:
        """Set a terminal status and finishedAt, fill the dataset, then POST the run's webhooks."""
        if status not in TERMINAL_EVENT:
            raise ValueError(f"{status!r} is not one of {sorted(TERMINAL_EVENT)}")
        with self._lock:
            run = self.runs[run_id]
            run.status, run.finished_at = status, datetime.now(UTC)
            run.items = run.items if items is None else list(items)
        return self.deliver_webhooks(run_id) if deliver_webhooks else []

    def deliver_webhooks(self, run_id: str) -> list[int]:
        """POST each ad-hoc webhook of the run that subscribes to its status's event; again for a
        duplicate delivery. Returns HTTP statuses (an HTTPError gives its code, no answer 0)."""
        with self._lock:
            run = self.runs[run_id]
            resource, hooks = run.to_json(self.user_id), list(enumerate(run.webhooks))
        event = TERMINAL_EVENT.get(run.status)
        statuses: list[int] = []
        for index, hook in hooks:
            if event is None or event not in hook["eventTypes"]:
                continue
            context = {
                "userId": self.user_id,
                "createdAt": iso(datetime.now(UTC)),
                "eventType": event,
                "resource": resource,
                "eventData": {"actorId": run.act_id, "actorRunId": run.id},
            }
            template = hook.get("payloadTemplate")
            body = _render(template, context) if template else json.dumps(context)
            custom = json.loads(hook.get("headersTemplate") or "{}")
            headers = {k: v for k, v in custom.items() if k.lower() not in PLATFORM_HEADERS}
            headers |= {
                "Content-Type": "application/json",
                "X-Apify-Webhook": run.webhook_ids[index],
                "X-Apify-Webhook-Dispatch-Id": apify_id(),
            }
            post = urllib.request.Request(hook["requestUrl"], body.encode(), headers, method="POST")
            try:
                with urllib.request.urlopen(post, timeout=10) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
            except OSError:  # URLError, refused connection, timeout
                statuses.append(0)
        return statuses

    def wait_for_requests(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 10.0
    ) -> list[RecordedRequest]:
        """Poll until at least one recorded request matches; else AssertionError."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                seen = list(self.requests)
            if matching := [r for r in seen if predicate(r)]:
                return matching
            if time.monotonic() >= deadline:
                got = "\n  ".join(f"{r.method} {r.path} {r.query}" for r in seen) or "(nothing)"
                raise AssertionError(f"no matching request within {timeout}s; received:\n  {got}")
            time.sleep(0.02)

    # Request handling, on the server's threads. Order: injected failure, auth, body, route.
    def _handle(self, req: RecordedRequest, decode_error: ApiError | None) -> Response:
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure:
            raise ApiError(failure[0], failure[1], f"Injected failure ({failure[0]})")
        if req.headers.get("authorization") != f"Bearer {self.token}":
            raise ApiError(401, "token-not-valid", "Authentication token is not valid.")
        if decode_error is not None:
            raise decode_error
        for method, pattern, handler in ROUTES:
            if (match := pattern.fullmatch(req.path)) and method == req.method:
                return handler(self, req, urllib.parse.unquote(match.group(1)))
        raise ApiError(404, "page-not-found", f"No API endpoint at {req.method} {req.path}")

    def _start_run(self, req: RecordedRequest, actor_id: str) -> Response:
        if "~" not in actor_id:  # "user/name" must arrive as "user~name"
            raise ApiError(404, "record-not-found", f"Actor was not found: {actor_id}")
        memory = _int_param(req.query, "memory", 1024)
        if not 128 <= memory <= 32768 or memory & (memory - 1):
            raise ApiError(400, "invalid-value", "Memory must be a power of 2, 128-32768 MB")
        options = {
            "build": req.query.get("build", "latest"),
            "memoryMbytes": memory,
            "timeoutSecs": _int_param(req.query, "timeout", 3600),
            "diskMbytes": memory * 2,
        }
        run = FakeRun(
            id=apify_id(),
            actor_id=actor_id,
            status="RUNNING",
            input=req.json,
            webhooks=req.webhooks or [],
            dataset_id=apify_id(),
            started_at=datetime.now(UTC),
            options=options,
        )
        run.webhook_ids = [apify_id() for _ in run.webhooks]
        with self._lock:
            run.act_id = self._act_ids.setdefault(actor_id, run.act_id)  # one per actor name
            self.runs[run.id] = run
            data = run.to_json(self.user_id)
        return 201, {"data": data}, {"Location": f"{self.url}/v2/actor-runs/{run.id}"}

    def _run(self, run_id: str) -> FakeRun:
        if (run := self.runs.get(run_id)) is None:
            raise ApiError(404, "record-not-found", "Actor run was not found")
        return run

    def _get_run(self, _req: RecordedRequest, run_id: str) -> Response:
        with self._lock:  # waitForFinish is ignored: answer with the current state at once
            return 200, {"data": self._run(run_id).to_json(self.user_id)}, {}

    def _abort_run(self, _req: RecordedRequest, run_id: str) -> Response:
        with self._lock:  # no webhooks from here; tests call deliver_webhooks() if they want
            run = self._run(run_id)
            if run.status not in TERMINAL_EVENT:
                run.status, run.finished_at = "ABORTED", datetime.now(UTC)
            return 200, {"data": run.to_json(self.user_id)}, {}

    def _run_items(self, req: RecordedRequest, run_id: str) -> Response:
        return self._dataset_items(req, self._run(run_id).dataset_id)

    def _dataset_items(self, req: RecordedRequest, dataset_id: str) -> Response:
        with self._lock:
            runs = [r.items for r in self.runs.values() if r.dataset_id == dataset_id]
        if not runs:
            raise ApiError(404, "record-not-found", "Dataset was not found")
        items = list(runs[0])
        offset = _int_param(req.query, "offset", 0)
        limit = _int_param(req.query, "limit", 999_999_999_999)  # the API's "no limit"
        desc = req.query.get("desc", "false").lower() in ("true", "1")
        # Past the end the page is [] with count 0: iterate_items stops only on that.
        page = (items[::-1] if desc else items)[offset : offset + limit]
        # A bare array; apify-client raises KeyError unless all five headers are present.
        pagination = {
            "total": len(items),
            "offset": offset,
            "count": len(page),
            "limit": limit,
            "desc": "true" if desc else "false",
        }
        return 200, page, {f"x-apify-pagination-{k}": str(v) for k, v in pagination.items()}


ROUTES: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = [
    ("POST", re.compile(r"/v2/(?:actors|acts)/([^/]+)/runs"), FakeApify._start_run),
    ("GET", re.compile(r"/v2/actor-runs/([^/]+)"), FakeApify._get_run),
    ("POST", re.compile(r"/v2/actor-runs/([^/]+)/abort"), FakeApify._abort_run),
    ("GET", re.compile(r"/v2/actor-runs/([^/]+)/dataset/items"), FakeApify._run_items),
    ("GET", re.compile(r"/v2/datasets/([^/]+)/items"), FakeApify._dataset_items),
]


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    value = query.get(name, str(default))
    if not (value.isascii() and value.isdigit()):
        raise ApiError(400, "invalid-parameter", f"{name!r} must be a non-negative integer")
    return int(value)


def _render(template: str, context: dict[str, Any]) -> str:
    """Render a payloadTemplate: each {{a.b}} becomes that variable's JSON; KeyError if unknown."""

    def lookup(match: re.Match[str]) -> str:
        return json.dumps(functools.reduce(operator.getitem, match.group(1).split("."), context))

    return re.sub(r"\{\{\s*([\w.]+)\s*\}\}", lookup, template)


def _decode_webhooks(raw: str) -> list[dict[str, Any]]:
    """Decode `?webhooks=` (standard base64 of a JSON array) and validate it like the API."""
    try:
        hooks = json.loads(base64.b64decode(raw, validate=True))
        for hook in hooks if isinstance(hooks, list) else [None]:
            headers = json.loads(hook.get("headersTemplate") or "{}")  # strings only
            if (
                not hook["eventTypes"]
                or not isinstance(hook["requestUrl"], str)
                or any(not isinstance(v, str) for v in headers.values())
            ):
                raise ValueError
        return hooks
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ApiError(
            400,
            "invalid-parameter",
            "webhooks: base64 of a JSON array of {eventTypes, requestUrl, headersTemplate?}",
        ) from None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        fake: FakeApify = self.server.fake  # type: ignore[attr-defined]
        try:
            status, payload, extra = fake._handle(*self._record(fake))
        except ApiError as exc:
            status, kind, message = exc.args
            payload, extra = {"error": {"type": kind, "message": message}}, {}
        body = json.dumps(payload).encode()
        self.send_response(status)
        extra |= {"Content-Type": JSON_TYPE, "Content-Length": str(len(body))}
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _record(self, fake: FakeApify) -> tuple[RecordedRequest, ApiError | None]:
        """Read, decode and record the request; undecodable ones are recorded too."""
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        split = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        body, parsed, hooks, error = raw, None, None, None
        try:
            encoding = headers.get("content-encoding", "identity").lower()
            body = gzip.decompress(raw) if encoding == "gzip" else raw  # others fail as JSON
            if len(body) > MAX_PAYLOAD_BYTES:
                raise ApiError(
                    413,
                    "request-too-large",
                    "The POST payload is too large "
                    f"(limit: {MAX_PAYLOAD_BYTES} bytes, actual length: {len(body)})",
                )
            if body and "json" in headers.get("content-type", ""):
                parsed = json.loads(body)
            if "webhooks" in query and split.path.endswith("/runs"):
                hooks = _decode_webhooks(query["webhooks"])
        except ApiError as exc:
            error = exc
        except (OSError, EOFError, ValueError) as exc:  # bad gzip, bad JSON, bad UTF-8
            error = ApiError(400, "invalid-input", f"Could not parse the request body: {exc}")
        req = RecordedRequest(self.command, split.path, query, headers, body, parsed, hooks)
        with fake._lock:
            fake.requests.append(req)
        return req, error

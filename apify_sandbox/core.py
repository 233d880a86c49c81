"""The strict HTTP core of the Apify API v2 subset that apify-client 3.4.0 uses (APIFY.md §6).

One implementation serves two products: the Apify sandbox (`apify_sandbox.server.Sandbox`, which
finishes runs by itself) and the test fake (`tests.fakes.apify_server.FakeApify`, which records
requests and finishes runs when a test says so). Everything the real API would refuse is refused
here, for both: a wrong token, bad gzip or JSON, an actor id with `/` instead of `~`, bad
`webhooks`, a memory that is not a power of two, bodies over 9 MB. Standard library only.

It also models the account (`apify_sandbox.account`): a start that would pass the plan's memory,
concurrent-run or monthly-usage limit is refused with the API's 402, and `GET /v2/users/me/limits`
reports limits and live usage, so the scheduler's admission control is tested for real.

Subclasses adapt it through five hooks, all no-ops here: `_received` (every request, decoded or
not), `_admit` (may refuse a request before authentication), `_run_created`, `_run_aborted` and
`_start_refused`."""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from apify_sandbox.account import UNLIMITED, Account, AccountControls, Ledger
from apify_sandbox.hostile import Hostility
from apify_sandbox.runs import (
    TERMINAL_EVENT,
    ApiError,
    RecordedRequest,
    SandboxRun,
    apify_id,
    iso,
)
from apify_sandbox.webhooks import decode_webhooks

MAX_PAYLOAD_BYTES = 9_437_184  # measured decompressed; larger bodies get 413 request-too-large
MAX_WAIT_FOR_FINISH = 60  # seconds; the real API holds `waitForFinish` at most this long
NO_LIMIT = 999_999_999_999  # the `limit` the API reports when none was asked for
JSON_TYPE = "application/json; charset=utf-8"
Response = tuple[int, Any, dict[str, str]]  # status, JSON payload, extra headers


class ApifyServer(AccountControls):
    """Threaded HTTP server of the API subset; pass `url` as `api_url` to ApifyClient."""

    def __init__(
        self,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_memory_mbytes: int = UNLIMITED["max_memory_mbytes"],
        max_concurrent_runs: int = UNLIMITED["max_concurrent_runs"],
        max_monthly_usage_usd: float = UNLIMITED["max_monthly_usage_usd"],
        hostility: Hostility | None = None,
    ) -> None:
        self.token = token
        self.hostility = hostility or Hostility()  # all switches off: an honest API
        self.user_id = apify_id()
        self.runs: dict[str, SandboxRun] = {}
        self._ledger = Ledger(
            Account(int(max_memory_mbytes), int(max_concurrent_runs), max_monthly_usage_usd)
        )
        self._lock = threading.RLock()  # guards runs, the ledger and subclasses' shared state
        self._changed = threading.Condition(self._lock)  # notified when a run changes status
        self._closing = False
        self._act_ids: dict[str, str] = {}
        self._server = _Server((host, port), _Handler)
        self._server.api = self  # type: ignore[attr-defined]
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
        self.url = f"http://{shown}:{self._server.server_address[1]}"
        self._loop: threading.Thread | None = None

    def start(self) -> Self:
        self._loop = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._loop.start()
        return self

    def stop(self) -> None:
        with self._changed:  # release requests held by waitForFinish
            self._closing = True
            self._changed.notify_all()
        if self._loop is not None:  # shutdown() would wait forever if never started
            self._server.shutdown()  # quick: 0.05 s poll
            self._loop = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- hooks for subclasses ------------------------------------------------------------------

    def _received(self, req: RecordedRequest) -> None:
        """Called for every request, before anything is checked (undecodable ones too)."""

    def _admit(self, req: RecordedRequest) -> None:
        """Raise ApiError to refuse a request before authentication (failure injection)."""

    def _run_created(self, run: SandboxRun) -> None:
        """Called after a run was stored, outside the lock."""

    def _run_aborted(self, run: SandboxRun) -> None:
        """Called after a running run was aborted, outside the lock."""

    def _start_refused(self, req: RecordedRequest, error: ApiError) -> None:
        """Called after a start was refused for the account's limits (402), outside the lock."""

    # --- state changes shared by subclasses ----------------------------------------------------

    def _complete(
        self,
        run_id: str,
        status: str,
        items: list[dict[str, Any]] | None = None,
        message: str | None = None,
    ) -> SandboxRun:
        """Give a run its terminal status, finishedAt and (if given) its dataset items."""
        if status not in TERMINAL_EVENT:
            raise ValueError(f"{status!r} is not one of {sorted(TERMINAL_EVENT)}")
        with self._changed:
            run = self.runs[run_id]
            live, billed = run.status not in TERMINAL_EVENT, run.cost()
            run.status, run.finished_at = status, datetime.now(UTC)
            run.items = run.items if items is None else list(items)
            run.status_message = message or run.status_message
            if live:
                self._ledger.release(run, run.cost())
            else:  # finished again (a test's choice): bill the new figures instead
                self._ledger.rebill(billed, run.cost())
            self._changed.notify_all()
            return run

    # --- request handling, on the server's threads ---------------------------------------------
    # Order: hostility, admission (failure injection), auth, body decoding, route.

    def _handle(self, req: RecordedRequest, decode_error: ApiError | None) -> Response:
        self.hostility.before(req.path)
        self._admit(req)
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
        if "maxItems" in req.query:
            options["maxItems"] = _int_param(req.query, "maxItems", 0)
        run = SandboxRun(
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
        try:
            with self._lock:  # admission and storing in one step: never over-admits
                self._ledger.hold(run)
                run.act_id = self._act_ids.setdefault(actor_id, run.act_id)  # one per actor
                self.runs[run.id] = run
                data = run.to_json(self.user_id)
        except ApiError as exc:
            self._start_refused(req, exc)
            raise
        self._run_created(run)
        return 201, {"data": data}, {"Location": f"{self.url}/v2/actor-runs/{run.id}"}

    def _run(self, run_id: str) -> SandboxRun:
        if (run := self.runs.get(run_id)) is None:
            raise ApiError(404, "record-not-found", "Actor run was not found")
        return run

    def _get_run(self, req: RecordedRequest, run_id: str) -> Response:
        """`waitForFinish` holds the answer until the run ends, at most 60 s (like the API)."""
        wait = min(_int_param(req.query, "waitForFinish", 0), MAX_WAIT_FOR_FINISH)
        deadline = time.monotonic() + wait
        with self._changed:
            run = self._run(run_id)
            while run.status not in TERMINAL_EVENT and not self._closing:
                if (left := deadline - time.monotonic()) <= 0:
                    break
                self._changed.wait(left)
            return 200, {"data": run.to_json(self.user_id)}, {}

    def _abort_run(self, _req: RecordedRequest, run_id: str) -> Response:
        with self._changed:
            run = self._run(run_id)
            aborted = run.status not in TERMINAL_EVENT
            if aborted:
                run.status, run.finished_at = "ABORTED", datetime.now(UTC)
                self._ledger.release(run, run.cost())
                self._changed.notify_all()
            data = run.to_json(self.user_id)
        if aborted:
            self._run_aborted(run)
        return 200, {"data": data}, {}

    def _user(self, user_id: str) -> None:
        if user_id not in ("me", self.user_id):
            raise ApiError(404, "record-not-found", "User was not found")

    def _get_user(self, _req: RecordedRequest, user_id: str) -> Response:
        """`GET /v2/users/me`: just enough of the private user info for `user().get()`."""
        self._user(user_id)
        return 200, {"data": {"id": self.user_id, "username": "sandbox", "isPaying": True}}, {}

    def _get_limits(self, _req: RecordedRequest, user_id: str) -> Response:
        """`GET /v2/users/me/limits`: the plan's limits and the account's live usage."""
        self._user(user_id)
        with self._lock:
            return 200, {"data": self._ledger.limits_json(len(self._act_ids))}, {}

    def _run_items(self, req: RecordedRequest, run_id: str) -> Response:
        with self._lock:
            dataset_id = self._run(run_id).dataset_id
        return self._dataset_items(req, dataset_id)

    def _dataset_run(self, dataset_id: str) -> SandboxRun:
        for run in self.runs.values():
            if run.dataset_id == dataset_id:
                return run
        raise ApiError(404, "record-not-found", "Dataset was not found")

    def _get_dataset(self, _req: RecordedRequest, dataset_id: str) -> Response:
        with self._lock:
            data = self._dataset_run(dataset_id).dataset_json(self.user_id)
        if (modified := self.hostility.modified_at(dataset_id)) is not None:
            data["modifiedAt"] = iso(modified)
        return 200, {"data": data}, {}

    def _dataset_items(self, req: RecordedRequest, dataset_id: str) -> Response:
        with self._lock:
            items = list(self._dataset_run(dataset_id).items)
        offset = _int_param(req.query, "offset", 0)
        limit = _int_param(req.query, "limit", NO_LIMIT)
        desc = req.query.get("desc", "false").lower() in ("true", "1")
        # Past the end the page is [] with count 0: iterate_items stops only on that.
        page, claimed = self.hostility.page(
            dataset_id, items[::-1] if desc else items, offset, limit
        )
        # A bare array; apify-client raises KeyError unless all five headers are present.
        pagination = {
            "total": len(items),
            "offset": offset,
            "count": len(page),
            "limit": limit,
            "desc": "true" if desc else "false",
        } | (claimed or {})
        return 200, page, {f"x-apify-pagination-{k}": str(v) for k, v in pagination.items()}


ROUTES: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = [
    ("POST", re.compile(r"/v2/(?:actors|acts)/([^/]+)/runs"), ApifyServer._start_run),
    ("GET", re.compile(r"/v2/actor-runs/([^/]+)"), ApifyServer._get_run),
    ("POST", re.compile(r"/v2/actor-runs/([^/]+)/abort"), ApifyServer._abort_run),
    ("GET", re.compile(r"/v2/actor-runs/([^/]+)/dataset/items"), ApifyServer._run_items),
    ("GET", re.compile(r"/v2/datasets/([^/]+)"), ApifyServer._get_dataset),
    ("GET", re.compile(r"/v2/datasets/([^/]+)/items"), ApifyServer._dataset_items),
    ("GET", re.compile(r"/v2/users/([^/]+)"), ApifyServer._get_user),
    ("GET", re.compile(r"/v2/users/([^/]+)/limits"), ApifyServer._get_limits),
]


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    value = query.get(name, str(default))
    if not (value.isascii() and value.isdigit()):
        raise ApiError(400, "invalid-parameter", f"{name!r} must be a non-negative integer")
    return int(value)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # an open keep-alive connection never blocks stop()
    request_queue_size = 128  # a burst of concurrent starts is not dropped at connect (5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the sandbox logs runs and webhooks, not every request."""

    def do_GET(self) -> None:
        api: ApifyServer = self.server.api  # type: ignore[attr-defined]
        try:
            status, payload, extra = api._handle(*self._decode(api))
        except ApiError as exc:
            status, kind, message = exc.args
            payload, extra = {"error": {"type": kind, "message": message}}, {}
        body = json.dumps(payload).encode()
        self.send_response(status)
        extra |= {"Content-Type": JSON_TYPE, "Content-Length": str(len(body))}
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if status == 200 and self.path.split("?")[0].endswith("/items") and api.hostility.cuts():
            self.wfile.write(body[: len(body) // 2])  # then the connection drops mid-body
            self.close_connection = True
            return
        self.wfile.write(body)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _decode(self, api: ApifyServer) -> tuple[RecordedRequest, ApiError | None]:
        """Read and decode the request; a decoding error is answered after auth, like the API."""
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
                hooks = decode_webhooks(query["webhooks"])
        except ApiError as exc:
            error = exc
        except (OSError, EOFError, ValueError) as exc:  # bad gzip, bad JSON, bad UTF-8
            error = ApiError(400, "invalid-input", f"Could not parse the request body: {exc}")
        req = RecordedRequest(self.command, split.path, query, headers, body, parsed, hooks)
        api._received(req)
        return req, error

"""Strict, inspectable in-process fake of the Apify API v2 subset that apify-client 3.4.0 uses.

It is the Apify sandbox's own HTTP core (`apify_sandbox.core.ApifyServer`: the same routes, run
and dataset objects, strictness and webhook requests) with auto-finish off, plus what tests need
on top: every request recorded, failures injected on demand, runs finished and webhooks delivered
when the test says so (see /work/shared/APIFY.md §1.2-1.9, §2, §6)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from apify_sandbox.core import MAX_PAYLOAD_BYTES, ApifyServer
from apify_sandbox.runs import TERMINAL_EVENT, ApiError, RecordedRequest, SandboxRun, apify_id, iso
from apify_sandbox.webhooks import dispatches_for, post

FakeRun = SandboxRun
ERROR_TYPES = {
    400: "invalid-input",
    401: "token-not-valid",
    404: "record-not-found",
    429: "rate-limit-exceeded",
}  # anything else: internal-server-error

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "TERMINAL_EVENT",
    "ApiError",
    "FakeApify",
    "FakeRun",
    "RecordedRequest",
    "apify_id",
    "iso",
]


class FakeApify(ApifyServer):
    """Threaded HTTP fake of the Apify API; pass `url` as `api_url` to ApifyClient.

    Runs stay RUNNING until `finish_run()`; aborting sends no webhook (call
    `deliver_webhooks()` for that); webhooks are POSTed once, synchronously, no retries."""

    def __init__(self, token: str = "test-token", *, port: int = 0) -> None:
        super().__init__(token, port=port)
        self.requests: list[RecordedRequest] = []
        self._failures: list[tuple[int, str]] = []

    def _received(self, req: RecordedRequest) -> None:
        with self._lock:  # refused and undecodable requests are recorded too
            self.requests.append(req)

    def _admit(self, req: RecordedRequest) -> None:
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure:
            raise ApiError(failure[0], failure[1], f"Injected failure ({failure[0]})")

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
        self._complete(run_id, status, items)
        return self.deliver_webhooks(run_id) if deliver_webhooks else []

    def deliver_webhooks(self, run_id: str) -> list[int]:
        """POST each ad-hoc webhook of the run that subscribes to its status's event; again for a
        duplicate delivery. Returns HTTP statuses (an HTTPError gives its code, no answer 0)."""
        with self._lock:
            dispatches = dispatches_for(self.runs[run_id], self.user_id)
        return [post(dispatch, timeout=10) for dispatch in dispatches]

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

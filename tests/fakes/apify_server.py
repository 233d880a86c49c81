"""Strict, inspectable in-process fake of the Apify API v2 subset that apify-client 3.4.0 uses.

It is the Apify sandbox's own HTTP core (`apify_sandbox.core.ApifyServer`: the same routes, run
and dataset objects, strictness and webhook requests) with auto-finish off, plus what tests need
on top: every request recorded, failures injected on demand, runs finished and webhooks delivered
when the test says so (see /work/shared/APIFY.md §1.2-1.9, §2, §6). Its account is unlimited
unless a test sets limits (`FakeApify(max_memory_mbytes=...)`, `set_limits`)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from apify_sandbox.account import UNLIMITED
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
# Polled in the background by the scheduler: failures aimed at "the next requests" skip it.
ACCOUNT_PATH = re.compile(r"^/v2/users/[^/]+/limits$")

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

    def __init__(
        self,
        token: str = "test-token",
        *,
        port: int = 0,
        max_memory_mbytes: int = UNLIMITED["max_memory_mbytes"],
        max_concurrent_runs: int = UNLIMITED["max_concurrent_runs"],
        max_monthly_usage_usd: float = UNLIMITED["max_monthly_usage_usd"],
    ) -> None:
        super().__init__(
            token,
            port=port,
            max_memory_mbytes=max_memory_mbytes,
            max_concurrent_runs=max_concurrent_runs,
            max_monthly_usage_usd=max_monthly_usage_usd,
        )
        self.requests: list[RecordedRequest] = []
        self._failures: list[tuple[int, str, re.Pattern[str] | None]] = []

    def _received(self, req: RecordedRequest) -> None:
        with self._lock:  # refused and undecodable requests are recorded too
            self.requests.append(req)

    def _admit(self, req: RecordedRequest) -> None:
        """Fail the request with the oldest queued failure whose path filter it matches; the
        others stay queued for later requests."""
        with self._lock:
            for index, (status, kind, path) in enumerate(self._failures):
                if _targets(path, req.path):
                    del self._failures[index]
                    raise ApiError(status, kind, f"Injected failure ({status})")

    def fail_next(
        self,
        status: int,
        count: int = 1,
        error_type: str | None = None,
        *,
        path: str | None = None,
    ) -> None:
        """Answer the next `count` requests (before auth) with an Apify error. `path` is a
        regex searched in the request path; by default any path but the account's limits, which
        the scheduler polls in the background and would otherwise eat the failures."""
        kind = error_type or ERROR_TYPES.get(status, "internal-server-error")
        pattern = None if path is None else re.compile(path)
        with self._lock:
            self._failures.extend([(status, kind, pattern)] * count)

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
        if self.hostility.silences():
            return []
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


def _targets(path: re.Pattern[str] | None, request_path: str) -> bool:
    """Whether a queued failure applies to a request for `request_path`."""
    if path is None:
        return not ACCOUNT_PATH.search(request_path)
    return path.search(request_path) is not None

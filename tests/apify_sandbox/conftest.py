"""Fixtures for driving the Apify sandbox with the real apify-client (no mocks, no database)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from apify_client import ApifyClient

from apify_sandbox.server import Sandbox

TOKEN = "sandbox-test-token"


@pytest.fixture(autouse=True)
def _no_proxy_for_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    # impit honours HTTP(S)_PROXY even for 127.0.0.1 (APIFY.md §1.3).
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def client_for(sandbox: Sandbox, max_retries: int = 2) -> ApifyClient:
    return ApifyClient(
        sandbox.token,
        api_url=sandbox.url,
        max_retries=max_retries,
        min_delay_between_retries=timedelta(milliseconds=5),
    )


@pytest.fixture
def sandbox_factory() -> Iterator[Any]:
    """Build started sandboxes (fast by default); all are stopped after the test."""
    started: list[Sandbox] = []

    def make(**options: Any) -> Sandbox:
        options = {"delay": 0.1, "webhook_retry_delays": (0.01, 0.02, 0.04)} | options
        sandbox = Sandbox(TOKEN, **options).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


class Receiver:
    """A tiny webhook endpoint: records each POST and answers the next of `statuses` (then 200)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], Any]] = []
        self.statuses: list[int] = []
        self.url = ""
        self._changed = threading.Condition()

    def record(self, headers: dict[str, str], payload: Any) -> int:
        with self._changed:
            self.received.append((headers, payload))
            self._changed.notify_all()
            return self.statuses.pop(0) if self.statuses else 200

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], Any]]:
        """The first `count` deliveries, once they arrived; AssertionError after `timeout`."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"{len(self.received)} of {count} webhooks in {timeout}s")
            return list(self.received)

    def settle(self, quiet: float = 0.2) -> list[tuple[dict[str, str], Any]]:
        """Everything received once nothing new arrived for `quiet` seconds."""
        seen = -1
        while seen != len(self.received):
            seen = len(self.received)
            time.sleep(quiet)
        return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = box.record(headers, json.loads(body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/webhooks/apify/"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()

"""The strict fake Apify in a process of its own, for the ingest benchmark: encoding and
serving a 100,000-item dataset then costs that process's CPU, not the ingest's (in the same
process the two shared one GIL, and the figure measured the fake as much as the ingest).

The benchmark starts runs through the real apify-client against `url`, as the start task
does; `finish_run` asks the child to finish one with items it builds itself (from a
function passed at start: with the fork start method nothing is pickled).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

ItemsFactory = Callable[[str, int, list[dict]], list[dict]]


class RemoteFakeApify:
    def __init__(self, token: str, items_factory: ItemsFactory) -> None:
        self._conn, child = multiprocessing.Pipe()
        context = multiprocessing.get_context("fork")
        self._process = context.Process(
            target=_serve, args=(child, token, items_factory), daemon=True
        )
        self._process.start()
        self.url: str = self._conn.recv()

    def finish_run(self, run_id: str, tag: str, count: int, snapshot: list[dict]) -> int:
        """Finish `run_id` with `count` items built from (tag, count, snapshot); their count."""
        return self._ask("finish", run_id, tag, count, snapshot)

    def request_count(self) -> int:
        return self._ask("requests")

    def close(self) -> None:
        self._conn.send(("stop",))
        self._process.join(timeout=10)

    def _ask(self, *message: Any) -> Any:
        self._conn.send(message)
        answer = self._conn.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def __enter__(self) -> RemoteFakeApify:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(conn: Connection, token: str, items_factory: ItemsFactory) -> None:
    from tests.fakes.apify_server import FakeApify

    with FakeApify(token=token) as fake:
        conn.send(fake.url)
        while True:
            kind, *args = conn.recv()
            if kind == "stop":
                return
            try:
                if kind == "finish":
                    run_id, tag, count, snapshot = args
                    items = items_factory(tag, count, snapshot)
                    fake.finish_run(run_id, "SUCCEEDED", items, deliver_webhooks=False)
                    conn.send(len(items))
                elif kind == "requests":
                    conn.send(len(fake.requests))
            except Exception as error:
                conn.send(error)

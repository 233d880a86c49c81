"""What bench/webhook_deliveries.py needs besides its main: the receiver (a separate process:
`python bench/_webhook_deliveries_support.py receiver PORT VERIFY_EVERY`), the stack of real
Celery workers, the publisher of events, CPU accounting and the figures of one phase.

The receiver is a small asyncio HTTP/1.1 server (keep-alive) playing a product service: it
records the wall-clock arrival of each `webhook-id`, verifies the signatures of a sample with
standardwebhooks and answers 200. The driver talks to it on /_bench/... (secrets, reset,
counts, arrivals).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from chaos_support import stack as st

OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"


# --- the receiver (its own process; stdlib and standardwebhooks only) -------------------------


class Receiver:
    def __init__(self, verify_every: int) -> None:
        self.verify_every = verify_every
        self.secrets: dict[str, str] = {}  # path -> whsec_...
        self.reset()

    def reset(self) -> None:
        self.arrivals: dict[str, float] = {}  # webhook-id -> first arrival (time.time())
        self.received = self.verified = self.failures = 0
        self.errors: list[str] = []

    def hook(self, path: str, headers: dict[str, str], body: bytes, arrived: float) -> None:
        from standardwebhooks.webhooks import Webhook

        msg_id = headers.get("webhook-id", "")
        self.received += 1
        self.arrivals.setdefault(msg_id, arrived)
        if self.received % self.verify_every == 0:
            self.verified += 1
            try:
                Webhook(self.secrets[path]).verify(body, headers)
            except Exception as exc:  # a missing secret counts as a failure too
                self.failures += 1
                self.errors = [*self.errors[-4:], f"{msg_id}: {type(exc).__name__}: {exc}"]

    def control(self, path: str, body: bytes) -> dict:
        if path == "/_bench/secrets":
            self.secrets.update(json.loads(body))
        elif path == "/_bench/reset":
            self.reset()
        counts = {
            "received": self.received,
            "unique": len(self.arrivals),
            "verified": self.verified,
            "failures": self.failures,
            "errors": self.errors,
        }
        return {**counts, "arrivals": self.arrivals} if path == "/_bench/arrivals" else counts

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if value:
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                arrived = time.time()
                if path.startswith("/_bench/"):
                    data = json.dumps(self.control(path, body)).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                        + f"content-length: {len(data)}\r\n\r\n".encode()
                        + data
                    )
                else:
                    self.hook(path, headers, body, arrived)
                    writer.write(OK)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def receiver_main(port: int, verify_every: int) -> None:
    async def run() -> None:
        server = await asyncio.start_server(
            Receiver(verify_every).serve, "127.0.0.1", port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    asyncio.run(run())


def receiver_call(port: int, what: str, data: object = None) -> dict:
    """POST to the receiver's /_bench/<what> (without a proxy: it is on 127.0.0.1)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_bench/{what}", data=json.dumps(data).encode(), method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        return json.loads(response.read())


# --- the stack -------------------------------------------------------------------------------


class Stack(st.Stack):
    """chaos_support's stack, its processes named `notifications-<name>` in pg_stat_activity
    (a chaos run terminates every `chaos-worker-%` connection, whatever its database)."""

    def start(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("a")
        self.processes[name] = subprocess.Popen(
            self.specs[name].argv,
            cwd=st.ROOT,
            env={**self.env, "PGAPPNAME": f"notifications-{name}"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def build_stack(env: dict, logs: Path, port: int, verify_every: int, args) -> Stack:
    """The receiver, `args.workers` x `celery worker -Q notify`, and a beat unless --no-beat
    (its webhook tick is the outbox's safety net, as in production)."""
    stack = Stack(env=st.python_env(**env), logs=logs)
    receiver = [sys.executable, __file__, "receiver", str(port), str(verify_every)]
    stack.add(st.Spec("receiver", "receiver", receiver))
    for n in range(args.workers):
        name = f"worker-{n + 1}"
        argv = ["worker", "-Q", "notify", "--pool=prefork", f"--concurrency={args.concurrency}"]
        argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        argv += ["--loglevel=INFO", f"--hostname={name}@%h"]
        stack.add(st.celery_spec(name, "worker", argv))
    if args.beat:
        stack.add(st.beat_spec("beat", logs))
    return stack


def wait_ready(stack: Stack, timeout: float = 90) -> None:
    """Every worker has logged `ready.` (it consumes its queue from then on)."""
    deadline = time.monotonic() + timeout
    for name in stack.names("worker"):
        log = stack.logs / f"{name}.log"
        while " ready." not in log.read_text(errors="replace"):
            if time.monotonic() > deadline or stack.processes[name].poll() is not None:
                raise RuntimeError(f"{name} is not ready:\n{stack.tail()}")
            time.sleep(0.2)


# --- endpoints, events ----------------------------------------------------------------------


def endpoints_create(team_ids: list[str], port: int) -> dict[str, str]:
    """One endpoint per team, bound to it and subscribed to business.scraped, created
    through the service. Returns {receiver path: secret}."""
    from notifications.services.endpoints import endpoint_create

    secrets = {}
    for team_id in team_ids:
        path = f"/hook/{team_id}"
        _, secret = endpoint_create(
            url=f"http://127.0.0.1:{port}{path}",
            events=["business.scraped"],
            team_id=team_id,
            actor="bench",
        )
        secrets[path] = secret
    return secrets


def publish(teams: list[str], count: int, per_tx: int, rate: float | None) -> float:
    """`count` business.scraped events, `per_tx` per transaction (as an ingest writes them),
    back to back or paced at `rate` events/s. Returns the seconds it took."""
    from django.db import transaction

    from notifications.services.events import Event, events_publish

    started, sent = time.monotonic(), 0
    while sent < count:
        if rate:
            time.sleep(max(0.0, started + sent / rate - time.monotonic()))
        size = min(per_tx, count - sent)
        execution = str(uuid.uuid4())
        events = [
            Event(
                event_type="business.scraped",
                team_id=(team := teams[(sent + i) % len(teams)]),
                data={
                    "business_id": sent + i,
                    "team_id": team,
                    "platform": "google",
                    "scrape_type": "reviews",
                    "new_item_count": 3,
                    "execution_id": execution,
                    "scraped_at": "2026-01-01T00:00:00Z",
                },
            )
            for i in range(size)
        ]
        with transaction.atomic():
            assert events_publish(events) == size
        sent += size
    return time.monotonic() - started


# --- one phase's figures ---------------------------------------------------------------------


@dataclass
class Phase:
    label: str
    rows: int
    publish_seconds: float
    received: int
    unique: int
    verified: int
    failures: int
    errors: list[str]
    not_succeeded: int
    retried: int  # deliveries that needed more than one attempt
    rate: float  # deliveries/s, first row created -> last arrival
    latencies: list[float]  # s, arrival - created_at
    finished: bool
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by part, this phase

    @property
    def duplicates(self) -> int:
        return self.received - self.unique


# --- CPU spent, by part (a shared machine's load does not change it much) ----------------------


def _cpu_by_pid() -> dict[int, tuple[int, float]]:
    """pid -> (session id, user + system CPU seconds) of every process we may read."""
    tick, found = os.sysconf("SC_CLK_TCK"), {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry)] = (int(fields[3]), (int(fields[11]) + int(fields[12])) / tick)
    return found


def cpu_snapshot(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of the workers (each a session: its pool too), the receiver and
    this process (the publisher) with its PostgreSQL backend. The workers' backends are
    left out: Celery's Django fixup closes the connection around every task, so they come
    and go (their CPU is nowhere to read)."""
    procs = _cpu_by_pid()
    sessions = {n: p.pid for n, p in stack.processes.items()}

    def of_sessions(*names: str) -> float:
        wanted = {sessions[n] for n in names}
        return sum(cpu for sid, cpu in procs.values() if sid in wanted)

    return {
        "celery workers": of_sessions(*stack.names("worker")),
        "receiver": of_sessions("receiver"),
        "publisher and its backend": own_cpu(procs),
    }


def own_cpu(procs: dict | None = None) -> float:
    """CPU seconds so far of this process (its threads too) and of its PostgreSQL backend."""
    from _common import sql

    ours = sql("SELECT pg_backend_pid()")[0][0]
    return time.process_time() + (procs or _cpu_by_pid()).get(ours, (0, 0.0))[1]


def wait_done(port: int, after_id: int, rows: int, timeout: float) -> bool:
    """Until the receiver has every delivery and none is pending (or `timeout` s)."""
    from _common import sql

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if receiver_call(port, "counts")["unique"] >= rows:
            pending = sql(
                "SELECT count(*) FROM notifications_delivery WHERE id > %s AND state = 'pending'",
                [after_id],
            )[0][0]
            if not pending:
                return True
        time.sleep(0.2)
    return False


def phase_figures(label: str, port: int, after_id: int, publish_s: float, done: bool) -> Phase:
    from _common import sql

    time.sleep(0.5)  # a late duplicate would arrive now
    got = receiver_call(port, "arrivals")
    rows = sql(
        "SELECT msg_id, extract(epoch FROM created_at)::float8, state, attempts"
        " FROM notifications_delivery WHERE id > %s",
        [after_id],
    )
    arrivals = got["arrivals"]
    created = {msg_id: at for msg_id, at, _, _ in rows}
    latencies = [arrivals[m] - at for m, at in created.items() if m in arrivals]
    span = max(arrivals.values(), default=0.0) - min(created.values(), default=0.0)
    return Phase(
        label=label,
        rows=len(rows),
        publish_seconds=publish_s,
        received=got["received"],
        unique=len(set(arrivals) & set(created)),
        verified=got["verified"],
        failures=got["failures"],
        errors=got["errors"],
        not_succeeded=sum(1 for *_, state, _ in rows if state != "succeeded"),
        retried=sum(1 for *_, attempts in rows if attempts > 1),
        rate=len(latencies) / span if span > 0 else math.nan,
        latencies=latencies,
        finished=done,
    )


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


if __name__ == "__main__" and sys.argv[1:2] == ["receiver"]:
    receiver_main(int(sys.argv[2]), int(sys.argv[3]))

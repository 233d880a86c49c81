"""The Apify account behind the sandbox and the test fake: its plan limits and its live usage.

Apify caps an account's combined run memory and its concurrent runs, and refuses a start beyond
either with HTTP 402 (APIFY.md §5, SPEC.md §7 "Account capacity"); the scheduler must learn to
stay inside them, so both servers enforce them for real and report them on
`GET /v2/users/me/limits`. `Ledger` keeps the figures; it holds no lock of its own: the owning
server calls it under its lock, so that concurrent starts can never over-admit.
`AccountControls` is the server's side of it for tests and benchmarks (limits, usage, peaks)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apify_sandbox.runs import (
    COMPUTE_UNIT_USD,
    ApiError,
    RunCost,
    SandboxRun,
    compute_units,
    iso,
)

# The test fake's default: no start is ever refused, so tests that ignore capacity are unchanged.
UNLIMITED = {
    "max_memory_mbytes": 10**7,
    "max_concurrent_runs": 10**6,
    "max_monthly_usage_usd": 10.0**9,
}
# The sandbox's default: a small paid plan (Starter: 32 GB, 32 concurrent runs).
SMALL_PLAN = {
    "max_memory_mbytes": 32_768,
    "max_concurrent_runs": 32,
    "max_monthly_usage_usd": 1000.0,
}
BILLING_URL = "https://console.apify.com/billing/subscription"
LIMITS_URL = "https://console.apify.com/billing/limits"
# Limits the servers do not model, reported as fixed plausible values (the client requires them).
FIXED_LIMITS = {
    "maxMonthlyExternalDataTransferGbytes": 1000.0,
    "maxMonthlyProxySerps": 100_000,
    "maxMonthlyResidentialProxyGbytes": 10.0,
    "maxActorCount": 1000,
    "maxActorTaskCount": 1000,
    "maxTeamAccountSeatCount": 1,
    "dataRetentionDays": 14,
    "maxScheduleCount": 100,
}
MEMORY_LIMIT = "actor-memory-limit-exceeded"
CONCURRENCY_LIMIT = "concurrent-runs-limit-exceeded"
# Not confirmed: Apify's documented error types name no "monthly usage reached" refusal (the
# nearest are `platform-feature-disabled` and `limit-reached`); this one is ours, and documented.
USAGE_LIMIT = "usage-limit-exceeded"


@dataclass(frozen=True)
class Account:
    """Plan limits, plus what runs started outside our service use (a test or a demo sets it)."""

    max_memory_mbytes: int
    max_concurrent_runs: int
    max_monthly_usage_usd: float
    external_memory_mbytes: int = 0
    external_runs: int = 0
    external_usage_usd: float = 0.0

    def __post_init__(self) -> None:
        if self.max_memory_mbytes < 1:
            raise ValueError(f"max_memory_mbytes must be 1 or more, not {self.max_memory_mbytes}")
        if self.max_concurrent_runs < 1:
            raise ValueError(
                f"max_concurrent_runs must be 1 or more, not {self.max_concurrent_runs}"
            )
        for name in ("max_monthly_usage_usd", "external_memory_mbytes", "external_runs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, not {getattr(self, name)}")
        if self.external_usage_usd < 0:
            raise ValueError(f"external_usage_usd must be 0 or more, not {self.external_usage_usd}")


@dataclass(frozen=True)
class Usage:
    """What the account uses now: live runs (ours and external) and the month's spend so far."""

    memory_mbytes: int
    runs: int
    monthly_usage_usd: float
    monthly_compute_units: float


class Ledger:
    """The account's limits and tallies. Call every method under the owning server's lock.

    `peak_memory_mbytes` / `peak_runs` are the highest usage seen (external included),
    `refused` counts 402s by error type, and `samples` holds (monotonic time, memory, runs)
    after every change, so a benchmark can tell the share of time the account was full."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.peak_memory_mbytes = 0
        self.peak_runs = 0
        self.refused: Counter[str] = Counter()
        self.samples: list[tuple[float, int, int]] = []
        self._epoch = datetime.now(UTC)
        self._memory = 0  # held by our live runs
        self._runs = 0
        self._memory_since = 0.0  # Σ memory × (start − epoch) of live runs, for the estimate
        self._finished_usd = 0.0
        self._finished_units = 0.0
        self._sample()

    def set(self, **changes: Any) -> Account:
        """Replace some fields of the account (unknown names raise TypeError)."""
        self.account = dataclasses.replace(self.account, **changes)
        self._sample()
        return self.account

    def hold(self, run: SandboxRun) -> None:
        """Admit the run (it holds its memory from now on) or raise the API's 402 refusal.

        Checked in the API's order: memory first, then concurrency, then the monthly limit."""
        account, usage = self.account, self.usage()
        requested = run.options["memoryMbytes"]
        if usage.memory_mbytes + requested > account.max_memory_mbytes:
            self._refuse(
                MEMORY_LIMIT,
                "By launching this job you will exceed the memory limit of "
                f"{account.max_memory_mbytes}MB for all your Actor runs and builds (currently "
                f"used: {usage.memory_mbytes}MB, requested: {requested}MB). Please consider "
                f"upgrading or purchasing extra memory as an add-on at {BILLING_URL} to "
                "increase your Actor memory limit.",
            )
        if usage.runs + 1 > account.max_concurrent_runs:
            self._refuse(
                CONCURRENCY_LIMIT,
                "By launching this job you will exceed your limit of "
                f"{account.max_concurrent_runs} concurrent Actor runs. Please consider "
                "upgrading or purchasing an increase to concurrent Actor runs as an add-on at "
                f"{BILLING_URL} to increase your limit.",
            )
        if usage.monthly_usage_usd >= account.max_monthly_usage_usd:
            self._refuse(
                USAGE_LIMIT,
                "You have reached your monthly usage limit of "
                f"{account.max_monthly_usage_usd:g} USD (current usage: "
                f"{usage.monthly_usage_usd:.2f} USD). Raise the limit at {LIMITS_URL} or wait "
                "for the next usage cycle.",
            )
        self._memory += requested
        self._runs += 1
        self._memory_since += requested * self._since_epoch(run.started_at)
        self._sample()

    def release(self, run: SandboxRun, cost: RunCost | None) -> None:
        """The run reached a terminal status: free its memory and bill its cost."""
        requested = run.options["memoryMbytes"]
        self._memory -= requested
        self._runs -= 1
        self._memory_since -= requested * self._since_epoch(run.started_at)
        self.rebill(None, cost)
        self._sample()

    def rebill(self, old: RunCost | None, new: RunCost | None) -> None:
        """Replace a finished run's billed cost (a test finishing a run twice changes it)."""
        for cost, sign in ((old, -1), (new, 1)):
            if cost is not None:
                self._finished_usd += sign * cost.total_usd
                self._finished_units += sign * cost.compute_units

    def usage(self) -> Usage:
        """Live memory and runs (external included) and the month's usage: finished runs'
        `usageTotalUsd`, the compute live runs used so far, and the external spend."""
        live_mbyte_secs = max(self._memory * self._since_epoch() - self._memory_since, 0.0)
        live_units = compute_units(live_mbyte_secs, 1.0)
        units = self._finished_units + live_units
        spent = self._finished_usd + live_units * COMPUTE_UNIT_USD
        return Usage(
            memory_mbytes=self._memory + self.account.external_memory_mbytes,
            runs=self._runs + self.account.external_runs,
            monthly_usage_usd=round(spent + self.account.external_usage_usd, 6),
            monthly_compute_units=round(units, 6),
        )

    def limits_json(self, actor_count: int) -> dict[str, Any]:
        """The `data` of `GET /v2/users/me/limits`, as apify-client's `AccountLimits` reads it
        (memory in GB; every field the client requires is present)."""
        account, usage = self.account, self.usage()
        start, end = usage_cycle(datetime.now(UTC))
        return {
            "monthlyUsageCycle": {"startAt": iso(start), "endAt": iso(end)},
            "limits": {
                "maxMonthlyUsageUsd": account.max_monthly_usage_usd,
                "maxMonthlyActorComputeUnits": round(
                    account.max_monthly_usage_usd / COMPUTE_UNIT_USD, 6
                ),
                "maxActorMemoryGbytes": account.max_memory_mbytes / 1024,
                "maxConcurrentActorJobs": account.max_concurrent_runs,
                **FIXED_LIMITS,
            },
            "current": {
                "monthlyUsageUsd": usage.monthly_usage_usd,
                "monthlyActorComputeUnits": usage.monthly_compute_units,
                "monthlyExternalDataTransferGbytes": 0.0,
                "monthlyProxySerps": 0,
                "monthlyResidentialProxyGbytes": 0.0,
                "actorMemoryGbytes": usage.memory_mbytes / 1024,
                "actorCount": actor_count,
                "actorTaskCount": 0,
                "activeActorJobCount": usage.runs,
                "teamAccountSeatCount": 1,
                "scheduleCount": 0,
            },
        }

    def _refuse(self, kind: str, message: str) -> None:
        self.refused[kind] += 1
        raise ApiError(402, kind, message)

    def _since_epoch(self, moment: datetime | None = None) -> float:
        """Seconds since the ledger began: small numbers keep the running sums exact enough."""
        return ((moment or datetime.now(UTC)) - self._epoch).total_seconds()

    def _sample(self) -> None:
        usage_memory = self._memory + self.account.external_memory_mbytes
        usage_runs = self._runs + self.account.external_runs
        self.peak_memory_mbytes = max(self.peak_memory_mbytes, usage_memory)
        self.peak_runs = max(self.peak_runs, usage_runs)
        self.samples.append((time.monotonic(), usage_memory, usage_runs))


class AccountControls:
    """The account side of `ApifyServer`: what tests and benchmarks read and change while it
    serves. Everything goes through the server's lock, like the starts it governs."""

    _lock: threading.RLock
    _ledger: Ledger

    @property
    def account(self) -> Account:
        """The plan limits and external usage now in force (replace them with `set_limits`)."""
        with self._lock:
            return self._ledger.account

    def set_limits(self, **changes: float) -> Account:
        """Change `max_memory_mbytes`, `max_concurrent_runs` or `max_monthly_usage_usd` while
        serving, as a plan upgrade would; runs already admitted keep running."""
        if unknown := set(changes) - set(UNLIMITED):
            raise TypeError(f"unknown limit(s) {sorted(unknown)}; known: {sorted(UNLIMITED)}")
        whole = {k: int(v) for k, v in changes.items() if k != "max_monthly_usage_usd"}
        with self._lock:
            return self._ledger.set(**(changes | whole))

    def set_external_usage(
        self,
        *,
        memory_mbytes: int | None = None,
        runs: int | None = None,
        usage_usd: float | None = None,
    ) -> Account:
        """Simulate runs started outside our service (None keeps a figure): they count against
        the limits and show in `GET /v2/users/me/limits`, like another client's runs would."""
        given = {"memory_mbytes": memory_mbytes, "runs": runs, "usage_usd": usage_usd}
        changes = {f"external_{k}": v for k, v in given.items() if v is not None}
        with self._lock:
            return self._ledger.set(**changes)

    def usage(self) -> Usage:
        """Live memory and run count (external included) and the month's usage so far."""
        with self._lock:
            return self._ledger.usage()

    @property
    def peak_memory_mbytes(self) -> int:
        """The highest combined run memory seen, to check a scheduler never over-admits."""
        with self._lock:
            return self._ledger.peak_memory_mbytes

    @property
    def peak_runs(self) -> int:
        """The highest number of live runs seen (external included)."""
        with self._lock:
            return self._ledger.peak_runs

    @property
    def refused(self) -> Counter[str]:
        """How many starts were refused with 402, by error type (a copy)."""
        with self._lock:
            return Counter(self._ledger.refused)

    @property
    def samples(self) -> list[tuple[float, int, int]]:
        """(monotonic time, live memory MB, live runs) after every change (a copy), so a
        benchmark can tell how long the account was full."""
        with self._lock:
            return list(self._ledger.samples)


def usage_cycle(now: datetime) -> tuple[datetime, datetime]:
    """The calendar month around `now` (UTC), ending one millisecond before the next begins."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(milliseconds=1)

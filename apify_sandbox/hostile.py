"""A hostile Apify: switches that make the strict core slow, flaky or dishonest, the way the
real platform is on its bad days, so the scheduler is proven to degrade without losing or
misattributing anything (issue 18, `docs/faults.md`).

Every switch is off by default and each one is counted in `Hostility.counts` when it bites, so
a test or the sandbox's log can set what was done against what the scheduler noticed. The
choices are deterministic (request counters and a hash of the dataset position), so a run
replays the same.

- `latency`: seconds added before every answer.
- `error_burst` / `error_every`: a burst of that many 500/502/503 answers closes every N
  requests (the first N - burst are answered).
- `rate_limit_storm` / `rate_limit_every`: the same with 429 rate-limit-exceeded.
- `silent_runs`: runs end but never call back (no webhook is sent).
- `lying_pagination`: dataset pages serve half of what they claim; `count` says a full page,
  `total` and `offset` are wrong, even on the empty last page.
- `shifting_datasets`: the first N page reads of each dataset see it re-ordered (a dataset
  still changing while it is read), and its `modifiedAt` moves on each change.
- `non_object_rate`: that share of dataset items is served as strings, numbers, nulls or lists.
- `truncate_every`: every Nth dataset page is cut mid-body and the connection dropped.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from apify_sandbox.runs import ApiError

BURST_STATUSES = (500, 502, 503)
BURST_TYPES = {500: "internal-server-error", 502: "bad-gateway", 503: "service-unavailable"}
NON_OBJECTS: tuple[Any, ...] = ("not an object", 42, None, ["a", "list"], True)
RATE_LIMIT_MESSAGE = "You have exceeded the rate limit (sandbox: a 429 storm)"


@dataclass
class Hostility:
    """The switches (see the module docstring); `counts` says how often each one bit."""

    latency: float = 0.0
    error_burst: int = 0
    error_every: int = 0
    rate_limit_storm: int = 0
    rate_limit_every: int = 0
    silent_runs: bool = False
    lying_pagination: bool = False
    shifting_datasets: int = 0
    non_object_rate: float = 0.0
    truncate_every: int = 0
    counts: Counter[str] = field(default_factory=Counter, compare=False)
    _requests: int = field(default=0, compare=False, repr=False)
    _pages: int = field(default=0, compare=False, repr=False)
    _reads: Counter[str] = field(default_factory=Counter, compare=False, repr=False)
    _modified: dict[str, datetime] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("latency", "non_object_rate"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more")
        if self.non_object_rate > 1:
            raise ValueError("non_object_rate must be between 0 and 1")
        for every, burst in (
            ("error_every", "error_burst"),
            ("rate_limit_every", "rate_limit_storm"),
        ):
            if getattr(self, burst) and getattr(self, every) <= getattr(self, burst):
                raise ValueError(f"{every} must be larger than {burst}, or the API never answers")

    @classmethod
    def parse(cls, spec: str) -> Hostility:
        """`latency=0.2,error-burst=3/10,rate-limit-storm=5/40,silent-runs,lying-pagination,
        shifting-datasets=2,non-object-rate=0.05,truncate-every=3` (the sandbox command's
        `--hostile`); a ratio `B/E` sets a burst of B every E requests."""
        known = {f.name for f in fields(cls) if not f.name.startswith("_") and f.name != "counts"}
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, raw = part.partition("=")
            key = name.strip().replace("-", "_")
            if key in ("error_burst", "rate_limit_storm") and "/" in raw:
                burst, every = raw.split("/", 1)
                values[key] = int(burst)
                values["error_every" if key == "error_burst" else "rate_limit_every"] = int(every)
            elif key in ("silent_runs", "lying_pagination"):
                values[key] = raw.strip().lower() not in ("0", "false", "no", "off")
            elif key in known:
                values[key] = float(raw) if key in ("latency", "non_object_rate") else int(raw)
            else:
                raise ValueError(f"unknown hostile switch {name!r}; known: {sorted(known)}")
        return cls(**values)

    @property
    def active(self) -> bool:
        return self != Hostility()

    # --- every request -------------------------------------------------------------------------

    def before(self, path: str) -> None:
        """Wait, then maybe refuse: called for every request before anything is checked."""
        if self.latency:
            self._count("latency")
            time.sleep(self.latency)
        if not (self.error_burst or self.rate_limit_storm):
            return
        with self._lock:
            self._requests += 1
            n = self._requests
        if self.error_burst and (n - 1) % self.error_every >= self.error_every - self.error_burst:
            with self._lock:
                status = BURST_STATUSES[sum(self.counts[str(s)] for s in BURST_STATUSES) % 3]
                self.counts[str(status)] += 1
            raise ApiError(status, BURST_TYPES[status], f"Injected {status} (sandbox: a burst)")
        if self.rate_limit_storm and (
            (n - 1) % self.rate_limit_every >= self.rate_limit_every - self.rate_limit_storm
        ):
            self._count("429")
            raise ApiError(429, "rate-limit-exceeded", RATE_LIMIT_MESSAGE)

    def silences(self) -> bool:
        """Whether a finished run's webhooks are dropped."""
        if self.silent_runs:
            self._count("silent_run")
        return self.silent_runs

    def cuts(self) -> bool:
        """Whether this dataset page is cut mid-body (the handler drops the connection)."""
        if not self.truncate_every:
            return False
        with self._lock:
            self._pages += 1
            cut = self._pages % self.truncate_every == 0
        if cut:
            self._count("truncated")
        return cut

    # --- datasets ------------------------------------------------------------------------------

    def modified_at(self, dataset_id: str) -> datetime | None:
        """The dataset's `modifiedAt` once a shifting read changed it (None: the true one)."""
        with self._lock:
            return self._modified.get(dataset_id)

    def page(
        self, dataset_id: str, items: list[Any], offset: int, limit: int
    ) -> tuple[list[Any], dict[str, int] | None]:
        """The page to serve of `items` (already in the asked order) and, when the headers
        lie, the pagination figures to claim instead of the true ones."""
        with self._lock:
            self._reads[dataset_id] += 1
            read = self._reads[dataset_id]
            if self.shifting_datasets and read <= self.shifting_datasets and items:
                shift = read % len(items)
                items = items[shift:] + items[:shift]
                self._modified[dataset_id] = datetime.now(UTC)
                self.counts["shifted_page"] += 1
        page = [self.served_item(dataset_id, item) for item in items[offset : offset + limit]]
        if not self.lying_pagination:
            return page, None
        self._count("lying_page")
        served = page[: (len(page) + 1) // 2]
        claimed = {"total": offset + len(served), "offset": 0, "count": min(limit, len(items))}
        return served, claimed

    def served_item(self, dataset_id: str, item: Any) -> Any:
        """The item as served: the same item of a dataset is always replaced or never, in
        whatever order it is read (a test computes what was lost with it)."""
        if not self.non_object_rate:
            return item
        canonical = json.dumps([dataset_id, item], sort_keys=True, default=str)
        digest = hashlib.sha256(canonical.encode()).digest()
        if int.from_bytes(digest[:4], "big") / 2**32 >= self.non_object_rate:
            return item
        self._count("non_object")
        return NON_OBJECTS[digest[4] % len(NON_OBJECTS)]

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

"""The Apify sandbox: a local Apify API that runs actors by itself.

Built on the same strict HTTP core as the test fake (`apify_sandbox.core`), so anything the
sandbox accepts, the fake and the real API accept too. What it adds is the platform's own life:
a started run finishes after `delay` seconds with plausible dataset items for its input
(`apify_sandbox.items`), and its ad-hoc webhooks are POSTed with Apify's payload and headers,
retried on failure. Knobs inject the platform's bad days: failed runs, error items, duplicate or
lost webhooks, 429s. Every random choice comes from `seed`, so a demo or a test replays the same.
Its account behaves like a small paid plan (32 GB, 32 concurrent runs): a start beyond it is
refused with the API's 402, as a real account would refuse it.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from apify_sandbox import items as item_factory
from apify_sandbox.account import SMALL_PLAN
from apify_sandbox.core import ApifyServer
from apify_sandbox.hostile import Hostility
from apify_sandbox.runs import TERMINAL_EVENT, ApiError, RecordedRequest, SandboxRun, apify_id
from apify_sandbox.webhooks import Delivery, Dispatch, dispatches_for, post

DEFAULT_TOKEN = "sandbox-token"
FAILED_MESSAGE = "The Actor process exited with code 1 (sandbox: simulated failure)"
TIMED_OUT_MESSAGE = "The Actor run timed out (sandbox: delay is longer than the run timeout)"
RATE_LIMIT_MESSAGE = "You have exceeded the rate limit of 60 requests per second (sandbox)"


@dataclass
class _Plan:
    """What becomes of a run, decided when it starts (so the outcome is reproducible)."""

    status: str
    items: list[dict[str, Any]]
    message: str | None
    after: float
    fate: random.Random  # continues to decide its webhooks' fate (lost, duplicated)
    timer: threading.Timer | None = None


class Sandbox(ApifyServer):
    """A local Apify API whose runs finish by themselves; pass `url` as `api_url`.

    `runs` maps run id → SandboxRun; `deliveries` lists every webhook dispatch once it is done
    (or lost); `rate_limited` counts the 429s answered."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 3.0,
        seed: int = 1,
        failure_rate: float = 0.0,
        error_item_rate: float = 0.0,
        duplicate_webhook_rate: float = 0.0,
        lost_webhook_rate: float = 0.0,
        rate_limit_rate: float = 0.0,
        webhook_retry_delays: Sequence[float] = (1.0, 2.0, 4.0),
        webhook_timeout: float = 30.0,
        max_memory_mbytes: int = SMALL_PLAN["max_memory_mbytes"],
        max_concurrent_runs: int = SMALL_PLAN["max_concurrent_runs"],
        max_monthly_usage_usd: float = SMALL_PLAN["max_monthly_usage_usd"],
        hostility: Hostility | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        rates = {
            "failure_rate": failure_rate,
            "error_item_rate": error_item_rate,
            "duplicate_webhook_rate": duplicate_webhook_rate,
            "lost_webhook_rate": lost_webhook_rate,
            "rate_limit_rate": rate_limit_rate,
        }
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate}")
        if delay < 0:
            raise ValueError(f"delay must be 0 or more seconds, not {delay}")
        super().__init__(
            token,
            host=host,
            port=port,
            max_memory_mbytes=max_memory_mbytes,
            max_concurrent_runs=max_concurrent_runs,
            max_monthly_usage_usd=max_monthly_usage_usd,
            hostility=hostility,
        )
        self.delay, self.seed = delay, seed
        self.failure_rate, self.error_item_rate = failure_rate, error_item_rate
        self.duplicate_webhook_rate, self.lost_webhook_rate = (
            duplicate_webhook_rate,
            lost_webhook_rate,
        )
        self.rate_limit_rate = rate_limit_rate
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self.webhook_timeout = webhook_timeout
        self.deliveries: list[Delivery] = []
        self.rate_limited = 0
        self._log = log or (lambda message: None)
        self._traffic = random.Random(f"{seed}|traffic")
        self._starts: Counter[str] = Counter()  # how often each (actor, input) was started
        self._plans: dict[str, _Plan] = {}  # runs still to finish
        self._in_flight = 0  # webhook delivery threads still running
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Stop serving; pending runs stay RUNNING and webhook retries are abandoned."""
        self._stopped.set()
        with self._lock:
            for plan in self._plans.values():
                if plan.timer is not None:
                    plan.timer.cancel()
            self._plans.clear()
        super().stop()

    def wait_until_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every run has finished and every webhook delivery (with its retries) is
        over; False if that did not happen within `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._plans and not self._in_flight, timeout=timeout
            )

    # --- hooks of the core ---------------------------------------------------------------------

    def _admit(self, req: RecordedRequest) -> None:
        """Answer a `rate_limit_rate` fraction of requests with 429 (the client retries them)."""
        if not self.rate_limit_rate:
            return
        with self._lock:
            limited = self._traffic.random() < self.rate_limit_rate
            self.rate_limited += limited
        if limited:
            self._log(f"429 rate-limit-exceeded for {req.method} {req.path}")
            raise ApiError(429, "rate-limit-exceeded", RATE_LIMIT_MESSAGE)

    def _start_refused(self, req: RecordedRequest, error: ApiError) -> None:
        status, kind, _message = error.args
        if status == 402:
            usage = self.usage()
            self._log(
                f"{status} {kind} for {req.path}: {usage.memory_mbytes} MB and "
                f"{usage.runs} run(s) in use"
            )

    def _run_created(self, run: SandboxRun) -> None:
        plan = self._plan(run)
        with self._lock:
            if self._stopped.is_set():
                return
            self._log(
                f"run {run.id} started: {run.actor_name}, {len(plan.items)} item(s) ready; "
                f"ends {plan.status} in {plan.after:g}s"
            )
            self._plans[run.id] = plan
            plan.timer = threading.Timer(plan.after, self._finish, (run.id,))
            plan.timer.daemon = True
            plan.timer.start()

    def _run_aborted(self, run: SandboxRun) -> None:
        with self._changed:
            plan = self._plans.pop(run.id, None)
            if plan is not None and plan.timer is not None:
                plan.timer.cancel()
            self._changed.notify_all()
        self._log(f"run {run.id} ABORTED")
        fate = plan.fate if plan is not None else random.Random(f"{self.seed}|{run.id}")
        self._deliver_all(run, fate)

    # --- the run's life ------------------------------------------------------------------------

    def _plan(self, run: SandboxRun) -> _Plan:
        """Decide the outcome from (seed, actor, input, how often that input was started): the
        same demo replays the same, while a retry of a failed input gets a fresh draw."""
        canonical = json.dumps([run.actor_name, run.input], sort_keys=True, default=str)
        fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
        with self._lock:
            attempt = self._starts[fingerprint]
            self._starts[fingerprint] += 1
        fate = random.Random(f"{self.seed}|{fingerprint}|{attempt}")
        failed = fate.random() < self.failure_rate
        found = item_factory.generate(
            run.actor_id,
            run.input,
            seed=self.seed,
            fate=fate,
            error_item_rate=self.error_item_rate,
            max_items=run.options.get("maxItems"),
        )
        timeout = run.options["timeoutSecs"]
        if timeout and self.delay > timeout:
            return _Plan("TIMED-OUT", found[: len(found) // 2], TIMED_OUT_MESSAGE, timeout, fate)
        if failed:  # an actor that crashed midway has pushed some of its items
            cut = fate.randint(0, len(found))
            return _Plan("FAILED", found[:cut], FAILED_MESSAGE, self.delay, fate)
        return _Plan("SUCCEEDED", found, None, self.delay, fate)

    def _finish(self, run_id: str) -> None:
        """Timer thread: end the run as planned (unless it was aborted), then call back."""
        with self._changed:
            plan = self._plans.get(run_id)
            if plan is None or self.runs[run_id].status in TERMINAL_EVENT:
                self._plans.pop(run_id, None)
                self._changed.notify_all()
                return
            # Under the lock until the webhooks are planned: an abort cannot slip in between.
            run = self._complete(run_id, plan.status, plan.items, plan.message)
            self._log(f"run {run_id} {plan.status}: {len(plan.items)} item(s)")
            self._deliver_all(run, plan.fate)
            del self._plans[run_id]
            self._changed.notify_all()

    # --- webhooks ------------------------------------------------------------------------------

    def _deliver_all(self, run: SandboxRun, fate: random.Random) -> None:
        """Dispatch the run's webhooks for its status, each on its own thread."""
        silent = self.hostility.silences()
        with self._changed:
            for dispatch in dispatches_for(run, self.user_id):
                lost = fate.random() < self.lost_webhook_rate or silent
                duplicated = fate.random() < self.duplicate_webhook_rate
                if lost:
                    self.deliveries.append(Delivery(dispatch, lost=True))
                    self._log(f"webhook {dispatch.event_type} of run {run.id} lost (not sent)")
                    continue
                self._in_flight += 1
                thread = threading.Thread(
                    target=self._deliver, args=(dispatch, duplicated), daemon=True
                )
                thread.start()

    def _deliver(self, dispatch: Dispatch, duplicated: bool) -> None:
        """POST with Apify-like retries (bounded: `webhook_retry_delays`); a duplicate follows
        the first delivery with a new dispatch id, as a platform-side redelivery would."""
        try:
            self._attempts(dispatch, duplicate=False)
            if duplicated and not self._stopped.is_set():
                again = {**dispatch.headers, "X-Apify-Webhook-Dispatch-Id": apify_id()}
                self._attempts(replace(dispatch, headers=again), duplicate=True)
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def _attempts(self, dispatch: Dispatch, *, duplicate: bool) -> None:
        delivery = Delivery(dispatch, duplicate=duplicate)
        delays = [] if dispatch.do_not_retry else list(self.webhook_retry_delays)
        while True:
            delivery.statuses.append(post(dispatch, timeout=self.webhook_timeout))
            if delivery.delivered or not delays or self._stopped.wait(delays.pop(0)):
                break
        with self._lock:
            self.deliveries.append(delivery)
        label = "duplicate webhook" if duplicate else "webhook"
        self._log(
            f"{label} {dispatch.event_type} of run {dispatch.run_id} → {dispatch.url}: "
            f"HTTP {', '.join(str(s) for s in delivery.statuses)}"
            + ("" if delivery.delivered else " (gave up)")
        )

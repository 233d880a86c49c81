"""The only module that talks to Apify (through the real apify-client)."""

from __future__ import annotations

import json
import pickle
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Self

from apify_client import ApifyClient
from apify_client.errors import ApifyApiError
from django.conf import settings
from django.urls import reverse

from scheduler_project import conf
from webhooks.contract import WEBHOOK_EVENT_TYPES, WEBHOOK_SECRET_HEADER, WEBHOOK_URL_NAME

if TYPE_CHECKING:
    from apify_client._resource_clients import DatasetClient


class ApifyStartError(Exception):
    """A run could not be started, even after the client's own retries."""


class ApifyCapacityRefused(ApifyStartError):
    """Apify refused the start for the account's limits (402): the run must wait, not fail."""

    def __init__(self, message: str, *, error_type: str, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.rate_limited = rate_limited  # a 429 left after the client's retries


# The 402 types of an account at its limits (APIFY.md §5); a monthly usage limit answers 402
# too, with a type Apify does not document, so any 402 counts as "wait for room".
CAPACITY_STATUS = 402
RATE_LIMIT_STATUS = 429


@dataclass(frozen=True)
class StartedRun:
    run_id: str
    dataset_id: str
    status: str


def apify_client() -> ApifyClient:
    return ApifyClient(
        settings.APIFY_TOKEN or None,
        api_url=settings.APIFY_API_URL,
        max_retries=settings.APIFY_MAX_RETRIES,
        min_delay_between_retries=timedelta(milliseconds=settings.APIFY_MIN_RETRY_DELAY_MS),
        # Bounds the worst case of one start (5 attempts) well inside the start lease; a
        # 1,000-item dataset page gets a minute too.
        timeout_long=timedelta(seconds=60),
        timeout_max=timedelta(seconds=60),
    )


def run_webhook(idempotency_key: str) -> dict:
    """The ad-hoc webhook attached to every run: our URL, the secret in a header."""
    return {
        "event_types": list(WEBHOOK_EVENT_TYPES),
        "request_url": settings.WEBHOOK_BASE_URL.rstrip("/") + reverse(WEBHOOK_URL_NAME),
        "headers_template": json.dumps({WEBHOOK_SECRET_HEADER: settings.APIFY_WEBHOOK_SECRET}),
        "idempotency_key": idempotency_key,
    }


def actor_run_start(
    *, actor_id: str, run_input: dict, idempotency_key: str, memory_mbytes: int
) -> StartedRun:
    """Start an actor run with our webhook; 429/5xx are retried by the client."""
    try:
        run = (
            apify_client()
            .actor(actor_id)
            .start(
                run_input=run_input,
                webhooks=[run_webhook(idempotency_key)],
                memory_mbytes=memory_mbytes,
                run_timeout=timedelta(seconds=conf.get().run_timeout_seconds),
            )
        )
    except ApifyApiError as exc:
        if exc.status_code in (CAPACITY_STATUS, RATE_LIMIT_STATUS):
            raise ApifyCapacityRefused(
                f"{exc.status_code} {exc.type}: {exc.message}",
                error_type=exc.type or str(exc.status_code),
                rate_limited=exc.status_code == RATE_LIMIT_STATUS,
            ) from exc
        raise ApifyStartError(f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        # Transport failures surface as impit's own types.
        raise ApifyStartError(f"{type(exc).__name__}: {exc}") from exc
    return StartedRun(run_id=run.id, dataset_id=run.default_dataset_id or "", status=run.status)


def actor_run_abort(run_id: str) -> None:
    """Best effort: a run nobody will ingest should not keep costing money."""
    apify_client().run(run_id).abort()


@dataclass(frozen=True)
class RunState:
    """What Apify says of a run: the only source trusted for status, dataset and cost."""

    run_id: str
    status: str
    dataset_id: str
    status_message: str
    usage_usd: float | None
    compute_units: float | None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_RUN_STATUSES


TERMINAL_RUN_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED-OUT", "ABORTED"})


def actor_run_get(run_id: str) -> RunState | None:
    """The run as Apify reports it now, or None when Apify does not know it."""
    run = apify_client().run(run_id).get()
    if run is None:
        return None
    return RunState(
        run_id=run.id,
        status=str(run.status),
        dataset_id=run.default_dataset_id or "",
        status_message=run.status_message or "",
        usage_usd=run.usage_total_usd,
        compute_units=run.stats.compute_units if run.stats else None,
    )


# Fewer, larger pages: an ingest of 100,000 items makes 20 requests instead of 100.
DATASET_PAGE_SIZE = 5000
DATASET_READ_ATTEMPTS = 3


class DatasetUnreadable(Exception):
    """A dataset could not be read whole and unchanged; the ingest is tried again later."""


class DatasetSpool:
    """A downloaded dataset on disk, page by page (pickled: our own file, read back once), so
    an ingest of a million items holds one page in memory, never the whole dataset."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="dataset-")  # noqa: SIM115 - closed by close()
        self.count = 0

    def add(self, page: list[Any]) -> None:
        pickle.dump(page, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += len(page)

    def pages(self) -> Iterator[list[Any]]:
        self._file.seek(0)
        while True:
            try:
                yield pickle.load(self._file)  # our own file, written by add()
            except EOFError:
                return

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dataset_items(dataset_id: str) -> DatasetSpool:
    """Every item of a finished run's dataset, read whole and unchanged, spooled to disk.

    The pagination headers are not trusted: apify-client's `iterate_items` advances by the
    `count` header, so a page that claims more rows than it holds would skip items, and one
    that claims rows past the end would never stop. Pages here advance by the items received
    and stop at the first empty one. A read counts only if the dataset's `itemCount` and
    `modifiedAt` are the same before and after it and it holds at least `itemCount` items;
    else the dataset is read again, at most DATASET_READ_ATTEMPTS times."""
    dataset = apify_client().dataset(dataset_id)
    problem = ""
    for _attempt in range(DATASET_READ_ATTEMPTS):
        before = dataset.get()
        if before is None:
            raise DatasetUnreadable(f"Apify does not know dataset {dataset_id}.")
        spool = _all_pages(dataset, dataset_id, before.item_count)
        after = dataset.get()
        if after is None or (after.item_count, after.modified_at) != (
            before.item_count,
            before.modified_at,
        ):
            problem = "it changed while it was read"
        elif spool.count < before.item_count:
            problem = f"{spool.count} items read of the {before.item_count} it holds"
        else:
            return spool
        spool.close()
    raise DatasetUnreadable(
        f"The Apify dataset {dataset_id} could not be read whole in "
        f"{DATASET_READ_ATTEMPTS} attempts: {problem}."
    )


def _all_pages(dataset: DatasetClient, dataset_id: str, item_count: int) -> DatasetSpool:
    """Pages until an empty one; a dataset that keeps answering far past its `itemCount`
    (which may lag a little, never by pages) is refused instead of filling the disk."""
    bound = 2 * item_count + 2 * DATASET_PAGE_SIZE
    spool = DatasetSpool()
    try:
        while page := dataset.list_items(offset=spool.count, limit=DATASET_PAGE_SIZE).items:
            spool.add(page)
            if spool.count > bound:
                raise DatasetUnreadable(
                    f"The Apify dataset {dataset_id} served {spool.count} items and "
                    f"had not ended; it holds {item_count}."
                )
    except BaseException:
        spool.close()
        raise
    return spool


@dataclass(frozen=True)
class AccountUsage:
    """The account's limits and what it uses now, as `user().limits()` reports them."""

    memory_limit_mbytes: int
    runs_limit: int
    monthly_limit_usd: float
    monthly_usage_usd: float
    memory_in_use_mbytes: int
    runs_in_use: int


def account_usage() -> AccountUsage:
    """Read the account's limits; one attempt, short timeout: the caller keeps the last known
    figures when Apify does not answer, and asks again at the next refresh."""
    client = ApifyClient(
        settings.APIFY_TOKEN or None,
        api_url=settings.APIFY_API_URL,
        max_retries=0,
        timeout_short=timedelta(seconds=5),
    )
    account = client.user().limits()
    return AccountUsage(
        memory_limit_mbytes=round(account.limits.max_actor_memory_gbytes * 1024),
        runs_limit=account.limits.max_concurrent_actor_jobs,
        monthly_limit_usd=account.limits.max_monthly_usage_usd,
        monthly_usage_usd=account.current.monthly_usage_usd,
        memory_in_use_mbytes=round(account.current.actor_memory_gbytes * 1024),
        runs_in_use=account.current.active_actor_job_count,
    )

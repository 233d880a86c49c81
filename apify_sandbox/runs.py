"""Runs and the small value types shared by the sandbox and the strict test fake.

Kept free of Django and of HTTP so that the run object (what the API returns, what a webhook
carries as `resource`) is defined once for both servers."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TERMINAL_EVENT = {
    "SUCCEEDED": "ACTOR.RUN.SUCCEEDED",
    "FAILED": "ACTOR.RUN.FAILED",
    "TIMED-OUT": "ACTOR.RUN.TIMED_OUT",  # the status has a hyphen, the event an underscore
    "ABORTED": "ACTOR.RUN.ABORTED",
}
COMPUTE_UNIT_USD = 0.4
DATASET_WRITE_USD = 0.0005


@dataclass(frozen=True)
class RunCost:
    """A run's billed usage, as `usage` / `usageUsd` / `usageTotalUsd` report it."""

    seconds: float
    compute_units: float
    compute_usd: float
    writes_usd: float
    total_usd: float


def compute_units(memory_mbytes: float, seconds: float) -> float:
    """Apify bills 1 compute unit per GB-hour of run memory."""
    return memory_mbytes / 1024 * seconds / 3600


def run_cost(memory_mbytes: int, seconds: float, item_count: int) -> RunCost:
    """Compute units and USD of a run that held `memory_mbytes` for `seconds` and wrote
    `item_count` dataset items (rounded like the API's figures)."""
    units = round(compute_units(memory_mbytes, seconds), 6)
    compute_usd = round(units * COMPUTE_UNIT_USD, 6)
    writes_usd = round(item_count * DATASET_WRITE_USD, 6)
    return RunCost(seconds, units, compute_usd, writes_usd, round(compute_usd + writes_usd, 6))


def apify_id() -> str:
    """A random 17-character alphanumeric id, shaped like Apify's."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(17))


def iso(moment: datetime) -> str:
    """Apify's timestamp format: UTC with milliseconds and a trailing Z (the client's pydantic
    models refuse naive timestamps)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ApiError(Exception):
    """ApiError(status, type, message): answered as `{"error": {"type", "message"}}`, the body
    apify-client reads into `ApifyApiError.type` / `.message`."""


@dataclass(frozen=True)
class RecordedRequest:
    """One API request as the server understood it (the test fake keeps a list of them)."""

    method: str
    path: str  # without the query string
    query: dict[str, str]  # unquoted, single-valued
    headers: dict[str, str]  # lower-cased keys
    body: bytes  # already gunzipped
    json: Any  # parsed JSON body, or None (also for the literal body `null`)
    webhooks: list[dict[str, Any]] | None = None  # decoded ad-hoc webhooks of a run start


@dataclass
class SandboxRun:
    """One actor run with its dataset; mutated only under the owning server's lock."""

    id: str
    actor_id: str  # as in the path, e.g. "compass~google-maps-reviews-scraper"
    status: str
    input: Any
    webhooks: list[dict[str, Any]]
    dataset_id: str
    started_at: datetime
    options: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    finished_at: datetime | None = None
    act_id: str = field(default_factory=apify_id)
    webhook_ids: list[str] = field(default_factory=list)  # sent as X-Apify-Webhook
    status_message: str | None = None

    @property
    def actor_name(self) -> str:
        """The actor id as callers write it ("user/name"), whatever the path used."""
        return self.actor_id.replace("~", "/")

    def cost(self) -> RunCost | None:
        """What the finished run was billed (None while it runs): the one pricing rule that the
        Run object and the account's monthly usage share."""
        if self.finished_at is None:
            return None
        seconds = max((self.finished_at - self.started_at).total_seconds(), 0.001)
        return run_cost(self.options["memoryMbytes"], seconds, len(self.items))

    def to_json(self, user_id: str) -> dict[str, Any]:
        """The Run object as the API returns it (passes apify-client's pydantic `Run`)."""
        run: dict[str, Any] = {
            "id": self.id,
            "actId": self.act_id,
            "userId": user_id,
            "status": self.status,
            "startedAt": iso(self.started_at),
            "finishedAt": iso(self.finished_at) if self.finished_at else None,
            "meta": {"origin": "API"},
            "stats": {},
            "options": self.options,
            "buildId": "B" + self.act_id[1:],
            "defaultRequestQueueId": "Q" + self.id[1:],
            "defaultKeyValueStoreId": "K" + self.id[1:],
            "defaultDatasetId": self.dataset_id,
        }
        if self.status_message:
            run["statusMessage"] = self.status_message
        if (cost := self.cost()) is not None:
            run["stats"] = dict(
                runTimeSecs=cost.seconds,
                durationMillis=int(cost.seconds * 1e3),
                computeUnits=cost.compute_units,
            )
            run["exitCode"] = 0 if self.status == "SUCCEEDED" else 1
            run["usageTotalUsd"] = cost.total_usd
            run["usageUsd"] = {
                "ACTOR_COMPUTE_UNITS": cost.compute_usd,
                "DATASET_WRITES": cost.writes_usd,
            }
            run["usage"] = {
                "ACTOR_COMPUTE_UNITS": cost.compute_units,
                "DATASET_WRITES": len(self.items),
            }
        return run

    def dataset_json(self, user_id: str) -> dict[str, Any]:
        """The Dataset object of `GET /v2/datasets/{id}` (the fields the client requires)."""
        modified = iso(self.finished_at or self.started_at)
        return {
            "id": self.dataset_id,
            "name": None,
            "userId": user_id,
            "createdAt": iso(self.started_at),
            "modifiedAt": modified,
            "accessedAt": modified,
            "itemCount": len(self.items),
            "cleanItemCount": len([i for i in self.items if "error" not in i]),
            "actId": self.act_id,
            "actRunId": self.id,
            "consoleUrl": f"https://console.apify.com/storage/datasets/{self.dataset_id}",
        }

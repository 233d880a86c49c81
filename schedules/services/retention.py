"""History retention: old executions, webhook dedupe records and closed retry entries go, in
bulk, with counts.

- Executions older than `SCHEDULER_RETENTION_EXECUTIONS_DAYS` (default 30) are deleted, except
  the latest `SCHEDULER_RETENTION_KEEP_PER_BATCH` (default 50) of each batch (ranked over the
  batch's whole history, newest slot first), active ones (pending / starting / running) and
  cancelled ones whose Apify run must still be aborted. The candidates are chosen by one
  set-based query with a window function and deleted `SCHEDULER_RETENTION_CHUNK` (default
  1000) at a time, each chunk in its own short transaction. Rows that point at a deleted
  execution follow their foreign key's `on_delete`: UnmatchedItem (CASCADE) is deleted with
  it; ReviewItem, RetryEntry.last_execution and WebhookEvent (SET_NULL) stay, unlinked.
- Webhook events (the (run id, event type) dedupe records) older than
  `SCHEDULER_RETENTION_WEBHOOK_DAYS` (default 7, clamped to at least 3 days whatever the
  setting, so a late redelivery by Apify is still recognised as a duplicate) are deleted,
  except events still waiting to be processed.
- Closed retry entries: `retry_entries_cleanup` (its own `SCHEDULER_RETRY_RETENTION_DAYS`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import connection, models, transaction

from retry.models import RetryEntry, RetryState
from retry.services import retry_entries_cleanup
from scheduler_project import conf
from scheduler_project.dbclock import db_now
from schedules.models import Execution
from schedules.states import ACTIVE_STATES
from webhooks.models import WebhookEvent, WebhookStatus

WEBHOOK_MIN_DAYS = 3


@dataclass(frozen=True)
class RetentionPolicy:
    executions_days: int
    keep_per_batch: int
    webhook_days: int
    chunk: int

    @classmethod
    def from_settings(cls) -> RetentionPolicy:
        return cls(
            executions_days=conf.get().retention_executions_days,
            keep_per_batch=max(0, conf.get().retention_keep_per_batch),
            webhook_days=max(WEBHOOK_MIN_DAYS, conf.get().retention_webhook_days),
            chunk=max(1, conf.get().retention_chunk),
        )


@dataclass(frozen=True)
class RetentionResult:
    executions: int
    unmatched_items: int
    webhook_events: int
    retry_entries: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


# ---------------------------------------------------------------- executions


def _candidates_sql(cutoff: datetime, keep: int) -> tuple[str, list[object]]:
    """SELECT id of the executions to delete: old, finished, and not among the latest `keep`
    of their batch. Only batches with an old execution are ranked."""
    table = connection.ops.quote_name(Execution._meta.db_table)
    active = list(ACTIVE_STATES)
    marks = ", ".join(["%s"] * len(active))
    sql = f"""
        SELECT ranked.id FROM (
            SELECT e.id, e.batch_id, e.state, e.created_at, e.run_abort_pending,
                   ROW_NUMBER() OVER (
                       PARTITION BY e.batch_id ORDER BY e.scheduled_for DESC, e.created_at DESC
                   ) AS recency
            FROM {table} e
            WHERE e.batch_id IS NULL
               OR e.batch_id IN (SELECT o.batch_id FROM {table} o WHERE o.created_at < %s)
        ) ranked
        WHERE ranked.created_at < %s
          AND ranked.state NOT IN ({marks})
          AND ranked.run_abort_pending = %s
          AND (ranked.batch_id IS NULL OR ranked.recency > %s)
    """
    return sql, [cutoff, cutoff, *active, False, keep]


def _reverse_relations(model: type[models.Model]) -> list[models.ForeignObjectRel]:
    # include_hidden: a foreign key with related_name="+" (RetryEntry.last_execution) counts.
    return [
        f
        for f in model._meta.get_fields(include_hidden=True)
        if f.auto_created and not f.concrete and (f.one_to_many or f.one_to_one)
    ]


def _dependants() -> list[tuple[models.ForeignObjectRel, str]]:
    """(relation, what to do) for every foreign key pointing at Execution."""
    plan = []
    for rel in _reverse_relations(Execution):
        if rel.on_delete is models.CASCADE:
            if _reverse_relations(rel.related_model):
                raise NotImplementedError(f"{rel.related_model} has dependants of its own")
            plan.append((rel, "delete"))
        elif rel.on_delete is models.SET_NULL:
            plan.append((rel, "unlink"))
        elif rel.on_delete is not models.DO_NOTHING:
            raise NotImplementedError(f"{rel.related_model}.{rel.field.name}: {rel.on_delete}")
    return plan


def _delete_chunk(ids: list[object]) -> tuple[int, int]:
    """Delete these executions and handle what points at them. Returns (executions,
    cascaded rows)."""
    marks = ", ".join(["%s"] * len(ids))
    quote = connection.ops.quote_name
    cascaded = 0
    with connection.cursor() as cursor:
        for rel, action in _dependants():
            table, column = quote(rel.related_model._meta.db_table), quote(rel.field.column)
            if action == "delete":
                cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", ids)
                cascaded += cursor.rowcount
            else:
                cursor.execute(
                    f"UPDATE {table} SET {column} = NULL WHERE {column} IN ({marks})", ids
                )
        active = list(ACTIVE_STATES)
        # The state is checked again: nothing active is ever deleted.
        cursor.execute(
            f"DELETE FROM {quote(Execution._meta.db_table)} WHERE id IN ({marks})"
            f" AND state NOT IN ({', '.join(['%s'] * len(active))})",
            [*ids, *active],
        )
        return cursor.rowcount, cascaded


def executions_prune(policy: RetentionPolicy, *, now: datetime | None = None) -> tuple[int, int]:
    """Delete old executions in chunks; returns (executions, unmatched items) deleted."""
    cutoff = (now or db_now()) - timedelta(days=policy.executions_days)
    sql, params = _candidates_sql(cutoff, policy.keep_per_batch)
    executions = cascaded = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"{sql} LIMIT %s", [*params, policy.chunk])
                ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                break
            deleted, gone = _delete_chunk(ids)
        executions += deleted
        cascaded += gone
        if len(ids) < policy.chunk:
            break
    return executions, cascaded


def _executions_count(policy: RetentionPolicy, now: datetime) -> tuple[int, int]:
    cutoff = now - timedelta(days=policy.executions_days)
    sql, params = _candidates_sql(cutoff, policy.keep_per_batch)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) candidates", params)
        executions = cursor.fetchone()[0]
        cascaded = 0
        for rel, action in _dependants():
            if action == "delete":
                table = connection.ops.quote_name(rel.related_model._meta.db_table)
                column = connection.ops.quote_name(rel.field.column)
                cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} IN ({sql})", params)
                cascaded += cursor.fetchone()[0]
    return executions, cascaded


# ---------------------------------------------------------------- webhooks and retries


def _webhooks_old(policy: RetentionPolicy, now: datetime) -> models.QuerySet[WebhookEvent]:
    return WebhookEvent.objects.filter(
        received_at__lt=now - timedelta(days=policy.webhook_days)
    ).exclude(status=WebhookStatus.RECEIVED)


def webhook_events_prune(policy: RetentionPolicy, *, now: datetime | None = None) -> int:
    old = _webhooks_old(policy, now or db_now())
    deleted = 0
    while True:
        ids = list(old.values_list("id", flat=True)[: policy.chunk])
        if not ids:
            return deleted
        deleted += WebhookEvent.objects.filter(id__in=ids).delete()[0]
        if len(ids) < policy.chunk:
            return deleted


def _retries_closed_count(now: datetime) -> int:
    retention = timedelta(days=conf.get().retry_retention_days)
    return RetryEntry.objects.filter(
        state__in=[RetryState.SUCCEEDED, RetryState.DEAD], updated_at__lt=now - retention
    ).count()


# ---------------------------------------------------------------- entry points


def history_prune(policy: RetentionPolicy | None = None) -> RetentionResult:
    """Apply every retention rule; returns how many rows each deleted."""
    policy = policy or RetentionPolicy.from_settings()
    executions, unmatched = executions_prune(policy)
    return RetentionResult(
        executions=executions,
        unmatched_items=unmatched,
        webhook_events=webhook_events_prune(policy),
        retry_entries=retry_entries_cleanup(),
    )


def history_prune_preview(policy: RetentionPolicy | None = None) -> RetentionResult:
    """What `history_prune` would delete now, counted without writing."""
    policy = policy or RetentionPolicy.from_settings()
    now = db_now()
    executions, unmatched = _executions_count(policy, now)
    return RetentionResult(
        executions=executions,
        unmatched_items=unmatched,
        webhook_events=_webhooks_old(policy, now).count(),
        retry_entries=_retries_closed_count(now),
    )

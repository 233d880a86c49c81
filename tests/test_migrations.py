"""Moving a model between apps moves no row: UnmatchedItem went from webhooks to schedules
(with ingest) by state-only migrations and a table rename."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("schedules", "0003_execution_created_at_db_clock"), ("webhooks", "0001_initial")]


def _migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _tables() -> set[str]:
    return set(connection.introspection.table_names())


@pytest.mark.django_db(transaction=True)
def test_unmatched_items_stored_before_the_move_are_there_after_it() -> None:
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        _migrate(BEFORE)
        assert "webhooks_unmatcheditem" in _tables()
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO schedules_execution (id, platform, scrape_type, trigger, state, "
                "scheduled_for, created_at, business_snapshot, business_count, items_count, "
                "attributed_count, unmatched_count, failed_count, missed_slots, "
                "start_attempts, run_abort_pending, actor_id, apify_run_id, "
                "apify_dataset_id, error) VALUES ('00000000-0000-0000-0000-000000000001', "
                "'google', 'reviews', 'manual', 'succeeded', now(), now(), '[]', 0, 0, 0, 1, "
                "0, 0, 0, false, '', '', '', '')"
            )
            cursor.execute(
                "INSERT INTO webhooks_unmatcheditem (execution_id, reason, key, payload, "
                "created_at) VALUES ('00000000-0000-0000-0000-000000000001', 'no_key', 'k', "
                "'{\"a\": 1}', now())"
            )
        _migrate(latest)
        assert "webhooks_unmatcheditem" not in _tables()
        from schedules.models import UnmatchedItem

        item = UnmatchedItem.objects.get()
        assert (item.key, item.payload, item.reason) == ("k", {"a": 1}, "no_key")
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

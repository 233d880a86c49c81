"""A cursor for the statements every request runs, which PostgreSQL may keep prepared.

Django's psycopg cursors bind parameters client-side: the server parses, analyses and plans
the full text of each statement on every run. For the busiest statements (the API key lookup,
the JSON list pages) that was a third of the statement's time (bench/api_load.py). A cursor
with server-side binding lets psycopg prepare a statement on a connection once it has run
`prepare_threshold` times there (5 by default); with DATABASE_TRANSACTION_POOLING the
threshold is None and nothing is ever prepared, as PgBouncer's transaction mode needs.

Only for statements whose parameters are plain values (no identifiers, no lists); on other
databases this is Django's own cursor.
"""

from __future__ import annotations

from django.db import connection
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper


class _LoggedCursor(CursorDebugWrapper):
    """Logs each statement with its values in it, as Django's client-binding cursors do
    (Django reads a server-binding cursor's last query back as None once it is prepared)."""

    def execute(self, sql: str, params: object = None) -> object:
        with self.debug_sql(self.db.ops.compose_sql(sql, params), params):
            return CursorWrapper.execute(self, sql, params)


def prepared_cursor() -> CursorWrapper:
    """A cursor (use it in `with`) got the way Django gets its own: the connection's health
    check first (a connection that died with a database restart is replaced, not used), and
    wrapped so that query counting, execute wrappers and error translation see every
    statement."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    import psycopg

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = psycopg.Cursor(connection.connection)
    if connection.queries_logged:
        return _LoggedCursor(raw, connection)
    return connection.make_cursor(raw)

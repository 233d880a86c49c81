from datetime import datetime

from django.db import connection
from django.utils import timezone


def db_now() -> datetime:
    """The database's clock: due-ness and leases never depend on a worker's clock."""
    if connection.vendor != "postgresql":
        # SQLite lives on this machine: its clock is ours.
        return timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        return cursor.fetchone()[0]

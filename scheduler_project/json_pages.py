"""List pages that PostgreSQL writes as JSON: one statement, no row reaches Python.

`scheduler_project.rows.RowShape` serves a page from `.values()` rows; measured under
gunicorn (bench/api_load.py) most of such a request was still Python: compiling the ORM
queries (a few per page), decoding every column of every row (datetimes, jsonb), then
encoding them again. Here one statement answers the scope check, the count and the page,
its rows already JSON (`json_build_object` in the serializer's field order, datetimes in
exactly DRF's format), and Python only adds the page links around that text.

PostgreSQL only; on the embedded SQLite the endpoints keep the RowShape path. Tests hold both
to the endpoint's serializer (tests/api/test_list_rows.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.http import HttpResponse
from rest_framework.request import Request

from scheduler_project.api import Pagination
from scheduler_project.prepared import prepared_cursor


def serves_json_pages() -> bool:
    """Whether this database writes the pages itself (PostgreSQL)."""
    return connection.vendor == "postgresql"


def iso8601(column: str) -> str:
    """SQL for a timestamptz as DRF writes it: ISO 8601 in UTC with `Z`, microseconds only
    when there are any (Python's isoformat), NULL as null."""
    return (
        f"""replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),"""
        " '.000000Z', 'Z')"
    )


def json_object(fields: Sequence[tuple[str, str]]) -> str:
    """`json_build_object` of (name, SQL expression) pairs, in their order."""
    return "json_build_object(" + ", ".join(f"'{name}', {sql}" for name, sql in fields) + ")"


@dataclass(frozen=True)
class PageWindow:
    """The page a request asks for, parsed exactly as `Pagination` parses it."""

    limit: int
    offset: int

    @classmethod
    def of(cls, request: Request) -> PageWindow:
        paginator = Pagination()
        return cls(limit=paginator.get_limit(request), offset=paginator.get_offset(request))


@dataclass(frozen=True)
class JsonPage:
    """What the page statement answered: the filtered count and the page's rows as JSON."""

    count: int
    results_json: str

    def response(self, request: Request, window: PageWindow) -> HttpResponse:
        """`Pagination`'s answer (count, next, previous, results) around the rows' text."""
        paginator = Pagination()
        paginator.request, paginator.count = request, self.count
        paginator.limit, paginator.offset = window.limit, window.offset
        next_link = json.dumps(paginator.get_next_link())
        previous_link = json.dumps(paginator.get_previous_link())
        body = (
            f'{{"count":{self.count},"next":{next_link},"previous":{previous_link},'
            f'"results":{self.results_json}}}'
        )
        return HttpResponse(body.encode(), content_type="application/json")


def fetch_page(sql: str, params: Sequence[object]) -> tuple:
    """The page statement's one row (it always answers one: its columns are aggregates)."""
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()

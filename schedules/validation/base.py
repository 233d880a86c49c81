"""What every consistency check shares: the scope it runs in, what it finds, the table
names of its SQL and the helpers that run it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from django.db import connection

from businesses.models import Business, CustomInterval, Team
from schedules.models import Batch, Mapping, ScheduleGroup

BUSINESS = Business._meta.db_table
TEAM = Team._meta.db_table
CUSTOM = CustomInterval._meta.db_table
GROUP = ScheduleGroup._meta.db_table
BATCH = Batch._meta.db_table
MAPPING = Mapping._meta.db_table

IDENTIFIER_CHUNK = 5_000


@dataclass(frozen=True)
class Finding:
    check: str
    ids: dict[str, object]
    message: str
    repairable: bool

    def label(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.ids.items())


@dataclass
class Scope:
    """What the checks look at: every team, or one (`team`) where that makes sense."""

    team: str | None = None
    progress: Callable[[str], None] | None = None

    def report(self, message: str) -> None:
        if self.progress:
            self.progress(message)


@dataclass
class CheckResult:
    name: str
    title: str
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "status": "ok" if self.ok else "fail",
            "seconds": round(self.seconds, 3),
            "count": len(self.findings),
            "findings": [asdict(f) for f in self.findings],
        }


def _rows(query: str, params: Sequence[object] = ()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return list(cursor.fetchall())


def _team_clause(scope: Scope, column: str) -> tuple[str, list[object]]:
    if scope.team is None:
        return "", []
    return f" AND {column} = %s", [scope.team]


# --- (1) missing mappings --------------------------------------------------------------------

"""Import businesses from CSV/JSON Lines: streamed, validated, chunked transactions."""

from __future__ import annotations

import csv
import json
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F

from businesses import services
from businesses.models import Business, Team, Tier
from businesses.services import BusinessRow, business_identity, businesses_bulk_register_prepared
from scheduler_project.identifiers import is_valid_team_id
from schedules.models import Batch

REQUIRED = ("team_id", "tier", "platform", "external_id")
ALIASES = {
    "team_id": ("team_id", "team", "teamid"),
    "tier": ("tier", "plan", "subscription"),
    "platform": ("platform", "source"),
    "external_id": ("external_id", "externalid", "identifier", "place_id", "url", "profile_url"),
    "name": ("name", "business_name", "business"),
}
_CANONICAL = {alias: column for column, names in ALIASES.items() for alias in names}
TIER_CHOICES = ", ".join(Tier.values)
TIERS = frozenset(Tier.values)  # once: `Tier.values` builds its list anew on every row
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
Progress = Callable[[str, int], None]


class FileLevelError(Exception):
    """The whole file is unusable: unreadable, not UTF-8, required columns missing."""


def canonical_column(name: object) -> str | None:
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    return _CANONICAL.get(key)


def detect_format(path: Path, forced: str | None = None) -> str:
    if fmt := forced or FORMATS.get(path.suffix.lower()):
        return fmt
    raise FileLevelError(f"Cannot tell the format of {path.name}: use .csv/.jsonl or --format.")


@dataclass
class Record:
    line: int  # first physical line of the row
    end_line: int  # last physical line (a quoted CSV field may span lines): the resume point
    offset: int  # bytes read so far
    raw: str
    values: dict[str, str]
    problem: str = ""


class _Lines:
    """Decoded lines of a binary file, one at a time, remembering line numbers and raw text."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.line, self.offset, self.pending = handle, 0, 0, []

    __iter__ = lambda self: self  # noqa: E731

    def __next__(self) -> str:
        raw = self.handle.readline()
        if not raw:
            raise StopIteration
        self.line += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FileLevelError(
                f"Line {self.line} is not valid UTF-8 (byte {self.offset + exc.start} of the "
                f"file, 0x{raw[exc.start]:02x}: {exc.reason})."
            ) from None
        if self.line == 1:
            text = text.removeprefix("\ufeff")
        self.offset += len(raw)
        self.pending.append(text)
        return text

    def take(self) -> tuple[int, str]:
        first, raw = self.line - len(self.pending) + 1, "".join(self.pending)
        self.pending.clear()
        return first, raw.rstrip("\r\n")


def read_records(path: Path, fmt: str) -> Iterator[Record]:
    """Rows of the file, streamed; FileLevelError on encoding, header or CSV syntax."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 -- closed below, a generator keeps it open
    except OSError as exc:
        raise FileLevelError(f"Cannot read {path}: {exc.strerror}.") from None
    with handle:
        lines = _Lines(handle)
        try:
            yield from (_csv_records if fmt == "csv" else _jsonl_records)(lines)
        except csv.Error as exc:
            raise FileLevelError(f"Line {lines.line}: CSV syntax error ({exc}).") from None


def _csv_records(lines: _Lines) -> Iterator[Record]:
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header:
        raise FileLevelError("The file is empty: a header row is required.")
    columns = [canonical_column(name) for name in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise FileLevelError(
            f"Missing required column(s): {', '.join(missing)} (header: {', '.join(header)})."
        )
    lines.take()
    for fields in reader:
        line, raw = lines.take()
        if not any(f.strip() for f in fields):
            continue
        values: dict[str, str] = {}
        for column, value in zip(columns, fields, strict=False):
            if column:
                values.setdefault(column, value.strip())
        yield Record(line, lines.line, lines.offset, raw, values)


def _jsonl_records(lines: _Lines) -> Iterator[Record]:
    for text in lines:
        line, raw = lines.take()
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Record(line, line, lines.offset, raw, {}, f"Not valid JSON ({exc.msg}).")
            continue
        if not isinstance(obj, dict):
            yield Record(line, line, lines.offset, raw, {}, "Not a JSON object.")
            continue
        values: dict[str, str] = {}
        for key, value in obj.items():
            if column := canonical_column(key):
                values.setdefault(column, "" if value is None else str(value).strip())
        yield Record(line, line, lines.offset, raw, values)


def check_encoding(path: Path) -> None:
    """Read the whole file once, cheaply: FileLevelError naming the first bad line and byte."""
    try:
        with open(path, "rb") as handle:
            deque(_Lines(handle), maxlen=0)
    except OSError as exc:
        raise FileLevelError(f"Cannot read {path}: {exc.strerror}.") from None


@dataclass
class ValidRow:
    row: BusinessRow  # its external_id normalised
    tier: str
    end_line: int
    key: str  # the platform key


@dataclass
class Seen:  # per file: 64-bit hashes of the keys seen, each team's first tier (and line)
    keys: set[int] = field(default_factory=set)
    team_tiers: dict[str, tuple[str, int]] = field(default_factory=dict)


def validate(record: Record, seen: Seen) -> ValidRow | list[tuple[str, str]]:
    """The row to import, or its problems as (field, reason)."""
    if record.problem:
        return [("row", record.problem)]
    v = record.values
    errors = [(c, "Missing value.") for c in REQUIRED if not v.get(c)]
    team_id, name = v.get("team_id", ""), v.get("name", "")
    tier, platform = v.get("tier", "").lower(), v.get("platform", "").lower()
    if team_id and not is_valid_team_id(team_id):
        errors.append(("team_id", services.TEAM_ID_INVALID))
    if tier and tier not in TIERS:
        errors.append(("tier", services.TIER_INVALID.format(value=tier, choices=TIER_CHOICES)))
    errors += [("name", services.NAME_TOO_LONG)] if len(name) > 300 else []
    identity = None
    if platform and v.get("external_id"):
        try:
            identity = business_identity(platform=platform, external_id=v["external_id"])
        except ValidationError as exc:
            errors += [(f, " ".join(m)) for f, m in exc.message_dict.items()]
    if errors or identity is None:
        return errors
    first_tier, first_line = seen.team_tiers.setdefault(team_id, (tier, record.line))
    if first_tier != tier:
        return [("tier", f"Team {team_id!r} has tier {first_tier!r} on line {first_line}.")]
    key = identity.key
    digest = hash((team_id, platform, key))
    if digest in seen.keys:
        return [("external_id", f"Duplicate row: {platform} {key!r} is already in the file.")]
    seen.keys.add(digest)
    row = BusinessRow(team_id, platform, identity.external_id, name)
    return ValidRow(row, tier, record.end_line, key)


@dataclass
class ImportStats:
    rows_read: int = 0
    imported: int = 0
    already_there: int = 0
    rejected: int = 0
    skipped: int = 0  # committed by an earlier run (--resume)
    teams_created: int = 0
    teams_updated: int = 0
    mappings_created: int = 0
    last_committed_line: int = 0
    team_ids: set[str] = field(default_factory=set)


def import_file(
    path: Path,
    fmt: str,
    *,
    on_reject: Callable[[Record, list[tuple[str, str]]], None],
    on_commit: Callable[[int], None] = lambda line: None,
    chunk_size: int = 5000,
    resume_after: int = 0,
    on_progress: Progress = lambda desc, done: None,
    write: bool = True,
) -> ImportStats:
    """Validate and import, one transaction per chunk of `chunk_size` rows read.

    Rows ending on or before `resume_after` are validated (duplicates are still detected)
    but not written; nothing at all is written with `write=False` (validation only). After
    each committed chunk `on_commit` gets its last line (the resume point).
    """
    stats, seen, chunk, in_chunk, end_line = ImportStats(), Seen(), [], 0, 0
    if not write:
        resume_after = sys.maxsize
    for record in read_records(path, fmt):
        stats.rows_read += 1
        result = validate(record, seen)
        if isinstance(result, list):
            on_reject(record, result)
            stats.rejected += 1
        elif record.end_line <= resume_after:
            stats.skipped += 1
        else:
            chunk.append(result)
        in_chunk, end_line = in_chunk + 1, record.end_line
        if in_chunk >= chunk_size:
            _commit(chunk, end_line, stats, on_commit, resume_after)
            on_progress("importing" if write else "validating", record.offset)
            chunk, in_chunk = [], 0
    _commit(chunk, end_line, stats, on_commit, resume_after)
    return stats


def _commit(chunk: list[ValidRow], end: int, stats: ImportStats, on_commit, resume: int) -> None:
    if chunk:
        with transaction.atomic():
            _teams_upsert({v.row.team_id: v.tier for v in chunk}, stats)
            # Each row was validated and normalised once, above: written as it is.
            prepared = {
                (v.row.team_id, v.row.platform, v.key): (v.row.external_id, v.row.name)
                for v in chunk
            }
            result = businesses_bulk_register_prepared(prepared=prepared)
        stats.imported += result.created
        stats.already_there += result.existing
        stats.mappings_created += result.mappings_created
    if end > max(resume, stats.last_committed_line):
        stats.last_committed_line = end
        on_commit(end)


def _teams_upsert(tiers: dict[str, str], stats: ImportStats) -> None:
    """Create the unknown teams in bulk; a changed tier goes through team_upsert (moves)."""
    current = dict(
        Team.objects.select_for_update().filter(team_id__in=tiers).values_list("team_id", "tier")
    )
    new = [Team(team_id=t, tier=tier) for t, tier in tiers.items() if t not in current]
    Team.objects.bulk_create(new, ignore_conflicts=True)
    stats.teams_created += len(new)
    for team_id, tier in tiers.items():
        if team_id in current and current[team_id] != tier:
            services.team_upsert(team_id=team_id, tier=tier)
            stats.teams_updated += 1
    stats.team_ids.update(tiers)


def assignment_check(team_ids: Iterable[str]) -> list[str]:
    """Problems found: active businesses of these teams lacking a mapping per scrape type,
    and batches whose `business_count` differs from a recount of their mappings.

    Two of `validate_global_schedules`' checks in portable ORM: the import also runs on the
    embedded SQLite default, where the validation's PostgreSQL SQL does not."""
    ids, missing = sorted(team_ids), 0
    for start in range(0, len(ids), 1000):
        rows = (
            Business.objects.filter(team_id__in=ids[start : start + 1000], active=True)
            .annotate(n=Count("mappings"))
            .values_list("scrape_types", "n")
        )
        missing += sum(1 for types, n in rows.iterator(chunk_size=5000) if n != len(types))
    wrong = Batch.objects.annotate(real=Count("mappings")).exclude(business_count=F("real"))
    problems = [f"{missing} active businesses lack a mapping per scrape type"] if missing else []
    if n_wrong := wrong.count():
        problems.append(f"{n_wrong} batches have a business_count that differs from a recount")
    return problems

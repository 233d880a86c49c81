"""Attribution: which snapshot business each dataset item belongs to. Pure: no database.

Strict team isolation lives here: an item is matched only against the businesses frozen on
THAT execution's snapshot, by the platform's attribution key. Anything else is kept aside.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from businesses.platforms import Platform

ERROR_FIELDS = ("error", "errorDescription", "errorMessage")


@dataclass
class Attribution:
    matched: list[tuple[int, str, dict]] = field(default_factory=list)  # business, item id, item
    unmatched: list[tuple[str, str, Any]] = field(default_factory=list)  # reason, key, item
    errors: dict[int, str] = field(default_factory=dict)  # business → error item text
    with_items: set[int] = field(default_factory=set)


def _key_of(platform: Platform, item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    try:
        key = platform.item_key(item)
    except (AttributeError, TypeError, ValueError):  # garbage shapes from a changed actor
        return None
    return key if isinstance(key, str) and key else None


def _error_of(item: dict) -> str | None:
    for name in ERROR_FIELDS:
        if item.get(name):
            return str(item[name])[:1000]
    return None


def attribute_items(
    *, platform: Platform, snapshot: list[dict], items: Iterable[Any]
) -> Attribution:
    """Match items to snapshot businesses. Several businesses of the snapshot may share a key
    (two teams tracking one place): each gets its own copy. Duplicates count once."""
    owners: dict[str, list[int]] = defaultdict(list)
    for entry in snapshot:
        owners[entry["key"]].append(entry["business_id"])
    result = Attribution()
    seen: set[tuple[int, str]] = set()
    for item in items:
        key = _key_of(platform, item)
        if key is None:
            result.unmatched.append(("no_key", "", item))
            continue
        businesses = owners.get(key)
        if not businesses:
            result.unmatched.append(("not_in_snapshot", key, item))
            continue
        if error := _error_of(item):
            for business_id in businesses:
                result.errors[business_id] = error
            continue
        item_id = platform.item_id(item)
        for business_id in businesses:
            if (business_id, item_id) not in seen:
                seen.add((business_id, item_id))
                result.matched.append((business_id, item_id, item))
                result.with_items.add(business_id)
    return result

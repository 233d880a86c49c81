"""JSON that PostgreSQL's jsonb accepts: scrapers and callers send the NUL character, which
jsonb refuses; it is dropped on the way in (payloads of callbacks, dataset items)."""

from __future__ import annotations

import json


def json_text(value: object) -> str:
    """`value` as JSON text for a jsonb column (anything not JSON becomes its str)."""
    return json.dumps(value, default=str).replace("\\u0000", "")


def jsonb_safe(value: object) -> object:
    """`value` as plain JSON data that jsonb stores as it is."""
    return json.loads(json_text(value))

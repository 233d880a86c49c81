"""Identifier rules shared by every layer: a team id is what the product sends us, used in
URLs, logs and Apify inputs, so it is kept to characters that are safe in all of them."""

from __future__ import annotations

import re

TEAM_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
TEAM_ID_RULE = "1 to 64 characters: letters, digits, '.', '_' or '-' (not '.' or '..')."


def is_valid_team_id(value: str) -> bool:
    # "." and ".." would be path segments that HTTP clients normalise away.
    return TEAM_ID_RE.fullmatch(value) is not None and value not in {".", ".."}

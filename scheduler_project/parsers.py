"""Request parsers (kept apart from api.py: DRF imports them while it loads its views)."""

from __future__ import annotations

import json

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSON whose strings PostgreSQL can store: a lone surrogate (`"\\ud800"`) is valid JSON
    but not UTF-8, and would fail at the database as a 500. It is a 400 here."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - invalid text: {exc.reason}") from exc
        return data

"""Request parsers (kept apart from api.py: DRF imports them while it loads its views)."""

from __future__ import annotations

import json

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

# Deeper than any payload we accept (Apify's callbacks nest 3 levels, ours fewer): a deeper
# document is an attack on the parser's recursion, answered 400 before anything reads it.
MAX_JSON_DEPTH = 64
TOO_DEEP = f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."


def json_depth(data: object) -> int:
    """How deeply `data` nests lists and objects, without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


class StrictJSONParser(JSONParser):
    """JSON the service can hold: at most MAX_JSON_DEPTH levels deep (Python's own parser
    would overflow its recursion on deeper input: a 500), and strings PostgreSQL can store
    (a lone surrogate, `"\\ud800"`, is valid JSON but not UTF-8). Both are a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(TOO_DEEP) from None
        if json_depth(data) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(TOO_DEEP)
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - invalid text: {exc.reason}") from exc
        return data

"""Profile URLs as identifiers (Facebook, TripAdvisor, Booking): what the platform registry's
normalisers accept before reading a host and a path out of one.

A stored URL is sent to Apify, shown on the dashboard and returned by the API, so it must be
an http(s) URL of the platform and nothing else: no other scheme (`javascript:`), no user
name before the host (`https://facebook.com@evil.com/` is evil.com's), and none of the
characters that end a URL inside HTML or a shell (`<>"'` backtick, backslash, whitespace,
control characters), neither raw nor percent-encoded in the path that is kept.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

URL_INVALID = "Must be a URL of {platform}."
URL_SCHEME_INVALID = "Only http and https URLs are accepted."
URL_USERINFO = "Must not carry a user name or password before the host (user@host)."
URL_UNSAFE_CHARACTER = (
    "Must not contain {char}: spaces, control characters and < > \" ' ` \\ are refused."
)

_HOST_PREFIXES = ("www.", "m.", "web.", "mobile.", "mbasic.", "touch.", "secure.")
_UNSAFE = frozenset("<>\"'`\\")
# A scheme other than http(s) written without "//" ("javascript:", "data:"), told apart
# from a host with a port ("facebook.com:443/x"), which gets https:// in front.
_BARE_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:(?!\d)")


class IdentifierError(ValueError):
    """An external id that cannot be a profile of the platform; the message says why. (Here,
    below the registry that raises it too, so that this module needs nothing of it.)"""


# The same test for ASCII text, in one regex scan: there, whitespace and the control
# characters (Cc) are exactly 0x00-0x20 and 0x7f, and no character is a format one (Cf).
_UNSAFE_ASCII_RE = re.compile(r"[<>\"'`\\\x00-\x20\x7f]")


def unsafe_character(value: str) -> str | None:
    """The first character of `value` that markup, a shell or a log would misread (ASCII,
    the common case, by one regex scan: an import validates every row this way)."""
    if value.isascii():
        found = _UNSAFE_ASCII_RE.search(value)
        return found.group() if found else None
    for char in value:
        if char in _UNSAFE or char.isspace() or unicodedata.category(char) in ("Cc", "Cf"):
            return char
    return None


def _refuse_unsafe(value: str) -> None:
    if (char := unsafe_character(value)) is not None:
        raise IdentifierError(URL_UNSAFE_CHARACTER.format(char=repr(char)))


def split_url(raw: str, platform: str, host_re: re.Pattern[str]) -> tuple[str, str, str]:
    """(bare host, path without trailing slash, query) of a profile URL of `platform`, whose
    host (less one www./m./… prefix) fully matches `host_re`; IdentifierError saying why not."""
    value = raw.strip()
    if not value:
        raise IdentifierError("This field may not be blank.")
    _refuse_unsafe(value)
    if "://" not in value:
        if _BARE_SCHEME_RE.match(value):
            raise IdentifierError(URL_SCHEME_INVALID)
        value = "https://" + value
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host
        raise IdentifierError(URL_INVALID.format(platform=platform)) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise IdentifierError(URL_SCHEME_INVALID)
    if "@" in parts.netloc:
        raise IdentifierError(URL_USERINFO)
    host = (parts.hostname or "").lower()
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix):
            host = host[len(prefix) :]
            break
    if not host_re.fullmatch(host):
        raise IdentifierError(URL_INVALID.format(platform=platform))
    _refuse_unsafe(unquote(parts.path))
    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/")
    return host, path, parts.query

"""What every management command of the project shares: a `--help` that shows each option's
default, and option types that refuse a bad value with a one-line reason (argparse prints
`error: argument --port: 99999 is not a port (0-65535)` and exits 2, no traceback)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from django.core.management.base import BaseCommand, DjangoHelpFormatter


class DefaultsHelpFormatter(DjangoHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Django's layout (its own options last) with `(default: …)` after each help text that
    does not say it already; a flag off by default or an option unset by default says nothing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, "", argparse.SUPPRESS):
            return action.help or ""
        return super()._get_help_string(action)


class SchedulerCommand(BaseCommand):
    """The base of the project's commands."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: object):
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)


def _number(kind: type, raw: str) -> float:
    try:
        value = kind(raw)
    except ValueError:
        word = "whole number" if kind is int else "number"
        raise argparse.ArgumentTypeError(f"{raw!r} is not a {word}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a finite number")
    return value


def bounded(kind: type, *, low: float, high: float | None = None, above: bool = False) -> Callable:
    """An argparse type: a `kind` number ≥ `low` (> `low` when `above`), ≤ `high`."""

    def parse(raw: str) -> float:
        value = _number(kind, raw)
        if (value <= low if above else value < low) or (high is not None and value > high):
            limit = f"above {low:g}" if above else f"at least {low:g}"
            if high is not None:
                limit = f"between {low:g} and {high:g}"
            raise argparse.ArgumentTypeError(f"{raw} is not {limit}")
        return value

    parse.__name__ = f"{kind.__name__}_value"  # argparse names the type in its errors
    return parse


positive_int = bounded(int, low=1)
non_negative_int = bounded(int, low=0)
positive_seconds = bounded(float, low=0, above=True)
non_negative_seconds = bounded(float, low=0)
share = bounded(float, low=0, high=1)


def port(raw: str) -> int:
    """An argparse type: a TCP port, 0 (any free one) to 65535."""
    value = _number(int, raw)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{raw} is not a port (0-65535)")
    return int(value)


def address(raw: str) -> str:
    """An argparse type: HOST:PORT (or a bare PORT, on 127.0.0.1)."""
    host, sep, number = raw.rpartition(":")
    if not sep:
        host, number = "127.0.0.1", raw
    if not host:
        raise argparse.ArgumentTypeError(f"{raw!r} has no host (use HOST:PORT)")
    port(number)
    return f"{host}:{int(number)}"

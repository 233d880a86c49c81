"""`python manage.py apify_sandbox`: run the local Apify stand-in until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import math
import signal
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from apify_sandbox.account import SMALL_PLAN
from apify_sandbox.hostile import Hostility
from apify_sandbox.server import DEFAULT_TOKEN, Sandbox
from scheduler_project.cli import (
    SchedulerCommand,
    bounded,
    non_negative_seconds,
    port,
    positive_int,
    share,
)

logger = logging.getLogger("apify_sandbox")
non_negative_amount = bounded(float, low=0)

DEFAULT_MEMORY_GBYTES = SMALL_PLAN["max_memory_mbytes"] / 1024


def hostile_switches(value: str) -> Hostility:
    """argparse type: the `--hostile` switches, e.g. `latency=0.2,error-burst=3/10`."""
    try:
        return Hostility.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def gigabytes(value: str) -> float:
    """argparse type: an amount of memory above 0 GB (the sandbox counts whole megabytes)."""
    number = float(value)
    if not (math.isfinite(number) and number * 1024 >= 1):
        raise argparse.ArgumentTypeError(f"{value} is not a size above 0 (at least 1 MB)")
    return number


class Command(SchedulerCommand):
    help = (
        "Run the Apify sandbox: a local HTTP server speaking the part of the Apify API that "
        "apify-client uses. Runs finish by themselves after --delay seconds, their datasets hold "
        "plausible items for the businesses in the run input (Google, Facebook, TripAdvisor, "
        "Booking; reviews or overview), and their ad-hoc webhooks are POSTed back like Apify "
        "does. Point the scheduler at the printed URL with APIFY_API_URL and APIFY_TOKEN. The "
        "--*-rate knobs simulate Apify's bad days; everything random follows --seed. Runs until "
        "Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host",
            default="127.0.0.1",
            help="Address to listen on (0.0.0.0 inside a container).",
        )
        parser.add_argument(
            "--port", type=port, default=8765, help="Port to listen on (0 = any free one)."
        )
        parser.add_argument(
            "--delay",
            type=non_negative_seconds,
            default=3.0,
            help="Seconds a run stays RUNNING before it finishes (default %(default)g; 0 = at "
            "once). A run whose timeout is shorter ends TIMED-OUT at its timeout.",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=1,
            help="Seed of every random choice (default %(default)s). The same seed and run "
            "input give the same items and review ids, so a re-scrape finds the same reviews "
            "again.",
        )
        parser.add_argument(
            "--failure-rate",
            type=share,
            default=0.0,
            help="Probability (0-1) that a run ends FAILED, with part of its items, and calls "
            "back with ACTOR.RUN.FAILED (default %(default)g). A retry of the same input draws "
            "again.",
        )
        parser.add_argument(
            "--error-item-rate",
            type=share,
            default=0.0,
            help="Probability (0-1), per business in a run, that it yields one error item "
            '({"error": ..., plus its key field such as placeId or url}) instead of its '
            "reviews or overview (default %(default)g).",
        )
        parser.add_argument(
            "--duplicate-webhook-rate",
            type=share,
            default=0.0,
            help="Probability (0-1) that a webhook is delivered twice, the second time with a new "
            "dispatch id (default %(default)g): the receiver must be idempotent.",
        )
        parser.add_argument(
            "--lost-webhook-rate",
            type=share,
            default=0.0,
            help="Probability (0-1) that a webhook is never sent (default %(default)g): the "
            "scheduler must notice the finished run some other way.",
        )
        parser.add_argument(
            "--rate-limit-rate",
            type=share,
            default=0.0,
            help="Fraction (0-1) of API requests answered 429 rate-limit-exceeded (default "
            "%(default)g); apify-client retries them with back-off.",
        )
        parser.add_argument(
            "--max-memory-gbytes",
            type=gigabytes,
            default=DEFAULT_MEMORY_GBYTES,
            help="The account's combined memory of running Actor runs, in GB (default "
            "%(default)g, a small plan). A start beyond it is refused with 402 "
            "actor-memory-limit-exceeded; GET /v2/users/me/limits reports it.",
        )
        parser.add_argument(
            "--max-concurrent-runs",
            type=positive_int,
            default=SMALL_PLAN["max_concurrent_runs"],
            help="The account's concurrent Actor runs, 1 or more (default "
            "%(default)s). A start beyond it is refused with 402 "
            "concurrent-runs-limit-exceeded.",
        )
        parser.add_argument(
            "--max-monthly-usage-usd",
            type=non_negative_amount,
            default=SMALL_PLAN["max_monthly_usage_usd"],
            help="The account's monthly usage limit in USD, 0 or more (default "
            "%(default)g). Once the month's usage reaches it, "
            "starts are refused with 402 usage-limit-exceeded.",
        )
        parser.add_argument(
            "--hostile",
            type=hostile_switches,
            default=None,
            metavar="SWITCHES",
            help="A hostile Apify, as comma-separated switches (docs/faults.md): latency=S, "
            "error-burst=B/E (B answers of 500/502/503 every E requests), rate-limit-storm=B/E "
            "(429s), silent-runs (no webhook ever), lying-pagination, shifting-datasets=N "
            "(the first N page reads of each dataset see it move), non-object-rate=P, "
            "truncate-every=N (every Nth dataset page cut mid-body).",
        )
        parser.add_argument(
            "--token",
            default=None,
            help="The only API token accepted, as 'Authorization: Bearer <token>' (default: "
            f"APIFY_TOKEN from the settings, else {DEFAULT_TOKEN!r}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        token = options["token"] or getattr(settings, "APIFY_TOKEN", "") or DEFAULT_TOKEN

        def log(message: str) -> None:
            logger.info(message)  # the project's one log format (settings.LOGGING)

        try:
            sandbox = self._sandbox(token, log if options["verbosity"] >= 1 else None, options)
        except OSError as exc:  # the port is taken, the address is not ours
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {exc}"
            ) from exc
        stopping = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        sandbox.start()
        log(f"Apify sandbox listening on {sandbox.url}")
        log(f"Point the scheduler at it: APIFY_API_URL={sandbox.url} APIFY_TOKEN={token}")
        account = sandbox.account
        log(
            f"Account limits: {account.max_memory_mbytes} MB of run memory, "
            f"{account.max_concurrent_runs} concurrent runs, "
            f"{account.max_monthly_usage_usd:g} USD a month"
        )
        try:
            while not stopping.wait(0.5):
                pass
        finally:
            sandbox.stop()
        delivered = sum(1 for d in sandbox.deliveries if d.delivered)
        log(f"Stopped after {len(sandbox.runs)} run(s) and {delivered} delivered webhook(s).")
        if sandbox.hostility.counts:
            bitten = ", ".join(f"{k} {v}" for k, v in sorted(sandbox.hostility.counts.items()))
            log(f"Hostile switches that bit: {bitten}.")

    @staticmethod
    def _sandbox(token: str, log: Callable[[str], None] | None, options: dict[str, Any]) -> Sandbox:
        """The sandbox the options describe (binds the port at once)."""
        return Sandbox(
            token,
            host=options["host"],
            port=options["port"],
            delay=options["delay"],
            seed=options["seed"],
            failure_rate=options["failure_rate"],
            error_item_rate=options["error_item_rate"],
            duplicate_webhook_rate=options["duplicate_webhook_rate"],
            lost_webhook_rate=options["lost_webhook_rate"],
            rate_limit_rate=options["rate_limit_rate"],
            max_memory_mbytes=round(options["max_memory_gbytes"] * 1024),
            max_concurrent_runs=options["max_concurrent_runs"],
            max_monthly_usage_usd=options["max_monthly_usage_usd"],
            hostility=options["hostile"],
            log=log,
        )

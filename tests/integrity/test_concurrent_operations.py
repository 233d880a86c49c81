"""The same operations from 12 threads at once, over real HTTP against a live server on
PostgreSQL (each thread its own clients, logged-in operator session and connections): no
answer is a 5xx or outside what the operation may answer, and afterwards
`validate_global_schedules` exits 0 and every business sits in the group of its effective
interval.

INTEGRITY_OPS_PER_THREAD and INTEGRITY_SEED make a longer or a repeated run; the seed is
printed so a failing run can be replayed (the interleaving will differ, the operations not).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter

import pytest

from access.services import api_key_create
from businesses.services import custom_intervals_expire
from schedules.services.assignment import schedule_groups_init
from schedules.services.dispatch import dispatch_tick
from tests.concurrency import run_concurrently
from tests.integrity.operations import (
    ALLOWED,
    OPERATIONS,
    HttpCaller,
    RandomPick,
    World,
    assert_consistent,
)

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 12
OPS_PER_THREAD = int(os.environ.get("INTEGRITY_OPS_PER_THREAD", "40"))
PASSWORD = "integrity-run-password"


def test_twelve_threads_of_random_operations_leave_no_5xx_and_consistent_schedules(
    live_server, django_user_model
) -> None:
    seed = int(os.environ.get("INTEGRITY_SEED", random.randrange(10**6)))
    schedule_groups_init()
    _, product = api_key_create(name="product")
    _, admin = api_key_create(name="ops", is_admin=True)
    django_user_model.objects.create_user(
        "operator", password=PASSWORD, is_staff=True, is_superuser=True
    )
    world = World(teams=["acme", "globex", "initech", "umbrella"])
    seeder = HttpCaller(live_server.url, product, admin, PASSWORD)
    world.seed(seeder, RandomPick(random.Random(seed)))
    seeder.close()

    def work(index: int) -> list[tuple[str, int]]:
        pick = RandomPick(random.Random(seed * 100 + index))
        caller = HttpCaller(live_server.url, product, admin, PASSWORD)
        done = []
        for _ in range(OPS_PER_THREAD):
            operation = pick.choice(OPERATIONS)
            done.append((operation.__name__, operation(caller, world, pick)))
        caller.close()
        return done

    started = time.monotonic()
    results = [row for rows in run_concurrently(work, THREADS) for row in rows]
    seconds = time.monotonic() - started
    allowed = {operation.__name__: ALLOWED[operation] for operation in OPERATIONS}
    errors = [(name, status) for name, status in results if status >= 500]
    unexpected = [(name, status) for name, status in results if status not in allowed[name]]

    # What the beat does next: pauses with an end and expiries that fell due are applied.
    time.sleep(3)
    dispatch_tick()
    custom_intervals_expire()
    assert_consistent()  # raises with validate's report otherwise
    print(
        f"\nintegrity run (seed {seed}): {len(results)} operations on {THREADS} threads in "
        f"{seconds:.1f} s, {len(errors)} answers >= 500, {len(unexpected)} unexpected; "
        f"validate_global_schedules exit 0\n"
        + "\n".join(
            f"  {name} {status}: {n}" for (name, status), n in sorted(Counter(results).items())
        )
    )
    assert errors == []
    assert unexpected == []

"""A stateful property test: hypothesis drives random sequences of what operators and
product services do (product API, operators' API, dashboard forms, Django-admin forms, the
worker's periodic calls) and shrinks any failing sequence to its shortest form.

After every step no answer is a 5xx or outside what a user may see for that operation, and
every business of the run sits in the group of its effective interval; after every sequence
`validate_global_schedules` exits 0.
"""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from access.services import api_key_create
from businesses.models import Team
from businesses.selectors import effective_intervals
from schedules.models import Mapping
from schedules.services.assignment import schedule_groups_init
from tests.integrity.operations import (
    ALLOWED,
    OPERATIONS,
    DataPick,
    InProcessCaller,
    World,
    assert_consistent,
)

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("INTEGRITY_EXAMPLES", "15"))
STEPS = int(os.environ.get("INTEGRITY_STEPS", "30"))


class OperatorsAndProducts(RuleBasedStateMachine):
    caller: InProcessCaller  # set by the test: one set of keys and one operator per test
    runs = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        run = next(self.runs)
        # Fresh team names per sequence: what an earlier sequence left behind is only more
        # state for validate to find consistent.
        self.world = World(teams=[f"sm{run}-a", f"sm{run}-b", f"sm{run}-c"])

    @initialize(data=st.data())
    def teams_with_businesses(self, data: st.DataObject) -> None:
        self.world.seed(self.caller, DataPick(data))

    @rule(data=st.data(), operation=st.sampled_from(OPERATIONS))
    def operate(self, data: st.DataObject, operation: object) -> None:
        status = operation(self.caller, self.world, DataPick(data))
        assert status < 500, (operation.__name__, status)
        assert status in ALLOWED[operation], (operation.__name__, status)

    @invariant()
    def businesses_sit_in_their_effective_interval(self) -> None:
        teams = Team.objects.filter(team_id__in=self.world.teams)
        intervals = effective_intervals(teams)
        for team_id, platform, minutes in Mapping.objects.filter(
            team_id__in=self.world.teams
        ).values_list("team_id", "business__platform", "batch__group__interval_minutes"):
            assert minutes == intervals[(team_id, platform)], (team_id, platform, minutes)

    def teardown(self) -> None:
        assert_consistent()


def test_random_operation_sequences_keep_the_schedules_consistent(django_user_model) -> None:
    schedule_groups_init()
    _, product = api_key_create(name="product")
    _, admin = api_key_create(name="ops", is_admin=True)
    staff = django_user_model.objects.create_user("operator", is_staff=True, is_superuser=True)
    OperatorsAndProducts.caller = InProcessCaller(product, admin, staff)
    run_state_machine_as_test(
        OperatorsAndProducts,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )

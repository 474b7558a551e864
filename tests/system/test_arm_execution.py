"""A planned arm motion executed through whole-body control in MuJoCo, lockstep (times are sim
time): a box on the table's edge, the right palm's goal behind it. The plan (forma_planning) is
followed by the WBC while it balances and reaches the goal with no contact of the arm with the box,
the table or the robot's body (checked after every physics step); the straight Cartesian reach to
the same goal in the same layout touches something. Issue 24, deliverable 3."""

from __future__ import annotations

import numpy as np
import pytest

from forma_control.wbc.arm_trajectory import FollowOutcome
from forma_planning import ArmPlanner
from tests.support.arm_execution import draw_layout, execute

pytestmark = pytest.mark.system

LAYOUT_SEED = 0  # one of the drawn layouts; the others are the acceptance trial's


@pytest.fixture(scope="module")
def layout_and_planner():
    import ompl.util as ou

    ou.RNG.setSeed(7)  # OMPL's samplers: the same plan on every run (forma_planning README)
    planner = ArmPlanner()
    return draw_layout(planner, np.random.default_rng(LAYOUT_SEED)), planner


def test_the_planned_reach_behind_a_box_arrives_without_touching_anything(layout_and_planner):
    layout, planner = layout_and_planner
    out = execute(layout, planner)
    assert out.result is not None and out.result.outcome is FollowOutcome.SUCCEEDED, out.result
    assert out.contacts == []
    assert not out.fell
    assert out.palm_error_m < 0.01, f"palm {out.palm_error_m * 100:.1f} cm from the goal"
    # the measured arm joints kept to the trajectory (measured here: 0.007-0.010 rad)
    assert out.result.max_error_rad < 0.05, out.result


def test_the_straight_reach_to_the_same_goal_collides(layout_and_planner):
    layout, _ = layout_and_planner
    out = execute(layout, None, stop_at_contact=True, timeout_s=3.0)
    assert out.contacts, f"the straight reach touched nothing; palm {out.palm_error_m * 100:.1f} cm from the goal"
    assert not out.fell

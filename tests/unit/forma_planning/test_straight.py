"""The straight-reach check (forma_planning.straight): the palm's straight line from `stand` to the
palm of the SRDF's `ready` is clear with nothing in the way and with a box beside the line; a box
on the line blocks it and the reason names the box; a target out of reach is not clear either."""

from __future__ import annotations

import numpy as np
import pinocchio as pin
import pytest

from forma_moveit_config import semantic
from forma_planning import ArmPlanner, Box, Scene
from forma_planning.straight import straight_reach

GROUP = "right_arm"


def palm_in_base(planner: ArmPlanner, joints_rad: dict[str, float]) -> pin.SE3:
    checker = planner.checker(GROUP, joints_rad)
    q = np.array([joints_rad[j] for j in planner.group_joints(GROUP)])
    pin.framesForwardKinematics(checker.model, checker.data, checker.model_q(q))
    return checker.data.oMf[checker.model.getFrameId("right_hand")].copy()


@pytest.fixture(scope="module")
def ready_palm(planner, stand) -> pin.SE3:
    ready = {j: semantic.READY_ARM.get(j.removeprefix("right_"), 0.0) for j in planner.group_joints(GROUP)}
    return palm_in_base(planner, {**stand, **ready})


def test_the_straight_line_is_clear_with_nothing_or_a_box_beside_it(planner, stand, ready_palm):
    start = palm_in_base(planner, stand).translation
    assert np.linalg.norm(ready_palm.translation - start) > 0.4  # a long reach: forward and up

    assert straight_reach(planner, GROUP, stand, ready_palm, Scene()).clear
    beside = Box("beside", (0.30, 0.15, 0.02), (0.10, 0.10, 0.10))  # 40 cm to the robot's left of the line
    check = straight_reach(planner, GROUP, stand, ready_palm, Scene(boxes=(beside,)))
    assert check.clear, check.reason
    assert check.steps >= 40  # every centimetre of the line solved and checked


def test_a_box_on_the_line_blocks_it_and_is_named(planner, stand, ready_palm):
    on_the_line = Box("cup", (0.30, -0.24, 0.02), (0.10, 0.10, 0.10))
    check = straight_reach(planner, GROUP, stand, ready_palm, Scene(boxes=(on_the_line,)))
    assert not check.clear and check.touches
    assert "cup-right_" in check.reason and "cm along the" in check.reason, check.reason


def test_a_target_out_of_reach_is_not_a_straight_reach(planner, stand, ready_palm):
    far = pin.SE3(ready_palm.rotation, ready_palm.translation + np.array([1.0, 0.0, 0.0]))
    check = straight_reach(planner, GROUP, stand, far, Scene())
    assert not check.clear and not check.touches and "cannot follow the line" in check.reason, check.reason

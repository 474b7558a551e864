"""The planner and the robot's `stand` joints, built once per test module (building the planner
loads the model, its collision geometry and the SRDF)."""

from __future__ import annotations

import pytest

from forma_description.poses import named_pose
from forma_planning import ArmPlanner


@pytest.fixture(scope="module")
def planner() -> ArmPlanner:
    return ArmPlanner()


@pytest.fixture(scope="module")
def stand(planner) -> dict[str, float]:
    """Every joint of the model at the `stand` pose [rad]."""
    return dict(zip(planner.robot.joint_names, map(float, named_pose("stand", planner.robot)), strict=True))

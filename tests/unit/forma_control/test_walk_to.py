"""The wbc/walk_to logic (forma_control.walk.walk_to) on an ideal robot that moves as commanded:
it faces the goal, walks at it, steps onto it and turns to the heading, one motion at a time,
and ends ARRIVED only standing within the tolerances; TIMEOUT and UNREACHABLE (no progress)
end with the robot told to stop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forma_control.walk.gait import WalkSettings, compose
from forma_control.walk.walk_to import WalkToGoal, WalkToProgress, _motion

DT = 0.01


def drive(goal_pose, seconds: float = 60.0, moves: bool = True):
    """Integrate the commands on an ideal robot; it 'stands' one tick after a zero command."""
    goal = WalkToGoal(np.asarray(goal_pose, float), 0.1, math.radians(10), deadline_s=seconds)
    progress = WalkToProgress(goal, WalkSettings(), 0.0)
    pose, standing, kinds = np.zeros(3), True, []
    for k in range(round(seconds / DT) + 1):
        state, command, distance, yaw_error = progress.update(pose, k * DT, standing)
        if state != "walking":
            return state, pose, kinds
        limited, _ = WalkSettings().clamp(command)
        assert np.array_equal(limited, command), "the commands stay within the gait's limits"
        assert np.count_nonzero(command[:2]) <= 1, "never forward and sideways at once"
        kind = _motion(command)
        if not kinds or kinds[-1] != kind:
            kinds.append(kind)
        if moves:
            pose = compose(pose, command * DT)
        standing = not np.any(command)
    return "still walking", pose, kinds


@pytest.mark.parametrize("goal", [(2.0, -1.0, -0.8), (1.0, 0.5, math.pi / 2), (-0.5, 1.5, math.pi), (0.05, 0.3, 0.0)])
def test_arrives_standing_within_the_tolerances(goal):
    state, pose, kinds = drive(goal)
    assert state == "arrived"
    assert math.hypot(pose[0] - goal[0], pose[1] - goal[1]) <= 0.1
    assert abs(math.remainder(pose[2] - goal[2], 2 * math.pi)) <= math.radians(10)
    # a change of motion (turn, walk, sidestep) goes through standing (a zero command) first
    for before, after in zip(kinds, kinds[1:], strict=False):
        assert "stand" in (before, after), kinds


def test_ends_in_timeout_or_unreachable_when_the_robot_gets_nowhere():
    assert drive((3.0, 0.0, 0.0), seconds=5.0)[0] == "timeout"
    assert drive((3.0, 0.0, 0.0), seconds=30.0, moves=False)[0] == "unreachable"


def test_closing_in_while_the_final_heading_error_grows_is_progress_not_a_stall():
    """Turning to face a near goal adds to the final heading's error while the distance shrinks."""
    goal = WalkToGoal(np.array([0.0, 0.0, 0.0]), 0.1, math.radians(10), deadline_s=100.0)
    progress = WalkToProgress(goal, WalkSettings(), 0.0)
    for k in range(31):  # 6 cm closer every 4 s, the heading error growing all the while
        pose = np.array([-0.8 + 0.06 * (k // 4), 0.0, 0.02 * k])
        state = progress.update(pose, float(k), standing=False)[0]
        assert state == "walking", f"{state} at {k} s"

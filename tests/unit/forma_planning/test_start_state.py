"""A start the planner can leave (forma_planning.start_state): an arm resting on the body by the
collision shapes moves to a free state at most 0.1 rad per joint away; a free start stays as it is;
a start touching a perceived obstacle is not "fixed" (the planner refuses it with the reason); boxes
at the planning arm or on any link of the robot, and a table the hand rests on, are named (the planner
node leaves them out)."""

from __future__ import annotations

import numpy as np
import pinocchio as pin
import pytest

from forma_planning import Box, PlanRequestError, Scene, SupportPlane
from forma_planning.start_state import (
    MAX_OFFSET_RAD,
    boxes_on_the_robot,
    free_start_nearby,
    objects_at_the_arm,
    without,
)

GROUP = "right_arm"


def test_an_arm_resting_on_the_body_starts_from_a_free_state_nearby(planner, stand):
    resting = {**stand, "right_shoulder_roll": -0.015}  # forearm on the pelvis, fingers on the thigh
    with pytest.raises(PlanRequestError, match="start state of right_arm is in collision"):
        planner.plan(GROUP, resting, {j: stand[j] for j in planner.group_joints(GROUP)})

    fix = free_start_nearby(planner, GROUP, resting, Scene())

    assert fix is not None and "base_link-right_forearm" in fix.touching
    assert 0.0 < fix.moved_rad <= MAX_OFFSET_RAD
    joints = planner.group_joints(GROUP)
    moved = np.array([fix.start_rad[j] for j in joints]) - np.array([resting[j] for j in joints])
    assert np.max(np.abs(moved)) == pytest.approx(fix.moved_rad)
    assert all(fix.start_rad[j] == resting[j] for j in resting if j not in joints)  # the rest as it was
    checker = planner.checker(GROUP, fix.start_rad)
    assert checker.is_free(np.array([fix.start_rad[j] for j in joints]))
    planner.plan(GROUP, fix.start_rad, {j: stand[j] for j in joints}, timeout_s=5.0)  # the planner leaves it


def test_a_free_start_stays_as_it_is(planner, stand):
    fix = free_start_nearby(planner, GROUP, stand, Scene())
    assert fix is not None and fix.moved_rad == 0.0 and fix.touching == () and fix.start_rad == stand


def test_a_start_touching_an_obstacle_is_left_to_the_planners_refusal(planner, stand):
    checker = planner.checker(GROUP, stand)
    q = np.array([stand[j] for j in planner.group_joints(GROUP)])
    pin.framesForwardKinematics(checker.model, checker.data, checker.model_q(q))
    palm = checker.data.oMf[checker.model.getFrameId("right_hand")].translation
    around_the_palm = Scene(boxes=(Box("cup", tuple(palm), (0.05, 0.05, 0.05)),))
    assert free_start_nearby(planner, GROUP, stand, around_the_palm) is None


def test_a_box_at_the_arm_is_named_and_left_out_and_others_stay(planner, stand):
    checker = planner.checker(GROUP, stand)
    q = np.array([stand[j] for j in planner.group_joints(GROUP)])
    pin.framesForwardKinematics(checker.model, checker.data, checker.model_q(q))
    palm = checker.data.oMf[checker.model.getFrameId("right_hand")].translation
    held = Box("cup", tuple(palm), (0.05, 0.05, 0.05))  # around the palm: held, or the hand itself seen
    away = Box("bowl", (0.45, 0.0, 0.0), (0.1, 0.1, 0.1))
    scene = Scene(boxes=(held, away))

    at_arm = objects_at_the_arm(planner, GROUP, stand, scene)

    assert at_arm == ("cup",)
    assert [b.name for b in without(scene, at_arm).boxes] == ["bowl"]
    assert objects_at_the_arm(planner, GROUP, stand, Scene(boxes=(away,))) == ()


def test_a_box_on_any_link_of_the_robot_is_on_the_robot_and_one_ahead_is_not(planner, stand):
    """A box around the other (left) hand: not the planning arm's, so objects_at_the_arm does not see
    it, but the robot is there (the camera saw the hand, or what it holds): on the robot."""
    frames = planner.checker("left_arm", stand)
    q = np.array([stand[j] for j in planner.group_joints("left_arm")])
    pin.framesForwardKinematics(frames.model, frames.data, frames.model_q(q))
    left_palm = frames.data.oMf[frames.model.getFrameId("left_hand")].translation
    seen_hand = Box("obj-7", tuple(left_palm), (0.06, 0.06, 0.06))
    ahead = Box("obj-8", (0.5, 0.0, -0.1), (0.08, 0.08, 0.1))
    scene = Scene(boxes=(seen_hand, ahead))

    assert objects_at_the_arm(planner, GROUP, stand, scene) == ()
    assert boxes_on_the_robot(planner, stand, scene) == ("obj-7",)
    assert [b.name for b in without(scene, ("obj-7",)).boxes] == ["obj-8"]


def test_a_table_the_hand_rests_on_is_at_the_arm(planner, stand):
    checker = planner.checker(GROUP, stand)
    q = np.array([stand[j] for j in planner.group_joints(GROUP)])
    pin.framesForwardKinematics(checker.model, checker.data, checker.model_q(q))
    palm = checker.data.oMf[checker.model.getFrameId("right_hand")].translation
    under_the_palm = SupportPlane("support_plane", (0.0, 0.0, 1.0), float(palm[2]), (float(palm[0]), float(palm[1])),
                                  (0.4, 0.4))  # fmt: skip
    low = SupportPlane("low", (0.0, 0.0, 1.0), float(palm[2]) - 0.5, (0.5, 0.0), (0.4, 0.4))
    scene = Scene(planes=(under_the_palm, low))

    assert objects_at_the_arm(planner, GROUP, stand, scene) == ("support_plane",)
    assert without(scene, ("support_plane",)).planes == (low,)

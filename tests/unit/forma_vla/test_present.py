"""The action the robot is at now: the hand synergies read back from the finger joints are the
ones that posed them; at the stand pose the action is valid, the torso is level at its standing
height, the palms hang beside the body and the gaze points where the camera looks; a tilted pelvis
shows as the torso's roll and pitch."""

from __future__ import annotations

import numpy as np
import pinocchio as pin
import pytest

from forma_description import RobotModel, expand_description
from forma_description.frames import RobotFrames
from forma_description.poses import named_pose
from forma_hands.hand_joints import HandJoints
from forma_hands.synergies import Synergy, synergy_targets
from forma_vla.action_space import GAZE, HAND, PALM, TORSO, decode
from forma_vla.present import PresentAction, synergies_from_joints


@pytest.fixture(scope="module")
def robot():
    urdf = expand_description()
    return urdf, RobotModel.from_urdf(urdf)


@pytest.mark.parametrize("seed", range(10))
def test_synergies_read_back_from_the_joints_they_posed(robot, seed):
    hand = HandJoints.from_robot(robot[1], "right")
    s = np.random.default_rng(seed).uniform(0.0, 1.0, 3)
    s[0] = min(s[0], 0.9)  # (a closed fist has no spread left to read)
    q = synergy_targets(Synergy(*s), hand)
    np.testing.assert_allclose(synergies_from_joints(q, hand), s, atol=1e-9)


def _present(robot, pose="stand"):
    urdf, model = robot
    frames = RobotFrames(urdf)
    hands = {side: HandJoints.from_robot(model, side) for side in ("left", "right")}
    present = PresentAction(frames, hands, standing_torso_height_m=0.0)
    q = named_pose(pose, model)
    present.frames.update(model.joint_names, q)
    present.standing_torso_height_m = present.torso_height_m()
    return present, model, q


def test_at_the_stand_pose_the_action_is_valid_level_and_where_the_robot_is(robot):
    present, model, q = _present(robot)
    v = present(model.joint_names, q, np.eye(3))
    decode(v)  # a valid action: the executor may start from it
    assert v[TORSO] == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)
    left, right = v[PALM["left"]], v[PALM["right"]]
    assert left[1] > 0.1 and right[1] < -0.1 and left[2] < -0.1 and right[2] < -0.1  # beside, below the torso
    camera = present.frames.transform("torso", "head_camera_color_optical_frame")
    np.testing.assert_allclose(v[GAZE] - camera[:3, 3], camera[:3, 2], atol=1e-9)  # 1 m along the axis
    assert np.all((v[HAND["left"]] >= 0) & (v[HAND["left"]] <= 1))


def test_a_tilted_pelvis_shows_as_the_torso_roll_and_pitch(robot):
    present, model, q = _present(robot)
    tilt = pin.utils.rpyToMatrix(0.1, -0.2, 0.7)  # the heading (yaw) does not count
    v = present(model.joint_names, q, tilt)
    assert v[TORSO][1:] == pytest.approx([0.1, -0.2], abs=0.02)


def test_the_grasp_controllers_power_wrap_and_pointing_hand_read_back_as_synergies_that_redo_them(robot):
    """What a demonstration records for the hands: the power grasp's pre-shape and closed shape are
    the opposed synergy path's ends (so a policy replaying them grasps as the controller did), and a
    pointing hand reads back open (its index straight), not half closed."""
    from forma_hands.taxonomy import grasp_types

    hand = HandJoints.from_robot(robot[1], "right")
    types = grasp_types(hand)
    power = types["power"]
    for shape, closure in ((power.preshape, 0.0), (power.closed, 1.0)):
        s = synergies_from_joints(dict(shape), hand)
        np.testing.assert_allclose(s[[0, 2]], [closure, 1.0], atol=1e-9)
        redone = synergy_targets(Synergy(*s), hand)
        assert max(abs(redone[j] - shape[j]) for j in shape) < 1e-9
    closure, _, _ = synergies_from_joints(dict(types["point"].preshape), hand)
    assert closure < 0.05

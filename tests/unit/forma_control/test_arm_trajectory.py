"""Following an arm joint trajectory on whole-body control: the sampling, the verdicts and their
reasons (pure logic), and what the controller refuses before anything moves."""

from __future__ import annotations

import numpy as np
import pinocchio as pin
import pytest

from forma_control.errors import TargetRejected
from forma_control.wbc.arm_trajectory import ArmTrajectory, FollowOutcome, FollowTolerances, TrajectoryFollower
from forma_control.wbc.lockstep import build_controller
from forma_description import RobotModel, expand_description

JOINTS = ("right_shoulder_pitch", "right_elbow")


def _ramp(duration_s: float = 1.0) -> ArmTrajectory:
    """Shoulder pitch 0 -> -0.5 rad and elbow 0.3 -> 0.8 rad at constant speed."""
    t = np.linspace(0.0, duration_s, 11)
    q = np.stack([-0.5 * t / duration_s, 0.3 + 0.5 * t / duration_s], axis=1)
    v = np.tile([-0.5 / duration_s, 0.5 / duration_s], (11, 1))
    return ArmTrajectory(JOINTS, t, q, v)


def test_samples_interpolate_and_hold_the_last_position_at_rest():
    traj = _ramp()
    q, v = traj.sample(0.25)
    assert np.allclose(q, [-0.125, 0.425]) and np.allclose(v, [-0.5, 0.5])
    q, v = traj.sample(5.0)
    assert np.allclose(q, [-0.5, 0.8]) and np.allclose(v, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_s": np.array([0.0, 0.1, 0.1])}, "strictly increasing"),
        ({"positions_rad": np.array([[0.0, 0.3], [np.nan, 0.3], [0.0, 0.3]])}, "positions_rad of right_shoulder_pitch"),
        ({"velocities_rad_s": np.zeros((3, 3))}, "3 samples x 2 joints"),
        ({"joint_names": ("right_elbow", "right_elbow")}, "named once each"),
    ],
)
def test_malformed_trajectories_are_refused_with_the_reason(kwargs, message):
    fields = {
        "joint_names": JOINTS,
        "time_s": np.array([0.0, 0.1, 0.2]),
        "positions_rad": np.zeros((3, 2)),
        "velocities_rad_s": np.zeros((3, 2)),
    } | kwargs
    with pytest.raises(TargetRejected, match=message):
        ArmTrajectory(**fields)


def test_the_follower_succeeds_on_arrival_and_keeps_the_largest_error():
    follower = TrajectoryFollower(_ramp(), FollowTolerances(path_rad=0.1, goal_rad=0.02, goal_time_s=0.5))
    for t in np.arange(0.0, 1.0, 0.01):
        q, _ = follower.reference(10.0 + t)
        status = follower.update(10.0 + t, q + [0.04 if 0.5 < t < 0.6 else 0.0, 0.0])
        assert status.running
    status = follower.update(11.0, np.array([-0.5, 0.79]))
    assert status.outcome is FollowOutcome.SUCCEEDED
    assert status.max_error_rad == pytest.approx(0.04) and status.worst_joint == "right_shoulder_pitch"


def test_a_joint_straying_beyond_the_path_tolerance_stops_it_with_the_joint_and_error():
    follower = TrajectoryFollower(_ramp(), FollowTolerances(path_rad=0.1))
    follower.update(0.0, np.array([0.0, 0.3]))
    status = follower.update(0.5, np.array([-0.25, 0.3]))  # the elbow stuck at its start
    assert status.outcome is FollowOutcome.PATH_TOLERANCE_VIOLATED
    assert "right_elbow 0.250 rad from the trajectory at 0.50 s" in status.reason


def test_not_settling_within_the_goal_time_is_a_goal_tolerance_violation():
    follower = TrajectoryFollower(_ramp(), FollowTolerances(path_rad=0.1, goal_rad=0.01, goal_time_s=0.2))
    follower.update(0.0, np.array([0.0, 0.3]))
    assert follower.update(1.1, np.array([-0.5, 0.75])).running
    status = follower.update(1.25, np.array([-0.5, 0.75]))
    assert status.outcome is FollowOutcome.GOAL_TOLERANCE_VIOLATED and "right_elbow still 0.050 rad" in status.reason


def test_the_controller_refuses_foreign_joints_a_distant_start_and_an_inactive_controller():
    wbc, _ = build_controller(RobotModel.from_urdf(expand_description()), "stand")
    with pytest.raises(TargetRejected, match="not active"):
        wbc.follow_arm_trajectory(_ramp())
    q = pin.neutral(wbc.m.model)
    q[wbc.m.q_index] = wbc.nominal
    wbc.q_ref = q
    names = list(wbc.m.joint_names)
    legs = ArmTrajectory(("right_knee",), np.array([0.0]), np.zeros((1, 1)), np.zeros((1, 1)))
    with pytest.raises(TargetRejected, match="one arm"):
        wbc.follow_arm_trajectory(legs)
    both = ArmTrajectory(("right_elbow", "left_elbow"), np.array([0.0]), np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(TargetRejected, match="one arm"):
        wbc.follow_arm_trajectory(both)
    here = wbc.nominal[[names.index(j) for j in JOINTS]]
    far = ArmTrajectory(JOINTS, np.array([0.0]), (here + [0.0, 0.5])[None], np.zeros((1, 2)))
    with pytest.raises(TargetRejected, match="starts 0.500 rad from where right_elbow is"):
        wbc.follow_arm_trajectory(far)
    assert wbc.arm_followers == {}
    near = ArmTrajectory(JOINTS, np.array([0.0, 1.0]), np.stack([here, here + 0.1]), np.zeros((2, 2)))
    assert wbc.follow_arm_trajectory(near) == "right" and "right" in wbc.arm_followers
    wbc.cancel_arm_trajectory("right")
    status = wbc.arm_trajectory_status("right")
    assert status.outcome is FollowOutcome.CANCELLED and wbc.arm_followers == {}

"""What the planner node sends and answers (forma_planning.node), without ROS running: a plan as a
JointTrajectory (every sample, times exact to the nanosecond and strictly increasing), the target
restamped for the WBC (a zero stamp, "now", kept for wbc/reach), and every outcome of the trajectory
follower mapped to one of Reach's."""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PoseStamped

from forma_interfaces.action import FollowArmTrajectory, Reach
from forma_planning.arm_planner import Plan
from forma_planning.node import FOLLOW_TO_REACH, _restamped, _trajectory_msg
from forma_planning.timing import Trajectory


def test_a_plan_becomes_a_joint_trajectory_sample_for_sample():
    joints = ("right_shoulder_pitch", "right_elbow")
    t = np.arange(0.0, 1.2999, 0.01)  # 130 samples every 10 ms, as the planner gives them
    q = np.stack([np.sin(t), np.cos(t)], axis=1)
    qd = np.stack([np.cos(t), -np.sin(t)], axis=1)
    trajectory = Trajectory(joints, t, q, qd, np.zeros_like(q))
    plan = Plan("right_arm", joints, q[[0, -1]], trajectory, True, 0.1, 100)

    msg = _trajectory_msg(plan)

    assert msg.joint_names == list(joints) and len(msg.points) == len(t)
    times = [p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in msg.points]
    np.testing.assert_allclose(times, t, atol=1e-9)
    assert all(b > a for a, b in zip(times[:-1], times[1:], strict=True))
    assert all(0 <= p.time_from_start.nanosec < 1_000_000_000 for p in msg.points)
    np.testing.assert_allclose([p.positions for p in msg.points], q)
    np.testing.assert_allclose([p.velocities for p in msg.points], qd)


def test_the_target_is_restamped_with_the_robots_time_and_now_stays_now():
    target = PoseStamped()
    target.header.frame_id = "torso"
    target.pose.position.x = 0.4
    now = _restamped(target, 12.25)
    assert (now.header.stamp.sec, now.header.stamp.nanosec) == (0, 0)  # "now" for the WBC too
    target.header.stamp.sec = 11
    later = _restamped(target, 12.25)
    assert (later.header.stamp.sec, later.header.stamp.nanosec) == (12, 250_000_000)
    assert later.header.frame_id == "torso" and later.pose.position.x == 0.4
    assert target.header.stamp.sec == 11  # the goal's own message is left as it came


def test_every_follower_outcome_maps_to_a_reach_outcome():
    outcomes = {v for k, v in vars(FollowArmTrajectory.Result).items() if k.isupper() and isinstance(v, int)}
    assert outcomes == set(FOLLOW_TO_REACH)
    assert FOLLOW_TO_REACH[FollowArmTrajectory.Result.SUCCEEDED] == Reach.Result.REACHED
    assert FOLLOW_TO_REACH[FollowArmTrajectory.Result.REJECTED] == Reach.Result.REJECTED
    assert FOLLOW_TO_REACH[FollowArmTrajectory.Result.CANCELED] == Reach.Result.CANCELED

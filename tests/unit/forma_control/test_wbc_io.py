"""The wbc node's message <-> core conversions, on the real message classes without ROS running:
stale or missing sensor streams and malformed joint_states are refused with the stream named;
targets, Reach and FollowArmTrajectory goals and torso/gaze goals are checked; control authority
has one owner per group."""

from __future__ import annotations

import math

import numpy as np
import pinocchio as pin
import pytest
from geometry_msgs.msg import PointStamped, PoseStamped, WrenchStamped
from sensor_msgs.msg import Imu, JointState
from trajectory_msgs.msg import JointTrajectoryPoint

from forma_common.messages import to_time_msg
from forma_control.errors import ControlError, TargetRejected
from forma_control.wbc.arm_trajectory import FollowTolerances
from forma_control.wbc.io import (
    GROUPS,
    Authority,
    ReachDefaults,
    SensorsNotReady,
    TorsoLimits,
    arm_trajectory_request,
    gaze_goal,
    joint_indices,
    output_problem,
    point_target,
    pose_target,
    reach_request,
    sensors_from_messages,
    sensors_from_robot_state,
    torso_goal,
)
from forma_interfaces.action import FollowArmTrajectory, Reach
from forma_interfaces.msg import RobotState

BODY = ["left_knee", "right_knee", "waist_yaw"]


def joint_states(t: float = 10.0) -> JointState:
    msg = JointState(
        name=["left_thumb_ip", "waist_yaw", "right_knee", "left_knee"],
        position=[0.5, 0.1, 0.2, 0.3],
        velocity=[0.0, -0.1, -0.2, -0.3],
        effort=[0.0] * 4,
    )
    msg.header.stamp = to_time_msg(t)
    return msg


def imu(t: float = 10.0, wxyz=(1.0, 0.0, 0.0, 0.0)) -> Imu:
    msg = Imu()
    msg.header.stamp = to_time_msg(t)
    msg.orientation.w, msg.orientation.x, msg.orientation.y, msg.orientation.z = wxyz
    msg.angular_velocity.x = 0.5
    return msg


def wrench(t: float = 10.0, fz: float = 300.0) -> WrenchStamped:
    msg = WrenchStamped()
    msg.header.stamp = to_time_msg(t)
    msg.wrench.force.z = fz
    return msg


def test_sensors_reorder_the_body_joints_and_read_imu_and_feet():
    js = joint_states()
    index = joint_indices(js.name, BODY)
    s = sensors_from_messages(js, index, imu(), {"left": wrench(fz=310.0), "right": wrench(fz=290.0)}, 0.05)
    assert s.stamp_s == pytest.approx(10.0)
    np.testing.assert_allclose(s.joint_positions, [0.3, 0.2, 0.1])
    np.testing.assert_allclose(s.joint_velocities, [-0.3, -0.2, -0.1])
    np.testing.assert_allclose(s.imu_orientation_wxyz, [1, 0, 0, 0])
    np.testing.assert_allclose(s.imu_angular_velocity, [0.5, 0, 0])
    assert s.foot_force_z == {"left": 310.0, "right": 290.0}


def test_missing_body_joints_are_named():
    with pytest.raises(SensorsNotReady, match="lacks 1 body joints \\(left_hip_yaw\\)"):
        joint_indices(joint_states().name, [*BODY, "left_hip_yaw"])


@pytest.mark.parametrize(
    ("imu_msg", "wrenches", "reason"),
    [
        (None, {"left": wrench(), "right": wrench()}, "no imu/data yet"),
        (imu(), {"left": wrench(), "right": None}, "no feet/right/wrench yet"),
        (imu(9.9), {"left": wrench(), "right": wrench()}, "imu/data is 0.100 s older than joint_states"),
        (imu(), {"left": wrench(9.94), "right": wrench()}, "feet/left/wrench is 0.060 s older"),
        (imu(10.2), {"left": wrench(), "right": wrench()}, "imu/data is 0.200 s newer"),
        (imu(wxyz=(0.5, 0.0, 0.0, 0.0)), {"left": wrench(), "right": wrench()}, "norm 0.500"),
        (imu(wxyz=(math.nan, 0.0, 0.0, 0.0)), {"left": wrench(), "right": wrench()}, "non-finite"),
        (imu(), {"left": wrench(fz=math.inf), "right": wrench()}, "non-finite"),
    ],
)
def test_stale_missing_or_broken_sensors_are_refused(imu_msg, wrenches, reason):
    js = joint_states()
    with pytest.raises(SensorsNotReady, match=reason):
        sensors_from_messages(js, joint_indices(js.name, BODY), imu_msg, wrenches, 0.05)


def test_measured_efforts_are_read_and_a_nan_effort_is_refused():
    """The WBC's hand-over starts from the measured torques: a NaN there must not reach a motor."""
    js = joint_states()
    js.effort = [0.0, 1.5, 2.5, 3.5]
    index = joint_indices(js.name, BODY)
    s = sensors_from_messages(js, index, imu(), {"left": wrench(), "right": wrench()}, 0.05)
    np.testing.assert_allclose(s.joint_efforts, [3.5, 2.5, 1.5])
    js.effort = [0.0, math.nan, 0.0, 0.0]
    with pytest.raises(SensorsNotReady, match="non-finite"):
        sensors_from_messages(js, index, imu(), {"left": wrench(), "right": wrench()}, 0.05)


def test_joint_states_with_mismatched_arrays_are_refused():
    js = joint_states()
    index = joint_indices(js.name, BODY)
    js.velocity = [0.0]
    with pytest.raises(SensorsNotReady, match="4 names, 4 positions and 1 velocities"):
        sensors_from_messages(js, index, imu(), {"left": wrench(), "right": wrench()}, 0.05)


def robot_state(t: float = 10.0, imu_w: float = 1.0, left_fz: float = 310.0) -> RobotState:
    js = joint_states(t)
    msg = RobotState(name=js.name, position=js.position, velocity=js.velocity, effort=js.effort)
    msg.header.stamp = js.header.stamp
    msg.orientation.w = imu_w
    msg.angular_velocity.x = 0.5
    msg.left_foot.force.z, msg.right_foot.force.z = left_fz, 290.0
    return msg


def test_robot_state_gives_one_periods_sensors_and_refuses_what_a_sensor_did_not_send():
    """hardware/robot_state: joints, IMU and feet of one period; NaN = that sensor did not answer."""
    index = joint_indices(robot_state().name, BODY)
    s = sensors_from_robot_state(robot_state(), index)
    assert s.stamp_s == pytest.approx(10.0) and s.foot_force_z == {"left": 310.0, "right": 290.0}
    np.testing.assert_allclose(s.joint_positions, [0.3, 0.2, 0.1])
    np.testing.assert_allclose(s.imu_angular_velocity, [0.5, 0, 0])
    with pytest.raises(SensorsNotReady, match="hardware/robot_state: non-finite IMU .*did not answer"):
        sensors_from_robot_state(robot_state(imu_w=math.nan), index)
    with pytest.raises(SensorsNotReady, match="non-finite foot forces"):
        sensors_from_robot_state(robot_state(left_fz=math.nan), index)
    with pytest.raises(SensorsNotReady, match="norm 0.500"):
        sensors_from_robot_state(robot_state(imu_w=0.5), index)


def test_non_finite_output_is_never_sent():
    ok = np.zeros(3)
    assert output_problem(ok, ok, ok) == ""
    assert "non-finite velocity" in output_problem(ok, np.array([0.0, math.nan, 0.0]), ok)
    assert "non-finite effort" in output_problem(ok, ok, np.array([math.inf, 0.0, 0.0]))


def pose_stamped(frame="base_link", t=10.0, xyz=(0.3, -0.2, 0.1), xyzw=(0.0, 0.0, 0.0, 1.0)) -> PoseStamped:
    msg = PoseStamped()
    msg.header.frame_id, msg.header.stamp = frame, to_time_msg(t)
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = xyz
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = xyzw
    return msg


def test_pose_and_point_targets_carry_frame_stamp_and_numbers():
    t = pose_target(pose_stamped())
    assert (t.frame_id, t.stamp_s, t.position, t.orientation_xyzw) == (
        "base_link",
        pytest.approx(10.0),
        (0.3, -0.2, 0.1),
        (0.0, 0.0, 0.0, 1.0),
    )
    msg = PointStamped()
    msg.header.frame_id, msg.header.stamp = "odom", to_time_msg(3.5)
    msg.point.x = 2.0
    p = point_target(msg)
    assert (p.frame_id, p.stamp_s, p.position, p.orientation_xyzw) == ("odom", 3.5, (2.0, 0.0, 0.0), None)


def goal(**kw) -> Reach.Goal:
    g = Reach.Goal(hand="right", target=pose_stamped(t=0.0))
    for k, v in kw.items():
        setattr(g, k, v)
    return g


def test_reach_goal_defaults_and_unstamped_target_means_now():
    r = reach_request(goal(), now_s=12.0, defaults=ReachDefaults())
    assert r.side == "right" and r.target.stamp_s == 12.0
    assert r.position_tolerance_m == 0.02 and r.orientation_tolerance_rad == pytest.approx(math.radians(5))
    assert r.timeout_s == 4.0 and r.max_speed_m_s is None  # 0: the controller's hand_speed_limit_m_s
    r = reach_request(
        goal(position_tolerance_m=0.05, timeout_s=2.0, max_speed_m_s=0.05, target=pose_stamped(t=11.9)),
        12.0,
        ReachDefaults(),
    )
    assert r.position_tolerance_m == pytest.approx(0.05) and r.timeout_s == 2.0 and r.target.stamp_s == 11.9
    assert r.max_speed_m_s == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"hand": "middle"}, "unknown hand 'middle'; use left or right"),
        ({"position_tolerance_m": -0.01}, "position_tolerance_m -0.01"),
        ({"orientation_tolerance_rad": math.nan}, "orientation_tolerance_rad nan"),
        ({"timeout_s": 100.0}, "timeout_s 100.0 exceeds 60.0 s"),
        ({"max_speed_m_s": math.nan}, "max_speed_m_s nan"),
        ({"max_speed_m_s": -0.1}, "max_speed_m_s -0.1"),
        ({"max_speed_m_s": math.inf}, "max_speed_m_s inf"),
    ],
)
def test_bad_reach_goals_are_refused_with_the_field(kw, reason):
    with pytest.raises(TargetRejected, match=reason):
        reach_request(goal(**kw), 12.0, ReachDefaults())


def test_torso_goal_takes_orientation_and_pelvis_height():
    tilt = pin.utils.rpyToMatrix(0.0, 0.2, 0.0)
    # the torso frame 0.3 m above the pelvis: a torso target at 1.25 m puts the pelvis at 0.95 m
    rotation, height = torso_goal(pin.SE3(tilt, np.array([0.1, 0.0, 1.25])), 1.0, 0.3, TorsoLimits())
    np.testing.assert_allclose(rotation, tilt)
    assert height == pytest.approx(0.95)
    with pytest.raises(TargetRejected, match="pelvis height 0.500 m outside 0.850..1.020 m"):
        torso_goal(pin.SE3(np.eye(3), np.array([0.0, 0.0, 0.8])), 1.0, 0.3, TorsoLimits())
    with pytest.raises(TargetRejected, match="torso tilt 69 deg exceeds 29 deg"):
        torso_goal(pin.SE3(pin.utils.rpyToMatrix(1.2, 0.0, 0.0), np.array([0.0, 0.0, 1.3])), 1.0, 0.3, TorsoLimits())


def test_gaze_goal_refuses_a_point_at_the_camera():
    camera = pin.SE3(np.eye(3), np.array([0.0, 0.0, 1.6]))
    np.testing.assert_allclose(gaze_goal(np.array([1.0, 0.0, 1.0]), camera), [1.0, 0.0, 1.0])
    with pytest.raises(TargetRejected, match="gaze point 0.05 m from the camera"):
        gaze_goal(np.array([0.05, 0.0, 1.6]), camera)


def test_authority_one_owner_per_group_and_a_preempted_owner_releases_nothing():
    a = Authority()
    assert a.as_lists() == (list(GROUPS), [""] * len(GROUPS)) and "legs" in GROUPS
    assert a.take("right_hand", "reach") == ""
    assert a.take("right_hand", "teleop") == "reach"  # teleop pre-empts
    a.release("right_hand", "reach")  # the pre-empted goal ending must not free teleop's hand
    assert a.owners["right_hand"] == "teleop"
    a.release("right_hand", "teleop")
    assert a.owners["right_hand"] == ""
    with pytest.raises(ControlError, match="unknown target group 'base'"):
        a.take("base", "teleop")
    with pytest.raises(ControlError, match="unknown owner 'vla'"):
        a.take("gaze", "vla")


def follow_goal(times=(0.0, 0.5, 1.0), joints=("right_elbow", "right_wrist_pitch"), velocities=True):
    goal = FollowArmTrajectory.Goal()
    goal.trajectory.joint_names = list(joints)
    for k, t in enumerate(times):
        point = JointTrajectoryPoint(positions=[0.3 + 0.1 * k] * len(joints))
        if velocities:
            point.velocities = [0.2] * len(joints)
        point.time_from_start = to_time_msg(t)
        goal.trajectory.points.append(point)
    return goal


def test_an_arm_trajectory_goal_becomes_samples_with_default_tolerances_and_an_optional_hand_goal():
    request = arm_trajectory_request(follow_goal(velocities=False), now_s=12.0)
    trajectory = request.trajectory
    assert trajectory.joint_names == ("right_elbow", "right_wrist_pitch")
    assert np.allclose(trajectory.time_s, [0.0, 0.5, 1.0])
    assert np.allclose(trajectory.positions_rad[:, 0], [0.3, 0.4, 0.5])
    assert np.all(trajectory.velocities_rad_s == 0.0)  # none given: at rest at each point
    assert request.tolerances == FollowTolerances()
    assert request.hand_goal is None  # no frame: the arm stays where the trajectory ends
    goal = follow_goal()
    goal.path_tolerance_rad, goal.hand_goal.header.frame_id = 0.2, "base_link"
    request = arm_trajectory_request(goal, now_s=12.0)
    assert request.tolerances.path_rad == pytest.approx(0.2) and request.tolerances.goal_rad == 0.03
    assert request.hand_goal.frame_id == "base_link" and request.hand_goal.stamp_s == 12.0  # unstamped: now


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda g: g.trajectory.points.clear(), "no points"),
        (lambda g: g.trajectory.points[1].positions.pop(), "point 1 has 1 positions for 2 joints"),
        (lambda g: g.trajectory.points[2].velocities.pop(), "point 2 has 1 velocities for 2 joints (or none)"),
        (lambda g: setattr(g.trajectory.points[2], "time_from_start", to_time_msg(0.2)), "strictly increasing"),
        (lambda g: g.trajectory.points[0].positions.__setitem__(1, math.inf), "right_wrist_pitch is not finite"),
        (lambda g: setattr(g, "goal_tolerance_rad", math.nan), "goal_tolerance_rad nan"),
        (lambda g: setattr(g.trajectory, "joint_names", ["right_elbow", "right_elbow"]), "named once each"),
    ],
)
def test_bad_arm_trajectory_goals_are_refused_with_the_field(change, reason):
    goal = follow_goal()
    change(goal)
    with pytest.raises(TargetRejected, match=reason.replace("(", r"\(").replace(")", r"\)")):
        arm_trajectory_request(goal, now_s=0.0)

"""Whole-body control's pure parts: balance geometry, target checks, the QP, the model's
Jacobians against finite differences, the leg odometry against simulator truth, settings."""

from __future__ import annotations

import math

import numpy as np
import pinocchio as pin
import pytest
from geometry_msgs.msg import TwistStamped

from forma_common.messages import to_time_msg
from forma_control.errors import ControlConfigError, TargetRejected
from forma_control.wbc import balance
from forma_control.wbc.controller import WbcSettings
from forma_control.wbc.lockstep import build_controller, sensors_from
from forma_control.wbc.qp import QPFailed, TaskQP
from forma_control.wbc.targets import StampedTarget, TargetLimits, check_target, to_odom, walk_to_goal, walk_velocity
from forma_interfaces.action import WalkTo

SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


def test_support_polygon_of_two_feet_is_their_convex_hull():
    eye = np.eye(3)
    poly = balance.support_polygon([(np.array([0, 0.1, 0]), eye), (np.array([0, -0.1, 0]), eye)], 0.06, 0.21, 0.05)
    assert len(poly) == 4
    assert np.allclose(sorted(poly[:, 0]), [-0.06, -0.06, 0.21, 0.21])
    assert np.allclose(sorted(poly[:, 1]), [-0.15, -0.15, 0.15, 0.15])


def test_signed_distance_and_clipping():
    assert balance.signed_distance(SQUARE, np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert balance.signed_distance(SQUARE, np.array([2.0, 0.5])) == pytest.approx(-1.0)
    assert balance.signed_distance(SQUARE, np.array([2.0, 2.0])) == pytest.approx(-math.sqrt(2))
    clipped = balance.clip_to_polygon(SQUARE, np.array([3.0, 0.5]), 0.1)
    assert balance.signed_distance(SQUARE, clipped) == pytest.approx(0.1, abs=1e-6)
    inside = np.array([0.4, 0.6])
    assert np.array_equal(balance.clip_to_polygon(SQUARE, inside, 0.1), inside)


def test_capture_point_leads_the_com_by_velocity_over_omega():
    xi = balance.capture_point(np.zeros(2), np.array([0.3, 0.0]), 0.981)
    assert xi[0] == pytest.approx(0.3 / math.sqrt(10.0))


def _target(**kw):
    base = dict(frame_id="base_link", stamp_s=10.0, position=(0.3, -0.2, 0.1), orientation_xyzw=(0, 0, 0, 1))
    return StampedTarget(**{**base, **kw})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"position": (math.nan, 0.0, 0.0)}, "non-finite"),
        ({"orientation_xyzw": (0.0, 0.0, 0.0, math.inf)}, "non-finite"),
        ({"frame_id": "map"}, "not a target frame"),
        ({"stamp_s": 0.0}, "no header stamp"),
        ({"stamp_s": 9.0}, "stale"),
        ({"stamp_s": 10.5}, "future"),
        ({"orientation_xyzw": (0.0, 0.0, 0.0, 2.0)}, "unit quaternion"),
    ],
)
def test_bad_targets_are_refused_with_the_reason(change, reason):
    with pytest.raises(TargetRejected, match=reason):
        check_target(_target(**change), now_s=10.05, limits=TargetLimits())


def _cmd_vel(vx: float = 0.2, frame: str = "base_link", stamp_s: float = 10.0) -> TwistStamped:
    msg = TwistStamped()
    msg.header.frame_id, msg.header.stamp = frame, to_time_msg(stamp_s)
    msg.twist.linear.x, msg.twist.linear.y, msg.twist.angular.z = vx, -0.1, 0.3
    return msg


def test_cmd_vel_in_base_link_and_fresh_is_the_walking_velocity():
    assert np.allclose(walk_velocity(_cmd_vel(), 10.2, 0.5), [0.2, -0.1, 0.3])
    assert np.allclose(walk_velocity(_cmd_vel(frame=""), 10.2, 0.5), [0.2, -0.1, 0.3])  # "" = base_link
    assert np.allclose(walk_velocity(_cmd_vel(frame="r1/base_link"), 10.2, 0.5, prefix="r1/"), [0.2, -0.1, 0.3])


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        (_cmd_vel(stamp_s=9.4), r"stamped 0.600 s ago is stale \(limit 0.5 s\)"),
        (_cmd_vel(frame="odom"), "cmd_vel in frame 'odom': walking commands are in base_link"),
        (_cmd_vel(frame="torso"), "cmd_vel in frame 'torso'"),
        (_cmd_vel(vx=math.nan), "non-finite"),
    ],
)
def test_stale_wrong_frame_or_nan_cmd_vel_is_refused_with_the_reason(msg, reason):
    """The node stops a walking robot in place on any refusal (wbc/node.py _on_cmd_vel)."""
    with pytest.raises(TargetRejected, match=reason):
        walk_velocity(msg, 10.0, 0.5)


def _walk_to(position=(1.0, 0.5, 0.0), xyzw=(0.0, 0.0, 0.0, 1.0)) -> WalkTo.Goal:
    goal = WalkTo.Goal()
    goal.target.header.frame_id = "odom"
    pose = goal.target.pose
    pose.position.x, pose.position.y, pose.position.z = position
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = xyzw
    return goal


def test_walk_to_goal_takes_the_heading_and_the_defaults():
    half = math.sqrt(0.5)
    goal = walk_to_goal(_walk_to(xyzw=(0.0, 0.0, half, half)), 5.0, (0.1, 0.2, 30.0))
    assert np.allclose(goal.pose, [1.0, 0.5, math.pi / 2])
    assert (goal.position_tolerance_m, goal.yaw_tolerance_rad, goal.deadline_s) == pytest.approx((0.1, 0.2, 35.0))


@pytest.mark.parametrize(
    ("goal", "reason"),
    [
        (_walk_to(position=(math.nan, 0.5, 0.0)), r"non-finite numbers: position \(nan, 0.5, 0.0\)"),
        (_walk_to(position=(1.0, math.inf, 0.0)), "non-finite numbers: position"),
        (_walk_to(xyzw=(0.0, 0.0, math.nan, 1.0)), r"non-finite numbers: orientation \(0.0, 0.0, nan, 1.0\)"),
        (_walk_to(xyzw=(0.0, 0.0, 0.0, 2.0)), "orientation quaternion has norm 2.000; it must be a unit quaternion"),
        (_walk_to(xyzw=(0.0, 0.0, 0.0, 0.0)), "orientation quaternion has norm 0.000"),
    ],
)
def test_walk_to_goal_with_nan_or_a_non_unit_quaternion_is_refused_naming_the_problem(goal, reason):
    with pytest.raises(TargetRejected, match=reason):
        walk_to_goal(goal, 5.0, (0.1, 0.2, 30.0))


def test_good_target_is_normalised_and_expressed_in_odom():
    t = check_target(_target(orientation_xyzw=(0.0, 0.0, 0.0, 1.005)), now_s=10.05, limits=TargetLimits())
    assert t.orientation_xyzw == pytest.approx((0.0, 0.0, 0.0, 1.0))
    frame = pin.SE3(pin.utils.rpyToMatrix(0, 0, math.pi / 2), np.array([1.0, 0.0, 0.9]))
    pose = to_odom(t, frame, frame, TargetLimits())
    assert np.allclose(pose.translation, [1.2, 0.3, 1.0])
    with pytest.raises(TargetRejected, match="wrong frame or units"):
        to_odom(_target(position=(30.0, 0.0, 0.0)), frame, frame, TargetLimits())


def test_qp_solves_a_constrained_least_squares_problem_and_reports_nan():
    qp = TaskQP(2, 1, 2)
    # minimise |v - (1, 1)|^2 subject to v0 + v1 = 1, -0.2 <= v0 <= 0.2
    a_eq, b_eq = np.array([[1.0, 1.0]]), np.array([1.0])
    c = np.eye(2)
    v = qp.solve([(np.eye(2), np.array([1.0, 1.0]), 1.0)], a_eq, b_eq, c, np.array([-0.2, -5]), np.array([0.2, 5]))
    assert v == pytest.approx([0.2, 0.8], abs=1e-4)
    with pytest.raises(QPFailed, match="non-finite"):
        qp.solve([(np.eye(2), np.array([math.nan, 1.0]), 1.0)], a_eq, b_eq, c, -np.ones(2), np.ones(2))


@pytest.fixture(scope="module")
def controller(robot):
    ctl, _ = build_controller(robot)
    return ctl


def test_model_has_the_38_body_joints_and_the_whole_mass(controller, robot):
    m = controller.m
    assert m.n_joints == 38 and m.nv == 44
    assert set(m.joint_names) == set(robot.group_joint_names("body"))
    assert m.mass_kg == pytest.approx(robot.total_mass_kg, rel=1e-6)


def test_com_and_hand_jacobians_match_finite_differences(controller):
    m = controller.m
    rng = np.random.default_rng(0)
    q = m.configuration(np.array([0.0, 0.0, 0.9]), np.array([1.0, 0, 0, 0]), rng.uniform(m.lower, m.upper) * 0.5)
    m.update(q)
    jcom, jhand = m.com_jacobian.copy(), m.jacobian("right_hand")[:3].copy()
    com0, hand0 = m.com, m.pose("right_hand").translation.copy()
    eps = 1e-6
    for k in rng.choice(m.nv, 8, replace=False):
        dv = np.zeros(m.nv)
        dv[k] = eps
        m.update(pin.integrate(m.model, q, dv))
        assert np.allclose((m.com - com0) / eps, jcom[:, k], atol=1e-4)
        assert np.allclose((m.pose("right_hand").translation - hand0) / eps, jhand[:, k], atol=1e-4)


def test_leg_odometry_matches_simulator_truth_while_standing(controller):
    from tests.support.scenarios import pd_stand

    sim, harness = pd_stand()
    harness.run(1.0)
    ctl, body = build_controller(sim.robot)
    est = ctl.odometry.estimate(sensors_from(sim, body))
    true_xyz, true_wxyz = sim.base_pose()
    soles_z = np.mean([sim.data.site_xpos[i][2] for i in sim.sole_sites.values()])
    assert est.q[2] == pytest.approx(true_xyz[2] - soles_z, abs=0.005)  # pelvis height over the soles
    # MuJoCo's free joint velocity: world-frame linear; pinocchio's: base frame
    w, x, y, z = true_wxyz
    rot = pin.Quaternion(w, x, y, z).toRotationMatrix()
    true_v = rot.T @ sim.data.qvel[sim.base_dof_adr : sim.base_dof_adr + 3]
    assert np.allclose(est.v[:3], true_v, atol=0.01)
    assert sum(est.contact_weight.values()) == pytest.approx(1.0)
    assert est.load_n == pytest.approx(65.0 * 9.81, rel=0.05)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("com_gain", -1.0),
        ("w_hand", math.nan),
        ("rate_hz", 10.0),
        ("capture_filter_s", -0.01),
        ("handover_s", math.inf),
    ],
)
def test_bad_settings_are_refused_naming_the_field(field, value):
    with pytest.raises(ControlConfigError, match=field):
        WbcSettings(**{field: value})


def test_the_body_posture_bends_the_legs_for_a_pelvis_drop_and_turns_the_spine(controller):
    """BodyPosture: the nominal pose for a drop lowers the pelvis over level feet by that much
    (forward kinematics), and a torso pitch goes to the spine, not the hips."""
    posture = controller.body_posture
    standing = posture.standing
    drop = 0.12
    nominal = posture.nominal(drop, pin.utils.rpyToMatrix(0.0, 0.4, 0.0))
    lowered = posture.pelvis_above_soles(standing) - posture.pelvis_above_soles(nominal)
    assert lowered == pytest.approx(drop, abs=0.005)
    names = [n.removeprefix(controller.m.robot.prefix) for n in controller.m.joint_names]
    spine = sum(nominal[names.index(j)] - standing[names.index(j)] for j in ("waist_pitch", "chest_pitch"))
    assert spine == pytest.approx(0.4)
    knee = names.index("left_knee")
    assert nominal[knee] > standing[knee] + 0.2  # the legs bend
    np.testing.assert_array_equal(posture.nominal(0.0, np.eye(3)), standing)  # nothing asked: standing
    np.testing.assert_array_equal(posture.nominal(-0.05, np.eye(3)), standing)  # a raise bends nothing


def test_leg_odometry_keeps_the_loaded_sole_when_both_unload_for_an_instant(controller):
    """While walking the stance sole unloads for a few ms; averaging the swinging foot in then made
    the base velocity (and the capture point) jump."""
    import dataclasses

    from tests.support.scenarios import pd_stand

    sim, harness = pd_stand()
    harness.run(0.5)
    ctl, body = build_controller(sim.robot)
    sensors = sensors_from(sim, body)
    on_left = dataclasses.replace(sensors, foot_force_z={"left": 600.0, "right": 0.0})
    assert ctl.odometry.estimate(on_left).contact_weight == {"left": 1.0, "right": 0.0}
    swinging = np.array(sensors.joint_velocities)
    swinging[[i for i, n in enumerate(ctl.m.joint_names) if n.startswith("right_")]] = 2.0  # the right leg swings
    unloaded = dataclasses.replace(sensors, foot_force_z={"left": 0.0, "right": 0.0}, joint_velocities=swinging)
    loaded = dataclasses.replace(unloaded, foot_force_z={"left": 600.0, "right": 0.0})
    est = ctl.odometry.estimate(unloaded)
    assert est.contact_weight == {"left": 1.0, "right": 0.0}
    assert np.allclose(est.v[:3], ctl.odometry.estimate(loaded).v[:3])


def test_walking_tilt_moment_opposes_the_pelvis_tilting_rate(controller):
    """walk.tilt_damping: a moment on the pelvis against its measured tilting rate (odom), scaled by
    the robot's mass and CoM height; none about the vertical."""
    import dataclasses

    from tests.support.scenarios import pd_stand

    sim, harness = pd_stand()
    harness.run(0.2)
    ctl, body = build_controller(sim.robot)
    sensors = dataclasses.replace(
        sensors_from(sim, body),
        imu_orientation_wxyz=np.array([1.0, 0.0, 0.0, 0.0]),
        imu_angular_velocity=np.array([0.0, 0.5, 2.0]),
    )
    moment = ctl._tilt_moment(sensors, 0.9)
    expected = ctl.m.mass_kg * 0.9**2 * ctl.walk_settings.tilt_damping * 0.5
    assert moment == pytest.approx([0.0, -expected, 0.0])

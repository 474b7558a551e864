"""The pip-side arm planner (forma_planning): it plans around a box the straight joint motion
hits, every sample of the result checked densely against the exact geometry; its trajectory stays
within the velocity and acceleration limits; bad requests are refused with the reason; a goal that
no path reaches fails with the reason within the timeout."""

from __future__ import annotations

import time

import numpy as np
import pinocchio as pin
import pytest

from forma_moveit_config import semantic
from forma_planning import Box, NoPlanError, PlanRequestError, Scene, SupportPlane
from forma_planning.timing import smooth

GROUP = "right_arm"
DENSE_STEP_RAD = 0.002  # the tests check paths 10x finer than the planner does
# a box where the palm passes halfway along the straight joint motion from `stand` to `ready`
BLOCKING_BOX = Box("blocking_box", (0.30, -0.24, 0.02), (0.10, 0.10, 0.10))


@pytest.fixture(scope="module")
def ready(planner) -> dict[str, float]:
    """The right arm of the SRDF's `ready` state: the forearm forward."""
    return {j: semantic.READY_ARM.get(j.removeprefix("right_"), 0.0) for j in planner.group_joints(GROUP)}


def motion_free(checker, a: np.ndarray, b: np.ndarray) -> bool:
    steps = int(np.ceil(np.max(np.abs(b - a)) / DENSE_STEP_RAD)) + 1
    return all(checker.is_free(a + s * (b - a)) for s in np.linspace(0.0, 1.0, steps))


def test_plans_around_a_box_that_the_straight_motion_hits(planner, stand, ready):
    scene = Scene(boxes=(BLOCKING_BOX,))
    exact = planner.checker(GROUP, stand, scene)  # no padding: the real geometry
    q_start = np.array([stand[j] for j in planner.group_joints(GROUP)])
    q_goal = np.array([ready[j] for j in planner.group_joints(GROUP)])
    assert exact.is_free(q_start) and exact.is_free(q_goal)
    assert not motion_free(exact, q_start, q_goal), (
        "the straight joint motion must hit the box for this test to mean anything"
    )

    plan = planner.plan(GROUP, stand, ready, scene)

    np.testing.assert_allclose(plan.waypoints_rad[0], q_start)
    np.testing.assert_allclose(plan.waypoints_rad[-1], q_goal, atol=1e-9)
    assert len(plan.waypoints_rad) >= 3  # it went around
    for a, b in zip(plan.waypoints_rad[:-1], plan.waypoints_rad[1:], strict=True):
        assert motion_free(exact, a, b)
    trajectory = plan.trajectory
    assert plan.smoothed  # a spline, off the straight segments: checked along its own samples
    for a, b in zip(trajectory.positions_rad[:-1], trajectory.positions_rad[1:], strict=True):
        assert motion_free(exact, a, b)
    np.testing.assert_allclose(trajectory.positions_rad[-1], q_goal, atol=1e-9)


def test_trajectory_within_velocity_and_acceleration_limits(planner, stand, ready):
    plan = planner.plan(GROUP, stand, ready, Scene(boxes=(BLOCKING_BOX,)))
    limits = planner.limits(list(plan.joint_names))
    t = plan.trajectory.time_s
    q, qd, qdd = plan.trajectory.positions_rad, plan.trajectory.velocities_rad_s, plan.trajectory.accelerations_rad_s2
    assert np.all(np.diff(t) > 0.0)
    assert np.all(np.abs(qd) <= limits.velocity_rad_s * (1 + 1e-9))
    assert np.all(np.abs(qdd) <= limits.acceleration_rad_s2 * (1 + 1e-9))
    # and the samples agree with those velocities: finite differences stay within the limits
    fd_velocity = np.diff(q, axis=0) / np.diff(t)[:, None]
    assert np.all(np.abs(fd_velocity) <= limits.velocity_rad_s * 1.001)
    fd_acceleration = np.diff(qd, axis=0) / np.diff(t)[:, None]
    assert np.all(np.abs(fd_acceleration) <= limits.acceleration_rad_s2 * 1.001)
    assert np.all(qd[0] == 0.0) and np.all(qd[-1] == 0.0)
    # smooth: the acceleration is continuous (a cubic spline), no rest at the waypoints in between
    assert plan.smoothed and len(plan.waypoints_rad) >= 3
    assert np.max(np.abs(np.diff(qdd, axis=0)) / limits.acceleration_rad_s2) < 0.1
    speed = np.max(np.abs(qd) / limits.velocity_rad_s, axis=1)
    assert np.all(speed[1:-1] > 0.0)
    # the scaled limits are forma_moveit_config's, times its default scaling
    right_elbow = plan.joint_names.index("right_elbow")
    expected = planner.joint_limits["right_elbow"]["max_velocity"] * planner.velocity_scaling
    assert limits.velocity_rad_s[right_elbow] == pytest.approx(expected)
    # a joint that hits its limit somewhere: the profile is not needlessly slow
    assert np.max(np.abs(qd) / limits.velocity_rad_s) > 0.5 or np.max(np.abs(qdd) / limits.acceleration_rad_s2) > 0.99


def test_disabled_pairs_are_not_checked_and_enabled_ones_are(planner, stand):
    """The SRDF's matrix is what the checker leaves out: adjacent links touch at `stand` (and are
    disabled), while an enabled pair (the forearm against the torso) is checked."""
    checker = planner.checker(GROUP, stand)
    q = np.array([stand[j] for j in planner.group_joints(GROUP)])
    assert checker.is_free(q)
    pairs = {(checker.names[cp.first], checker.names[cp.second]) for cp in checker.geometry.collisionPairs}
    pairs = {tuple(sorted(p)) for p in pairs}
    assert not pairs & planner.disabled
    assert ("right_upper_arm", "torso") in pairs or ("torso", "right_upper_arm") in pairs


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s, g: ("right_tentacle", s, g), "unknown planning group 'right_tentacle'; groups: left_arm"),
        (
            lambda s, g: (GROUP, s, {**g, "right_elbow": float("nan")}),
            "goal of right_arm is not finite: right_elbow = nan",
        ),
        (lambda s, g: (GROUP, {**s, "left_knee": float("inf")}, g), "start position of left_knee is inf"),
        (lambda s, g: (GROUP, s, {**g, "right_elbow": 9.0}), "right_elbow = 9.000 rad outside [-0.050, 2.500]"),
        (lambda s, g: (GROUP, s, {k: v for k, v in g.items() if k != "right_wrist_yaw"}), "missing: right_wrist_yaw"),
        (lambda s, g: (GROUP, s, {**g, "left_elbow": 0.3}), "not in the group: left_elbow"),
    ],
)
def test_bad_requests_are_refused_with_the_reason(planner, stand, ready, change, reason):
    with pytest.raises(PlanRequestError) as refused:
        planner.plan(*change(stand, ready))
    assert reason in str(refused.value)


def _box_at_palm(planner, positions: dict[str, float], name: str) -> Box:
    checker = planner.checker(GROUP, positions)
    q = np.array([positions[j] for j in planner.group_joints(GROUP)])
    pin.framesForwardKinematics(checker.model, checker.data, checker.model_q(q))
    palm = checker.data.oMf[checker.model.getFrameId("right_hand")].translation
    return Box(name, tuple(palm), (0.06, 0.06, 0.06))


def test_goal_and_start_in_collision_are_refused_naming_the_pair(planner, stand, ready):
    goal_box = _box_at_palm(planner, {**stand, **ready}, "cup")
    with pytest.raises(PlanRequestError, match=r"goal state of right_arm is in collision .*cup-right_palm"):
        planner.plan(GROUP, stand, ready, Scene(boxes=(goal_box,)))
    start_box = _box_at_palm(planner, stand, "bowl")
    with pytest.raises(PlanRequestError, match=r"start state of right_arm is in collision .*bowl-right_palm"):
        planner.plan(GROUP, stand, ready, Scene(boxes=(start_box,)))
    # a table top at the height of the `ready` palm (0.23 m above the pelvis), bounded and unbounded
    table = SupportPlane("table", (0.0, 0.0, 1.0), 0.25, (0.45, 0.0), (0.5, 1.0))
    with pytest.raises(PlanRequestError, match=r"goal state .*right_palm-table"):
        planner.plan(GROUP, stand, ready, Scene(planes=(table,)))
    floor_high = SupportPlane("counter", (0.0, 0.0, 1.0), 0.25)
    with pytest.raises(PlanRequestError, match=r"start state .*counter"):  # the hanging arm is below it
        planner.plan(GROUP, stand, ready, Scene(planes=(floor_high,)))


def test_bad_scene_is_refused_with_the_obstacles_name():
    with pytest.raises(PlanRequestError, match="obstacle 'cup': size"):
        Box("cup", (0.3, 0.0, 0.0), (0.05, -0.05, 0.1))
    with pytest.raises(PlanRequestError, match="obstacle 'cup': center"):
        Box("cup", (0.3, float("nan"), 0.0), (0.05, 0.05, 0.1))
    with pytest.raises(PlanRequestError, match="normal .* must be a unit vector pointing up"):
        SupportPlane("table", (0.0, 0.0, -1.0), 0.0)


def _tube_around_forearm(planner, start: dict[str, float]) -> tuple[Box, ...]:
    """A closed-ended square tube around the hanging forearm and hand, starting 6 cm below the
    elbow: the arm can only leave it by pulling the forearm out along its axis, which would need
    the elbow to rise ~40 cm towards the shoulder it hangs from."""
    checker = planner.checker(GROUP, start)
    q = np.array([start[j] for j in planner.group_joints(GROUP)])
    pin.framesForwardKinematics(checker.model, checker.data, checker.model_q(q))
    elbow = checker.data.oMi[checker.model.getJointId("right_elbow")].translation
    palm = checker.data.oMf[checker.model.getFrameId("right_hand")].translation
    z = (palm - elbow) / np.linalg.norm(palm - elbow)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    rotation = np.column_stack([x, np.cross(z, x), z])
    quat = tuple(pin.Quaternion(rotation).coeffs())  # x, y, z, w
    half, wall, top, bottom = 0.07, 0.01, 0.06, 0.47  # [m] inner half-width, wall, along the axis from the elbow
    length, middle = bottom - top, (top + bottom) / 2
    boxes = []
    for k, (axis, size) in enumerate(
        [(x, (wall, 2 * half + 2 * wall, length)), (-x, (wall, 2 * half + 2 * wall, length)),
         (rotation[:, 1], (2 * half, wall, length)), (-rotation[:, 1], (2 * half, wall, length))]
    ):  # fmt: skip
        boxes.append(Box(f"tube_wall_{k}", tuple(elbow + middle * z + (half + wall / 2) * axis), size, quat))
    cap_size = (2 * half + 2 * wall, 2 * half + 2 * wall, wall)
    boxes.append(Box("tube_cap", tuple(elbow + (bottom + wall / 2) * z), cap_size, quat))
    return tuple(boxes)


def test_unreachable_goal_fails_with_the_reason_within_the_timeout(planner, stand):
    start = {**stand, "right_elbow": 0.0}  # the arm hanging straight
    goal = {j: start[j] for j in planner.group_joints(GROUP)} | {"right_elbow": 1.5}  # forearm forward, out of the tube
    scene = Scene(boxes=_tube_around_forearm(planner, start))
    timeout_s = 1.0
    t0 = time.perf_counter()
    with pytest.raises(NoPlanError, match=r"no collision-free path for right_arm found in .* \(timeout 1 s") as failed:
        planner.plan(GROUP, start, goal, scene, timeout_s=timeout_s)
    assert failed.value.planning_time_s <= timeout_s + 0.2
    assert time.perf_counter() - t0 <= timeout_s + 1.0  # the checks before planning included
    # without the tube the same request plans
    assert planner.plan(GROUP, start, goal).trajectory.duration_s > 0.0


def _palm_pose(planner, positions: dict[str, float]) -> pin.SE3:
    checker = planner.checker(GROUP, positions)
    q = np.array([positions[j] for j in planner.group_joints(GROUP)])
    pin.framesForwardKinematics(checker.model, checker.data, checker.model_q(q))
    return checker.data.oMf[checker.model.getFrameId("right_hand")].copy()


def test_pose_goal_is_reached_around_the_box(planner, stand, ready):
    target = _palm_pose(planner, {**stand, **ready})
    quat = tuple(pin.Quaternion(target.rotation).coeffs())
    scene = Scene(boxes=(BLOCKING_BOX,))
    plan = planner.plan_to_pose(GROUP, stand, tuple(target.translation), quat, scene)
    reached = _palm_pose(
        planner, {**stand, **dict(zip(plan.joint_names, plan.trajectory.positions_rad[-1], strict=True))}
    )
    assert np.linalg.norm(reached.translation - target.translation) <= 0.005
    assert np.linalg.norm(pin.log3(reached.rotation.T @ target.rotation)) <= 0.05
    exact = planner.checker(GROUP, stand, scene)
    for a, b in zip(plan.waypoints_rad[:-1], plan.waypoints_rad[1:], strict=True):
        assert motion_free(exact, a, b)


def test_bad_pose_goals_are_refused_with_the_reason(planner, stand):
    with pytest.raises(PlanRequestError, match=r"pose goal of right_arm is not finite"):
        planner.plan_to_pose(GROUP, stand, (0.3, float("nan"), 0.1), (0.0, 0.0, 0.0, 1.0))
    with pytest.raises(PlanRequestError, match=r"is not a unit quaternion"):
        planner.plan_to_pose(GROUP, stand, (0.3, -0.2, 0.1), (0.0, 0.0, 0.0, 2.0))
    with pytest.raises(
        PlanRequestError, match=r"group 'right_hand' has no tip link for a pose goal; chain groups: left_arm"
    ):
        planner.plan_to_pose("right_hand", stand, (0.3, -0.2, 0.1), (0.0, 0.0, 0.0, 1.0))


def test_pose_out_of_reach_fails_with_the_distance_within_the_timeout(planner, stand):
    with pytest.raises(NoPlanError, match=r"places right_hand at \[1.5, -0.2, 0.2\] m .* the closest came") as failed:
        planner.plan_to_pose(GROUP, stand, (1.5, -0.2, 0.2), (0.0, 0.0, 0.0, 1.0), timeout_s=0.5)
    # IK stops at half the time left, after its current attempt and at least IK_MIN_ATTEMPTS (3, 10-60 ms each)
    assert failed.value.planning_time_s <= 0.5 + 0.3
    assert failed.value.out_of_reach and not failed.value.goal_blocked  # no configuration reached it, free or not


def test_spline_that_hits_something_falls_back_to_the_checked_straight_segments():
    waypoints = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    v_max, a_max = np.array([1.0, 2.0]), np.array([2.0, 4.0])
    lower, upper = np.array([-3.0, -3.0]), np.array([3.0, 3.0])

    def on_the_polyline(q: np.ndarray) -> bool:  # only the straight segments are free
        return bool(abs(q[1]) < 1e-9 or abs(q[0] - 1.0) < 1e-9)

    trajectory, smoothed = smooth(waypoints, ("a", "b"), v_max, a_max, on_the_polyline, lower, upper, 0.02)
    assert not smoothed
    assert all(on_the_polyline(q) for q in trajectory.positions_rad)
    corner = np.flatnonzero(np.all(np.isclose(trajectory.positions_rad, [1.0, 0.0]), axis=1))
    assert np.all(trajectory.velocities_rad_s[corner] == 0.0)  # at rest at the corner
    trajectory, smoothed = smooth(waypoints, ("a", "b"), v_max, a_max, lambda q: True, lower, upper, 0.02)
    assert smoothed and not all(on_the_polyline(q) for q in trajectory.positions_rad)  # it cut the corner
    # out of time (the planning timeout has passed): the trapezoids, which need no further check
    _, smoothed = smooth(waypoints, ("a", "b"), v_max, a_max, lambda q: True, lower, upper, 0.02, deadline_s=0.0)
    assert not smoothed
    assert np.all(np.abs(trajectory.velocities_rad_s) <= v_max * (1 + 1e-9))
    assert np.all(np.abs(trajectory.accelerations_rad_s2) <= a_max * (1 + 1e-9))


@pytest.mark.parametrize("group", ["right_arm", "arms"])
def test_pairs_left_out_as_beyond_reach_never_touch(planner, stand, group):
    """The reach bound that leaves fixed geometry out is conservative: none of the pairs it left
    out comes closer than 0 in 300 configurations drawn within the group's limits (the pairs it
    kept do, so the check can fail)."""
    checker = planner.checker(group, stand)
    objects = checker.geometry.geometryObjects
    kept = {(cp.first, cp.second) for cp in checker.geometry.collisionPairs}
    left_out = pin.GeometryModel()
    for obj in objects:
        left_out.addGeometryObject(obj)
    for i in range(len(objects)):
        for j in range(i + 1, len(objects)):
            fixed_and_moving = (objects[i].parentJoint == 0) != (objects[j].parentJoint == 0)
            names = tuple(sorted((checker.names[i], checker.names[j])))
            if fixed_and_moving and (i, j) not in kept and names not in planner.disabled:
                left_out.addCollisionPair(pin.CollisionPair(i, j))
    assert len(left_out.collisionPairs) > 0
    data, left_out_data = checker.model.createData(), pin.GeometryData(left_out)
    limits = planner.limits(planner.group_joints(group))
    rng = np.random.default_rng(11)
    kept_touched = 0
    for _ in range(300):
        q = checker.model_q(rng.uniform(limits.lower_rad, limits.upper_rad))
        assert not pin.computeCollisions(checker.model, data, left_out, left_out_data, q, True)
        kept_touched += not checker.is_free(rng.uniform(limits.lower_rad, limits.upper_rad))
    assert kept_touched > 0

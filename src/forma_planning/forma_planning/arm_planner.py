"""Collision-free joint-space planning for one planning group of the SRDF, with OMPL.

    planner = ArmPlanner()                                   # the description, SRDF and limits
    plan = planner.plan("right_arm", start_rad, goal_rad, scene, timeout_s=2.0)
    plan.trajectory.time_s, plan.trajectory.positions_rad    # (t, q) samples within the limits
    plan = planner.plan_to_pose("right_arm", start_rad, position_in_base_m, orientation_in_base_xyzw, scene)

The start is the whole robot's configuration (every joint of the description, [rad]); the joints
outside the group stay where they are. The goal gives every joint of the group. A request that
cannot be planned as asked (unknown group or joint, a non-finite value, a joint outside its limits,
start or goal in collision) is refused with PlanRequestError; a goal no collision-free path reaches
within the timeout raises NoPlanError. Both messages say why. A pose goal (the tip link of a chain
group, e.g. the palm frame `right_hand`, in base_link) is first turned into a collision-free joint
goal by inverse kinematics (forma_planning.ik), within the same timeout.

Steps: RRTConnect (OMPL) in the group's joint box, every motion checked at `CHECK_STEP_RAD` with the
obstacles padded by `OBSTACLE_PADDING_M`; the path shortened (OMPL's vertex reduction and
shortcutting, no B-spline: the result stays a few straight segments); a cubic spline through
the waypoints, checked again, time-stretched within forma_moveit_config's velocity and acceleration
limits (scaled by its default scaling factors like a MoveIt request), or rest-to-rest trapezoids
along the straight segments where the spline cannot be made collision-free (forma_planning.timing).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Mapping

import numpy as np
import ompl.base as ob
import ompl.geometric as og
import ompl.util as ou
import pinocchio as pin

from forma_description.robot_model import RobotModel
from forma_description.xacro_expand import expand_description
from forma_moveit_config import params, semantic
from forma_moveit_config.errors import MoveItConfigError
from forma_moveit_config.paths import srdf_path
from forma_planning import ik
from forma_planning.collision import GroupCollisionChecker, LinkPair
from forma_planning.errors import NoPlanError, PlanRequestError
from forma_planning.scene import Scene
from forma_planning.timing import Trajectory, smooth

CHECK_STEP_RAD = 0.02  # [rad] joint-space distance between checked states along a motion
OBSTACLE_PADDING_M = 0.01  # [m] obstacles count this much larger while planning (covers the steps)
SIMPLIFY_TIME_S = 0.2  # [s] at most this much shortcutting after a path is found
DEFAULT_TIMEOUT_S = 2.0  # [s] search time before NoPlanError
SAMPLE_PERIOD_S = 0.01  # [s] between trajectory samples
POSITION_TOLERANCE_M = 0.005  # [m] of a pose goal
ORIENTATION_TOLERANCE_RAD = 0.05  # [rad] of a pose goal
IK_TIME_SHARE = 0.5  # of the time left when inverse kinematics starts that it may use before planning starts
# attempts inverse kinematics makes even past its time share (each from another seed): on a loaded
# machine the collision model alone once took the share, and the one attempt left found a solution
# touching an obstacle (the sim pick); an attempt that does not converge costs 10-60 ms here
IK_MIN_ATTEMPTS = 3


@dataclasses.dataclass(frozen=True)
class Plan:
    group: str
    joint_names: tuple[str, ...]
    waypoints_rad: np.ndarray  # the shortened collision-free path (rows: waypoints)
    trajectory: Trajectory
    smoothed: bool  # a spline through the waypoints; False: rest-to-rest trapezoids (one segment, spline hit, time up)
    planning_time_s: float  # [s] search + shortcutting (wall time)
    states_checked: int


@dataclasses.dataclass(frozen=True)
class JointLimits:
    lower_rad: np.ndarray
    upper_rad: np.ndarray
    velocity_rad_s: np.ndarray  # already scaled
    acceleration_rad_s2: np.ndarray  # already scaled


class ArmPlanner:
    """Plans for any group of forma_moveit_config's SRDF; built once (a second or two), reused."""

    def __init__(
        self,
        urdf_xml: str | None = None,
        srdf_xml: str | None = None,
        velocity_scaling: float | None = None,
        acceleration_scaling: float | None = None,
    ) -> None:
        self.urdf_xml = urdf_xml or expand_description()
        self.robot = RobotModel.from_urdf(self.urdf_xml)
        srdf = semantic.parse_srdf(srdf_xml if srdf_xml is not None else srdf_path().read_text())
        self.disabled: set[LinkPair] = set(srdf.disabled)
        self.groups: tuple[str, ...] = tuple(srdf.groups)
        limits = params.load("joint_limits.yaml")
        self.velocity_scaling = _scaling("velocity", velocity_scaling, limits["default_velocity_scaling_factor"])
        self.acceleration_scaling = _scaling(
            "acceleration", acceleration_scaling, limits["default_acceleration_scaling_factor"]
        )
        self.joint_limits: dict[str, dict] = limits["joint_limits"]
        self.model = pin.buildModelFromXML(self.urdf_xml)
        self.geometry = pin.buildGeomFromUrdfString(self.model, self.urdf_xml, pin.COLLISION)
        self._fk_lock = threading.Lock()
        self._fk_data: tuple[pin.Data, pin.GeometryData] | None = None
        ou.setLogLevel(ou.LOG_WARN)  # OMPL's per-plan INFO lines would flood a node's log

    def group_joints(self, group: str) -> list[str]:
        if group not in self.groups:
            raise PlanRequestError(f"unknown planning group {group!r}; groups: {', '.join(self.groups)}")
        try:
            return params.group_joints(self.robot, group)
        except MoveItConfigError as exc:
            raise PlanRequestError(str(exc)) from exc

    def limits(self, joints: list[str]) -> JointLimits:
        lower = np.array([self.robot.joint(j).lower for j in joints])
        upper = np.array([self.robot.joint(j).upper for j in joints])
        vel = np.array([self.joint_limits[j]["max_velocity"] for j in joints]) * self.velocity_scaling
        acc = np.array([self.joint_limits[j]["max_acceleration"] for j in joints]) * self.acceleration_scaling
        return JointLimits(lower, upper, vel, acc)

    def checker(
        self, group: str, start_rad: Mapping[str, float], scene: Scene = Scene(), padding_m: float = 0.0
    ) -> GroupCollisionChecker:
        """The collision checker the planner uses, for the group with the rest of the robot at
        `start_rad`; padding 0 is the exact geometry (what tests check a trajectory against)."""
        joints = self.group_joints(group)
        return GroupCollisionChecker(
            self.model, self.geometry, joints, self._full_configuration(start_rad), self.disabled, scene, padding_m
        )

    def configuration(self, start_rad: Mapping[str, float]) -> np.ndarray:
        """The model's configuration from every joint [rad] (PlanRequestError: unknown, missing, not finite)."""
        return self._full_configuration(start_rad)

    def geometry_placements(self, start_rad: Mapping[str, float]) -> list[pin.SE3]:
        """Every collision geometry's placement in base_link with every joint at start_rad (in
        `self.geometry`'s order). The model's data is made once and reused (creating it for the
        82-joint model took 50-100 ms of a loaded machine), under a lock."""
        q = self._full_configuration(start_rad)
        with self._fk_lock:
            if self._fk_data is None:
                self._fk_data = (self.model.createData(), pin.GeometryData(self.geometry))
            data, geometry_data = self._fk_data
            pin.framesForwardKinematics(self.model, data, q)
            pin.updateGeometryPlacements(self.model, data, self.geometry, geometry_data)
            return [pin.SE3(m) for m in geometry_data.oMg]

    def plan(
        self,
        group: str,
        start_rad: Mapping[str, float],
        goal_rad: Mapping[str, float],
        scene: Scene = Scene(),
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Plan:
        """A collision-free, time-parameterized trajectory of `group` from the start to the goal."""
        t_begin = time.perf_counter()
        joints = self.group_joints(group)
        if not (math.isfinite(timeout_s) and timeout_s > 0.0):
            raise PlanRequestError(f"planning timeout {timeout_s} s must be a positive number")
        if not isinstance(scene, Scene):
            raise PlanRequestError(f"scene must be a forma_planning.Scene, got {type(scene).__name__}")
        limits = self.limits(joints)
        q_full = self._full_configuration(start_rad)
        q_start = np.array([q_full[self._index(j)] for j in joints])
        q_goal = self._group_configuration(group, joints, goal_rad)
        self._check_within_limits("start", joints, q_start, limits)
        self._check_within_limits("goal", joints, q_goal, limits)
        checker = GroupCollisionChecker(
            self.model, self.geometry, joints, q_full, self.disabled, scene, OBSTACLE_PADDING_M
        )
        for what, q in (("start", q_start), ("goal", q_goal)):
            if not checker.is_free(q):
                pairs = ", ".join(f"{a}-{b}" for a, b in checker.colliding(q))
                raise PlanRequestError(
                    f"{what} state of {group} is in collision (or within {OBSTACLE_PADDING_M * 100:.0f} cm of an "
                    f"obstacle): {pairs}; move it clear, or leave out the obstacle it holds or touches"
                )

        space = ob.RealVectorStateSpace(len(joints))
        bounds = ob.RealVectorBounds(len(joints))
        for i, j in enumerate(joints):
            bounds.setLow(i, float(limits.lower_rad[i]))
            bounds.setHigh(i, float(limits.upper_rad[i]))
            space.setDimensionName(i, j)
        space.setBounds(bounds)
        setup = og.SimpleSetup(space)
        n = len(joints)
        setup.setStateValidityChecker(
            lambda state: checker.is_free(np.fromiter((state[i] for i in range(n)), float, n))
        )
        si = setup.getSpaceInformation()
        si.setStateValidityCheckingResolution(CHECK_STEP_RAD / space.getMaximumExtent())
        setup.setPlanner(og.RRTConnect(si))
        start, goal = space.allocState(), space.allocState()
        for i in range(n):
            start[i], goal[i] = float(q_start[i]), float(q_goal[i])
        setup.setStartAndGoalStates(start, goal)
        status = setup.solve(max(timeout_s - (time.perf_counter() - t_begin), 1e-3))  # the checks so far count
        elapsed = time.perf_counter() - t_begin
        if not setup.haveExactSolutionPath():
            raise NoPlanError(
                f"no collision-free path for {group} found in {elapsed:.2f} s (timeout {timeout_s:g} s, OMPL: "
                f"{status.asString()}): the goal may be enclosed by obstacles or reachable only through a gap "
                f"narrower than the arm; choose another goal, clear the scene, or allow more time",
                elapsed,
            )
        path = setup.getSolutionPath()
        simplifier = og.PathSimplifier(si)
        budget_s = min(SIMPLIFY_TIME_S, max(0.0, timeout_s - (time.perf_counter() - t_begin)))
        deadline = time.perf_counter() + budget_s
        simplifier.reduceVertices(path)
        while time.perf_counter() < deadline:
            changed = simplifier.partialShortcutPath(path)
            changed = simplifier.reduceVertices(path) or changed
            changed = simplifier.collapseCloseVertices(path) or changed
            if not changed:
                break
        waypoints = np.array([[s[i] for i in range(n)] for s in path.getStates()])
        trajectory, smoothed = smooth(
            waypoints, tuple(joints), limits.velocity_rad_s, limits.acceleration_rad_s2, checker.is_free,
            limits.lower_rad, limits.upper_rad, CHECK_STEP_RAD, SAMPLE_PERIOD_S, t_begin + timeout_s,
        )  # fmt: skip
        return Plan(
            group, tuple(joints), waypoints, trajectory, smoothed, time.perf_counter() - t_begin, checker.checks
        )

    def tip_link(self, group: str) -> str:
        """The link a pose goal of `group` places: the tip of its chain (`right_hand`: the palm)."""
        self.group_joints(group)
        chains = {g.name: g.chain for g in semantic.groups(self.robot)}
        if not chains.get(group):
            with_tip = ", ".join(name for name, chain in chains.items() if chain)
            raise PlanRequestError(f"group {group!r} has no tip link for a pose goal; chain groups: {with_tip}")
        return chains[group][1]

    def plan_to_pose(
        self,
        group: str,
        start_rad: Mapping[str, float],
        position_in_base_m: tuple[float, float, float],
        orientation_in_base_xyzw: tuple[float, float, float, float],
        scene: Scene = Scene(),
        timeout_s: float = DEFAULT_TIMEOUT_S,
        seed: int = 0,
    ) -> Plan:
        """Like `plan`, to a pose of the group's tip link in base_link (within POSITION_TOLERANCE_M
        and ORIENTATION_TOLERANCE_RAD); `seed` draws the inverse kinematics' restarts."""
        t_begin = time.perf_counter()
        tip = self.tip_link(group)
        position = np.asarray(position_in_base_m, dtype=float)
        quat = np.asarray(orientation_in_base_xyzw, dtype=float)
        if (
            position.shape != (3,)
            or quat.shape != (4,)
            or not (np.all(np.isfinite(position)) and np.all(np.isfinite(quat)))
        ):
            raise PlanRequestError(
                f"pose goal of {group} is not finite or malformed: position {position.tolist()} m, "
                f"orientation {quat.tolist()} (x, y, z, w)"
            )
        if abs(np.linalg.norm(quat) - 1.0) > 1e-3:
            raise PlanRequestError(
                f"pose goal of {group}: orientation {quat.tolist()} is not a unit quaternion (x, y, z, w)"
            )
        if not (math.isfinite(timeout_s) and timeout_s > 0.0):
            raise PlanRequestError(f"planning timeout {timeout_s} s must be a positive number")
        joints = self.group_joints(group)
        limits = self.limits(joints)
        q_full = self._full_configuration(start_rad)
        q_start = np.array([q_full[self._index(j)] for j in joints])
        checker = GroupCollisionChecker(
            self.model, self.geometry, joints, q_full, self.disabled, scene, OBSTACLE_PADDING_M
        )
        target = pin.SE3(pin.Quaternion(quat[3], *quat[:3]).normalized().toRotationMatrix(), position)
        lower, upper = limits.lower_rad, limits.upper_rad
        ik_start = time.perf_counter()
        found = ik.solve(
            checker, tip, target, lower, upper, np.clip(q_start, lower, upper), np.random.default_rng(seed),
            ik_start + IK_TIME_SHARE * max(timeout_s - (ik_start - t_begin), 0.0), POSITION_TOLERANCE_M,
            ORIENTATION_TOLERANCE_RAD, IK_MIN_ATTEMPTS,
        )  # fmt: skip
        if found.q_rad is None:
            elapsed = time.perf_counter() - t_begin
            tolerance = f"{POSITION_TOLERANCE_M * 100:.1f} cm, {ORIENTATION_TOLERANCE_RAD:.2f} rad"
            closest = f"{found.position_error_m * 100:.1f} cm and {found.orientation_error_rad:.2f} rad"
            touching = ""
            if found.colliding_q_rad is not None:
                pairs = checker.colliding(found.colliding_q_rad)
                touching = f" (the last touching {', '.join(f'{a}-{b}' for a, b in pairs)})"
            why = (
                f"{found.reached_but_colliding} solution(s) reached it in collision{touching}"
                if found.reached_but_colliding
                else f"the closest came {closest} away (tolerance {tolerance})"
            )
            raise NoPlanError(
                f"no collision-free {group} configuration places {tip} at {np.round(position, 3).tolist()} m in "
                f"{elapsed:.2f} s ({found.attempts} IK attempts): {why}; the pose may be out of reach or blocked",
                elapsed,
                out_of_reach=found.reached_but_colliding == 0,
                goal_blocked=found.reached_but_colliding > 0,
            )
        goal = dict(zip(joints, map(float, found.q_rad), strict=True))
        remaining_s = max(timeout_s - (time.perf_counter() - t_begin), 1e-3)
        plan = self.plan(group, start_rad, goal, scene, remaining_s)
        return dataclasses.replace(plan, planning_time_s=time.perf_counter() - t_begin)

    # --- request checks -----------------------------------------------------------------------

    def _index(self, joint: str) -> int:
        return self.model.joints[self.model.getJointId(joint)].idx_q

    def _full_configuration(self, positions_rad: Mapping[str, float]) -> np.ndarray:
        if not isinstance(positions_rad, Mapping):
            raise PlanRequestError(
                f"the start must map joint names to positions [rad], got {type(positions_rad).__name__}"
            )
        names = set(self.robot.joint_names)
        unknown = sorted(set(positions_rad) - names)
        if unknown:
            raise PlanRequestError(f"unknown joint(s) in the start: {', '.join(unknown[:5])}")
        missing = [j for j in self.robot.joint_names if j not in positions_rad]
        if missing:
            raise PlanRequestError(
                f"the start must give every joint of the robot (the others stay where they are); missing "
                f"{len(missing)}: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
            )
        q = np.zeros(self.model.nq)
        for name, value in positions_rad.items():
            if not math.isfinite(float(value)):
                raise PlanRequestError(f"start position of {name} is {value}; every position must be finite")
            q[self._index(name)] = float(value)
        return q

    def _group_configuration(self, group: str, joints: list[str], goal_rad: Mapping[str, float]) -> np.ndarray:
        if not isinstance(goal_rad, Mapping):
            raise PlanRequestError(f"the goal must map joint names to positions [rad], got {type(goal_rad).__name__}")
        extra = sorted(set(goal_rad) - set(joints))
        missing = [j for j in joints if j not in goal_rad]
        if extra or missing:
            raise PlanRequestError(
                f"the goal must give exactly the joints of {group} ({', '.join(joints)}); "
                f"missing: {', '.join(missing) or 'none'}; not in the group: {', '.join(extra) or 'none'}"
            )
        q = np.array([float(goal_rad[j]) for j in joints])
        bad = [f"{j} = {v}" for j, v in zip(joints, q, strict=True) if not math.isfinite(v)]
        if bad:
            raise PlanRequestError(f"goal of {group} is not finite: {', '.join(bad)}")
        return q

    @staticmethod
    def _check_within_limits(what: str, joints: list[str], q: np.ndarray, limits: JointLimits) -> None:
        bad = [
            f"{j} = {v:.3f} rad outside [{lo:.3f}, {hi:.3f}]"
            for j, v, lo, hi in zip(joints, q, limits.lower_rad, limits.upper_rad, strict=True)
            if not lo <= v <= hi
        ]
        if bad:
            raise PlanRequestError(f"{what} state outside the joint limits: {'; '.join(bad)}")


def _scaling(what: str, value: float | None, default: float) -> float:
    scaling = float(default if value is None else value)
    if not (math.isfinite(scaling) and 0.0 < scaling <= 1.0):
        raise PlanRequestError(f"{what} scaling {value} must be in (0, 1]")
    return scaling

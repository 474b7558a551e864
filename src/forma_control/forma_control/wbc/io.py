"""What the wbc node does between ROS messages and the whole-body controller core, in plain
Python (no rclpy): sensors from the hardware topics with their freshness checked, task targets
from PoseStamped / PointStamped, Reach and FollowArmTrajectory goals checked, and the control
authority per target group.

Messages are read duck-typed (attribute access only), so the unit tests feed the real message
classes without starting ROS, and the node stays a thin wiring layer (STYLE §1).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pinocchio as pin

from forma_common.messages import stamp_s
from forma_common.state_cdr import RobotStateSample
from forma_control.errors import ControlError, TargetRejected
from forma_control.wbc.arm_trajectory import ArmTrajectory, FollowOutcome, FollowTolerances
from forma_control.wbc.estimator import Sensors
from forma_control.wbc.targets import StampedTarget

GROUPS = ("left_hand", "right_hand", "gaze", "torso", "legs")
# "" = holding; teleop = the wbc/targets/* topics; reach = a running goal; cmd_vel = walking on cmd_vel;
# walk_to = a running wbc/walk_to goal; trajectory = a running wbc/follow_arm_trajectory goal
OWNERS = ("", "teleop", "reach", "cmd_vel", "walk_to", "trajectory")
HAND_GROUP = {"left": "left_hand", "right": "right_hand"}
SIDES = ("left", "right")


class SensorsNotReady(ControlError):
    """A sensor stream is missing, stale or malformed: the controller must not tick on it."""


def joint_indices(message_names: Sequence[str], wanted: Sequence[str], source: str = "joint_states") -> np.ndarray:
    """Where each wanted joint sits in a joint state message; names every missing joint."""
    index = {name: i for i, name in enumerate(message_names)}
    missing = [n for n in wanted if n not in index]
    if missing:
        raise SensorsNotReady(
            f"{source} lacks {len(missing)} body joints ({', '.join(missing[:4])}"
            f"{', ...' if len(missing) > 4 else ''}); is the robot prefix the same on both sides?"
        )
    return np.array([index[n] for n in wanted])


def _sensors(
    source: str, joints, index: np.ndarray, stamp: float, quat: np.ndarray, gyro: np.ndarray, forces
) -> Sensors:
    """Sensors from one period's readings; `joints` carries name, position, velocity, effort
    (JointState, RobotState or a RobotStateSample); quat: w, x, y, z. Refuses mismatched arrays,
    non-finite values and a quaternion that is not a unit one, naming `source`."""
    n = len(joints.name)
    if len(joints.position) != n or len(joints.velocity) != n:
        raise SensorsNotReady(
            f"{source} has {n} names, {len(joints.position)} positions and {len(joints.velocity)} velocities"
        )
    q = np.asarray(joints.position, float)[index]
    qd = np.asarray(joints.velocity, float)[index]
    efforts = np.asarray(joints.effort, float)[index] if len(joints.effort) == n else None
    for what, values in (
        ("joint positions or velocities", np.concatenate([q, qd])),
        ("IMU orientation or angular velocity (NaN: the IMU did not answer)", np.concatenate([quat, gyro])),
        ("foot forces (NaN: no force/torque reading)", list(forces.values())),
        ("joint efforts", efforts if efforts is not None else []),
    ):
        if not np.all(np.isfinite(values)):
            raise SensorsNotReady(f"{source}: non-finite {what}")
    norm = float(np.linalg.norm(quat))
    if abs(norm - 1.0) > 0.01:
        raise SensorsNotReady(f"{source} orientation has norm {norm:.3f}; not a unit quaternion")
    return Sensors(
        stamp_s=stamp,
        joint_positions=q,
        joint_velocities=qd,
        imu_orientation_wxyz=quat / norm,
        imu_angular_velocity=gyro,
        foot_force_z=forces,
        joint_efforts=efforts,
    )


def sensors_from_messages(joint_states, index: np.ndarray, imu, wrenches: dict, max_age_s: float) -> Sensors:
    """The controller's Sensors from the latest message of each stream, all stamped within
    max_age_s of joint_states (the robot clock): an IMU or foot reading from a stalled stream
    would put the estimated base somewhere the robot is not."""
    now = stamp_s(joint_states.header.stamp)
    if imu is None:
        raise SensorsNotReady("no imu/data yet")
    streams = {"imu/data": imu}
    for side in SIDES:
        if wrenches.get(side) is None:
            raise SensorsNotReady(f"no feet/{side}/wrench yet")
        streams[f"feet/{side}/wrench"] = wrenches[side]
    for topic, msg in streams.items():
        age = now - stamp_s(msg.header.stamp)
        if abs(age) > max_age_s:
            when = "older" if age > 0 else "newer"
            raise SensorsNotReady(f"{topic} is {abs(age):.3f} s {when} than joint_states (limit {max_age_s:.3f} s)")
    forces = {side: float(wrenches[side].wrench.force.z) for side in SIDES}
    o, w = imu.orientation, imu.angular_velocity
    quat, gyro = np.array([o.w, o.x, o.y, o.z]), np.array([w.x, w.y, w.z])
    return _sensors("joint_states/imu/data", joint_states, index, now, quat, gyro, forces)


def sensors_from_robot_state(state, index: np.ndarray) -> Sensors:
    """The controller's Sensors from one forma_interfaces/RobotState (hardware/robot_state): one
    period's joints, IMU and foot wrenches, so no freshness check between streams is needed."""
    forces = {"left": float(state.left_foot.force.z), "right": float(state.right_foot.force.z)}
    stamp = stamp_s(state.header.stamp)
    o, w = state.orientation, state.angular_velocity
    quat, gyro = np.array([o.w, o.x, o.y, o.z]), np.array([w.x, w.y, w.z])
    return _sensors("hardware/robot_state", state, index, stamp, quat, gyro, forces)


def sensors_from_robot_state_sample(sample: RobotStateSample, index: np.ndarray) -> Sensors:
    """The same from a RobotStateSample (hardware/robot_state read from its bytes)."""
    forces = {"left": float(sample.left_foot[2]), "right": float(sample.right_foot[2])}
    x, y, z, w = sample.orientation_xyzw
    quat = np.array([w, x, y, z])
    return _sensors("hardware/robot_state", sample, index, sample.stamp_s, quat, sample.angular_velocity, forces)


def pose_target(msg) -> StampedTarget:
    """geometry_msgs/PoseStamped -> StampedTarget (checked later by targets.check_target)."""
    p, o = msg.pose.position, msg.pose.orientation
    return StampedTarget(msg.header.frame_id, stamp_s(msg.header.stamp), (p.x, p.y, p.z), (o.x, o.y, o.z, o.w))


def point_target(msg) -> StampedTarget:
    """geometry_msgs/PointStamped -> StampedTarget without an orientation."""
    p = msg.point
    return StampedTarget(msg.header.frame_id, stamp_s(msg.header.stamp), (p.x, p.y, p.z))


def output_problem(position: np.ndarray, velocity: np.ndarray, effort: np.ndarray) -> str:
    """Why a controller output must not be sent ("" = it may): never a non-finite command."""
    for name, values in (("position", position), ("velocity", velocity), ("effort", effort)):
        if not np.all(np.isfinite(values)):
            return f"controller produced a non-finite {name} command"
    return ""


# --- task targets -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TorsoLimits:
    below_m: float = 0.15  # pelvis height target at most this far below the standing height [m]
    above_m: float = 0.02  # ... and at most this far above it [m]
    max_tilt_rad: float = 0.5  # torso z axis at most this far from vertical [rad]


def torso_goal(
    pose_in_odom: pin.SE3, standing_height_m: float, torso_above_pelvis_m: float, limits: TorsoLimits
) -> tuple[np.ndarray, float]:
    """(torso rotation in odom, pelvis height [m]) from a torso target expressed in odom.

    The target is the pose of the `torso` frame (what RViz's torso marker and the console drag):
    its orientation is the torso's, its height (z in odom, whose floor is z = 0) the torso frame's;
    the pelvis goes torso_above_pelvis_m below it. x and y are ignored: balance owns them.
    """
    height = float(pose_in_odom.translation[2]) - torso_above_pelvis_m
    lo, hi = standing_height_m - limits.below_m, standing_height_m + limits.above_m
    if not lo <= height <= hi:
        raise TargetRejected(
            f"pelvis height {height:.3f} m outside {lo:.3f}..{hi:.3f} m (standing height {standing_height_m:.3f} m; "
            f"the target is the torso frame's pose, {torso_above_pelvis_m:.3f} m above the pelvis)"
        )
    rotation = pose_in_odom.rotation
    tilt = math.acos(float(np.clip(rotation[2, 2], -1.0, 1.0)))
    if tilt > limits.max_tilt_rad:
        raise TargetRejected(
            f"torso tilt {math.degrees(tilt):.0f} deg exceeds {math.degrees(limits.max_tilt_rad):.0f} deg"
        )
    return rotation.copy(), height


MIN_GAZE_DISTANCE_M = 0.2


def gaze_goal(point_in_odom: np.ndarray, camera_in_odom: pin.SE3) -> np.ndarray:
    """The gaze point in odom, refused when it is so close to the camera that no direction is meant."""
    distance = float(np.linalg.norm(point_in_odom - camera_in_odom.translation))
    if distance < MIN_GAZE_DISTANCE_M:
        raise TargetRejected(f"gaze point {distance:.2f} m from the camera; it must be >= {MIN_GAZE_DISTANCE_M} m away")
    return np.asarray(point_in_odom, float).copy()


@dataclasses.dataclass(frozen=True)
class ReachDefaults:
    position_tolerance_m: float = 0.02
    orientation_tolerance_rad: float = math.radians(5.0)
    timeout_s: float = 4.0
    max_timeout_s: float = 60.0


@dataclasses.dataclass(frozen=True)
class ReachRequest:
    side: str
    target: StampedTarget
    position_tolerance_m: float
    orientation_tolerance_rad: float
    timeout_s: float
    max_speed_m_s: float | None = None  # None: the controller's hand_speed_limit_m_s


def _check_defaultable(goal, fields: tuple[str, ...]) -> None:
    """A goal's numbers where 0 means the default: each finite and >= 0, else refused naming it."""
    for name in fields:
        value = getattr(goal, name)
        if not math.isfinite(value) or value < 0.0:
            raise TargetRejected(f"{name} {value} must be a finite number >= 0 (0 = the default)")


def reach_request(goal, now_s: float, defaults: ReachDefaults) -> ReachRequest:
    """A Reach goal checked: hand left|right, tolerances >= 0 (0 = default), timeout >= 0
    (0 = default). A target stamped 0 means "now" (a goal is one-shot; a stamped one must be
    fresh, which targets.check_target decides later)."""
    if goal.hand not in SIDES:
        raise TargetRejected(f"unknown hand {goal.hand!r}; use left or right")
    _check_defaultable(goal, ("position_tolerance_m", "orientation_tolerance_rad", "timeout_s", "max_speed_m_s"))
    if goal.timeout_s > defaults.max_timeout_s:
        raise TargetRejected(f"timeout_s {goal.timeout_s} exceeds {defaults.max_timeout_s} s")
    target = pose_target(goal.target)
    if target.stamp_s == 0.0:
        target = dataclasses.replace(target, stamp_s=now_s)
    return ReachRequest(
        side=goal.hand,
        target=target,
        position_tolerance_m=goal.position_tolerance_m or defaults.position_tolerance_m,
        orientation_tolerance_rad=goal.orientation_tolerance_rad or defaults.orientation_tolerance_rad,
        timeout_s=goal.timeout_s or defaults.timeout_s,
        max_speed_m_s=goal.max_speed_m_s or None,
    )


@dataclasses.dataclass(frozen=True)
class ArmTrajectoryRequest:
    trajectory: ArmTrajectory
    tolerances: FollowTolerances
    hand_goal: StampedTarget | None  # None: the arm stays where the trajectory ends


def arm_trajectory_request(goal, now_s: float) -> ArmTrajectoryRequest:
    """A FollowArmTrajectory goal checked: every point with a position per joint, velocities per
    joint or none (at rest), times strictly increasing (ArmTrajectory checks the numbers);
    tolerances finite and >= 0 (0 = the default). Which arm, and whether it starts where the arm
    is, the controller decides (WholeBodyController.follow_arm_trajectory)."""
    names = tuple(goal.trajectory.joint_names)
    points = goal.trajectory.points
    if not points:
        raise TargetRejected("the trajectory has no points")
    times, positions, velocities = [], [], []
    for k, point in enumerate(points):
        if len(point.positions) != len(names):
            raise TargetRejected(f"point {k} has {len(point.positions)} positions for {len(names)} joints")
        if len(point.velocities) not in (0, len(names)):
            raise TargetRejected(f"point {k} has {len(point.velocities)} velocities for {len(names)} joints (or none)")
        times.append(stamp_s(point.time_from_start))
        positions.append(list(point.positions))
        velocities.append(list(point.velocities) if len(point.velocities) else [0.0] * len(names))
    defaults = FollowTolerances()
    _check_defaultable(goal, ("path_tolerance_rad", "goal_tolerance_rad", "goal_time_tolerance_s"))
    tolerances = FollowTolerances(
        path_rad=goal.path_tolerance_rad or defaults.path_rad,
        goal_rad=goal.goal_tolerance_rad or defaults.goal_rad,
        goal_time_s=goal.goal_time_tolerance_s or defaults.goal_time_s,
    )
    trajectory = ArmTrajectory(names, np.array(times), np.array(positions), np.array(velocities))
    hand_goal = None
    if goal.hand_goal.header.frame_id:
        hand_goal = pose_target(goal.hand_goal)
        if hand_goal.stamp_s == 0.0:  # one-shot, as a Reach goal's target
            hand_goal = dataclasses.replace(hand_goal, stamp_s=now_s)
    return ArmTrajectoryRequest(trajectory, tolerances, hand_goal)


# FollowOutcome -> the action's outcome name (FollowArmTrajectory.Result constants)
FOLLOW_RESULT = {
    FollowOutcome.SUCCEEDED: "SUCCEEDED",
    FollowOutcome.PATH_TOLERANCE_VIOLATED: "PATH_TOLERANCE_VIOLATED",
    FollowOutcome.GOAL_TOLERANCE_VIOLATED: "GOAL_TOLERANCE_VIOLATED",
    FollowOutcome.CANCELLED: "CANCELED",
    FollowOutcome.CONTROLLER_STOPPED: "CONTROLLER_STOPPED",
}


# --- control authority ----------------------------------------------------------------------------
class Authority:
    """One owner per target group (DESIGN §4): "" (holding), "teleop", "reach" or "cmd_vel" (legs)."""

    def __init__(self) -> None:
        self.owners = {g: "" for g in GROUPS}

    def take(self, group: str, owner: str) -> str:
        """Give the group to owner; returns the previous owner."""
        if group not in self.owners:
            raise ControlError(f"unknown target group {group!r}; groups: {', '.join(GROUPS)}")
        if owner not in OWNERS:
            raise ControlError(f"unknown owner {owner!r}; owners: {', '.join(repr(o) for o in OWNERS)}")
        previous, self.owners[group] = self.owners[group], owner
        return previous

    def release(self, group: str, owner: str) -> None:
        """Back to holding, if owner still has the group (a pre-empted owner releases nothing)."""
        if self.owners.get(group) == owner:
            self.owners[group] = ""

    def reset(self) -> None:
        self.owners = {g: "" for g in GROUPS}

    def as_lists(self) -> tuple[list[str], list[str]]:
        return list(self.owners), list(self.owners.values())

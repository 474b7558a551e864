"""One whole-body control tick: estimate the floating base, move the balance reference, solve
the task QP on a reference model, and turn its velocities into joint targets plus gravity and
contact feed-forward torques for the actuators' PD (DESIGN §4: targets + tau_ff, gains in config).

The reference model integrates the QP's velocities with both soles held still; tasks act on it,
and balance closes the loop on the measured robot: the centre-of-mass reference is driven from
the measured capture point.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pinocchio as pin

from forma_common.params import check, param
from forma_control.errors import ControlConfigError, TargetRejected
from forma_control.walk.gait import Gait, GaitReference, WalkSettings, landing_in_plan
from forma_control.wbc import balance
from forma_control.wbc.arm_trajectory import (
    ArmTrajectory,
    FollowOutcome,
    FollowStatus,
    FollowTolerances,
    TrajectoryFollower,
)
from forma_control.wbc.body_posture import BodyPosture
from forma_control.wbc.collision import CollisionSettings, SelfCollision, default_pairs
from forma_control.wbc.estimator import LegOdometry, Sensors
from forma_control.wbc.model import FEET, HANDS, WholeBodyModel
from forma_control.wbc.qp import TaskQP

MAX_STEP_PERIODS = 5  # longest robot-time step one tick integrates, in nominal periods
HAND_INTEGRAL_KEEP_M = 0.05  # a new hand target this close to the last keeps the palm's error integral [m]
LEG_JOINT_KINDS = ("_hip", "_knee", "_ankle", "_toe")
SWING_FOOT_WEIGHT = 1e3  # the swinging sole's path against the other tasks (the standing soles: hard constraints)
SWING_ACCEL_FILTER = 0.05  # low-pass share per tick of the swing leg's reference acceleration
HAND_INTEGRAL_ZONE_M = 0.03  # the palm's error integral runs only with the reference this close [m]
ARM_TRAJECTORY_GAIN = 20.0  # [1/s] how fast the reference arm closes on a followed trajectory's sample
# a followed trajectory's joints against the other tasks: above the hands' and the CoM's, so the arm
# keeps to the planned (collision-free) path and balance is left to the legs and the spine
ARM_TRAJECTORY_WEIGHT = 1e3


@dataclasses.dataclass
class WbcSettings:
    """Gains [1/s] set how fast each task's error decays; weights rank tasks against each other.
    Each field is also a parameter of the wbc node, same name and unit."""

    rate_hz: float = param(
        500.0,
        "controller rate: at most one tick per hardware state; set it to the hardware's control_rate_hz or a "
        "whole fraction of it (a faster state stream is decimated)",
        unit="Hz",
        low=50.0,
        high=2000.0,
    )
    com_forward_m: float = param(
        0.05, "nominal centre of mass ahead of the ankles (mid-foot: largest margins)", unit="m", low=-0.2, high=0.2
    )
    com_gain: float = param(15.0, "centre-of-mass task gain", unit="1/s", low=0.0, high=200.0)
    com_shift_speed_m_s: float = param(
        0.08,
        "the nominal CoM moves at most this fast, e.g. from where activation found it",
        unit="m/s",
        low=0.0,
        high=2.0,
    )
    capture_gain: float = param(
        1.5, "CoM reference moved this many times the capture point's excursion", low=0.0, high=20.0
    )
    capture_limit_m: float = param(0.08, "largest CoM reference offset from nominal", unit="m", low=0.0, high=0.5)
    capture_filter_s: float = param(
        0.02, "low-pass time constant on the measured CoM velocity of the capture point", unit="s", low=0.0, high=1.0
    )
    support_margin_m: float = param(
        0.02, "CoM reference kept this far inside the support polygon", unit="m", low=0.0, high=0.2
    )
    hip_gain_rad_per_m: float = param(
        4.0,
        "hip strategy: torso tilt toward the fall per metre of capture-point excursion",
        unit="rad/m",
        low=0.0,
        high=50.0,
    )
    hip_limit_rad: float = param(0.3, "largest hip-strategy torso tilt", unit="rad", low=0.0, high=1.0)
    crouch_m: float = param(
        0.0, "lower the pelvis this much below its height at activation", unit="m", low=0.0, high=0.3
    )
    pelvis_gain: float = param(10.0, "pelvis height and orientation task gain", unit="1/s", low=0.0, high=200.0)
    torso_speed_m_s: float = param(
        0.08, "a torso target's height is approached at most this fast", unit="m/s", low=0.001, high=1.0
    )
    torso_turn_rad_s: float = param(
        0.3, "a torso target's orientation is approached at most this fast", unit="rad/s", low=0.01, high=3.0
    )
    torso_gain: float = param(10.0, "torso orientation task gain", unit="1/s", low=0.0, high=200.0)
    hand_gain: float = param(8.0, "hand pose task gain", unit="1/s", low=0.0, high=200.0)
    gaze_gain: float = param(6.0, "gaze task gain", unit="1/s", low=0.0, high=200.0)
    posture_gain: float = param(4.0, "posture (pull to the nominal pose) gain", unit="1/s", low=0.0, high=200.0)
    foot_gain: float = param(20.0, "sole constraint drift correction gain", unit="1/s", low=0.0, high=500.0)
    w_com: float = param(100.0, "centre-of-mass task weight", low=0.0, high=1e6)
    w_pelvis: float = param(10.0, "pelvis task weight", low=0.0, high=1e6)
    w_torso: float = param(10.0, "torso task weight", low=0.0, high=1e6)
    w_hand: float = param(20.0, "hand task weight", low=0.0, high=1e6)
    w_gaze: float = param(5.0, "gaze task weight", low=0.0, high=1e6)
    w_posture: float = param(0.5, "posture task weight", low=0.0, high=1e6)
    hand_integral_gain: float = param(
        4.0, "integral gain on the measured palm's error", unit="1/s", low=0.0, high=100.0
    )
    hand_speed_limit_m_s: float = param(
        0.8, "hands move at most this fast toward a target", unit="m/s", low=0.0, high=5.0
    )
    position_limit_gain: float = param(
        0.5, "fraction of the distance to a joint limit closed per period", low=0.001, high=1.0
    )
    feedforward: bool = param(True, "send gravity + contact torques as feed-forward effort")
    handover_s: float = param(
        0.2,
        "at activation the torque blends from the measured one and the tasks fade in over this long",
        unit="s",
        low=0.0,
        high=5.0,
    )
    collision_safety_m: float = param(
        0.02, "self-collision: closest approach of watched body parts", unit="m", low=0.0, high=0.2
    )
    collision_influence_m: float = param(
        0.06, "self-collision: pairs closer than this get a constraint", unit="m", low=0.0, high=0.5
    )
    collision_gain: float = param(
        10.0, "self-collision: how fast a gap may close toward the safety distance", unit="1/s", low=0.0, high=200.0
    )

    def __post_init__(self) -> None:
        check(self, ControlConfigError)
        if not 0.0 < self.position_limit_gain <= 1.0:
            raise ControlConfigError(f"position_limit_gain {self.position_limit_gain} outside (0, 1]")


@dataclasses.dataclass
class TaskTargets:
    """Targets in odom (the controller's world). None = the task holds its current reference."""

    hands: dict[str, pin.SE3 | None] = dataclasses.field(default_factory=lambda: {"left": None, "right": None})
    gaze_point: np.ndarray | None = None
    torso_rotation: np.ndarray | None = None  # 3x3 torso orientation in odom
    pelvis_height_m: float | None = None


@dataclasses.dataclass(frozen=True)
class TorsoGoal:
    """Where the torso targets are headed (odom); release: back at standing, clear them."""

    rotation: np.ndarray
    pelvis_height_m: float
    release: bool = False


@dataclasses.dataclass
class WbcOutput:
    joint_names: list[str]
    position: np.ndarray  # [rad]
    velocity: np.ndarray  # [rad/s]
    effort: np.ndarray  # feed-forward [N m]
    capture_point_margin_m: float  # measured capture point's distance inside the support polygon
    solve_iterations: int


class WholeBodyController:
    def __init__(
        self,
        model: WholeBodyModel,
        nominal_joints: np.ndarray,
        settings: WbcSettings | None = None,
        walk_settings: WalkSettings | None = None,
    ) -> None:
        self.m = model
        self.s = settings or WbcSettings()
        self.walk_settings = walk_settings or WalkSettings()
        self.gait: Gait | None = None
        self.walk_command = np.zeros(3)  # (forward, sideways [m/s], turn [rad/s]) in the walking frame, clamped
        self.walk_clamp_reason = ""
        self.feet_velocity: dict[str, np.ndarray] = {}  # world-aligned twist of a moving sole (swing)
        self._walk_holds: dict[str, pin.SE3] = {}  # hand poses/targets in the walking frame while walking
        self._walk_frame: pin.SE3 | None = None  # the walking frame at the last tick (while walking)
        self._swing_accel = np.zeros(model.nv)  # low-passed reference acceleration [rad/s^2]
        self._floor_z = 0.0  # the soles' height when the walk began (flat floor) [m]
        # walking holds the CoM's height, not the pelvis': (now, goal, standing) in odom [m]; None standing
        self._com_height: tuple[float, float, float] | None = None
        self.stance_width_m: float | None = None
        self.period_s = 1.0 / self.s.rate_hz
        self.dt = self.period_s  # this tick's step [s]: the robot time since the last tick (see tick)
        self._last_stamp_s: float | None = None
        self._handover: tuple[float, np.ndarray | None] | None = None
        self.nominal = np.clip(np.asarray(nominal_joints, float), model.lower, model.upper)
        self.body_posture = BodyPosture(model, self.nominal)
        self.torso_goal: TorsoGoal | None = None
        self.hold_in_torso: dict[str, pin.SE3] = {}  # free hands ride with a moving torso
        self.hand_speed = {side: self.s.hand_speed_limit_m_s for side in HANDS}  # [m/s] per hand
        self.odometry = LegOdometry(model)
        self.targets = TaskTargets()
        nj = model.n_joints
        self.collision = SelfCollision(
            model.model,
            model.collision_geometry,
            default_pairs(model.robot.prefix),
            CollisionSettings(self.s.collision_safety_m, self.s.collision_influence_m, self.s.collision_gain),
        )
        self.qp = TaskQP(model.nv, 12, nj + self.collision.n_pairs)
        self.c_in = np.zeros((nj + self.collision.n_pairs, model.nv))
        self.c_in[np.arange(nj), model.v_index] = 1.0
        self.closest_pair: tuple[float, tuple[str, str]] = (np.inf, ("", ""))
        self.q_ref: np.ndarray | None = None
        self.v_ref = np.zeros(model.nv)
        self.feet_ref: dict[str, pin.SE3] = {}
        self.pelvis_height = 0.0
        self.pelvis_rotation = np.eye(3)
        self.torso_rotation = np.eye(3)
        self.hand_hold: dict[str, pin.SE3] = {}
        geometry = model.robot
        self.foot = _foot_geometry(geometry)
        self.last_measured_q: np.ndarray | None = None
        self.nominal_xy: np.ndarray | None = None
        self.com_velocity_xy: np.ndarray | None = None  # low-passed measured CoM velocity [m/s]
        self.hand_correction = {side: np.zeros(6) for side in HANDS}
        self._measured_frames: dict[str, pin.SE3] = {}
        # arm trajectories being followed: side -> (follower, the joints' indices in joint_names)
        self.arm_followers: dict[str, tuple[TrajectoryFollower, np.ndarray]] = {}
        self.arm_results: dict[str, FollowStatus] = {}  # the last finished one per side
        self.arm_hand_goals: dict[str, pin.SE3 | None] = {}  # the palm's target after a trajectory (odom)
        # an arm whose palm closes on hand_goal after its trajectory: (joint indices, the trajectory's
        # last positions [rad]), the posture's pull for that arm until the hand gets another target
        self.arm_rest: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._arm_masks = {
            side: np.array(
                [
                    n.startswith(f"{model.robot.prefix}{side}_")
                    and "_hip" not in n
                    and "_knee" not in n
                    and "_ankle" not in n
                    and "_toe" not in n
                    for n in model.joint_names
                ]
            )
            for side in HANDS
        }
        self._leg_masks = {
            side: np.array(
                [
                    n.startswith(f"{model.robot.prefix}{side}_") and any(k in n for k in LEG_JOINT_KINDS)
                    for n in model.joint_names
                ]
            )
            for side in HANDS
        }

    # ------------------------------------------------------------------------------------
    def activate(self, sensors: Sensors) -> None:
        """Start from the measured pose: the reference is the robot as it stands (never lunges)."""
        self.stop_arm_trajectories(FollowOutcome.CONTROLLER_STOPPED, "whole-body control was (re)activated")
        self.arm_rest = {}
        est = self.odometry.estimate(sensors)
        self.q_ref = est.q.copy()
        self.v_ref[:] = 0.0
        self.m.update(self.q_ref)
        self.feet_ref = {side: self.m.pose(f).copy() for side, f in zip(("left", "right"), FEET, strict=True)}
        # the stance width walks keep (the standing pose's, whatever the last walk left)
        between = self.feet_ref["left"].translation[:2] - self.feet_ref["right"].translation[:2]
        self.stance_width_m = float(np.linalg.norm(between))
        self.pelvis_height = float(self.m.pose("base_link").translation[2])
        yaw = _yaw(0.5 * (self.feet_ref["left"].rotation + self.feet_ref["right"].rotation))
        self.pelvis_rotation = pin.utils.rpyToMatrix(0.0, 0.0, yaw)
        self.torso_rotation = self.pelvis_rotation.copy()
        self.hand_hold = {side: self.m.pose(f).copy() for side, f in HANDS.items()}
        self.targets = TaskTargets()
        self.torso_goal = None
        self.hold_in_torso = {}
        self.hand_speed = {side: self.s.hand_speed_limit_m_s for side in HANDS}
        self.nominal = self.body_posture.standing.copy()
        self.nominal_xy = None  # set from the measured CoM on the first tick
        self.com_velocity_xy = None
        self._last_stamp_s = None
        self.dt = self.period_s
        self._handover = (sensors.stamp_s, None)  # (start, measured - feed-forward torque at the start)
        self.gait, self.walk_command, self.feet_velocity, self._walk_holds = None, np.zeros(3), {}, {}
        self._com_height = None

    @property
    def active(self) -> bool:
        return self.q_ref is not None

    @property
    def handing_over(self) -> bool:
        """The measured torques at activation still fade into the feed-forward (handover_s)."""
        return self._handover is not None

    def reference_pose(self, frame: str) -> pin.SE3:
        """A frame's pose in odom on the reference model (what the controller is commanding)."""
        self.m.update(self.q_ref)
        return self.m.pose(frame).copy()

    def measured_pose(self, frame: str) -> pin.SE3:
        """A frame's pose in odom on the measured (estimated) robot of the last tick."""
        data = self.m.model.createData() if not hasattr(self, "_scratch") else self._scratch
        self._scratch = data
        pin.framesForwardKinematics(self.m.model, data, self.last_measured_q)
        return data.oMf[self.m.frame[frame]].copy()

    def measured_floor_pose(self) -> np.ndarray:
        """The measured pelvis on the floor, (x, y, yaw) in odom: where walking says the robot is."""
        return _planar(self.measured_pose("base_link"))

    def _corrected(self, side: str, goal: pin.SE3, reference: pin.SE3) -> pin.SE3:
        """The reference's goal, moved by the integral of the measured hand's error: the legs'
        and arms' PD never track the reference exactly, the measured palm must reach the goal."""
        measured = self._measured_frames.get(side)
        if measured is None:
            return goal
        corr = self.hand_correction[side]
        # anti-windup: integrate only once the reference has arrived (near the corrected goal).
        # Integrated over a long approach the correction ran to its 10 cm clip and the palm
        # overshot the target and came back (measured: a 72 cm reach to the workspace boundary
        # took 2.0 s; 1.3 s without the windup).
        corrected = goal.translation + corr[:3]
        if np.linalg.norm(corrected - reference.translation) < HAND_INTEGRAL_ZONE_M:
            corr[:3] += self.dt * self.s.hand_integral_gain * (goal.translation - measured.translation)
            corr[3:] += self.dt * self.s.hand_integral_gain * pin.log3(goal.rotation @ measured.rotation.T)
        corr[:3] = np.clip(corr[:3], -0.1, 0.1)
        corr[3:] = np.clip(corr[3:], -0.3, 0.3)
        return pin.SE3(pin.exp3(corr[3:]) @ goal.rotation, goal.translation + corr[:3])

    def _free_arm_mask(self) -> np.ndarray:
        """True for joints whose posture pull stays on: all but the arms with a hand target."""
        mask = np.ones(self.m.n_joints, bool)
        for side, goal in self.targets.hands.items():
            if goal is not None or side in self.arm_followers:
                mask &= ~self._arm_masks[side]
        return mask

    # ------------------------------------------------------------------------------------
    def follow_arm_trajectory(
        self,
        trajectory: ArmTrajectory,
        tolerances: FollowTolerances | None = None,
        hand_goal: pin.SE3 | None = None,
    ) -> str:
        """Move one arm's joints along `trajectory` (e.g. a collision-free plan), starting on the next
        tick; returns the side. While it runs, the arm's joints follow it in a joint task above the
        hands' and the CoM's (balance is the legs' and the spine's), that hand's Cartesian task and
        posture pull are off. When it ends, the hand holds where it arrived (or stopped); if it
        succeeded and `hand_goal` (odom) is given, the palm's task takes that as its target: balance
        moves the pelvis and the torso while the arm reaches out (measured: 2 cm back), which the plan,
        made with the body still, cannot know, and the palm's task closes that last offset. A newer
        trajectory for the same arm replaces the running one (cancelled). Refused (TargetRejected,
        nothing changed): joints not of one arm, a point outside a joint's limits, a start away from
        where the arm is, walking."""
        if self.q_ref is None:
            raise TargetRejected("whole-body control is not active: no arm trajectory can be followed")
        if self.gait is not None:
            raise TargetRejected("arm trajectories are followed standing; stop walking first")
        names = list(self.m.joint_names)
        unknown = [j for j in trajectory.joint_names if j not in names]
        if unknown:
            raise TargetRejected(f"trajectory joints not controlled by whole-body control: {', '.join(unknown)}")
        index = np.array([names.index(j) for j in trajectory.joint_names])
        sides = [side for side, mask in self._arm_masks.items() if np.all(mask[index])]
        if not sides:
            raise TargetRejected(
                f"trajectory joints must all belong to one arm (left_* or right_* arm joints); got "
                f"{', '.join(trajectory.joint_names)}"
            )
        side = sides[0]
        lower, upper = self.m.lower[index], self.m.upper[index]
        outside = (trajectory.positions_rad < lower - 1e-9) | (trajectory.positions_rad > upper + 1e-9)
        if np.any(outside):
            k, j = (int(x) for x in np.argwhere(outside)[0])
            raise TargetRejected(
                f"trajectory point {k} puts {trajectory.joint_names[j]} at {trajectory.positions_rad[k, j]:.3f} rad, "
                f"outside its limits [{lower[j]:.3f}, {upper[j]:.3f}] rad"
            )
        tolerances = tolerances or FollowTolerances()
        q_now = self.m.joints_of(self.last_measured_q if self.last_measured_q is not None else self.q_ref)[index]
        gap = np.abs(trajectory.positions_rad[0] - q_now)
        worst = int(np.argmax(gap))
        if gap[worst] > tolerances.path_rad:
            raise TargetRejected(
                f"trajectory starts {gap[worst]:.3f} rad from where {trajectory.joint_names[worst]} is "
                f"(path tolerance {tolerances.path_rad} rad); plan from the current joint positions"
            )
        self.cancel_arm_trajectory(side, "replaced by a newer trajectory")
        self.arm_rest.pop(side, None)
        self.targets.hands[side] = None
        self.hold_in_torso.pop(side, None)
        self.hand_correction[side] = np.zeros(6)
        self.arm_followers[side] = (TrajectoryFollower(trajectory, tolerances), index)
        self.arm_hand_goals[side] = hand_goal
        self.arm_results.pop(side, None)
        return side

    def arm_trajectory_status(self, side: str) -> FollowStatus | None:
        """The running trajectory's feedback, else the last finished one's result (None: never one)."""
        running = self.arm_followers.get(side)
        return running[0].status if running is not None else self.arm_results.get(side)

    def cancel_arm_trajectory(self, side: str, reason: str = "cancelled") -> None:
        """Stop following where the reference is now; the hand holds there."""
        if side in self.arm_followers:
            self.arm_followers[side][0].stop(FollowOutcome.CANCELLED, reason)
            self._finish_arm_trajectory(side)

    def stop_arm_trajectories(self, outcome: FollowOutcome, reason: str) -> None:
        """End every running trajectory with `outcome` (e.g. the node stops commanding)."""
        for side in list(self.arm_followers):
            self.arm_followers[side][0].stop(outcome, reason)
            self._finish_arm_trajectory(side)

    def _finish_arm_trajectory(self, side: str) -> None:
        """The trajectory ended: the hand's Cartesian hold takes over where the reference arm is."""
        follower, index = self.arm_followers.pop(side)
        self.arm_results[side] = follower.status
        goal = self.arm_hand_goals.pop(side, None)
        if self.q_ref is not None:
            self.hand_hold[side] = self.reference_pose(HANDS[side])
            self.hand_correction[side] = np.zeros(6)
            if goal is not None and follower.status.outcome is FollowOutcome.SUCCEEDED:
                self.set_hand_target(side, goal)
                # the palm's task moves the arm a few cm more; with the posture pull released (as for
                # any hand target) the arm's redundancy drifted and the upper arm touched the torso
                # in 3 of 10 layouts; pulled to the planned end it stays near the checked configuration
                self.arm_rest[side] = (index, follower.trajectory.positions_rad[-1].copy())

    def _arm_trajectory_tasks(self, sensors: Sensors, q: np.ndarray) -> list:
        """Judge the followed trajectories on the measured joints, and their joint tasks on the reference."""
        m, tasks = self.m, []
        measured = np.asarray(sensors.joint_positions, float)
        for side in list(self.arm_followers):
            follower, index = self.arm_followers[side]
            if not follower.update(sensors.stamp_s, measured[index]).running:
                self._finish_arm_trajectory(side)  # (its hand's pose taken on q: the model stays at q)
                continue
            position, velocity = follower.reference(sensors.stamp_s)
            rows = np.zeros((len(index), m.nv))
            rows[np.arange(len(index)), m.v_index[index]] = 1.0
            error = velocity + ARM_TRAJECTORY_GAIN * (position - m.joints_of(q)[index])
            tasks.append((rows, error, ARM_TRAJECTORY_WEIGHT))
        return tasks

    def set_hand_target(self, side: str, pose: pin.SE3 | None, max_speed_m_s: float | None = None) -> None:
        """Move a palm to `pose` (odom), or hold where the reference is now (None), at most
        max_speed_m_s fast (None: hand_speed_limit_m_s; never faster than that).

        A target streamed by teleop (30 Hz, moving a little each time) keeps the palm's error
        integral: resetting it on every message left the palm ~3 cm short (measured). It starts
        afresh when the hand switches between holding and a target, or the target jumps > 5 cm.
        While walking, the pose (odom) is taken into the walking frame and rides with the body from
        then on, like a target set before the walk.
        """
        previous = self.targets.hands.get(side)
        self.arm_rest.pop(side, None)
        limit = self.s.hand_speed_limit_m_s
        self.hand_speed[side] = limit if max_speed_m_s is None else min(max_speed_m_s, limit)
        self.hold_in_torso.pop(side, None)
        if pose is None:
            self.hand_hold[side] = self.reference_pose(HANDS[side])
            if self.torso_goal is not None:
                self.hold_in_torso[side] = self._torso_pose().actInv(self.hand_hold[side])
        if (
            pose is None
            or previous is None
            or np.linalg.norm(pose.translation - previous.translation) > HAND_INTEGRAL_KEEP_M
        ):
            self.hand_correction[side] = np.zeros(6)
        self.targets.hands[side] = pose
        if self.gait is not None and self._walk_frame is not None:  # walking: it rides with the body from now on
            if pose is not None:
                self._walk_holds[f"target_{side}"] = self._walk_frame.actInv(pose)
            else:
                self._walk_holds.pop(f"target_{side}", None)
                self._walk_holds[side] = self._walk_frame.actInv(self.hand_hold[side])

    def set_torso_goal(self, rotation: np.ndarray | None, pelvis_height_m: float | None = None) -> None:
        """Lower, lean or turn the upper body (odom; checked by io.torso_goal), or back to standing
        (None). The targets move there at torso_speed_m_s / torso_turn_rad_s, the posture's nominal
        pose with them (body_posture: legs bent, spine turned), and the hands without a target
        ride along with the torso."""
        if rotation is None:
            self.torso_goal = TorsoGoal(self.torso_rotation.copy(), self.pelvis_height - self.s.crouch_m, True)
        else:
            self.torso_goal = TorsoGoal(np.asarray(rotation, float).copy(), float(pelvis_height_m), False)
        torso = self._torso_pose()
        self.hold_in_torso = {
            side: torso.actInv(self.hand_hold[side]) for side, goal in self.targets.hands.items() if goal is None
        }

    def _torso_pose(self) -> pin.SE3:
        """The measured torso (what the hands riding with it follow); the reference before a tick."""
        return self.measured_pose("torso") if self.last_measured_q is not None else self.reference_pose("torso")

    def _move_torso_targets(self, torso_measured: pin.SE3) -> None:
        """One tick's step of the torso targets toward torso_goal; the nominal pose follows."""
        goal, t = self.torso_goal, self.targets
        height = t.pelvis_height_m if t.pelvis_height_m is not None else self.pelvis_height - self.s.crouch_m
        rotation = t.torso_rotation if t.torso_rotation is not None else self.torso_rotation
        step = self.s.torso_speed_m_s * self.dt
        height += float(np.clip(goal.pelvis_height_m - height, -step, step))
        turn = pin.log3(goal.rotation @ rotation.T)
        angle = float(np.linalg.norm(turn))
        limit = self.s.torso_turn_rad_s * self.dt
        if angle > limit:
            turn *= limit / angle
        rotation = pin.exp3(turn) @ rotation
        t.pelvis_height_m, t.torso_rotation = height, rotation
        drop = self.pelvis_height - self.s.crouch_m - height
        self.nominal = self.body_posture.nominal(drop, self.pelvis_rotation.T @ rotation)
        for side, hold in self.hold_in_torso.items():
            self.hand_hold[side] = torso_measured * hold
        if goal.release and angle <= limit and height == goal.pelvis_height_m:  # standing again
            self.torso_goal, self.hold_in_torso = None, {}
            t.pelvis_height_m = t.torso_rotation = None
            self.nominal = self.body_posture.standing.copy()

    # ------------------------------------------------------------------------------------
    @property
    def walking(self) -> bool:
        return self.gait is not None

    def walk(self, velocity: np.ndarray) -> str:
        """Walk at (forward, sideways [m/s], turn [rad/s]) in the walking frame (the feet's), or
        stop within two steps (zeros). Returns what was clamped to the gait's limits ('' if
        nothing). Called between ticks; a walk starts from standing with the feet where they are."""
        command, reason = self.walk_settings.clamp(np.asarray(velocity, float))
        self.walk_command, self.walk_clamp_reason = command, reason
        if self.gait is None:
            if not np.any(command) or self.q_ref is None:
                return reason
            self.stop_arm_trajectories(FollowOutcome.CANCELLED, "a walk began")
            self.arm_rest = {}  # (the arms swing with the gait)
            self.m.update(self.q_ref)
            self._floor_z = min(pose.translation[2] for pose in self.feet_ref.values())
            height = self.m.com[2] - self._floor_z
            if self._com_height is None:  # (a walk right after another keeps the first one's standing height)
                self._com_height = (float(self.m.com[2]), float(self.m.com[2]), float(self.m.com[2]))
            standing_z = self._com_height[2]
            lowered = standing_z - self.walk_settings.com_lower * (standing_z - self._floor_z)
            self._com_height = (self._com_height[0], lowered, standing_z)
            omega = balance.omega(min(height, lowered - self._floor_z))
            self.gait = Gait(self.walk_settings, omega, self.walk_settings.zmp_forward_m)
            com_xy = self.nominal_xy if self.nominal_xy is not None else self.m.com[:2]
            left, right = _planar(self.feet_ref["left"]), _planar(self.feet_ref["right"])
            self.gait.start(left, right, com_xy, command, self.stance_width_m)
            frame = self._walking_frame(com_xy, _yaw(self.pelvis_rotation))
            self._walk_frame = frame
            self._walk_holds = {side: frame.actInv(self.hand_hold[side]) for side in HANDS}
            for side, goal in self.targets.hands.items():
                if goal is not None:
                    self._walk_holds[f"target_{side}"] = frame.actInv(goal)
        else:
            self.gait.command(command)
        return reason

    @staticmethod
    def _walking_frame(com_xy: np.ndarray, yaw: float) -> pin.SE3:
        """The frame the hands ride in while walking: under the planned CoM, turned with the feet."""
        return pin.SE3(pin.utils.rpyToMatrix(0.0, 0.0, yaw), np.array([com_xy[0], com_xy[1], 0.0]))

    def _follow_gait(self, ref: GaitReference) -> None:
        """Move the soles, the pelvis' and torso's heading and the carried hands with the gait."""
        floor = self._floor_z
        self.feet_velocity = {}
        for side in ("left", "right"):
            x, y, yaw = ref.feet[side]
            self.feet_ref[side] = pin.SE3(
                pin.utils.rpyToMatrix(0.0, 0.0, yaw), np.array([x, y, floor + ref.foot_height_m[side]])
            )
            if side not in ref.support:
                vx, vy, vz, wz = ref.foot_velocity[side]
                self.feet_velocity[side] = np.array([vx, vy, vz, 0.0, 0.0, wz])
        heading = _mean_angle(ref.feet["left"][2], ref.feet["right"][2])
        self.pelvis_rotation = pin.utils.rpyToMatrix(0.0, 0.0, heading)
        self.torso_rotation = self.pelvis_rotation.copy()
        frame = self._walk_frame = self._walking_frame(ref.com_xy, heading)
        swing = self._arm_swing_m(frame, ref)
        for side in HANDS:
            target = self._walk_holds.get(f"target_{side}")
            carried = target is not None and self.targets.hands.get(side) is not None
            offset = pin.SE3(np.eye(3), np.array([0.0 if carried else swing[side], 0.0, 0.0]))
            self.hand_hold[side] = frame * offset * self._walk_holds[side]
            if carried:
                self.targets.hands[side] = frame * target

    def _arm_swing_m(self, frame: pin.SE3, ref: GaitReference) -> dict[str, float]:
        """Each hand's forward offset in the walking frame [m]: against the foot of its own side
        (that foot ahead of the feet's midpoint, the hand behind), as a person's arms counter the
        legs' swing about the vertical. A hand with a target (carrying, reaching) does not swing."""
        lead_s = self.walk_settings.arm_swing_lead_s
        ahead = {}
        for side in ("left", "right"):
            xy = np.array(ref.feet[side][:2], float)
            if side in ref.foot_velocity:  # the swinging foot: where it will be when the hand gets there
                xy = xy + lead_s * np.asarray(ref.foot_velocity[side][:2])
            ahead[side] = frame.actInv(np.array([*xy, 0.0]))[0]
        middle = 0.5 * (ahead["left"] + ahead["right"])
        return {side: -self.walk_settings.arm_swing * (ahead[side] - middle) for side in HANDS}

    # ------------------------------------------------------------------------------------
    def tick(self, sensors: Sensors) -> WbcOutput:
        if self.q_ref is None:
            self.activate(sensors)
        m, s = self.m, self.s
        # A node that cannot keep up answers every second or third joint_states: the reference
        # then moves by the robot time that passed, not by one nominal period (at most
        # MAX_STEP_PERIODS of it, so resuming after a stall cannot lunge).
        if self._last_stamp_s is not None:
            elapsed = sensors.stamp_s - self._last_stamp_s
            self.dt = float(np.clip(elapsed, self.period_s, MAX_STEP_PERIODS * self.period_s))
        self._last_stamp_s = sensors.stamp_s
        # --- measured state: capture point ------------------------------------------------
        est = self.odometry.estimate(sensors)
        # the estimate's kinematics are at the base's zero translation: shifted by it, they are
        # the measured state (no second update; the CoM Jacobian does not change with the shift)
        base = est.q[:3]
        com_m, vcom_m = m.com + base, m.com_jacobian @ est.v
        self.last_measured_q = est.q

        def measured(frame: str) -> pin.SE3:
            pose = m.pose(frame)
            return pin.SE3(pose.rotation, pose.translation + base)

        self._measured_frames = {side: measured(f) for side, f in HANDS.items()}
        if self.torso_goal is not None:
            self._move_torso_targets(measured("torso"))
        soles = [(pose.translation, pose.rotation) for pose in (measured(f) for f in FEET)]
        polygon = balance.support_polygon(soles, *self.foot)
        # The measured CoM velocity answers the previous command within a period (the joints'
        # PD follows the commanded velocity), and the capture-point loop's gain on it is
        # com_gain x capture_gain / omega ~ 7: unfiltered, the command flipped sign every tick
        # (a 250 Hz limit cycle, the shaking seen over DDS). A low-pass of capture_filter_s keeps
        # that loop below 1 at high frequency and costs little phase at a push's 1-3 Hz.
        alpha = self.dt / (self.s.capture_filter_s + self.dt)
        if self.com_velocity_xy is None:
            self.com_velocity_xy = vcom_m[:2].copy()
        self.com_velocity_xy += alpha * (vcom_m[:2] - self.com_velocity_xy)
        xi = balance.capture_point(com_m[:2], self.com_velocity_xy, com_m[2] - min(sole[0][2] for sole in soles))
        # --- reference model ---------------------------------------------------------------
        q = self.q_ref
        m.update(q)
        com_velocity_ff, com_accel = np.zeros(2), np.zeros(3)
        base_moment = None
        load: dict[str, float] | None = None
        if self.gait is not None:
            swing = self.gait.swinging
            if swing is not None:  # the measured DCM, carried into the plan's frame through the stance sole
                stance = "right" if swing == "left" else "left"
                stance_sole = dict(zip(("left", "right"), soles, strict=True))[stance]
                self.gait.adjust_step(
                    landing_in_plan(self.gait.feet[stance], _planar_of(*stance_sole), [*xi, 0.0])[:2], self.dt
                )
            landed = None
            landing = self.gait.landing
            if landing is not None:  # where the foot taking the weight is, measured from the other one
                stance = "right" if landing == "left" else "left"
                measured_soles = dict(zip(("left", "right"), soles, strict=True))
                stance_measured, landing_measured = (_planar_of(*measured_soles[k]) for k in (stance, landing))
                landed = {landing: landing_in_plan(self.gait.feet[stance], stance_measured, landing_measured)}
            ref = self.gait.advance(self.dt, landed)
            self._follow_gait(ref)
            support = [sole for sole, side in zip(soles, ("left", "right"), strict=True) if side in ref.support]
            polygon = balance.support_polygon(support, *self.foot)
            nominal_xy, xi_nominal, com_velocity_ff = ref.com_xy, ref.dcm_xy, ref.com_velocity_xy
            load = {"left": ref.load_left, "right": 1.0 - ref.load_left}
            # the pendulum's over the planned ZMP, from the reference model's CoM (what the torques hold)
            com_accel[:2] = self.gait.omega**2 * (m.com[:2] - ref.zmp_xy)
            base_moment = self._tilt_moment(sensors, m.com[2] - self._floor_z)
            if ref.done:  # standing again: balance resumes from the plan's last CoM
                self.gait, self.feet_velocity, self._walk_holds = None, {}, {}
                self.nominal_xy = ref.com_xy.copy()
                if self._com_height is not None:  # rise back to the standing height
                    self._com_height = (self._com_height[0], self._com_height[2], self._com_height[2])
        else:
            nominal_xy = xi_nominal = self._standing_nominal(com_m)
        offset = -s.capture_gain * (xi - xi_nominal)
        norm = np.linalg.norm(offset)
        if norm > s.capture_limit_m:
            offset *= s.capture_limit_m / norm
        com_target = nominal_xy + offset
        if load is None:  # standing (walking, the CoM passes between the soles by the ZMP plan)
            com_target = balance.clip_to_polygon(polygon, com_target, s.support_margin_m)
        margin = balance.signed_distance(polygon, xi)

        tasks = []
        jcom = m.com_jacobian
        tasks.append((jcom[:2], s.com_gain * (com_target - m.com[:2]) + com_velocity_ff, s.w_com))
        j_base = m.jacobian("base_link")
        base = m.pose("base_link")
        height = (
            self.targets.pelvis_height_m
            if self.targets.pelvis_height_m is not None
            else self.pelvis_height - s.crouch_m
        )
        if self._com_height is not None:
            # walking (and rising back after it): the CoM's height held, lowered by walk.com_lower,
            # moving at torso_speed_m_s; the pendulum's assumption, and no vaulting over a stretched leg
            now, goal, standing = self._com_height
            now += float(np.clip(goal - now, -s.torso_speed_m_s * self.dt, s.torso_speed_m_s * self.dt))
            self._com_height = (now, goal, standing)
            tasks.append((jcom[2:3], np.array([s.com_gain * (now - m.com[2])]), s.w_com))
            if self.gait is None and now == goal:  # risen back to standing: the pelvis' height again
                self._com_height = None
        else:
            tasks.append((j_base[2:3], np.array([s.pelvis_gain * (height - base.translation[2])]), s.w_pelvis))
        pelvis_goal = self.pelvis_rotation
        if load is not None and self.walk_settings.tilt_feedback > 0.0:
            # walking: the reference pelvis leans against the measured tilt (IMU), so the stance
            # leg pushes the body upright; without it the pelvis rocked +-7 deg a step on the legs'
            # compliance, the rocking grew over a few metres and the robot fell, most often
            # stopping (measured: 3 falls in 7 scripted walks, 0 with it)
            w, x, y, z = sensors.imu_orientation_wxyz
            tilt = pin.log3(self.pelvis_rotation.T @ pin.Quaternion(w, x, y, z).toRotationMatrix())
            tilt[2] = 0.0  # (heading is the feet's business)
            pelvis_goal = self.pelvis_rotation @ pin.exp3(-self.walk_settings.tilt_feedback * tilt)
        tasks.append((j_base[3:], s.pelvis_gain * _rotation_error(pelvis_goal, base.rotation), s.w_pelvis))
        torso_goal = self.targets.torso_rotation if self.targets.torso_rotation is not None else self.torso_rotation
        # hip strategy: tilt the upper body toward the fall; the reaction pushes the CoM back
        excursion = xi - xi_nominal
        tilt = np.clip(s.hip_gain_rad_per_m * excursion, -s.hip_limit_rad, s.hip_limit_rad)
        if np.any(tilt):
            # tilting toward +x is a rotation about +y; toward +y is a rotation about -x
            torso_goal = pin.utils.rpyToMatrix(-tilt[1], tilt[0], 0.0) @ torso_goal
        tasks.append(
            (m.jacobian("torso")[3:], s.torso_gain * _rotation_error(torso_goal, m.pose("torso").rotation), s.w_torso)
        )
        tasks += self._arm_trajectory_tasks(sensors, q)
        for side, frame in HANDS.items():
            if side in self.arm_followers:  # the trajectory moves this arm; its hand holds again after
                continue
            goal = self.targets.hands.get(side)
            pose = m.pose(frame)
            if goal is None:
                goal = self.hand_hold[side]
            else:
                goal = self._corrected(side, goal, pose)
            dp = goal.translation - pose.translation
            lin = s.hand_gain * dp
            speed = np.linalg.norm(lin)
            if speed > self.hand_speed[side]:
                lin *= self.hand_speed[side] / speed
            err = np.concatenate([lin, s.hand_gain * _rotation_error(goal.rotation, pose.rotation)])
            tasks.append((m.jacobian(frame), err, s.w_hand))
        if self.targets.gaze_point is not None:
            cam = m.pose("head_camera_color_optical_frame")
            look = self.targets.gaze_point - cam.translation
            dist = np.linalg.norm(look)
            if dist > 0.05:
                axis = cam.rotation[:, 2]
                err = np.cross(axis, look / dist)
                tasks.append((m.jacobian("head_camera_color_optical_frame")[3:], s.gaze_gain * err, s.w_gaze))
        # posture: a gentle pull to the nominal pose, all but released on an arm with a target
        # (else the arm settles where the pull balances the hand task, short of the target)
        scale = np.sqrt(np.where(self._free_arm_mask(), 1.0, 0.01))
        nominal = self.nominal
        if self.arm_rest:  # an arm that arrived by a trajectory keeps to where it arrived
            nominal = nominal.copy()
            for index, positions in self.arm_rest.values():
                nominal[index], scale[index] = positions, 1.0
        posture = np.zeros((m.n_joints, m.nv))
        posture[np.arange(m.n_joints), m.v_index] = scale
        tasks.append((posture, scale * s.posture_gain * (nominal - m.joints_of(q)), s.w_posture))
        # --- constraints: soles stay where they are, joints within limits -----------------------
        a_eq = np.vstack([m.jacobian(f) for f in FEET])
        b_eq = np.concatenate(
            [
                s.foot_gain * pin.log6(m.pose(f).actInv(self.feet_ref[side])).vector
                for side, f in zip(("left", "right"), FEET, strict=True)
            ]
        )
        # log6 gives a local twist; express it world-aligned like the Jacobians
        b_eq = np.concatenate(
            [
                _local_to_world(m.pose(f).rotation, b_eq[6 * i : 6 * i + 6]) + self.feet_velocity.get(side, 0.0)
                for i, (side, f) in enumerate(zip(("left", "right"), FEET, strict=True))
            ]
        )
        contact_jacobian = a_eq
        for i, side in enumerate(("left", "right")):
            if side in self.feet_velocity:  # swinging: a task, so self-collision can push it aside
                rows6 = slice(6 * i, 6 * i + 6)
                tasks.append((a_eq[rows6].copy(), b_eq[rows6].copy(), SWING_FOOT_WEIGHT))
                a_eq = a_eq.copy()
                a_eq[rows6], b_eq[rows6] = 0.0, 0.0
        qj = m.joints_of(q)
        gain = s.position_limit_gain / self.dt
        lower = np.maximum(-m.velocity_limit, gain * (m.lower - qj))
        upper = np.minimum(m.velocity_limit, gain * (m.upper - qj))
        lower = np.minimum(lower, 0.0)
        upper = np.maximum(upper, 0.0)
        rows, gap_lower, closest, pair = self.collision.rows(m.data, q)
        self.closest_pair = (closest, pair)
        nj = m.n_joints
        self.c_in[nj:] = rows
        lower = np.concatenate([lower, gap_lower])
        upper = np.concatenate([upper, np.full(len(gap_lower), 1e20)])
        engaged = self._engaged(sensors.stamp_s)
        if engaged < 1.0:
            tasks = [(jac, engaged * err, weight) for jac, err, weight in tasks]
        v = self.qp.solve(tasks, a_eq, b_eq, self.c_in, lower, upper)
        # feed-forward on this tick's reference kinematics (one period before the new targets)
        effort = np.zeros(m.n_joints)
        if s.feedforward:
            effort = self._feedforward(
                q, contact_jacobian, load or self._load_split(com_target), com_accel, base_moment
            )
        if self.gait is not None and self.gait.swinging is not None and s.feedforward:
            effort = effort + self._swing_inertia(q, v, self.gait.swinging)
        effort = self._bumpless(effort, sensors)
        self.v_ref = v
        self.q_ref = pin.integrate(m.model, q, v * self.dt)
        q_cmd = np.clip(m.joints_of(self.q_ref), m.lower, m.upper)
        v_cmd = np.clip(v[m.v_index], -m.velocity_limit, m.velocity_limit)
        return WbcOutput(list(m.joint_names), q_cmd, v_cmd, effort, margin, self.qp.iterations)

    def _standing_nominal(self, com_m: np.ndarray) -> np.ndarray:
        """Where balance keeps the CoM standing: mid-foot, com_forward_m ahead of the ankles. It
        moves from where activation (or a walk's end) left it at com_shift_speed_m_s: activation
        never lunges (the capture point would jump and look like a fall)."""
        feet_mid = 0.5 * (self.feet_ref["left"].translation + self.feet_ref["right"].translation)
        goal_xy = feet_mid[:2] + self.s.com_forward_m * self.pelvis_rotation[:2, 0]
        if self.nominal_xy is None:
            self.nominal_xy = com_m[:2].copy()
        step = goal_xy - self.nominal_xy
        dist = float(np.linalg.norm(step))
        if dist > self.s.com_shift_speed_m_s * self.dt:
            step *= self.s.com_shift_speed_m_s * self.dt / dist
        self.nominal_xy = self.nominal_xy + step
        return self.nominal_xy

    def _swing_inertia(self, q: np.ndarray, v: np.ndarray, side: str) -> np.ndarray:
        """Torque that accelerates the swinging leg along its path, M(q) a on its joints (a from
        the reference's velocity change): with gravity alone the leg lagged its path and, lightly
        damped, overshot the landing spot by 5-6 cm (the feet touched on a sidestep)."""
        m = self.m
        # the QP's velocities carry tick-to-tick noise: differentiated raw they swamp the torque
        self._swing_accel += SWING_ACCEL_FILTER * ((v - self.v_ref) / self.dt - self._swing_accel)
        accel = self._swing_accel
        mass = pin.crba(m.model, m.data, q)
        tau = np.zeros(m.n_joints)
        leg = self._leg_masks[side]
        rows = m.v_index[leg]
        tau[leg] = mass[np.ix_(rows, rows)] @ accel[rows]
        return np.clip(tau, -m.effort_limit, m.effort_limit)

    def _engaged(self, stamp_s: float) -> float:
        """How much of the tasks' corrections the controller applies: 0 at activation, growing
        linearly to 1 over handover_s. The reference starts at the measured pose, but the tasks'
        goals do not: the pelvis and torso upright, the posture at the nominal pose. Applied at
        once on a robot handed over 30 ms after its stand-up ramp, they asked for 1.5-2.3 rad/s at
        the hips and shoulders on the first tick (0.7 when at rest); over DDS on a loaded machine,
        where such a command stays applied for 20-50 ms, the arms swung and the IMU read 9-23 m/s^2
        (the supervisor once took it for a fall). The feet's constraints apply in full throughout."""
        if self._handover is None or self.s.handover_s <= 0.0:
            return 1.0
        return float(np.clip((stamp_s - self._handover[0]) / self.s.handover_s, 0.0, 1.0))

    def _bumpless(self, effort: np.ndarray, sensors: Sensors) -> np.ndarray:
        """Bumpless transfer: whoever commanded before (the supervisor's stand-up, a joint-PD
        hold) left joint torques the robot stands on, and they differ from this controller's
        feed-forward by the PD's sag (a knee 0.04 rad under its target = 40 N m at kp 1000, vs 30
        N m of feed-forward). Stepped at once, that jolted the robot (IMU 5-15 m/s^2 over DDS).
        The difference measured at activation fades out linearly over handover_s."""
        if self._handover is None:
            return effort
        fade = 1.0 - self._engaged(sensors.stamp_s)  # the same ramp as the tasks' easing in
        if fade <= 0.0:
            self._handover = None  # handed over: the tasks in full, this controller's feed-forward
            return effort
        if sensors.joint_efforts is None:  # a hardware without torque sensing: nothing to fade
            return effort
        start, offset = self._handover
        if offset is None:
            offset = np.asarray(sensors.joint_efforts, float) - effort
            self._handover = (start, offset)
        return np.clip(effort + fade * offset, -self.m.effort_limit, self.m.effort_limit)

    def _load_split(self, com_xy: np.ndarray) -> dict[str, float]:
        """Planned share of the weight on each sole, from where the CoM reference lies between
        them (not from the measured forces: feeding those back lifts an unloading foot)."""
        left, right = self.feet_ref["left"].translation[:2], self.feet_ref["right"].translation[:2]
        axis = left - right
        share = float(np.clip((com_xy - right) @ axis / max(axis @ axis, 1e-9), 0.1, 0.9))
        return {"left": share, "right": 1.0 - share}

    def _tilt_moment(self, sensors: Sensors, com_height_m: float) -> np.ndarray | None:
        """The moment on the pelvis (odom, [N m]) that damps its tilting while walking: against its
        tilting rate (IMU), scaled by the robot's mass and CoM height so every body form gets the
        same dynamics. The joints' PD alone holds the upper body on the stance hip like a 2-3 Hz
        pendulum damped ~0.2 (measured: the stance hip 4-5 deg behind its reference, the pelvis
        rocking +-5 deg a step at 0.4 m/s)."""
        if self.walk_settings.tilt_damping <= 0.0:
            return None
        w, x, y, z = sensors.imu_orientation_wxyz
        rate = pin.Quaternion(w, x, y, z).toRotationMatrix() @ np.asarray(sensors.imu_angular_velocity, float)
        rate[2] = 0.0  # (heading is the feet's business)
        return -self.m.mass_kg * com_height_m**2 * self.walk_settings.tilt_damping * rate

    def _feedforward(
        self,
        q: np.ndarray,
        jc: np.ndarray,
        weight: dict[str, float],
        com_accel: np.ndarray | None = None,
        base_moment: np.ndarray | None = None,
    ) -> np.ndarray:
        """Joint torques that hold the reference pose against gravity with the planned load
        split between the soles: tau = g_a - J_a^T f, with f balancing g on the base, plus the
        force m a that accelerates the CoM as planned (walking: the pendulum over the planned ZMP;
        without it, the stance ankle was asked to hold the CoM statically beside the foot and
        saturated). jc: the soles' Jacobians at q (12 x nv, the contact constraint's), the CoM
        Jacobian from the same update."""
        m = self.m
        g = m.gravity_torques(q)
        base_force = g[:6].copy()
        if com_accel is not None and np.any(com_accel):
            base_force += m.mass_kg * (m.com_jacobian[:, :6].T @ com_accel)
        if base_moment is not None:  # a moment on the pelvis (odom), in the base's local coordinates
            base_force[3:] += m.pose("base_link").rotation.T @ base_moment
        w = np.repeat([max(weight["left"], 1e-3), max(weight["right"], 1e-3)], 6)  # a swinging sole: ~0
        jb = jc[:, :6].T  # 6 x 12
        f = w * (jb.T @ np.linalg.solve((jb * w) @ jb.T, base_force))
        tau = g - jc.T @ f
        return np.clip(tau[m.v_index], -m.effort_limit, m.effort_limit)


def _rotation_error(goal: np.ndarray, current: np.ndarray) -> np.ndarray:
    """World-frame rotation vector taking current to goal [rad]."""
    return pin.log3(goal @ current.T)


def _local_to_world(rotation: np.ndarray, twist: np.ndarray) -> np.ndarray:
    return np.concatenate([rotation @ twist[:3], rotation @ twist[3:]])


def _planar(pose: pin.SE3) -> np.ndarray:
    """(x, y, yaw) of a pose on the floor."""
    return np.array([pose.translation[0], pose.translation[1], _yaw(pose.rotation)])


def _planar_of(translation: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    return np.array([translation[0], translation[1], _yaw(rotation)])


def _mean_angle(a: float, b: float) -> float:
    return math.atan2(math.sin(a) + math.sin(b), math.cos(a) + math.cos(b))


def _yaw(rotation: np.ndarray) -> float:
    return math.atan2(rotation[1, 0], rotation[0, 0])


def _foot_geometry(robot) -> tuple[float, float, float]:
    """Sole size from the description's rigid foot collision box: (back, front, half width) [m].
    The forefoot toe is left out: a compliant joint bears little (as the fall detector has it)."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(robot.urdf_xml)
    link = root.find(f"link[@name='{robot.prefix}left_foot']")
    box = link.find("collision/geometry/box")
    origin = link.find("collision/origin")
    sx, sy, _ = (float(v) for v in box.get("size").split())
    cx = float(origin.get("xyz").split()[0]) if origin is not None else 0.0
    return sx / 2 - cx, cx + sx / 2, sy / 2

"""The walking pattern: footsteps from a velocity command, the ZMP and centre-of-mass plan over
them (DCM, dcm.py), and the swing foot's path. Pure: no ROS, no robot model; the whole-body
controller reads one GaitReference per tick and makes the robot follow it (wbc/controller.py).

Phases alternate double support (the ZMP moves from one sole to the other) and single support
(the ZMP rests on the stance sole, the other foot swings). The current phase is fixed once begun;
the ones after it are planned again whenever the command changes or a phase ends, a few steps
ahead under the command as it is now, ending at rest: the DCM now depends on that future, which
fades as e^(-omega t) (under 1 % two steps ahead).

Poses here are planar: (x, y, yaw) in odom [m, m, rad]; the floor's height is the soles'.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from forma_common.params import check, param
from forma_control.errors import ControlConfigError
from forma_control.walk.dcm import ZmpSegment, dcm_at, follow

SIDES = ("left", "right")
STEPS_AHEAD = 3  # steps planned beyond the current phase
PARALLEL_M = 0.03  # a foot this close to its standing place (and PARALLEL_RAD) takes no step to stop
PARALLEL_RAD = 0.1
STOP_STEPS = 2  # steps at most to stand square after a zero command
# share of the swing in which the foot moves along the floor: all of it. The quintic starts and ends
# slowly enough that the foot lifts first and sets down last (< 1 mm of travel in the first and
# last 5 %); squeezed into 5-90 % its peak acceleration was 40 % higher, the swing hip's reaction
# rocked the stance sole onto its front edge mid-step and it spun on the floor (measured at
# 0.4 m/s: 36 deg of stance-foot yaw slip in 5 s and a fall; 3 deg and none over the whole swing)
SWING_MOVE = (0.0, 1.0)
MAX_LANDING_ERROR_M = 0.15  # a measured landing further than this from the plan is not believed
ADJUST_UNTIL = 0.75  # share of the swing after which its landing spot is fixed (the foot is setting down)


def other(side: str) -> str:
    return "right" if side == "left" else "left"


def compose(pose: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """pose (+) delta: delta expressed in pose's frame."""
    c, s = math.cos(pose[2]), math.sin(pose[2])
    return np.array([pose[0] + c * delta[0] - s * delta[1], pose[1] + s * delta[0] + c * delta[1], pose[2] + delta[2]])


def relative(pose: np.ndarray, to: np.ndarray) -> np.ndarray:
    """`to` expressed in pose's frame (the inverse of compose)."""
    c, s = math.cos(pose[2]), math.sin(pose[2])
    dx, dy = to[0] - pose[0], to[1] - pose[1]
    return np.array([c * dx + s * dy, -s * dx + c * dy, _wrap(to[2] - pose[2])])


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


@dataclasses.dataclass
class WalkSettings:
    """Gait timing, step limits and speed limits. Each field is also a parameter of the wbc node
    (prefixed `walk.`)."""

    step_s: float = param(0.5, "single support: how long a foot swings", unit="s", low=0.2, high=2.0)
    transfer_s: float = param(
        0.12, "double support: the weight moves from one sole to the other", unit="s", low=0.02, high=1.0
    )
    start_s: float = param(0.5, "the weight shift onto the first stance foot", unit="s", low=0.1, high=3.0)
    stop_s: float = param(
        0.6, "the weight shift back between the feet after the last step", unit="s", low=0.1, high=3.0
    )
    step_height_m: float = param(0.05, "swing foot clearance", unit="m", low=0.0, high=0.2)
    max_forward_m_s: float = param(0.5, "fastest forward walk", unit="m/s", low=0.0, high=2.0)
    max_backward_m_s: float = param(0.2, "fastest backward walk", unit="m/s", low=0.0, high=1.0)
    max_sideways_m_s: float = param(0.15, "fastest sideways walk", unit="m/s", low=0.0, high=1.0)
    max_turn_rad_s: float = param(0.5, "fastest turn", unit="rad/s", low=0.0, high=2.0)
    max_step_m: float = param(0.35, "longest step (swing foot ahead of the stance foot)", unit="m", low=0.0, high=0.6)
    min_width_m: float = param(0.14, "closest the feet's centres come sideways", unit="m", low=0.05, high=0.5)
    max_width_m: float = param(0.34, "widest stance a sidestep opens", unit="m", low=0.1, high=0.8)
    max_step_turn_rad: float = param(0.35, "largest turn between the feet in one step", unit="rad", low=0.0, high=1.0)
    tilt_feedback: float = param(
        1.0,
        "while walking, the pelvis reference leans against the measured tilt by this many times the tilt",
        low=0.0,
        high=5.0,
    )
    tilt_damping: float = param(
        4.0,
        "while walking, a moment on the pelvis against its measured tilting rate (IMU gyro) through the stance "
        "legs' feed-forward torques, in units of the robot's mass x CoM height^2",
        unit="1/s",
        low=0.0,
        high=50.0,
    )
    com_lower: float = param(
        0.04,
        "while walking, the centre of mass is held this share of its standing height lower (knees bent): at the "
        "ends of a long step a stance leg near full stretch vaulted the body 3 cm up and down every step, the "
        "stance sole all but unloaded and spun on the floor (measured at 0.5 m/s)",
        low=0.0,
        high=0.15,
    )
    zmp_forward_m: float = param(
        0.02,
        "the ZMP on a stance sole sits this far ahead of the ankle. Behind mid-foot: the swinging leg's reaction "
        "pushes it forward by several centimetres while the leg accelerates, and at mid-foot that reached the "
        "sole's front edge at 0.4 m/s (the sole rocked, unloaded and spun on the floor)",
        unit="m",
        low=-0.1,
        high=0.15,
    )
    zmp_inward_m: float = param(
        0.015, "the ZMP on a stance sole sits this far toward the other foot (less sway)", unit="m", low=0.0, high=0.05
    )
    step_adjust_gain: float = param(
        0.0,
        "share of the DCM deviation the ankles cannot absorb before touch-down that the swing foot's landing "
        "spot takes (0, off: footsteps as planned, the ankles correct; at 1, 60 N x 0.2 s pushes at 0.5 m/s "
        "were survived 2/4, 4/4 without)",
        low=0.0,
        high=1.5,
    )
    ankle_authority_forward_m: float = param(
        0.06,
        "how far the ankle is trusted to move the ZMP along a stance sole from the planned one: the DCM deviation "
        "it absorbs before touch-down needs no step adjustment",
        unit="m",
        low=0.0,
        high=0.15,
    )
    ankle_authority_sideways_m: float = param(
        0.015, "the same across the sole (narrower: less to work with)", unit="m", low=0.0, high=0.1
    )
    step_adjust_filter_s: float = param(
        0.05,
        "low-pass time constant on the measured DCM's deviation that moves the landing spot (touch-downs jolt "
        "the estimate for a few ticks)",
        unit="s",
        low=0.0,
        high=0.5,
    )
    step_adjust_max_m: float = param(
        0.12, "farthest a landing spot moves from the planned one to catch the DCM", unit="m", low=0.0, high=0.4
    )
    arm_swing: float = param(
        0.6,
        "a hand with no target swings against the foot of its own side: its forward offset in the walking frame is "
        "minus this share of that foot's distance ahead of the feet's midpoint (0: the hands ride still)",
        low=0.0,
        high=1.5,
    )
    arm_swing_lead_s: float = param(
        0.2,
        "the arm swing follows where the swinging foot will be this much later: a held hand reaches its moving "
        "target about that late (measured at 0.5 m/s: the hands lagged the feet by 0.24 s)",
        unit="s",
        low=0.0,
        high=0.5,
    )

    def __post_init__(self) -> None:
        check(self, ControlConfigError)

    @property
    def step_period_s(self) -> float:
        return self.step_s + self.transfer_s

    def clamp(self, velocity: np.ndarray) -> tuple[np.ndarray, str]:
        """The command within the gait's limits, and what was clamped ('' if nothing)."""
        vx, vy, wz = (float(v) for v in velocity)
        limited = np.array(
            [
                min(max(vx, -self.max_backward_m_s), self.max_forward_m_s),
                min(max(vy, -self.max_sideways_m_s), self.max_sideways_m_s),
                min(max(wz, -self.max_turn_rad_s), self.max_turn_rad_s),
            ]
        )
        names = [
            f"{name} {value:+.2f} {unit} to {lim:+.2f}"
            for name, unit, value, lim in zip(
                ("forward", "sideways", "turn"), ("m/s", "m/s", "rad/s"), (vx, vy, wz), limited, strict=True
            )
            if abs(value - lim) > 1e-9
        ]
        return limited, ("clamped " + ", ".join(names)) if names else ""


@dataclasses.dataclass
class Phase:
    """Double support (swing None): the ZMP from zmp_from to zmp_to, ending on `into` (None: between
    the feet, at rest). Single support: `swing` moves from swing_from to swing_to."""

    duration_s: float
    zmp_from: np.ndarray
    zmp_to: np.ndarray
    swing: str | None = None
    swing_from: np.ndarray | None = None
    swing_to: np.ndarray | None = None
    into: str | None = None
    final: bool = False
    stopping: bool = False  # a step planned to stop (counts toward STOP_STEPS)
    swing_planned: np.ndarray | None = None  # the landing spot before any adjustment (see Gait.adjust_step)


@dataclasses.dataclass
class GaitReference:
    """What the controller tracks this tick (odom)."""

    com_xy: np.ndarray  # [m]
    com_velocity_xy: np.ndarray  # [m/s]
    dcm_xy: np.ndarray  # [m]
    zmp_xy: np.ndarray  # [m]
    feet: dict[str, np.ndarray]  # side -> (x, y, yaw)
    foot_height_m: dict[str, float]  # above the floor
    foot_velocity: dict[str, np.ndarray]  # side -> (vx, vy, vz, yaw rate)
    support: tuple[str, ...]  # soles bearing weight
    load_left: float  # planned share of the weight on the left sole
    steps: int  # steps completed
    done: bool  # at rest after the final transfer: standing control resumes


class Gait:
    """Walking from standing to standing. start() with the feet and CoM where they are; command()
    any time; advance() once per control tick."""

    def __init__(self, settings: WalkSettings, omega: float, sole_zmp_forward_m: float) -> None:
        self.s = settings
        self.omega = omega
        self.zmp_forward_m = sole_zmp_forward_m
        self.velocity = np.zeros(3)  # the command being walked
        self.pending = np.zeros(3)  # the latest command, taken at the next phase boundary
        self.phases: list[Phase] = []
        self.elapsed_s = 0.0
        self.feet: dict[str, np.ndarray] = {}
        self.width_m = 0.19
        self.com_xy = np.zeros(2)
        self.steps = 0
        self.stop_steps = 0  # steps taken since the command went to zero
        self.stopping_from = np.zeros(3)  # the velocity walked before the zero command
        self._deviation: np.ndarray | None = None  # low-passed DCM deviation in the stance sole's axes (adjust_step)

    @property
    def active(self) -> bool:
        return bool(self.phases)

    @property
    def swinging(self) -> str | None:
        """The foot in the air (None in double support)."""
        return self.phases[0].swing if self.phases else None

    @property
    def landing(self) -> str | None:
        """The foot the weight is moving onto in double support (None otherwise)."""
        return self.phases[0].into if self.phases and self.phases[0].swing is None else None

    def start(
        self,
        left: np.ndarray,
        right: np.ndarray,
        com_xy: np.ndarray,
        velocity: np.ndarray,
        width_m: float | None = None,
    ) -> None:
        """Begin walking from standing: the first swing foot is the one on the side of the sideways
        or turning command (the left one for straight ahead). width_m: the stance width to walk
        at (default: the feet's as they stand; the controller passes the standing pose's, since a
        walk that ended in a turn can leave the feet narrower or wider)."""
        self.feet = {"left": np.asarray(left, float).copy(), "right": np.asarray(right, float).copy()}
        if width_m is None:
            width_m = abs(relative(self.feet["right"], self.feet["left"])[1])
        self.width_m = float(np.clip(width_m, self.s.min_width_m, self.s.max_width_m))
        self.com_xy = np.asarray(com_xy, float).copy()
        self.velocity = np.asarray(velocity, float).copy()
        self.pending = self.velocity.copy()
        self.steps = self.stop_steps = 0
        vx, vy, wz = self.velocity
        first = "right" if (vy < 0 or (vy == 0 and wz < 0)) else "left"
        stance = other(first)
        self.phases = [Phase(self.s.start_s, self.com_xy.copy(), self._zmp(stance, self.feet[stance]), into=stance)]
        self.elapsed_s = 0.0
        self._replan()

    def command(self, velocity: np.ndarray) -> None:
        """A new (clamped) velocity (forward, sideways [m/s], turn [rad/s]) in the walking frame;
        zero walks to a stop. Taken at the next phase boundary (within step_s): re-planned on
        every message, a command stream that wavered (a steering controller's) jolted the CoM plan
        each time and the robot fell (measured)."""
        self.pending = np.asarray(velocity, float).copy()

    def adjust_step(self, dcm_xy: np.ndarray, dt_s: float) -> None:
        """Move the swinging foot's landing spot to catch the measured DCM (dcm_xy, in the plan's
        frame). The plan's DCM at this instant is affine in the landing spot: it moves by
        `sensitivity` times the spot's shift (all later steps are planned from it), so the spot
        that puts the plan's DCM on the measured one is the planned spot + deviation / sensitivity.
        Only the part of the deviation the stance ankle cannot absorb before touch-down counts
        (ankle_authority_*_m of ZMP shift for the rest of the swing, per axis of the stance sole):
        the measured DCM swings +-3 cm about the plan within every step (the swing leg's mass,
        the joints' compliance) and comes back by touch-down; stepping on all of it, amplified by
        e^(omega t), threw the feet about and the robot fell at 0.25 m/s (measured). Off by default
        (walk.step_adjust_gain 0): the ankles alone did better on pushes up to 60 N (measured)."""
        phase = self.phases[0] if self.phases else None
        if phase is None or phase.swing is None or self.s.step_adjust_gain <= 0.0:
            return
        if self.elapsed_s > ADJUST_UNTIL * phase.duration_s:
            return
        if phase.swing_planned is None:
            phase.swing_planned = phase.swing_to.copy()
            self._deviation = None
        sensitivity = self._landing_sensitivity(phase)
        segments = [ZmpSegment(p.duration_s, p.zmp_from, p.zmp_to) for p in self.phases]
        shift = phase.swing_to[:2] - phase.swing_planned[:2]
        xi_planned = dcm_at(segments, self.elapsed_s, self.omega) - sensitivity * shift
        stance = self.feet[other(phase.swing)]
        c, s = math.cos(stance[2]), math.sin(stance[2])
        to_sole = np.array([[c, s], [-s, c]])  # plan -> stance sole axes
        deviation = to_sole @ (np.asarray(dcm_xy, float) - xi_planned)
        if self._deviation is None:
            self._deviation = deviation
        self._deviation = self._deviation + dt_s / (self.s.step_adjust_filter_s + dt_s) * (deviation - self._deviation)
        deviation = self._deviation
        remaining = max(phase.duration_s - self.elapsed_s, 0.0)
        authority = np.array([self.s.ankle_authority_forward_m, self.s.ankle_authority_sideways_m])
        absorbed = authority * (1.0 - math.exp(-self.omega * remaining))
        excess = np.sign(deviation) * np.maximum(np.abs(deviation) - absorbed, 0.0)
        wanted = to_sole.T @ (self.s.step_adjust_gain * excess / sensitivity)
        norm = float(np.linalg.norm(wanted))
        if norm > self.s.step_adjust_max_m:
            wanted *= self.s.step_adjust_max_m / norm
        spot = phase.swing_planned.copy()
        spot[:2] += wanted
        phase.swing_to = self._within_limits(phase.swing, stance, relative(stance, spot), self.s.step_adjust_max_m)
        self._replan()

    def _landing_sensitivity(self, phase: Phase) -> float:
        """How far the plan's DCM moves now per metre the landing spot moves: the rest of this
        swing and the transfer onto the new foot, in closed form (a unit step of the ZMP that
        ramps in over the transfer, seen through e^(-omega t))."""
        remaining = max(phase.duration_s - self.elapsed_s, 0.0)
        ramp = self.omega * max(self.s.transfer_s, 1e-6)
        return max(math.exp(-self.omega * remaining) * (1.0 - math.exp(-ramp)) / ramp, 1e-3)

    def advance(self, dt_s: float, landed: dict[str, np.ndarray] | None = None) -> GaitReference:
        """The reference `dt_s` later. landed: where the foot that last touched down is now, by the
        robot's own measurement in the plan's frame (landing_in_plan). When the weight has moved
        onto it, the plan takes it where it is and plans the next steps from there: on compliant
        joints a swing foot lands a few centimetres off its path, and planning on from the
        intended spot left the reference model's feet apart from the real ones (measured: 13 cm
        after four steps backward)."""
        self.elapsed_s += dt_s
        while len(self.phases) > 1 and self.elapsed_s >= self.phases[0].duration_s:
            done = self.phases.pop(0)
            self.elapsed_s -= done.duration_s
            if not np.allclose(self.pending, self.velocity, atol=1e-6):
                if not np.any(self.pending):
                    self.stopping_from = self.velocity.copy()
                self.velocity = self.pending.copy()
                self.stop_steps = 0
            if done.swing is not None:
                self.feet[done.swing] = done.swing_to.copy()
                self.steps += 1
                self.stop_steps += int(done.stopping)
            elif done.into is not None and landed is not None and done.into in landed:
                off = relative(self.feet[done.into], landed[done.into])
                if math.hypot(off[0], off[1]) <= MAX_LANDING_ERROR_M:
                    self.feet[done.into] = np.asarray(landed[done.into], float).copy()
                    self.phases[0].zmp_from = self._zmp(done.into, self.feet[done.into])
            self._replan()
        phase = self.phases[0]
        at_rest = phase.final and self.elapsed_s >= phase.duration_s
        segments = [ZmpSegment(p.duration_s, p.zmp_from, p.zmp_to) for p in self.phases]
        xi = dcm_at(segments, self.elapsed_s, self.omega)
        self.com_xy = follow(self.com_xy, xi, self.omega, dt_s)
        velocity = self.omega * (xi - self.com_xy)
        feet = {side: pose.copy() for side, pose in self.feet.items()}
        height = {side: 0.0 for side in SIDES}
        foot_velocity = {side: np.zeros(4) for side in SIDES}
        t = min(self.elapsed_s / max(phase.duration_s, 1e-9), 1.0)
        zmp = phase.zmp_from + t * (phase.zmp_to - phase.zmp_from)
        if phase.swing is not None:
            side = phase.swing
            feet[side], height[side], foot_velocity[side] = swing_path(
                phase.swing_from, phase.swing_to, self.elapsed_s, phase.duration_s, self.s.step_height_m
            )
            support = (other(side),)
            load_left = 1.0 if side == "right" else 0.0
        else:
            support = SIDES
            load_left = self._share_left(zmp)
        if at_rest:
            self.phases = []
        return GaitReference(
            self.com_xy.copy(), velocity, xi, zmp, feet, height, foot_velocity, support, load_left, self.steps, at_rest
        )

    # --------------------------------------------------------------------------------------
    def _zmp(self, side: str, foot: np.ndarray) -> np.ndarray:
        inward = -self.s.zmp_inward_m if side == "left" else self.s.zmp_inward_m
        return compose(foot, np.array([self.zmp_forward_m, inward, 0.0]))[:2]

    def _share_left(self, zmp: np.ndarray) -> float:
        left, right = self._zmp("left", self.feet["left"]), self._zmp("right", self.feet["right"])
        axis = left - right
        return float(np.clip((zmp - right) @ axis / max(axis @ axis, 1e-12), 0.0, 1.0))

    def _target(self, swing: str, stance_pose: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        """Where the swing foot lands: the frame between the feet, moved by one step period of the
        command, then the foot at half the stance width from it; within the step limits."""
        half = self.width_m / 2.0
        toward_swing = half if swing == "left" else -half
        mid = compose(stance_pose, np.array([0.0, toward_swing, 0.0]))
        moved = compose(mid, velocity * self.s.step_period_s)
        target = compose(moved, np.array([0.0, toward_swing, 0.0]))
        return self._within_limits(swing, stance_pose, relative(stance_pose, target))

    def _within_limits(self, swing: str, stance_pose: np.ndarray, rel: np.ndarray, reach_m: float = 0.0) -> np.ndarray:
        """A landing spot (rel: in the stance foot's frame) within the step limits, in the plan's
        frame; reach_m: how much further than a planned step a catching step may go."""
        rel = np.asarray(rel, float).copy()
        sign = 1.0 if swing == "left" else -1.0
        longest = self.s.max_step_m + reach_m
        rel[0] = float(np.clip(rel[0], -longest, longest))
        rel[1] = sign * float(np.clip(sign * rel[1], self.s.min_width_m, self.s.max_width_m + reach_m))
        rel[2] = float(np.clip(rel[2], -self.s.max_step_turn_rad, self.s.max_step_turn_rad))
        return compose(stance_pose, rel)

    def _replan(self) -> None:
        """Phases after the current one, from where it leaves the feet, under the current command."""
        current = self.phases[0]
        self.phases = [current]
        if current.final:
            return
        feet = dict(self.feet)
        if current.swing is not None:
            feet[current.swing] = current.swing_to
            stance = current.swing  # it lands and bears the weight next
            zmp = current.zmp_to
            phases = [Phase(self.s.transfer_s, zmp, self._zmp(stance, feet[stance]), into=stance)]
            zmp = phases[-1].zmp_to
        else:
            stance, zmp, phases = current.into, current.zmp_to, []
        stopping = not np.any(self.velocity)
        taken = self.stop_steps + int(current.stopping)  # stop steps taken or under way
        for index in range(STEPS_AHEAD):
            if stance is None or (stopping and taken + index >= STOP_STEPS):
                break
            swing = other(stance)
            # stopping: the first step at half the speed it walked, then square (two steps at most;
            # stepping square at once from full speed tipped the robot over now and then)
            velocity = self.velocity
            if stopping and taken + index == 0:
                velocity = 0.5 * self.stopping_from
            target = self._target(swing, feet[stance], velocity)
            off = relative(target, feet[swing])
            if stopping and math.hypot(off[0], off[1]) < PARALLEL_M and abs(off[2]) < PARALLEL_RAD:
                break  # already standing square: no step needed to stop
            phases.append(
                Phase(self.s.step_s, zmp, zmp, swing=swing, swing_from=feet[swing], swing_to=target, stopping=stopping)
            )
            feet[swing] = target
            landed = self._zmp(swing, target)
            phases.append(Phase(self.s.transfer_s, zmp, landed, into=swing))
            stance, zmp = swing, landed
        mid = 0.5 * (self._zmp("left", feet["left"]) + self._zmp("right", feet["right"]))
        phases.append(Phase(self.s.stop_s, zmp, mid, final=True))
        self.phases += phases


def landing_in_plan(stance_plan: np.ndarray, stance_measured: np.ndarray, swing_measured: np.ndarray) -> np.ndarray:
    """The swing foot's measured pose carried into the plan's frame through the stance foot:
    where it is relative to the stance sole, measured, placed beside the stance sole as planned
    (the estimate's own odom drifts from the plan's; the feet's relative pose does not)."""
    return compose(stance_plan, relative(stance_measured, swing_measured))


def swing_path(
    start: np.ndarray, end: np.ndarray, elapsed_s: float, duration_s: float, height_m: float
) -> tuple[np.ndarray, float, np.ndarray]:
    """The swing foot (x, y, yaw), its height above the floor and its velocity (vx, vy, vz, yaw
    rate) `elapsed_s` into a swing: lifted as sin^2 (no vertical speed at lift-off or touch-down),
    moved sideways and forward on a quintic over SWING_MOVE of the swing (no speed or acceleration
    at either end), so it leaves and lands all but straight up and down, never scuffing."""
    duration = max(duration_s, 1e-9)
    s = min(max(elapsed_s / duration, 0.0), 1.0)
    u = min(max((s - SWING_MOVE[0]) / (SWING_MOVE[1] - SWING_MOVE[0]), 0.0), 1.0)
    blend = u**3 * (10.0 - 15.0 * u + 6.0 * u * u)
    window = (SWING_MOVE[1] - SWING_MOVE[0]) * duration
    blend_rate = 30.0 * u * u * (1.0 - u) ** 2 / window if 0.0 < u < 1.0 else 0.0
    delta = np.array([end[0] - start[0], end[1] - start[1], _wrap(end[2] - start[2])])
    pose = start + blend * delta
    height = height_m * math.sin(math.pi * s) ** 2
    height_rate = height_m * math.pi * math.sin(2.0 * math.pi * s) / duration if s < 1.0 else 0.0
    velocity = np.array([delta[0] * blend_rate, delta[1] * blend_rate, height_rate, delta[2] * blend_rate])
    return pose, height, velocity

"""The grasp state machine of one hand: pre-shape -> close until contact and force -> hold, watching
for slip and drop. Pure: it sees what the hardware topics carry (joint positions and efforts, the
five fingertip forces) and returns joint targets; the node and the lockstep trials drive it alike.

Closing. Each closing finger has its own closure u (0 = pre-shape, 1 = the type's closed shape) that
grows at the type's speed. A finger's force is the larger of its fingertip touch force and the
force its flexion joints press with (effort / lever arm: a phalanx can touch where the tip sensor
is not). A finger stops closing when its force reaches its share of the goal's max_force_n (the
per-finger force limit); the grasp holds once every finger has stopped or is fully closed and
every required fingertip touches. Required fingers fully closed with no contact = the hand is
empty (NO_CONTACT): failure, never success.

Holding. Fewer fingers in contact than the type's hold_min_contacts for loss_debounce_s, or a
required finger whose closure reaches 1 while re-gripping (closing past the object's size), means
the object is gone: the state becomes LOST (the node publishes an event). A finger whose force sags below half
its limit closes a little more (re-grip), slowly.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping, Sequence

from forma_common.params import check, param
from forma_hands.errors import HandsError
from forma_hands.hand_joints import FINGER_JOINTS, FINGERS, FLEXION_JOINTS, LOCAL_JOINTS, SIDES, HandJoints
from forma_hands.taxonomy import GRASP_TYPE_NAMES, GraspType

# Lever arm from each flexion joint to the fingertip [m] (male form, 1.73 m; used to turn joint
# effort into a fingertip-equivalent force; a 10 % error in it shifts force estimates by 10 %).
LEVER_M = {
    "thumb_cmc_abd": 0.106,
    "thumb_cmc_flex": 0.106,
    "thumb_cmc_rot": 0.02,  # rotation about the thumb's own axis: a short lever
    "thumb_mcp": 0.061,
    "thumb_ip": 0.028,
    "mcp_abd": 0.093,
    "mcp": 0.093,
    "pip": 0.048,
    "dip": 0.022,
    "palm_arch": 0.1,
}


REGRIP_MAX = 0.1  # closure a finger may add while holding (re-grip)


class ErrorCode(enum.IntEnum):
    """forma_interfaces/action/Grasp result codes."""

    OK = 0
    INVALID_GOAL = 1
    NO_CONTACT = 2
    OBJECT_LOST = 3
    TIMEOUT = 4
    CANCELED = 5
    HARDWARE_NOT_ACTIVE = 6


class Phase(enum.Enum):
    IDLE = "idle"
    PRESHAPE = "pre-shape"
    CLOSE = "close"
    HOLD = "hold"
    DONE = "done"  # an open/relax shape reached, or the grasp failed; targets stay where they are


@dataclasses.dataclass(frozen=True)
class GraspGoal:
    hand: str  # "left" / "right"; "" = the controller's own hand
    grasp_type: str
    max_force_n: float  # largest total fingertip force [N]
    timeout_s: float = 0.0  # 0 = the controller's default
    object_position_m: Sequence[float] | None = None  # optional hint (any frame): checked finite
    object_size_m: Sequence[float] | None = None


@dataclasses.dataclass(frozen=True)
class GraspConfig:
    """Thresholds of the state machine (node parameters with the same names)."""

    touch_contact_n: float = param(0.3, "fingertip touch force that counts as contact", unit="N", low=0.01, high=50.0)
    effort_contact_n: float = param(
        1.5, "joint-effort-equivalent fingertip force that counts as contact", unit="N", low=0.01, high=50.0
    )
    max_force_limit_n: float = param(
        40.0, "goals asking more total max_force_n are refused", unit="N", low=0.1, high=500.0
    )
    default_timeout_s: float = param(5.0, "grasp timeout when a goal gives 0", unit="s", low=0.1, high=120.0)
    preshape_speed_rad_s: float = param(3.0, "joint speed toward a pre-shape", unit="rad/s", low=0.01, high=20.0)
    preshape_tolerance_rad: float = param(0.08, "pre-shape reached within this", unit="rad", low=0.001, high=1.0)
    preshape_max_s: float = param(1.5, "close after this long even if a joint lags", unit="s", low=0.01, high=30.0)
    loss_debounce_s: float = param(
        0.15, "a required finger without contact this long = object lost", unit="s", low=0.001, high=5.0
    )
    regrip_speed_per_s: float = param(
        0.1, "closure per second while re-gripping a sagging finger", unit="1/s", low=0.001, high=10.0
    )

    def __post_init__(self) -> None:
        check(self, HandsError)
        if self.touch_contact_n >= self.max_force_limit_n:
            raise HandsError(f"touch_contact_n {self.touch_contact_n} must be below max_force_limit_n")


@dataclasses.dataclass(frozen=True)
class Feedback:
    phase: str
    closure: float  # mean closure of the closing fingers, 0..1
    contacts: int  # fingertips in contact
    total_force_n: float


@dataclasses.dataclass(frozen=True)
class Outcome:
    success: bool
    holding: bool
    code: ErrorCode
    message: str


def validate_goal(goal: GraspGoal, side: str, types: Mapping[str, GraspType], config: GraspConfig) -> None:
    """Refuse a goal the hand cannot run, naming the bad value and the valid ones."""
    if goal.hand not in ("", side):
        valid = f"{side!r} or empty"
        raise HandsError(f"goal for hand {goal.hand!r} sent to the {side} hand's action; valid: {valid}")
    if goal.hand and goal.hand not in SIDES:
        raise HandsError(f"hand {goal.hand!r}: valid hands are {', '.join(SIDES)}")
    if goal.grasp_type not in types:
        raise HandsError(f"unknown grasp type {goal.grasp_type!r}; valid: {', '.join(GRASP_TYPE_NAMES)}")
    f = goal.max_force_n
    if not (math.isfinite(f) and 0.0 < f <= config.max_force_limit_n):
        raise HandsError(f"max_force_n {f}: must be a finite force in (0, {config.max_force_limit_n}] N")
    if not (math.isfinite(goal.timeout_s) and 0.0 <= goal.timeout_s <= 60.0):
        raise HandsError(f"timeout_s {goal.timeout_s}: must be in 0..60 s (0 = default)")
    for name, values in (("object pose", goal.object_position_m), ("object size", goal.object_size_m)):
        if values is not None and not all(math.isfinite(v) for v in values):
            raise HandsError(f"{name} {list(values)} is not finite")
    if goal.object_size_m is not None and any(v < 0 for v in goal.object_size_m):
        raise HandsError(f"object size {list(goal.object_size_m)} has a negative extent")


def finger_forces(
    touch_n: Sequence[float], efforts: Mapping[str, float], grasp: GraspType | None = None
) -> dict[str, float]:
    """Force of each finger [N]: max(tip touch, the effort its closing joints press with / lever arm).

    A joint presses when its effort [N m] points the way the grasp closes it (flexion joints: positive;
    with a grasp given, the sign of closed - pre-shape, e.g. a thumb adducting onto an object)."""
    out = {}
    for i, f in enumerate(FINGERS):
        pressing = 0.0
        for j in FINGER_JOINTS[f]:
            if grasp is not None:
                delta = grasp.closed[j] - grasp.preshape[j]
                if abs(delta) < 1e-3:
                    continue
                sign = 1.0 if delta > 0 else -1.0
            elif j in FLEXION_JOINTS[f]:
                sign = 1.0
            else:
                continue
            lever = LEVER_M.get(j) or LEVER_M.get(j.split("_", 1)[1]) or LEVER_M[j.split("_")[-1]]
            pressing = max(pressing, max(0.0, sign * efforts.get(j, 0.0)) / lever)
        out[f] = max(float(touch_n[i]), pressing)
    return out


class GraspController:
    """One hand's grasp: call start(), then tick() every control period."""

    def __init__(self, hand: HandJoints, types: Mapping[str, GraspType], config: GraspConfig = GraspConfig()) -> None:
        self.hand, self.types, self.config = hand, types, config
        self.phase = Phase.IDLE
        self.grasp: GraspType | None = None
        self.targets: dict[str, float] | None = None  # what the hand is commanded to [rad]
        self.outcome: Outcome | None = None  # set once the goal is decided (success/holding or failure)
        self.lost: Outcome | None = None  # set when a held object is lost (after success)
        self.preshape_only = False
        self._events: list[str] = []

    # --- commands -----------------------------------------------------------------------------
    def start(self, goal: GraspGoal, now_s: float, positions: Mapping[str, float], preshape_only: bool = False) -> None:
        """Begin a grasp (refused with HandsError, changing nothing, if the goal is bad).

        preshape_only: take the type's pre-shape and stop there (success, not holding), e.g. to
        shape the hand before the arm brings it around the object; a later start() then closes."""
        validate_goal(goal, self.hand.side, self.types, self.config)
        self._check_positions(positions)
        self.grasp = self.types[goal.grasp_type]
        self.phase = Phase.PRESHAPE
        self.start_s = self.phase_s = now_s
        self.deadline_s = now_s + (goal.timeout_s or self.config.default_timeout_s)
        n = max(1, len(self.grasp.closing_fingers))
        self.finger_limit_n = goal.max_force_n / n
        self.u = {f: 0.0 for f in FINGERS}
        self.stopped = {f: False for f in FINGERS}
        self.contact_seen = {f: False for f in FINGERS}
        self._few_contacts_since: float | None = None
        self.outcome = self.lost = None
        self.preshape_only = preshape_only
        self._via_pending = True
        if self.targets is None:
            self.targets = {j: float(positions[j]) for j in LOCAL_JOINTS}

    def hold_position(self, positions: Mapping[str, float]) -> None:
        """Command the measured pose (start-up, before any goal)."""
        self._check_positions(positions)
        self.targets = self.hand.clip(positions)

    def set_targets(self, targets: Mapping[str, float]) -> None:
        """Teleop / policy targets (synergies): ends any grasp without an outcome of its own."""
        self.hand.check(targets)
        self.phase, self.grasp, self.targets = Phase.IDLE, None, dict(targets)

    def cancel(self, now_s: float, reason: str = "canceled") -> Outcome:
        """Stop the grasp and release: the hand opens (rate-limited) to the open shape."""
        out = Outcome(False, False, ErrorCode.CANCELED, reason)
        if self.phase in (Phase.PRESHAPE, Phase.CLOSE, Phase.HOLD) and self.outcome is None:
            self.outcome = out
        if self.targets is not None:
            self.grasp = self.types["open"]
            self.phase, self.u = Phase.PRESHAPE, {f: 0.0 for f in FINGERS}
            self.phase_s, self.deadline_s = now_s, now_s + self.config.default_timeout_s
            self._via_pending = False
        return out

    def pop_events(self) -> list[str]:
        out, self._events = self._events, []
        return out

    # --- the control period -------------------------------------------------------------------
    def tick(
        self,
        now_s: float,
        dt_s: float,
        positions: Mapping[str, float],
        efforts: Mapping[str, float],
        touch_n: Sequence[float],
    ) -> tuple[dict[str, float] | None, Feedback]:
        """One control period: returns the 22 targets [rad] (None before anything is known) and feedback."""
        forces = finger_forces(touch_n, efforts, self.grasp if self.phase in (Phase.CLOSE, Phase.HOLD) else None)
        contact = {f: self._in_contact(f, touch_n[i], forces[f]) for i, f in enumerate(FINGERS)}
        if self.phase == Phase.PRESHAPE:
            self._preshape(now_s, dt_s, positions)
        elif self.phase == Phase.CLOSE:
            self._close(now_s, dt_s, forces, contact)
        elif self.phase == Phase.HOLD:
            self._hold(now_s, dt_s, forces, contact)
        closing = self.grasp.closing_fingers if self.grasp else ()
        closure = sum(self.u[f] for f in closing) / len(closing) if closing and hasattr(self, "u") else 0.0
        feedback = Feedback(
            self.phase.value, closure, sum(contact.values()), sum(forces[f] for f in FINGERS if contact[f])
        )
        return (dict(self.targets) if self.targets is not None else None), feedback

    # --- phases -------------------------------------------------------------------------------
    def _preshape(self, now_s: float, dt_s: float, positions: Mapping[str, float]) -> None:
        step = self.config.preshape_speed_rad_s * dt_s
        via = self.grasp.preshape_via
        if self._via_pending and via:
            # first the waypoint (via joints to their via values, the rest toward the pre-shape)
            if all(abs(positions[j] - v) < self.config.preshape_tolerance_rad for j, v in via.items()) and all(
                abs(positions[j] - self.grasp.preshape[j]) < self.config.preshape_tolerance_rad
                for j in LOCAL_JOINTS
                if j not in via
            ):
                self._via_pending = False
        else:
            self._via_pending = False
        for j in LOCAL_JOINTS:
            goal = via[j] if self._via_pending and j in via else self.grasp.preshape[j]
            self.targets[j] += min(max(goal - self.targets[j], -step), step)
        reached = all(abs(self.targets[j] - self.grasp.preshape[j]) < 1e-9 for j in LOCAL_JOINTS) and all(
            abs(positions[j] - self.grasp.preshape[j]) < self.config.preshape_tolerance_rad for j in LOCAL_JOINTS
        )
        if reached or now_s - self.phase_s >= self.config.preshape_max_s:
            if not self.grasp.closes or self.preshape_only:
                self.phase = Phase.DONE
                if self.outcome is None:
                    self.outcome = Outcome(True, False, ErrorCode.OK, f"{self.grasp.name} shape reached")
                return
            self.phase, self.phase_s = Phase.CLOSE, now_s
        elif now_s > self.deadline_s:
            self._fail(ErrorCode.TIMEOUT, f"pre-shape not reached within the timeout ({self.grasp.name})")

    def _close(self, now_s: float, dt_s: float, forces: dict[str, float], contact: dict[str, bool]) -> None:
        g = self.grasp
        for f in g.closing_fingers:
            if contact[f]:
                self.contact_seen[f] = True
            if forces[f] >= self.finger_limit_n:
                self.stopped[f] = True  # per-finger force limit: stop closing this finger
            elif self.stopped[f] and not contact[f]:
                self.stopped[f] = False  # the object moved away from it: keep closing
            if not self.stopped[f]:
                self.u[f] = min(1.0, self.u[f] + g.close_speed_per_s * dt_s)
        self._apply_closure()
        settled = all(self.stopped[f] or self.u[f] >= 1.0 for f in g.closing_fingers)
        required_ok = all(contact[f] and (self.stopped[f] or f not in g.closing_fingers) for f in g.required_contacts)
        if required_ok and sum(contact.values()) >= g.min_contacts and settled:
            self.phase, self.phase_s = Phase.HOLD, now_s
            self.u_hold = dict(self.u)
            self.outcome = Outcome(
                True, True, ErrorCode.OK, f"{g.name} grasp holding with {sum(contact.values())} contacts"
            )
            return
        empty = [f for f in g.required_contacts if self.u[f] >= 1.0 and not contact[f]]
        if empty:
            if any(self.contact_seen[f] for f in g.required_contacts):
                self._fail(
                    ErrorCode.OBJECT_LOST, f"object lost while closing: {', '.join(empty)} closed fully after contact"
                )
            else:
                self._fail(
                    ErrorCode.NO_CONTACT, f"{', '.join(empty)} closed fully without touching: no object in the hand"
                )
        elif now_s > self.deadline_s:
            self._fail(ErrorCode.TIMEOUT, f"no stable {g.name} grasp within the timeout")

    def _hold(self, now_s: float, dt_s: float, forces: dict[str, float], contact: dict[str, bool]) -> None:
        g = self.grasp
        n_contacts = sum(contact.values())
        if n_contacts >= max(1, g.hold_min_contacts):
            self._few_contacts_since = None
        elif self._few_contacts_since is None:
            self._few_contacts_since = now_s
        for f in g.closing_fingers:
            # re-grip a sagging finger, but only a little past where it stopped: closing on and on
            # would push the object out of a cage (measured: the ball squeezed out past the thumb)
            if forces[f] < 0.5 * self.finger_limit_n:
                limit = min(1.0, self.u_hold[f] + REGRIP_MAX)
                self.u[f] = min(limit, self.u[f] + self.config.regrip_speed_per_s * dt_s)
        self._apply_closure()
        gone = self._few_contacts_since is not None and now_s - self._few_contacts_since >= self.config.loss_debounce_s
        past = [f for f in g.required_contacts if self.u[f] >= 1.0 and not contact[f]]
        if gone or past:
            why = f"{n_contacts} finger(s) still in contact" if gone else f"{', '.join(past)} closed past the object"
            self.lost = Outcome(False, False, ErrorCode.OBJECT_LOST, f"object lost from the {g.name} grasp: {why}")
            self._events.append(self.lost.message)
            self.phase = Phase.DONE

    # --- helpers ------------------------------------------------------------------------------
    def _apply_closure(self) -> None:
        g = self.grasp
        for f in FINGERS:
            for j in FINGER_JOINTS[f]:
                self.targets[j] = g.preshape[j] + self.u[f] * (g.closed[j] - g.preshape[j])
        mean_u = sum(self.u[f] for f in g.closing_fingers) / max(1, len(g.closing_fingers))
        self.targets["palm_arch"] = g.preshape["palm_arch"] + mean_u * (g.closed["palm_arch"] - g.preshape["palm_arch"])

    def _in_contact(self, finger: str, touch_n: float, force_n: float) -> bool:
        return touch_n >= self.config.touch_contact_n or force_n >= self.config.effort_contact_n

    def _fail(self, code: ErrorCode, message: str) -> None:
        self.outcome = Outcome(False, False, code, message)
        self.phase = Phase.DONE

    def _check_positions(self, positions: Mapping[str, float]) -> None:
        missing = [j for j in LOCAL_JOINTS if j not in positions or not math.isfinite(positions[j])]
        if missing:
            raise HandsError(f"no finite joint position yet for {', '.join(missing[:4])}: is joint_states arriving?")

"""The safety supervisor's operating-mode state machine (DESIGN §4), with no ROS in sight.

Modes (values of forma_interfaces/SafetyState):
  DAMPING      start; joints damped or the hardware holding its startup pose; nobody commands.
  STANDING_UP  hardware/reset, then a PostureRamp from the measured pose to the stand pose
               (every joint <= max_speed_rad_s); the supervisor itself commands the ramped groups.
  ACTIVE       the ramp finished and the joints came to rest (settle_speed_rad_s, at most
               settle_max_s): the supervisor stops commanding, the controllers (WBC) command
               while safety/state says ACTIVE.
  HOLD         the hardware latched a stiff hold on a supervised group (e.g. a command timeout), or
               the supervisor's sensor inputs went stale (it then stops the controllers, and the
               hardware holds on its command timeout). Recovered automatically (reset + a tiny ramp)
               at most recover_holds_per_min times a minute when only a command timeout caused it.
  ESTOP        e-stop engaged (safety/estop, or hardware/estop by anyone): latched.
  FAULT        fall detected or hardware fault: the supervisor engages the hardware e-stop (damp,
               latched in the hardware too).
ESTOP and FAULT leave only through request_reset(), to DAMPING; then a STANDING_UP request (or
auto_stand) stands the robot up again.

The core does not talk to the hardware itself: its methods return Actions (engage / release the
hardware e-stop, damp, reset) for the caller to carry out — the ROS node through services, the
lockstep harness directly on the hardware contract — and the caller reports results back.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping, Sequence

import numpy as np

from forma_common.params import check, param
from forma_control.errors import ControlError
from forma_control.safety.fall_detection import FallVerdict
from forma_control.stand.posture import PostureRamp
from forma_hardware import JointCommand, StopCause, StopState

OWN = "safety supervisor: "  # prefix of the reasons the supervisor hands to the hardware


class Mode(enum.IntEnum):
    """Values match forma_interfaces/SafetyState."""

    DAMPING = 0
    STANDING_UP = 1
    ACTIVE = 2
    HOLD = 3
    ESTOP = 4
    FAULT = 5


REQUESTABLE = (Mode.DAMPING, Mode.STANDING_UP, Mode.ACTIVE)
HANDOVER_CHECK_S = 1.0  # a HOLD this soon after ACTIVE: the hand-over found no controller
# A controller that takes over is ready when its status is stamped since the ramp began and at most
# this old [s, robot time]: a killed or stopped one says nothing, a respawned one nothing before its
# controller exists (handed over to either, the hardware held within its watchdog: seen 4 times in a
# row under load, the fourth ramp ended in a detected fall)
CONTROLLER_STATUS_MAX_AGE_S = 0.5
FALL_ARMED = (Mode.ACTIVE, Mode.HOLD)  # and STANDING_UP when the ramp started upright


# --- actions the caller carries out ------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class EngageEStop:
    """hardware/estop engage: every group damps, latched until a release and a reset."""

    reason: str


class SafetyCause(enum.IntEnum):
    """Why the supervisor is in its mode, for programs (the reason text is for people): values
    match forma_interfaces/SafetyState's CAUSE_* constants."""

    NONE = 0  # ACTIVE: controllers in charge
    START = 1  # the supervisor started
    REQUESTED = 2  # safety/set_mode or safety/reset asked for it
    ESTOP_OPERATOR = 3  # the operator's e-stop (safety/estop topic or service)
    ESTOP_EXTERNAL = 4  # the hardware's e-stop, engaged outside the supervisor
    FALL = 5  # fall detected
    HARDWARE_FAULT = 6  # the hardware reports a fault
    HARDWARE_HOLD = 7  # the hardware holds (hardware/state's causes say why)
    HARDWARE_DAMPED = 8  # the hardware damps (not a fault, not an e-stop)
    RESET_REFUSED = 9  # hardware/reset refused during a stand-up
    STAND_UP = 10  # the stand-up ramp (requested or automatic)
    RECOVERING = 11  # standing up again after a command-timeout hold
    LYING = 12  # a stand-up waits: the robot is lying (sim/reset is the way out in simulation)
    WAITING = 13  # a stand-up waits for its commanders or the hardware
    INPUTS = 14  # sensor input stale or unusable: HOLD


TOPIC_ESTOP = "e-stop: safety/estop topic"  # safety/state's reason while the hardware holds the topic's e-stop


@dataclasses.dataclass(frozen=True)
class ReleaseEStop:
    """hardware/estop release: clears the hardware's e-stop flag; the groups stay damped."""

    reason: str


@dataclasses.dataclass(frozen=True)
class DampHardware:
    """hardware/estop engage, then release once it answered: every group latched in DAMP without
    leaving the e-stop flag set (see README: why not hardware/set_actuator_mode DAMPING)."""

    reason: str


@dataclasses.dataclass(frozen=True)
class ResetHardware:
    """hardware/reset; report the answer with reset_done()."""


Action = EngageEStop | ReleaseEStop | DampHardware | ResetHardware


@dataclasses.dataclass(frozen=True)
class Reply:
    success: bool
    message: str
    mode: Mode
    actions: tuple[Action, ...] = ()


@dataclasses.dataclass(frozen=True)
class Transition:
    stamp_s: float
    old: Mode
    new: Mode
    reason: str


@dataclasses.dataclass(frozen=True)
class HardwareView:
    """What hardware/state says, per group."""

    stop_states: dict[str, StopState]
    reasons: dict[str, str]  # for people: shown, never decided on
    estop_engaged: bool
    stamp_s: float = 0.0
    causes: dict[str, StopCause] = dataclasses.field(default_factory=dict)  # what decisions read

    @property
    def topic_estop(self) -> bool:
        """The hardware took the operator's safety/estop itself (the message this supervisor handles too)."""
        return self.estop_engaged and StopCause.ESTOP_TOPIC in self.causes.values()


def hardware_view(
    groups: Sequence[str],
    stop_states: Sequence[int],
    reasons: Sequence[str],
    estop_engaged: bool,
    stamp_s: float,
    cause_codes: Sequence[int],
) -> HardwareView:
    """A HardwareView from hardware/state's fields, or ControlError naming what cannot be read: a
    stop state outside ACTIVE / HOLD / DAMP, or per-group arrays of another length than `groups`
    (found by fuzzing: a stop state of 255 stopped the supervisor). A cause code this version does
    not know is kept as None (never acted on); reasons may be missing (they are only shown)."""
    if len(stop_states) != len(groups):
        raise ControlError(f"hardware/state with {len(groups)} groups and {len(stop_states)} stop states")
    known = StopState._value2member_map_
    bad = [f"{g}: {s}" for g, s in zip(groups, stop_states, strict=True) if s not in known]
    if bad:
        valid = ", ".join(f"{m.value} {m.name}" for m in StopState)
        raise ControlError(f"hardware/state with unknown stop states ({'; '.join(bad[:3])}); valid: {valid}")
    return HardwareView(
        stop_states={g: StopState(s) for g, s in zip(groups, stop_states, strict=True)},
        reasons=dict(zip(groups, reasons, strict=False)),
        estop_engaged=bool(estop_engaged),
        stamp_s=stamp_s,
        causes={
            g: StopCause(c) if c in StopCause._value2member_map_ else None
            for g, c in zip(groups, cause_codes, strict=False)
        },
    )


@dataclasses.dataclass(frozen=True)
class SupervisorConfig:
    """The supervisor's settings; each is a parameter of the safety_supervisor node, same name."""

    max_speed_rad_s: float = param(
        0.5, "fastest joint speed of the stand-up ramp, commanded or measured", unit="rad/s", low=0.01, high=5.0
    )
    # The ramp's targets move at most tracking_headroom * max_speed_rad_s: a PD-tracked joint whose
    # load changes catches up its lag faster than its target moves (measured: a knee of the robot
    # lying on the floor at 1.2x the target speed over 0.1 s while its feet drag over the floor;
    # 1.3x with elliptic friction cones, standing up after an e-stop: 0.526 rad/s at 0.8).
    tracking_headroom: float = param(
        0.7, "ramp targets move at most this fraction of max_speed_rad_s: room for PD lag catch-up", low=0.1, high=1.0
    )
    min_ramp_s: float = param(0.5, "shortest stand-up ramp", unit="s", low=0.0, high=30.0)
    # After the ramp the supervisor holds its final pose until the robot comes to rest: handed over
    # while a knee still caught up (0.04 rad behind, measured over DDS) the WBC's first command
    # jolted the robot (IMU 5-12 m/s^2); handed over while it rocked on its soles with still joints,
    # the capture point sat at the toes (measured under load) and the fall detector fired.
    settle_speed_rad_s: float = param(
        0.1,
        "after the ramp, hand over once every ramped joint moves slower than this",
        unit="rad/s",
        low=0.001,
        high=5.0,
    )
    settle_body_rate_rad_s: float = param(
        0.1, "... and the pelvis turns slower than this (IMU)", unit="rad/s", low=0.001, high=5.0
    )
    settle_max_s: float = param(
        1.0, "after the ramp, hand over after this long even if still moving (and say so)", unit="s", low=0.0, high=10.0
    )
    recover_holds_per_min: int = param(
        10, "command-timeout HOLDs recovered automatically (reset + ramp) per minute at most; 0 = never", low=0, high=60
    )
    handover_wait_s: float = param(
        3.0,
        "after a hand-over nobody took (a command-timeout HOLD within 1 s of ACTIVE: a controller restarting), "
        "the next recovery keeps commanding the stand pose itself until this long after that HOLD",
        unit="s",
        low=0.0,
        high=9.0,
    )
    auto_stand: bool = param(False, "stand up at start and after every safety/reset (the sim deployment)")
    # 0.25 s tripped while a loaded 2-core machine started the sim deployment: the hardware still
    # holds on its own 0.1 s command watchdog, this only catches the supervisor itself going blind
    input_timeout_s: float = param(
        0.5,
        "joint_states / imu / feet wrenches silent this long while commanding or ACTIVE -> HOLD",
        unit="s",
        low=0.01,
        high=10.0,
    )
    estop_retry_s: float = param(
        0.1, "re-send an e-stop the hardware has not confirmed this often", unit="s", low=0.001, high=10.0
    )
    reset_confirm_s: float = param(
        0.5,
        "after a reset, HOLD/DAMP reports are taken as stale this long unless an ACTIVE report came first",
        unit="s",
        low=0.0,
        high=10.0,
    )

    def __post_init__(self) -> None:
        check(self, ControlError)


# Why a stand-up is refused for a robot on the floor, and the way out.
LYING = (
    "the robot is lying (pelvis tilted past the fall limit): a stand-up ramp cannot lift it. In simulation, "
    "sim/reset puts it back on its feet (console: Reset simulation); on a robot, lift it upright first"
)


class Supervisor:
    """Operating modes, transitions with reasons, the stand-up ramp and the protective actions."""

    def __init__(
        self,
        config: SupervisorConfig,
        joint_names: Sequence[str],
        stand_pose: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        groups: Sequence[str] = ("body",),
        now_s: float = 0.0,
    ) -> None:
        self.config = config
        self.groups = tuple(groups)
        if not self.groups:
            raise ControlError("the supervisor needs at least one command group to supervise")
        try:
            speed = config.max_speed_rad_s * config.tracking_headroom
            self.ramp = PostureRamp(joint_names, stand_pose, speed, config.min_ramp_s, lower, upper)
        except ValueError as exc:
            raise ControlError(f"stand pose: {exc}") from exc
        self.mode = Mode.DAMPING
        self.reason = "start: waiting for the hardware" if config.auto_stand else "start: request STANDING_UP to stand"
        self.cause = SafetyCause.START
        self.since_s = now_s
        self.transitions: list[Transition] = [Transition(now_s, Mode.DAMPING, Mode.DAMPING, self.reason)]
        self.hw: HardwareView | None = None
        self.operator_estop = False  # safety/estop engaged and not released
        self.external_estop = False  # hardware/estop engaged by someone else
        self.fault_estop = False  # the supervisor's own engage for a FAULT
        self.release_sent = False  # we released the hardware e-stop; hardware/state may still show it
        self.last_estop_sent_s = -math.inf
        self.estop_reason_sent = ""
        self.stand_why = ""
        self.stand_phase = ""  # "reset" | "resetting" | "ramp" | "ramping" while STANDING_UP
        self.stand_pending = config.auto_stand  # auto_stand before the hardware answered
        self.stand_pending_why = "auto_stand at start"
        self.fall_armed_in_stand_up = False
        self.ramp_end_s: float | None = None  # when the ramp's targets arrived (the settling starts)
        self.calm_ticks = 0
        self.last_q: tuple[float, np.ndarray] | None = None
        self.recoveries_s: list[float] = []
        self.hold_decision_pending = False
        self.handover_failed_s = -math.inf  # the latest HOLD within HANDOVER_CHECK_S of ACTIVE
        self.reset_confirm_until = -math.inf
        self.stale_inputs: list[str] = []
        self.lying = False  # the pelvis tilted past the fall limit (tick): no stand-up from there
        self.changed = True  # safety/state must be published

    # --- queries -------------------------------------------------------------------------------
    @property
    def fall_detection_armed(self) -> bool:
        if self.mode in FALL_ARMED:
            return True
        return self.mode == Mode.STANDING_UP and self.stand_phase == "ramping" and self.fall_armed_in_stand_up

    @property
    def commanding(self) -> bool:
        """True while the supervisor itself commands the ramped groups."""
        return self.mode == Mode.STANDING_UP and self.stand_phase == "ramping"

    @property
    def estop_engaged(self) -> bool:
        """What safety/state reports. The hardware takes the operator's safety/estop itself too and
        may report it before this supervisor's own subscription has: the e-stop is engaged from then
        on (a state saying ESTOP with estop_engaged false was published in that gap)."""
        hardware_took_topic = self.hw is not None and self.hw.topic_estop
        return self.operator_estop or self.external_estop or hardware_took_topic

    def drain_transitions(self) -> list[Transition]:
        out, self.transitions = self.transitions, []
        return out

    # --- requests ------------------------------------------------------------------------------
    def request_estop(self, engage: bool, reason: str, now_s: float) -> Reply:
        reason = reason or "no reason given"
        if engage:
            self.operator_estop = True
            self.stand_pending = False
            self._set(Mode.ESTOP, f"e-stop: {reason}", now_s, SafetyCause.ESTOP_OPERATOR)
            return Reply(
                True, "e-stop engaged: hardware damping", self.mode, (self._engage(f"e-stop: {reason}", now_s),)
            )
        was = self.operator_estop
        self.operator_estop = False
        actions: tuple[Action, ...] = ()
        if self.mode == Mode.ESTOP:
            if not self.external_estop and not self.fault_estop:  # a fault's e-stop stays until reset
                actions = (ReleaseEStop(f"e-stop released: {reason}"),)
                self.release_sent = True
            released = "e-stop released: the robot stays damped; call safety/reset, then stand up"
            self._set(Mode.ESTOP, released, now_s, self.cause)
        message = "e-stop released: call safety/reset, then STANDING_UP" if was else "e-stop was not engaged"
        return Reply(True, message, self.mode, actions)

    def request_reset(self, now_s: float) -> Reply:
        if self.mode not in (Mode.ESTOP, Mode.FAULT):
            hint = {
                Mode.DAMPING: "request STANDING_UP to stand",
                Mode.HOLD: "request STANDING_UP to recover from the hold",
            }.get(self.mode, "nothing to reset")
            return self._refuse(f"reset leaves only ESTOP or FAULT; mode is {self.mode.name}: {hint}")
        # the hardware may have taken the operator's safety/estop before this supervisor's own
        # subscription did: a reset in that gap released the e-stop the operator still holds (CI)
        hardware_took_topic = self.hw is not None and self.hw.topic_estop and not self.release_sent
        if self.operator_estop or hardware_took_topic:
            return self._refuse("e-stop is engaged: release it (safety/estop false) before reset")
        if self.external_estop:
            return self._refuse("the hardware e-stop is engaged outside the supervisor: release it before reset")
        actions: tuple[Action, ...] = ()
        if self.fault_estop or (self.hw is not None and self.hw.estop_engaged):
            actions = (ReleaseEStop(OWN + "reset"),)
            self.release_sent = True
        self.fault_estop = False
        old = self.mode
        why = f"reset from {old.name}: robot damped; request STANDING_UP to stand"
        self._set(Mode.DAMPING, why, now_s, SafetyCause.REQUESTED)
        if self.config.auto_stand:  # once the hardware shows the e-stop released (tick)
            self.stand_pending = True
            self.stand_pending_why = f"auto_stand after the reset from {old.name}"
        return Reply(True, f"reset from {old.name}: mode {self.mode.name}", self.mode, actions)

    def request_mode(self, mode: int, reason: str, now_s: float) -> Reply:
        try:
            wanted = Mode(mode)
        except ValueError:
            return self._refuse(f"unknown mode {mode}; allowed: {self._allowed()}")
        if wanted not in REQUESTABLE:
            return self._refuse(
                f"mode {wanted.name} cannot be requested (HOLD comes from the hardware, ESTOP from safety/estop, "
                f"FAULT from a fall or fault); allowed: {self._allowed()}"
            )
        reason = reason or "no reason given"
        if self.mode in (Mode.ESTOP, Mode.FAULT):
            if wanted == Mode.DAMPING:
                return Reply(True, f"already damped (latched in {self.mode.name})", self.mode)
            return self._refuse(f"latched in {self.mode.name} ({self.reason}): call safety/reset first")
        if wanted == Mode.DAMPING:
            self.stand_pending = False
            self._set(Mode.DAMPING, f"damping requested: {reason}", now_s, SafetyCause.REQUESTED)
            return Reply(
                True,
                "damping: every joint damped (hardware DAMP, latched)",
                self.mode,
                (DampHardware(OWN + f"damping requested: {reason}"),),
            )
        if wanted == Mode.STANDING_UP:
            if self.mode == Mode.STANDING_UP:
                return Reply(True, "already standing up", self.mode)
            if self.hw is None:
                return self._refuse("no hardware/state received yet: is the hardware node running?")
            if self.hw.estop_engaged and not self.fault_estop and not self.release_sent:
                return self._refuse("the hardware e-stop is engaged: release it, safety/reset, then stand up")
            if self.stale_inputs:
                return self._refuse(
                    f"sensor inputs stale or unusable ({'; '.join(self.stale_inputs)}): cannot stand up blind"
                )
            if self.lying:
                return self._refuse(f"stand-up refused: {LYING}")
            actions = self._begin_stand_up(f"requested: {reason}", now_s)
            return Reply(True, f"standing up: {self.reason}", self.mode, actions)
        # ACTIVE
        if self.mode == Mode.ACTIVE:
            return Reply(True, "already active", self.mode)
        if self.mode == Mode.STANDING_UP:
            left = (
                f"{self.ramp.t0 + self.ramp.duration - now_s:.1f} s left"
                if self.stand_phase == "ramping"
                else f"waiting for the hardware ({self.stand_phase})"
            )
            return self._refuse(f"the stand-up ramp has not finished ({left}); ACTIVE follows when it ends")
        return self._refuse(f"ACTIVE needs a finished stand-up: request STANDING_UP first (mode is {self.mode.name})")

    # --- reports from the hardware ---------------------------------------------------------------
    def hardware_state(self, view: HardwareView, now_s: float) -> list[Action]:
        self.hw = view
        actions: list[Action] = []
        if not view.estop_engaged:
            self.release_sent = False
        elif self.release_sent:
            return actions  # a report from before our release
        # the hardware takes safety/estop itself too (one hop to damping): that e-stop is the
        # operator's, the same message this supervisor handles, never "someone else's"
        # (its own hardware/estop calls: the hardware echoes the reason this supervisor gave it)
        own_call = any(
            view.causes.get(g) == StopCause.ESTOP_SERVICE and r.startswith("e-stop: " + OWN)
            for g, r in view.reasons.items()
        )
        own_engage = own_call or view.topic_estop
        if view.topic_estop and self.mode != Mode.ESTOP:
            # the hardware handled the operator's message first: show ESTOP now; the operator's flag
            # is set (and later cleared) by this supervisor's own handling of the same topic
            self.stand_pending = False
            self._set(Mode.ESTOP, TOPIC_ESTOP, now_s, SafetyCause.ESTOP_OPERATOR)
        if view.estop_engaged and not self.operator_estop and not self.fault_estop and not own_engage:
            if not self.external_estop:
                self.external_estop = True
                reason = next((r for r in view.reasons.values() if r), "no reason given")
                why = f"hardware e-stop engaged outside the supervisor ({reason})"
                self._set(Mode.ESTOP, why, now_s, SafetyCause.ESTOP_EXTERNAL)
            return actions
        if self.external_estop and not view.estop_engaged:
            self.external_estop = False
            if self.mode == Mode.ESTOP and not self.operator_estop:
                why = "hardware e-stop released: call safety/reset, then stand up"
                self._set(Mode.ESTOP, why, now_s, SafetyCause.ESTOP_EXTERNAL)
        latched = {g: view.stop_states.get(g, StopState.ACTIVE) for g in self.groups}
        bad = {g: s for g, s in latched.items() if s != StopState.ACTIVE}
        if now_s < self.reset_confirm_until:
            if not bad:
                self.reset_confirm_until = -math.inf  # the hardware confirmed the reset
            return actions  # a report older than our reset
        if self.mode not in (Mode.STANDING_UP, Mode.ACTIVE, Mode.HOLD) or not bad:
            return actions
        if self.mode == Mode.STANDING_UP and self.stand_phase in ("reset", "resetting"):
            return actions  # the hold or damp we are resetting out of
        start_hold = [g for g, s in bad.items() if s == StopState.HOLD and view.causes.get(g) == StopCause.STARTUP]
        if self.mode == Mode.STANDING_UP and start_hold and len(start_hold) == len(bad):
            # the hardware went back to its power-on hold (sim/reset, a restarted hardware node): the
            # ramp's commands are refused now; a HOLD here was "not a command timeout" and damped 10 s later
            text = "; ".join(f"{g}: {view.reasons.get(g, '')}" for g in start_hold)
            why = f"restarted: the hardware went back to its start hold mid-stand-up ({text})"
            return actions + list(self._begin_stand_up(why, now_s, self.cause))
        damped = {g: view.reasons.get(g, "") for g, s in bad.items() if s == StopState.DAMP}
        if damped:
            text = "; ".join(f"{g}: {r}" for g, r in damped.items())
            if any(view.causes.get(g) == StopCause.FAULT for g in damped):
                self._set(Mode.FAULT, f"hardware fault ({text})", now_s, SafetyCause.HARDWARE_FAULT)
                self.fault_estop = True
                actions.append(self._engage(f"hardware fault ({text})", now_s))
            else:
                why = f"hardware damped ({text}); request STANDING_UP to stand"
                self._set(Mode.DAMPING, why, now_s, SafetyCause.HARDWARE_DAMPED)
            return actions
        if self.mode != Mode.HOLD:
            text = "; ".join(f"{g}: {view.reasons.get(g, '')}" for g in bad)
            if self.mode == Mode.ACTIVE and now_s - self.since_s < HANDOVER_CHECK_S:
                self.handover_failed_s = now_s  # nobody took over (a restarting controller)
            self._set(Mode.HOLD, f"hardware holds ({text})", now_s, SafetyCause.HARDWARE_HOLD)
            self.hold_decision_pending = True
        return actions

    def reset_done(self, ok: bool, message: str, now_s: float) -> list[Action]:
        if self.mode != Mode.STANDING_UP or self.stand_phase != "resetting":
            return []  # e.g. an e-stop arrived meanwhile: the reset is moot
        if not ok:
            self._set(Mode.DAMPING, f"hardware reset refused: {message}", now_s, SafetyCause.RESET_REFUSED)
            return []
        self.stand_phase = "ramp"
        self.reset_confirm_until = now_s + self.config.reset_confirm_s
        return []

    def estop_confirmed(self) -> bool:
        """Is the hardware known to be damped with its e-stop engaged (as ESTOP/FAULT need)?"""
        return self.hw is not None and self.hw.estop_engaged

    # --- the periodic step ---------------------------------------------------------------------
    def tick(
        self,
        now_s: float,
        measured_q: np.ndarray | None,
        stale_inputs: Sequence[str] = (),  # silent inputs, and ones the fall detector cannot use (NaN, sizes)
        fall: FallVerdict | None = None,
        upright: bool = False,
        waiting_for: Sequence[str] = (),
        body_rate_rad_s: float = 0.0,
        lying: bool = False,
        controllers_seen: Mapping[str, float] | None = None,
    ) -> tuple[list[Action], JointCommand | None]:
        """Advance time: stand-up phases, input watchdog, fall reaction, e-stop retries.
        measured_q: the ramped joints' measured positions (None = no joint_states yet).
        body_rate_rad_s: the pelvis's angular speed about the horizontal axes (IMU) [rad/s].
        lying: the pelvis is tilted past the fall limit: a stand-up waits (and says how to get out).
        waiting_for: controllers that take over after the stand-up and are not up yet: an
        automatic stand-up waits for them (after the reset every group's watchdog runs, and a
        hand whose node was still loading timed out into a latched HOLD).
        controllers_seen: per controller that takes the body over, the robot time of its newest
        status (-inf: none yet); after the ramp the supervisor keeps commanding the stand pose until
        each is ready (CONTROLLER_STATUS_MAX_AGE_S). None: hand over without asking (no such status)."""
        actions: list[Action] = []
        self.stale_inputs = list(stale_inputs)
        self.lying = lying
        if fall is not None and self.fall_detection_armed:
            self._set(Mode.FAULT, f"fall detected: {fall.reason}", now_s, SafetyCause.FALL)
            self.fault_estop = True
            return [self._engage(f"fall detected: {fall.reason}", now_s)], None
        # e-stop and fault must reach the hardware: re-send until hardware/state confirms
        must_damp = self.mode in (Mode.ESTOP, Mode.FAULT) and (self.operator_estop or self.fault_estop)
        if must_damp and not self.estop_confirmed() and now_s - self.last_estop_sent_s >= self.config.estop_retry_s:
            actions.append(self._engage(self.estop_reason_sent, now_s))
        # (with the hardware's e-stop still engaged, a release we sent may be on its way)
        ready = self.hw is not None and not self.hw.estop_engaged and not self.stale_inputs
        if self.stand_pending and self.mode == Mode.DAMPING and ready:
            if lying:
                self._set(Mode.DAMPING, f"{self.stand_pending_why}: waiting: {LYING}", now_s, SafetyCause.LYING)
            elif waiting_for:
                self._set(
                    Mode.DAMPING,
                    f"{self.stand_pending_why}: waiting for {', '.join(waiting_for)} "
                    "(no hardware/joint_commands publisher yet)",
                    now_s,
                    SafetyCause.WAITING,
                )
            else:
                self.stand_pending = False
                actions += self._begin_stand_up(self.stand_pending_why, now_s)
        if self.stale_inputs and (self.mode == Mode.ACTIVE or self.commanding):
            self._set(
                Mode.HOLD,
                f"sensor inputs stale or unusable ({'; '.join(self.stale_inputs)}): stopped commanding, "
                "the hardware holds on its command timeout",
                now_s,
                SafetyCause.INPUTS,
            )
            self.hold_decision_pending = True
            return actions, None
        if self.mode == Mode.HOLD and self.hold_decision_pending:
            actions += self._decide_hold(now_s)
        if self.mode != Mode.STANDING_UP:
            return actions, None
        if self.stand_phase == "reset":
            if self.hw is not None and not self.hw.estop_engaged:
                self.stand_phase = "resetting"
                actions.append(ResetHardware())
            return actions, None
        if self.stand_phase == "ramp":
            if measured_q is None:
                return actions, None
            duration = self.ramp.start(measured_q, now_s)
            self.ramp_end_s = None
            self.stand_phase = "ramping"
            self.fall_armed_in_stand_up = upright
            armed = "armed" if upright else "not armed (the ramp started from a non-upright pose)"
            self._set(
                Mode.STANDING_UP,
                f"{self.reason.split(';')[0]}; ramping over {duration:.2f} s, fall detection {armed}",
                now_s,
                self.cause,  # STAND_UP or RECOVERING, as it began
            )
        if self.stand_phase == "ramping":
            if self.ramp.done(now_s):
                settled = self._settled(now_s, measured_q, body_rate_rad_s)
                until = self.handover_failed_s + self.config.handover_wait_s
                if settled and now_s < until:
                    # the stiff HOLD of a balanced stance is no stable stand, a ramp to nobody jolts it:
                    # the joint-PD stand it is until the controller had time to come back
                    waiting = (
                        f"{self.reason.split(';')[0]}; holding the stand pose until {until:.1f} s "
                        "(the last hand-over found no controller: one restarting?)"
                    )
                    self._set(Mode.STANDING_UP, waiting, now_s, self.cause)
                    return actions, self.ramp.command(now_s)
                not_ready = self._not_ready(now_s, controllers_seen)
                if settled and not_ready:
                    waiting = (
                        f"{self.reason.split(';')[0]}; holding the stand pose: waiting for {', '.join(not_ready)} "
                        f"(no status since the ramp began, or none within {CONTROLLER_STATUS_MAX_AGE_S:.1f} s: "
                        "restarting or stopped?)"
                    )
                    self._set(Mode.STANDING_UP, waiting, now_s, self.cause)
                    return actions, self.ramp.command(now_s)
                if settled:
                    self.stand_phase = ""
                    done = f"stand-up ramp finished, {settled}: controllers in charge"
                    self._set(Mode.ACTIVE, done, now_s, SafetyCause.NONE)
                    return actions, None
            return actions, self.ramp.command(now_s)
        return actions, None

    def _not_ready(self, now_s: float, controllers_seen: Mapping[str, float] | None) -> list[str]:
        """The controllers not ready to take the body: no status stamped since this ramp began, or
        the newest older than CONTROLLER_STATUS_MAX_AGE_S (a status stamped ahead of now_s, the
        supervisor's clock a sample behind the controller's, counts as fresh)."""
        if not controllers_seen:
            return []
        since = self.ramp.t0
        return sorted(
            name
            for name, seen_s in controllers_seen.items()
            if seen_s < since or now_s - seen_s > CONTROLLER_STATUS_MAX_AGE_S
        )

    def _settled(self, now_s: float, measured_q: np.ndarray | None, body_rate_rad_s: float) -> str:
        """After the ramp: "" while the robot still moves (its joints or its pelvis), else how the
        hand-over was decided."""
        if self.ramp_end_s is None:
            self.ramp_end_s, self.calm_ticks, self.last_q = now_s, 0, None
        if measured_q is not None:
            q = np.asarray(measured_q, float)
            if self.last_q is not None and now_s > self.last_q[0]:
                speed = float(np.max(np.abs(q - self.last_q[1]))) / (now_s - self.last_q[0])
                calm = speed < self.config.settle_speed_rad_s and body_rate_rad_s < self.config.settle_body_rate_rad_s
                self.calm_ticks = self.calm_ticks + 1 if calm else 0
            self.last_q = (now_s, q)
        waited = now_s - self.ramp_end_s
        if self.calm_ticks >= 3:
            return f"at rest after {waited:.2f} s"
        if waited >= self.config.settle_max_s:
            return f"still moving after {waited:.2f} s (settle_max_s)"
        return ""

    # --- internals -----------------------------------------------------------------------------
    def _begin_stand_up(self, why: str, now_s: float, cause: SafetyCause = SafetyCause.STAND_UP) -> tuple[Action, ...]:
        self.stand_why = why
        hw_active = self.hw is not None and all(
            self.hw.stop_states.get(g, StopState.ACTIVE) == StopState.ACTIVE for g in self.groups
        )
        if self.mode == Mode.ACTIVE and hw_active:
            self.stand_phase = "ramp"  # the hardware follows commands already: ramp from here
            self._set(Mode.STANDING_UP, f"stand-up {why}", now_s, cause)
            return ()
        self.stand_phase = "reset"
        self._set(Mode.STANDING_UP, f"stand-up {why}; resetting the hardware", now_s, cause)
        if self.hw is None or self.hw.estop_engaged:
            return ()  # tick() sends the reset once the hardware has answered / released its e-stop
        self.stand_phase = "resetting"
        return (ResetHardware(),)

    def _decide_hold(self, now_s: float) -> list[Action]:
        """Recover from a HOLD (reset + a ramp from the measured pose) when only a command timeout
        caused it, the inputs are fresh and the budget allows; else stay for the operator."""
        if self.hw is None or self.stale_inputs:
            return []
        held = [g for g in self.groups if self.hw.stop_states.get(g, StopState.ACTIVE) == StopState.HOLD]
        if not held:
            return []  # the hardware has not held yet (stale inputs: it will on its command timeout)
        self.hold_decision_pending = False
        timeouts = all(self.hw.causes.get(g) == StopCause.COMMAND_TIMEOUT for g in held)
        self.recoveries_s = [t for t in self.recoveries_s if now_s - t < 60.0]
        budget = self.config.recover_holds_per_min
        text = "; ".join(f"{g}: {self.hw.reasons.get(g, '')}" for g in held)
        if timeouts and len(self.recoveries_s) < budget and not self.lying:
            self.recoveries_s.append(now_s)
            return list(
                self._begin_stand_up(
                    f"recovering from a hold ({text}; {len(self.recoveries_s)}/{budget} this minute)",
                    now_s,
                    SafetyCause.RECOVERING,
                )
            )
        why = (
            LYING
            if self.lying
            else f"{budget}/{budget} recoveries this minute spent"
            if timeouts and budget
            else "automatic recovery is off (recover_holds_per_min 0)"
            if timeouts
            else "not a command timeout"
        )
        self._set(
            Mode.HOLD,
            f"hardware holds ({text}); not recovering: {why}. The hardware damps after its hold time; "
            "find the cause, then request STANDING_UP",
            now_s,
            SafetyCause.LYING if self.lying else SafetyCause.HARDWARE_HOLD,
        )
        return []

    def _engage(self, reason: str, now_s: float) -> EngageEStop:
        self.last_estop_sent_s = now_s
        self.estop_reason_sent = reason
        return EngageEStop(OWN + reason)

    def _allowed(self) -> str:
        return ", ".join(f"{m.name} ({int(m)})" for m in REQUESTABLE)

    def _refuse(self, message: str) -> Reply:
        return Reply(False, message, self.mode)

    def _set(self, mode: Mode, reason: str, now_s: float, cause: SafetyCause) -> None:
        if mode == self.mode and reason == self.reason and cause == self.cause:
            return
        if mode != Mode.STANDING_UP:
            self.stand_phase = ""
        if mode != Mode.HOLD:
            self.hold_decision_pending = False
        self.transitions.append(Transition(now_s, self.mode, mode, reason))
        if mode != self.mode:
            self.since_s = now_s
        self.mode, self.reason, self.cause = mode, reason, cause
        self.changed = True


class InputWatch:
    """Sensor inputs that must keep arriving (joint_states, imu/data, feet wrenches)."""

    def __init__(self, names: Sequence[str], timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.last_s: dict[str, float | None] = dict.fromkeys(names)

    def seen(self, name: str, now_s: float) -> None:
        self.last_s[name] = now_s

    def restart(self, now_s: float) -> None:
        """The clock went back (a simulation reset): what was seen counts as seen now."""
        self.last_s = {name: None if t is None else now_s for name, t in self.last_s.items()}

    def stale(self, now_s: float) -> list[str]:
        """Inputs silent longer than the timeout, as 'name silent 0.31 s (limit 0.25 s)'. An input
        never seen is reported as 'never received'."""
        out = []
        for name, t in self.last_s.items():
            if t is None:
                out.append(f"{name} never received")
            elif now_s - t > self.timeout_s:
                out.append(f"{name} silent {now_s - t:.2f} s (limit {self.timeout_s:.2f} s)")
        return out

"""The safety supervisor's state machine (pure core): every transition and refusal, e-stop from
every mode, latching, reset only from ESTOP/FAULT, the stand-up ramp's speed limit; the input
watchdog; and the fall detector on synthetic signals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forma_control.errors import ControlError
from forma_control.safety.fall_detection import (
    BalanceModel,
    BalanceSample,
    FallDetector,
    FallLimits,
    FallVerdict,
    convex_hull,
    distance_outside,
)
from forma_control.safety.supervisor import (
    OWN,
    TOPIC_ESTOP,
    DampHardware,
    EngageEStop,
    HardwareView,
    InputWatch,
    Mode,
    ReleaseEStop,
    ResetHardware,
    SafetyCause,
    Supervisor,
    SupervisorConfig,
)
from forma_description import RobotModel, expand_description
from forma_description.poses import named_pose
from forma_hardware import StopCause, StopState

NAMES = ["a", "b", "c"]
GOAL = np.array([0.5, -0.3, 1.0])
LOWER, UPPER = np.full(3, -2.0), np.full(3, 2.0)
FALL = FallVerdict("tilt", "tilt 50 deg > 30 deg", 0.0)


def hw(state=StopState.ACTIVE, reason="", estop=False, groups=("body",), cause=None):
    """hardware/state as the hardware's stop latch writes it: the cause it gives with such a reason
    (the supervisor decides on the cause; `cause=` says otherwise)."""
    if cause is None:
        cause = cause_of(reason) if state != StopState.ACTIVE else StopCause.NONE
    causes = {g: cause for g in groups}
    return HardwareView({g: state for g in groups}, {g: reason for g in groups}, estop, causes=causes)


def cause_of(reason: str) -> StopCause:
    for prefix, cause in (
        ("startup", StopCause.STARTUP), ("no command for", StopCause.COMMAND_TIMEOUT),
        ("hold lasted", StopCause.HOLD_ESCALATED), (TOPIC_ESTOP, StopCause.ESTOP_TOPIC),
        ("e-stop", StopCause.ESTOP_SERVICE), ("fault", StopCause.FAULT),
    ):  # fmt: skip
        if reason.startswith(prefix):
            return cause
    return StopCause.HOLD_REQUESTED


def make(**config) -> Supervisor:
    return Supervisor(SupervisorConfig(**config), NAMES, GOAL, LOWER, UPPER)


def stand_up(sup: Supervisor, t: float = 0.0, q=np.zeros(3)) -> float:
    """DAMPING -> STANDING_UP -> ACTIVE with a cooperative hardware; returns the time at ACTIVE."""
    sup.hardware_state(hw(StopState.HOLD, "startup: waiting for reset"), t)
    reply = sup.request_mode(Mode.STANDING_UP, "test", t)
    assert reply.success and reply.actions == (ResetHardware(),)
    assert sup.mode == Mode.STANDING_UP
    sup.reset_done(True, "ok", t)
    sup.hardware_state(hw(), t)
    actions, cmd = sup.tick(t, q, upright=True)
    assert cmd is not None and not actions
    while sup.mode == Mode.STANDING_UP:
        t += 0.01
        sup.tick(t, q)
    assert sup.mode == Mode.ACTIVE
    return t


def in_mode(mode: Mode) -> tuple[Supervisor, float]:
    sup = make(recover_holds_per_min=0)
    t = 0.0
    if mode == Mode.DAMPING:
        return sup, t
    if mode == Mode.STANDING_UP:
        sup.hardware_state(hw(StopState.HOLD, "startup"), t)
        sup.request_mode(Mode.STANDING_UP, "test", t)
        sup.reset_done(True, "ok", t)
        sup.tick(t, np.zeros(3), upright=True)
        return sup, t
    t = stand_up(sup)
    if mode == Mode.HOLD:
        t += 0.1
        sup.hardware_state(hw(StopState.HOLD, "no command for 0.10 s"), t)
        sup.tick(t, np.zeros(3))
    elif mode == Mode.ESTOP:
        sup.request_estop(True, "test", t)
    elif mode == Mode.FAULT:
        sup.tick(t, np.zeros(3), fall=FALL)
    assert sup.mode == mode
    return sup, t


# --- the stand-up and ACTIVE --------------------------------------------------------------------------
def test_damping_standing_up_active_and_the_supervisor_commands_only_while_ramping():
    sup = make()
    assert sup.mode == Mode.DAMPING and not sup.commanding
    t = stand_up(sup)
    actions, cmd = sup.tick(t + 0.01, np.zeros(3))
    assert cmd is None and sup.reason.startswith("stand-up ramp finished, at rest after")
    assert sup.reason.endswith(": controllers in charge")
    modes = [tr.new for tr in sup.drain_transitions()]
    assert modes[-1] == Mode.ACTIVE and Mode.STANDING_UP in modes


def test_the_supervisor_hands_over_only_once_the_joints_are_at_rest():
    """Handed over while a joint still caught up with the ramp's end, the WBC's first command from
    the measured pose jolted the robot: the supervisor holds the final pose until the joints rest
    (or settle_max_s), commanding meanwhile."""
    sup = make(settle_max_s=1.0)
    sup.hardware_state(hw(StopState.HOLD, "startup"), 0.0)
    sup.request_mode(Mode.STANDING_UP, "test", 0.0)
    sup.reset_done(True, "ok", 0.0)
    sup.hardware_state(hw(), 0.0)
    t, q = 0.0, np.zeros(3)
    sup.tick(t, q, upright=True)
    while not sup.ramp.done(t):
        t += 0.01
        q = sup.tick(t, q)[1].position * 0.0 + q  # the measured pose stays behind (say, sagging)
    catching_up = [q + (GOAL - q) * (1 - math.exp(-k / 10)) for k in range(1, 200)]  # 0.1 s lag
    for q in catching_up:
        t += 0.01
        _, cmd = sup.tick(t, q)
        if sup.mode == Mode.ACTIVE:
            break
        assert cmd is not None and np.allclose(cmd.position, GOAL)  # holds the final pose meanwhile
    assert sup.mode == Mode.ACTIVE and "at rest after" in sup.reason
    assert np.max(np.abs(GOAL - q)) < 0.1 * 0.1 * 1.5  # moving < 0.1 rad/s: within ~1.5 tau of the end
    # still moving after settle_max_s: hand over anyway and say so
    sup = make(settle_max_s=0.2)
    sup.hardware_state(hw(StopState.HOLD, "startup"), 0.0)
    sup.request_mode(Mode.STANDING_UP, "test", 0.0)
    sup.reset_done(True, "ok", 0.0)
    sup.hardware_state(hw(), 0.0)
    t = 0.0
    while sup.mode != Mode.ACTIVE and t < 10.0:
        t += 0.01
        sup.tick(t, np.full(3, math.sin(t * 20.0)), upright=True)  # never at rest
    assert sup.mode == Mode.ACTIVE and "still moving after 0.2" in sup.reason and "(settle_max_s)" in sup.reason


@pytest.mark.parametrize("start", [np.zeros(3), np.array([-1.9, 1.9, -2.5]), GOAL + 1e-4])
def test_the_ramp_never_exceeds_its_speed_limit_and_starts_at_the_measured_pose(start):
    sup = make(max_speed_rad_s=0.4)
    sup.hardware_state(hw(StopState.DAMP, "e-stop"), 0.0)
    sup.request_mode(Mode.STANDING_UP, "test", 0.0)
    sup.reset_done(True, "ok", 0.0)
    dt = 0.002
    t, previous, first = 0.0, None, None
    while sup.mode != Mode.ACTIVE:
        _, cmd = sup.tick(t, start)
        if cmd is not None:
            q = np.asarray(cmd.position)
            first = q if first is None else first
            if previous is not None:
                assert np.max(np.abs(q - previous)) / dt <= 0.4 * (1 + 1e-6)
            previous = q
        t += dt
    np.testing.assert_allclose(first, np.clip(start, LOWER, UPPER))
    np.testing.assert_allclose(previous, GOAL, atol=1e-3)


def test_active_refused_until_the_ramp_finished_with_the_reason():
    sup = make()
    r = sup.request_mode(Mode.ACTIVE, "test", 0.0)
    assert not r.success and "request STANDING_UP first" in r.message and sup.mode == Mode.DAMPING
    sup.hardware_state(hw(StopState.HOLD, "startup"), 0.0)
    sup.request_mode(Mode.STANDING_UP, "test", 0.0)
    r = sup.request_mode(Mode.ACTIVE, "test", 0.0)
    assert not r.success and "waiting for the hardware" in r.message
    sup.reset_done(True, "ok", 0.0)
    sup.tick(0.0, np.zeros(3))
    r = sup.request_mode(Mode.ACTIVE, "test", 0.1)
    assert not r.success and "s left" in r.message and sup.mode == Mode.STANDING_UP


@pytest.mark.parametrize(
    "mode, why",
    [
        (7, "unknown mode 7"),
        (Mode.HOLD, "cannot be requested"),
        (Mode.ESTOP, "cannot be requested"),
        (Mode.FAULT, "cannot be requested"),
    ],
)
def test_unknown_and_unrequestable_modes_are_refused_and_change_nothing(mode, why):
    sup, t = in_mode(Mode.ACTIVE)
    r = sup.request_mode(mode, "test", t)
    assert not r.success and why in r.message and "DAMPING (0), STANDING_UP (1), ACTIVE (2)" in r.message
    assert sup.mode == Mode.ACTIVE


def test_stand_up_refused_without_hardware_state_or_with_stale_inputs():
    sup = make()
    r = sup.request_mode(Mode.STANDING_UP, "test", 0.0)
    assert not r.success and "no hardware/state" in r.message and sup.mode == Mode.DAMPING
    sup.hardware_state(hw(StopState.HOLD, "startup"), 0.0)
    sup.tick(0.0, None, ["joint_states never received"])
    r = sup.request_mode(Mode.STANDING_UP, "test", 0.0)
    assert not r.success and "joint_states never received" in r.message


def test_refused_hardware_reset_returns_to_damping_with_the_hardware_reason():
    sup = make()
    sup.hardware_state(hw(StopState.DAMP, "e-stop"), 0.0)
    sup.request_mode(Mode.STANDING_UP, "test", 0.0)
    sup.reset_done(False, "e-stop is engaged: release it before reset", 0.0)
    assert sup.mode == Mode.DAMPING and "e-stop is engaged" in sup.reason


def test_auto_stand_stands_up_once_hardware_and_inputs_are_there():
    sup = make(auto_stand=True)
    assert sup.tick(0.0, None, ["joint_states never received"]) == ([], None)
    sup.hardware_state(hw(StopState.HOLD, "startup"), 0.0)
    actions, _ = sup.tick(0.01, None, ["joint_states never received"])
    assert actions == [] and sup.mode == Mode.DAMPING
    actions, _ = sup.tick(0.02, np.zeros(3), [])
    assert actions == [ResetHardware()] and sup.mode == Mode.STANDING_UP


def test_the_hand_over_also_waits_for_the_pelvis_at_rest():
    """Joints still while the whole robot rocks on its soles is not at rest: handed over like that
    (measured over DDS under load), the capture point sat at the toes and a fall was detected."""
    sup = make(settle_max_s=1.0)
    sup.hardware_state(hw(StopState.HOLD, "startup"), 0.0)
    sup.request_mode(Mode.STANDING_UP, "test", 0.0)
    sup.reset_done(True, "ok", 0.0)
    sup.hardware_state(hw(), 0.0)
    t = 0.0
    sup.tick(t, GOAL, upright=True)
    while not sup.ramp.done(t):
        t += 0.01
        sup.tick(t, GOAL, body_rate_rad_s=0.25)
    for _ in range(20):  # joints at rest, the pelvis still turning at 0.25 rad/s
        t += 0.01
        sup.tick(t, GOAL, body_rate_rad_s=0.25)
    assert sup.mode == Mode.STANDING_UP
    for _ in range(5):
        t += 0.01
        sup.tick(t, GOAL, body_rate_rad_s=0.02)
    assert sup.mode == Mode.ACTIVE and "at rest after" in sup.reason


def test_a_lying_robot_is_refused_a_stand_up_with_the_way_out():
    """Ramping the joints of a robot on the floor faults again: the request is refused, an automatic
    stand-up waits, and both name sim/reset (simulation) and lifting it (a robot)."""
    sup = make(auto_stand=True)
    sup.hardware_state(hw(StopState.DAMP, "e-stop released"), 0.0)
    actions, _ = sup.tick(0.01, np.zeros(3), [], lying=True)
    assert actions == [] and sup.mode == Mode.DAMPING
    assert "the robot is lying" in sup.reason and "sim/reset" in sup.reason and "lift it upright" in sup.reason
    reply = sup.request_mode(Mode.STANDING_UP, "operator", 0.02)
    assert (
        not reply.success and "stand-up refused: the robot is lying" in reply.message and "sim/reset" in reply.message
    )
    # back on its feet (sim/reset: the hardware holds it as at power-on): the pending stand-up goes ahead
    sup.hardware_state(hw(StopState.HOLD, "startup: waiting for reset"), 0.03)
    actions, _ = sup.tick(0.04, np.zeros(3), [], lying=False)
    assert actions == [ResetHardware()] and sup.mode == Mode.STANDING_UP


def test_a_hold_of_a_lying_robot_is_not_recovered_by_a_ramp():
    sup = make(recover_holds_per_min=10)
    t = stand_up(sup)
    sup.hardware_state(hw(StopState.HOLD, "no command for 0.10 s"), t)
    actions, _ = sup.tick(t, np.zeros(3), lying=True)
    assert actions == [] and sup.mode == Mode.HOLD and "not recovering: the robot is lying" in sup.reason


def test_auto_stand_waits_for_the_controllers_that_take_over():
    """After the reset every group's watchdog runs: a hand whose node was still loading timed out
    into a latched HOLD. The automatic stand-up waits until its commanders are up, and says so."""
    sup = make(auto_stand=True)
    sup.hardware_state(hw(StopState.HOLD, "startup"), 0.0)
    actions, _ = sup.tick(0.01, np.zeros(3), [], waiting_for=["hands"])
    assert actions == [] and sup.mode == Mode.DAMPING
    assert "waiting for hands (no hardware/joint_commands publisher yet)" in sup.reason
    actions, _ = sup.tick(0.02, np.zeros(3), [], waiting_for=["hands"])
    assert actions == [] and len([t for t in sup.drain_transitions() if "waiting for hands" in t.reason]) == 1
    actions, _ = sup.tick(0.03, np.zeros(3), [])
    assert actions == [ResetHardware()] and sup.mode == Mode.STANDING_UP


def test_damping_request_damps_the_hardware_through_a_latched_damp():
    for mode in (Mode.STANDING_UP, Mode.ACTIVE, Mode.HOLD):
        sup, t = in_mode(mode)
        r = sup.request_mode(Mode.DAMPING, "operator", t)
        assert r.success and sup.mode == Mode.DAMPING and not sup.commanding
        assert r.actions == (DampHardware(OWN + "damping requested: operator"),)


# --- e-stop, latching, reset -----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", list(Mode))
def test_estop_from_every_mode_damps_at_once_and_latches(mode):
    sup, t = in_mode(mode)
    r = sup.request_estop(True, "button", t)
    assert r.success and sup.mode == Mode.ESTOP and sup.estop_engaged
    assert r.actions == (EngageEStop(OWN + "e-stop: button"),)
    assert not sup.commanding
    for wanted in (Mode.STANDING_UP, Mode.ACTIVE):
        assert not sup.request_mode(wanted, "test", t).success
    assert sup.tick(t + 1.0, np.zeros(3))[1] is None
    assert sup.mode == Mode.ESTOP


def test_reset_refused_while_engaged_then_release_reset_and_stand_up_again():
    sup, t = in_mode(Mode.ESTOP)
    r = sup.request_reset(t)
    assert not r.success and "release it" in r.message and sup.mode == Mode.ESTOP
    r = sup.request_estop(False, "operator", t)
    assert r.success and r.actions == (ReleaseEStop("e-stop released: operator"),)
    assert sup.mode == Mode.ESTOP and "call safety/reset" in sup.reason
    r = sup.request_reset(t)
    assert r.success and sup.mode == Mode.DAMPING
    r = sup.request_mode(Mode.STANDING_UP, "again", t)
    assert r.success and r.actions == (ResetHardware(),)


@pytest.mark.parametrize("mode", [Mode.DAMPING, Mode.STANDING_UP, Mode.ACTIVE, Mode.HOLD])
def test_reset_only_from_estop_or_fault(mode):
    sup, t = in_mode(mode)
    r = sup.request_reset(t)
    assert not r.success and "reset leaves only ESTOP or FAULT" in r.message and sup.mode == mode


def test_fault_latches_engages_the_hardware_estop_and_reset_releases_it():
    sup, t = in_mode(Mode.ACTIVE)
    actions, cmd = sup.tick(t, np.zeros(3), fall=FALL)
    assert sup.mode == Mode.FAULT and sup.reason == "fall detected: tilt 50 deg > 30 deg"
    assert sup.cause == SafetyCause.FALL
    assert actions == [EngageEStop(OWN + "fall detected: tilt 50 deg > 30 deg")]
    assert not sup.request_mode(Mode.STANDING_UP, "x", t).success
    sup.hardware_state(hw(StopState.DAMP, "e-stop: " + OWN + "fall detected", estop=True), t)
    assert sup.mode == Mode.FAULT  # our own e-stop is not an external one
    r = sup.request_reset(t)
    assert r.success and r.actions == (ReleaseEStop(OWN + "reset"),) and sup.mode == Mode.DAMPING


def test_an_operator_release_after_a_fault_keeps_the_faults_hardware_estop():
    sup, t = in_mode(Mode.FAULT)
    sup.request_estop(True, "button", t)
    r = sup.request_estop(False, "button", t)
    assert r.success and r.actions == () and sup.mode == Mode.ESTOP
    r = sup.request_reset(t)
    assert r.success and r.actions == (ReleaseEStop(OWN + "reset"),)


def test_auto_stand_after_a_reset_waits_until_the_hardware_released_its_estop():
    sup = make(auto_stand=True)
    sup.hardware_state(hw(StopState.HOLD, "startup"), 0.0)
    sup.tick(0.0, np.zeros(3))
    sup.reset_done(True, "ok", 0.0)
    sup.hardware_state(hw(), 0.0)
    t = sup.ramp.t0 + sup.ramp.duration
    while sup.mode != Mode.ACTIVE:
        t += 0.01  # the ramp's end, then the joints at rest
        sup.tick(t, np.zeros(3))
    sup.tick(1.0, np.zeros(3), fall=FALL)
    sup.hardware_state(hw(StopState.DAMP, "e-stop: " + OWN + "fall detected", estop=True), 1.0)
    r = sup.request_reset(1.1)
    assert r.actions == (ReleaseEStop(OWN + "reset"),) and sup.mode == Mode.DAMPING  # no reset racing the release
    sup.hardware_state(hw(StopState.DAMP, "e-stop: " + OWN + "fall detected", estop=True), 1.11)  # not yet
    assert sup.tick(1.12, np.zeros(3))[0] == [] and sup.mode == Mode.DAMPING
    sup.hardware_state(hw(StopState.DAMP, "e-stop: " + OWN + "fall detected", estop=False), 1.13)
    actions, _ = sup.tick(1.14, np.zeros(3))
    assert actions == [ResetHardware()] and sup.mode == Mode.STANDING_UP and "after the reset from FAULT" in sup.reason


def test_a_damping_request_cancels_a_pending_auto_stand():
    sup = make(auto_stand=True)
    sup.request_mode(Mode.DAMPING, "operator", 0.0)
    sup.hardware_state(hw(StopState.HOLD, "startup"), 0.0)
    assert sup.tick(0.1, np.zeros(3)) == ([], None) and sup.mode == Mode.DAMPING


def test_fall_ignored_while_damping_and_when_the_ramp_started_lying_down():
    sup = make()
    sup.tick(0.0, np.zeros(3), fall=FALL)
    assert sup.mode == Mode.DAMPING
    sup.hardware_state(hw(StopState.DAMP, "e-stop"), 0.0)
    sup.request_mode(Mode.STANDING_UP, "test", 0.0)
    sup.reset_done(True, "ok", 0.0)
    sup.tick(0.0, np.zeros(3), upright=False)
    assert not sup.fall_detection_armed and "not armed" in sup.reason
    sup.tick(0.01, np.zeros(3), fall=FALL)
    assert sup.mode == Mode.STANDING_UP


def test_estop_resent_until_the_hardware_confirms():
    sup, t = in_mode(Mode.ACTIVE)
    sup.request_estop(True, "button", t)
    actions, _ = sup.tick(t + 0.05, None)
    assert actions == []
    actions, _ = sup.tick(t + 0.11, None)
    assert actions == [EngageEStop(OWN + "e-stop: button")]
    sup.hardware_state(hw(StopState.DAMP, "e-stop", estop=True), t + 0.12)
    assert sup.tick(t + 0.5, None)[0] == []


def test_hardware_estop_by_someone_else_is_an_estop_until_released_and_reset():
    sup, t = in_mode(Mode.ACTIVE)
    sup.hardware_state(hw(StopState.DAMP, "e-stop: browser console", estop=True), t)
    assert sup.mode == Mode.ESTOP and sup.estop_engaged and "browser console" in sup.reason
    assert sup.cause == SafetyCause.ESTOP_EXTERNAL
    assert not sup.request_reset(t).success
    sup.hardware_state(hw(StopState.DAMP, "e-stop: browser console", estop=False), t)
    assert "released" in sup.reason
    assert sup.request_reset(t).success and sup.mode == Mode.DAMPING


def test_hardware_fault_is_a_fault_and_other_damps_are_damping():
    sup, t = in_mode(Mode.ACTIVE)
    actions = sup.hardware_state(hw(StopState.DAMP, "fault: left_knee encoder error"), t)
    assert sup.mode == Mode.FAULT and "left_knee encoder error" in sup.reason
    assert sup.cause == SafetyCause.HARDWARE_FAULT and isinstance(actions[0], EngageEStop)
    sup, t = in_mode(Mode.HOLD)
    sup.hardware_state(hw(StopState.DAMP, "hold lasted 5.0 s"), t + 5)
    assert sup.mode == Mode.DAMPING and "hold lasted 5.0 s" in sup.reason
    assert sup.cause == SafetyCause.HARDWARE_DAMPED
    # the code decides, not the words: a damp worded like a fault is a damp, and the reverse
    sup, t = in_mode(Mode.ACTIVE)
    sup.hardware_state(hw(StopState.DAMP, "fault: as worded", cause=StopCause.HOLD_ESCALATED), t)
    assert sup.mode == Mode.DAMPING and sup.cause == SafetyCause.HARDWARE_DAMPED
    sup, t = in_mode(Mode.ACTIVE)
    sup.hardware_state(hw(StopState.DAMP, "encoder error", cause=StopCause.FAULT), t)
    assert sup.mode == Mode.FAULT and sup.cause == SafetyCause.HARDWARE_FAULT


# --- HOLD ----------------------------------------------------------------------------------------------
def test_hold_reports_the_hardware_reason_and_recovers_within_its_budget():
    sup = make(recover_holds_per_min=2)
    t = stand_up(sup)
    for k in range(3):
        t += 0.2
        sup.hardware_state(hw(StopState.HOLD, "no command for 0.10 s"), t)
        assert sup.mode == Mode.HOLD and "no command for 0.10 s" in sup.reason
        actions, _ = sup.tick(t, np.zeros(3))
        if k < 2:
            assert actions == [ResetHardware()] and sup.mode == Mode.STANDING_UP and f"{k + 1}/2" in sup.reason
            assert sup.cause == SafetyCause.RECOVERING
            sup.reset_done(True, "ok", t)
            sup.hardware_state(hw(), t)
            while sup.mode != Mode.ACTIVE:
                t += 0.05
                sup.tick(t, np.zeros(3))
        else:
            assert actions == [] and sup.mode == Mode.HOLD and "2/2 recoveries this minute spent" in sup.reason
    # a minute later the budget is back
    sup.request_mode(Mode.STANDING_UP, "operator", t)
    assert sup.mode == Mode.STANDING_UP


def test_after_a_hand_over_nobody_took_the_next_recovery_holds_the_stand_pose_itself():
    """Fault injection: the WBC killed. The first HOLD (after a long ACTIVE) is recovered as ever;
    that recovery's ACTIVE finds no controller and the hardware holds again within the watchdog:
    the next recovery ramps and then keeps commanding the stand pose (the joint-PD stand) until
    handover_wait_s after that HOLD, instead of handing over to nobody again at once."""
    sup = make(recover_holds_per_min=10, handover_wait_s=3.0, max_speed_rad_s=2.0)  # ramps well under 3 s
    t = stand_up(sup) + 30.0

    def recover(t: float) -> float:
        sup.hardware_state(hw(StopState.HOLD, "no command for 0.10 s"), t)
        actions, _ = sup.tick(t, np.zeros(3))
        assert actions == [ResetHardware()] and sup.cause == SafetyCause.RECOVERING
        sup.reset_done(True, "ok", t)
        sup.hardware_state(hw(), t)
        return t

    t = recover(t)
    while sup.mode != Mode.ACTIVE:  # as before: ACTIVE once the ramp settled
        t += 0.05
        sup.tick(t, np.zeros(3))
    t += 0.1
    failed_at = recover(t)  # the hand-over found nobody
    held = 0
    while sup.mode != Mode.ACTIVE:
        t += 0.05
        _, cmd = sup.tick(t, np.zeros(3))
        if sup.mode == Mode.STANDING_UP and "holding the stand pose" in sup.reason:
            assert cmd is not None and np.allclose(cmd.position, GOAL)
            held += 1
    assert failed_at + 3.0 <= t < failed_at + 3.1 and held > 30
    # a HOLD after a long ACTIVE is recovered as before
    t = recover(t + 30.0)
    ramp_end = t
    while sup.mode != Mode.ACTIVE:
        t += 0.05
        sup.tick(t, np.zeros(3))
    assert t - ramp_end < 2.0


def ramping(sup: Supervisor, t: float = 0.0) -> float:
    """DAMPING -> STANDING_UP with the ramp started; returns the time."""
    sup.hardware_state(hw(StopState.HOLD, "startup: waiting for reset"), t)
    assert sup.request_mode(Mode.STANDING_UP, "test", t).actions == (ResetHardware(),)
    sup.reset_done(True, "ok", t)
    sup.hardware_state(hw(), t)
    sup.tick(t, np.zeros(3), upright=True)
    assert sup.commanding
    return t


def test_the_hand_over_waits_until_the_controller_says_it_is_ready():
    """Fault injection under load: the recovery handed the body to a WBC killed, stopped or still
    starting (four times in a row, the fourth ended in a detected fall). After the ramp the
    supervisor keeps commanding the stand pose until the controller's status is stamped since the
    ramp began and is fresh; then it hands over."""
    sup = make(max_speed_rad_s=2.0)  # ramps well under 3 s
    t = ramping(sup, 10.0)
    seen = {"wbc": 9.9}  # its last status before the ramp: killed or stopped since
    while t < 13.0:
        t += 0.01
        _, cmd = sup.tick(t, GOAL, controllers_seen=seen)
        assert sup.mode == Mode.STANDING_UP and cmd is not None
    assert np.allclose(cmd.position, GOAL) and "holding the stand pose: waiting for wbc" in sup.reason
    transitions = len(sup.drain_transitions())
    for _ in range(10):  # waiting says so once, not every tick
        t += 0.01
        sup.tick(t, GOAL, controllers_seen=seen)
    assert not sup.drain_transitions() and transitions < 10
    seen["wbc"] = t - 0.01  # a status stamped since the ramp began: the respawned WBC is up
    t += 0.01
    _, cmd = sup.tick(t, GOAL, controllers_seen=seen)
    assert sup.mode == Mode.ACTIVE and cmd is None and sup.reason.endswith("controllers in charge")
    # a status since the ramp began but older than CONTROLLER_STATUS_MAX_AGE_S: stopped meanwhile
    sup = make(max_speed_rad_s=2.0)
    t = ramping(sup, 10.0)
    seen = {"wbc": 10.05}
    while t < 12.0:
        t += 0.01
        sup.tick(t, GOAL, controllers_seen=seen)
    assert sup.mode == Mode.STANDING_UP and "waiting for wbc" in sup.reason
    # no controllers to ask (None, or none named): the hand-over as before
    for seen in (None, {}):
        sup = make(max_speed_rad_s=2.0)
        t = ramping(sup)
        while sup.mode == Mode.STANDING_UP and t < 3.0:
            t += 0.01
            sup.tick(t, GOAL, controllers_seen=seen)
        assert sup.mode == Mode.ACTIVE


@pytest.mark.parametrize("phase", ["ramping", "waiting for the controller"])
def test_a_start_hold_mid_stand_up_restarts_it_from_the_measured_pose(phase):
    """sim/reset during the stand-up (the console's Reset simulation right after an e-stop) put the
    hardware back in its start hold: the supervisor took it as a HOLD that was not a command
    timeout and the hardware damped 10 s later. It resets the hardware again and ramps anew from
    the pose the hardware now measures."""
    sup = make(recover_holds_per_min=0, max_speed_rad_s=2.0)  # (no recovery budget involved)
    t = ramping(sup, 5.0)
    sup.drain_transitions()
    seen = {"wbc": -math.inf} if phase != "ramping" else None
    until = 5.2 if phase == "ramping" else 8.0
    while t < until:
        t += 0.01
        sup.tick(t, GOAL if phase != "ramping" else np.zeros(3), controllers_seen=seen)
    assert sup.mode == Mode.STANDING_UP and sup.commanding
    assert ("waiting for wbc" in sup.reason) == (phase != "ramping")
    cause = sup.cause
    actions = sup.hardware_state(hw(StopState.HOLD, "startup: waiting for reset"), t)
    assert actions == [ResetHardware()] and sup.mode == Mode.STANDING_UP and sup.cause == cause
    assert "start hold" in sup.reason and "body: startup: waiting for reset" in sup.reason
    assert not sup.commanding  # (resetting)
    assert sup.tick(t, np.zeros(3))[1] is None
    sup.reset_done(True, "ok", t)
    sup.hardware_state(hw(StopState.HOLD, "startup: waiting for reset"), t + 0.01)  # from before the reset
    assert sup.mode == Mode.STANDING_UP
    sup.hardware_state(hw(), t + 0.02)
    start = np.array([0.2, -0.1, 0.3])  # the pose the sim restarted in
    _, cmd = sup.tick(t + 0.02, start, upright=True)
    assert sup.commanding and np.allclose(cmd.position, start, atol=1e-3)
    assert Mode.HOLD not in [tr.new for tr in sup.drain_transitions()]
    while sup.mode == Mode.STANDING_UP and t < 20.0:
        t += 0.01
        sup.tick(t, GOAL)
    assert sup.mode == Mode.ACTIVE


def test_hold_not_from_a_timeout_is_not_recovered():
    sup = make(recover_holds_per_min=10)
    t = stand_up(sup)
    sup.hardware_state(hw(StopState.HOLD, "joint limit"), t)
    actions, _ = sup.tick(t, np.zeros(3))
    assert actions == [] and sup.mode == Mode.HOLD and "not a command timeout" in sup.reason


def test_hold_recovery_reads_the_cause_code_not_the_wording():
    """A reworded timeout reason still recovers; a hold that only reads like a timeout does not."""
    sup = make(recover_holds_per_min=10)
    t = stand_up(sup)
    sup.hardware_state(hw(StopState.HOLD, "watchdog: commander silent", cause=StopCause.COMMAND_TIMEOUT), t)
    actions, _ = sup.tick(t, np.zeros(3))
    assert actions == [ResetHardware()] and sup.mode == Mode.STANDING_UP
    sup = make(recover_holds_per_min=10)
    t = stand_up(sup)
    sup.hardware_state(hw(StopState.HOLD, "no command for 0.10 s", cause=StopCause.HOLD_REQUESTED), t)
    actions, _ = sup.tick(t, np.zeros(3))
    assert actions == [] and sup.mode == Mode.HOLD and "not a command timeout" in sup.reason


def test_stale_hold_report_right_after_a_reset_is_ignored():
    sup = make()
    sup.hardware_state(hw(StopState.HOLD, "startup"), 0.0)
    sup.request_mode(Mode.STANDING_UP, "t", 0.0)
    sup.reset_done(True, "ok", 0.0)
    sup.tick(0.0, np.zeros(3))
    sup.hardware_state(hw(StopState.HOLD, "startup"), 0.01)  # published before the reset
    assert sup.mode == Mode.STANDING_UP
    sup.hardware_state(hw(), 0.02)
    sup.hardware_state(hw(StopState.HOLD, "no command for 0.10 s"), 0.2)
    assert sup.mode == Mode.HOLD


def test_stale_inputs_while_active_stop_the_controllers_into_hold():
    sup = make(recover_holds_per_min=5)
    t = stand_up(sup)
    actions, _ = sup.tick(t, np.zeros(3), ["joint_states silent 0.30 s (limit 0.25 s)"])
    assert sup.mode == Mode.HOLD and "joint_states silent 0.30 s" in sup.reason and actions == []
    sup.hardware_state(hw(StopState.HOLD, "no command for 0.10 s"), t + 0.1)
    assert sup.tick(t + 0.1, np.zeros(3), ["joint_states silent 0.40 s"])[0] == []  # no recovery while blind
    actions, _ = sup.tick(t + 0.2, np.zeros(3), [])
    assert actions == [ResetHardware()] and sup.mode == Mode.STANDING_UP


def test_input_watch_names_silent_and_missing_inputs():
    w = InputWatch(["joint_states", "imu/data"], 0.25)
    assert w.stale(0.0) == ["joint_states never received", "imu/data never received"]
    w.seen("joint_states", 1.0)
    w.seen("imu/data", 1.0)
    assert w.stale(1.2) == []
    w.seen("imu/data", 1.3)
    assert w.stale(1.3) == ["joint_states silent 0.30 s (limit 0.25 s)"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("max_speed_rad_s", 0.0),
        ("max_speed_rad_s", math.nan),
        ("recover_holds_per_min", 61),
        ("input_timeout_s", -1.0),
        ("settle_speed_rad_s", 0.0),
        ("settle_max_s", math.inf),
    ],
)
def test_bad_config_is_refused_naming_the_field(field, value):
    with pytest.raises(ControlError, match=field):
        SupervisorConfig(**{field: value})


# --- fall detection on synthetic signals ----------------------------------------------------------------
@pytest.fixture(scope="module")
def robot():
    urdf = expand_description()
    return RobotModel.from_urdf(urdf), BalanceModel(urdf)


def sample(robot_model, t, tilt_rad=0.0, gyro=(0.0, 0.0, 0.0), forces=(320.0, 320.0), qd=None, q=None):
    pose = named_pose("stand", robot_model) if q is None else q
    half = tilt_rad / 2  # pitch forward about y
    return BalanceSample(
        t,
        robot_model.joint_names,
        pose,
        np.zeros(len(pose)) if qd is None else qd,
        (math.cos(half), 0.0, math.sin(half), 0.0),
        gyro,
        {"left": forces[0], "right": forces[1]},
    )


def test_standing_still_is_no_fall_and_the_capture_point_is_inside(robot):
    model, balance = robot
    det = FallDetector(balance)
    for k in range(100):
        assert det.update(sample(model, k * 0.002)) is None
    st = det.last_state
    assert st.capture_outside_m < -0.02 and st.loaded_feet == ("left", "right")
    assert 0.8 < st.com_m[2] < 1.1  # the CoM about a metre above the sole


def test_tilt_beyond_the_limit_is_a_fall_after_confirm_time(robot):
    model, balance = robot
    det = FallDetector(balance, FallLimits(tilt_limit_rad=math.radians(30), confirm_s=0.01, capture_margin_m=2.0))
    assert det.update(sample(model, 0.0, math.radians(29))) is None
    assert det.update(sample(model, 0.002, math.radians(31))) is None  # one sample is not a fall
    v = None
    t = 0.004
    while v is None and t < 0.05:
        v = det.update(sample(model, t, math.radians(31)))
        t += 0.002
    assert v is not None and v.criterion == "tilt" and "31 deg > 30 deg" in v.reason and t - 0.002 <= 0.0141


def test_tilt_rate_is_a_fall_but_yaw_rate_is_not(robot):
    model, balance = robot
    det = FallDetector(balance, FallLimits(tilt_rate_limit_rad_s=1.5, confirm_s=0.0, capture_margin_m=2.0))
    assert det.update(sample(model, 0.0, gyro=(0.0, 0.0, 3.0))) is None  # turning on the spot
    v = det.update(sample(model, 0.002, gyro=(0.0, 2.0, 0.0)))
    assert v is not None and v.criterion == "tilt_rate"


def test_capture_point_far_outside_is_a_fall(robot):
    model, balance = robot
    det = FallDetector(balance, FallLimits(tilt_rate_limit_rad_s=50.0, capture_margin_m=0.08, confirm_s=0.0))
    # the whole body pitching forward about the ankles at 0.6 rad/s: CoM moves ~0.6 m/s forward
    assert det.update(sample(model, 0.0, gyro=(0.0, 0.1, 0.0))) is None
    v = det.update(sample(model, 0.002, gyro=(0.0, 0.9, 0.0)))
    assert v is not None and v.criterion == "capture_point", det.last_state
    assert det.last_state.capture_point_m[0] > 0.2


def test_sudden_loss_of_both_feet_is_a_fall_unless_commanded(robot):
    model, balance = robot
    det = FallDetector(balance, FallLimits(foot_loss_s=0.03))
    assert det.update(sample(model, 0.0)) is None
    t = 0.002
    while t < 0.03:
        assert det.update(sample(model, t, forces=(5.0, 3.0)), feet_unloading_commanded=True) is None
        t += 0.002
    verdicts = [det.update(sample(model, 0.04 + k * 0.002, forces=(5.0, 3.0))) for k in range(20)]
    first = next(k for k, v in enumerate(verdicts) if v is not None)
    assert verdicts[first].criterion == "foot_force_loss" and 14 <= first <= 16


def test_one_foot_lifted_is_no_fall_and_shrinks_the_polygon(robot):
    model, balance = robot
    det = FallDetector(balance)
    assert det.update(sample(model, 0.0, forces=(640.0, 0.0))) is None
    st = det.last_state
    assert st.loaded_feet == ("left",) and np.ptp(st.support_polygon_m[:, 1]) < 0.15


def test_bad_sensor_values_are_refused(robot):
    model, balance = robot
    det = FallDetector(balance)
    with pytest.raises(ControlError, match="not a unit quaternion"):
        det.update(dataclass_replace(sample(model, 0.0), orientation_wxyz=(0.0, 0.0, 0.0, 0.0)))
    with pytest.raises(ControlError, match="not finite"):
        det.update(sample(model, 0.0, forces=(math.nan, 1.0)))


def dataclass_replace(obj, **kw):
    import dataclasses

    return dataclasses.replace(obj, **kw)


def test_polygon_helpers():
    square = convex_hull(np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]]))
    assert len(square) == 4
    assert distance_outside(np.array([0.5, 0.5]), square) == pytest.approx(-0.5)
    assert distance_outside(np.array([2.0, 0.5]), square) == pytest.approx(1.0)
    assert distance_outside(np.array([2.0, 2.0]), square) == pytest.approx(math.sqrt(2))
    # against a dense sampling of the boundary, for a many-sided hull (two feet side by side)
    rng = np.random.default_rng(0)
    hull = convex_hull(rng.uniform(-0.2, 0.2, size=(12, 2)) * (1.0, 1.5))
    boundary = np.vstack(
        [a + np.linspace(0, 1, 400)[:, None] * (b - a) for a, b in zip(hull, np.roll(hull, -1, 0), strict=True)]
    )
    for p in rng.uniform(-0.6, 0.6, size=(200, 2)):
        d = distance_outside(p, hull)
        assert abs(abs(d) - np.min(np.linalg.norm(boundary - p, axis=1))) < 2e-3


@pytest.mark.parametrize("field", ["tilt_limit_rad", "capture_margin_m", "foot_force_min_n"])
def test_bad_fall_limits_are_refused_naming_the_field(field):
    with pytest.raises(ControlError, match=field):
        FallLimits(**{field: -1.0})


def test_the_hardware_taking_the_estop_topic_first_is_the_operators_estop_not_an_external_one():
    """The hardware node takes safety/estop itself (one hop): its state may show that e-stop before
    the supervisor handles the same message. The release must still reach the hardware."""
    from forma_control.safety.supervisor import ReleaseEStop

    sup = make()
    t = stand_up(sup)
    sup.hardware_state(hw(StopState.DAMP, TOPIC_ESTOP, estop=True), t + 0.01)
    assert not sup.external_estop
    # safety/state says engaged from the hardware's report on, not only once the topic is handled
    assert sup.mode == Mode.ESTOP and sup.estop_engaged
    # a reset in that gap must not release what the operator still holds (CI, once, over DDS)
    reply = sup.request_reset(t + 0.015)
    assert not reply.success and "release it" in reply.message and sup.mode == Mode.ESTOP and not reply.actions
    sup.request_estop(True, "safety/estop topic", t + 0.02)
    reply = sup.request_estop(False, "safety/estop topic", t + 0.03)
    assert any(isinstance(a, ReleaseEStop) for a in reply.actions)
    # released: the reset goes through even before the hardware reports the release
    assert sup.request_reset(t + 0.04).success and sup.mode == Mode.DAMPING


def test_hardware_state_it_cannot_read_is_refused_with_the_reason():
    """Found by fuzzing (tests/system/test_fuzz_sim.py): a hardware/state with a stop state of 255
    stopped the supervisor's loop (ValueError out of StopState(255)); the node now ignores such a
    message with this reason and takes the next."""
    from forma_control.safety.supervisor import hardware_view

    groups = ["body", "left_hand", "right_hand"]
    view = hardware_view(groups, [0, 1, 2], ["", "no command for 0.25 s"], False, 12.5, [0, 2, 250])
    assert view.stop_states == {"body": StopState.ACTIVE, "left_hand": StopState.HOLD, "right_hand": StopState.DAMP}
    assert view.causes == {"body": StopCause.NONE, "left_hand": StopCause.COMMAND_TIMEOUT, "right_hand": None}
    assert view.reasons == {"body": "", "left_hand": "no command for 0.25 s"} and view.stamp_s == 12.5
    with pytest.raises(ControlError, match=r"unknown stop states \(left_hand: 255\); valid: 0 ACTIVE, 1 HOLD, 2 DAMP"):
        hardware_view(groups, [0, 255, 0], [], False, 0.0, [])
    with pytest.raises(ControlError, match="3 groups and 2 stop states"):
        hardware_view(groups, [0, 0], [], False, 0.0, [])

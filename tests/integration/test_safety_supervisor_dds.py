"""The safety supervisor over real DDS: the sim node and the supervisor as processes. With
auto_stand the supervisor goes DAMPING -> STANDING_UP -> ACTIVE; nobody commands the body in
ACTIVE here, so the hardware holds on its command timeout and the supervisor reports HOLD with the
hardware's reason (recovery off); an e-stop on the topic damps the hardware; sim/reset is refused
while the e-stop is engaged and puts the robot back on its feet once released; reset -> DAMPING ->
the stand-up; bad requests are refused with a reason."""

from __future__ import annotations

import pytest
import rclpy
from rclpy.context import Context
from rclpy.parameter import Parameter
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from forma_control.errors import ControlError
from forma_control.safety.node import SupervisorNode
from forma_interfaces.msg import HardwareState, SafetyState
from forma_interfaces.srv import ApplyWrench, SetOperatingMode
from tests.support.deployments import node, process, write_deployment
from tests.support.ros import LaunchedDeployment, RosProbe

pytestmark = pytest.mark.integration


def deployment(tmp_path) -> str:
    sim = node("sim", world="empty", **{"camera.rate_hz": 0.0})
    safety = node("safety_supervisor", auto_stand=True, recover_holds_per_min=0)
    return write_deployment(tmp_path, "safety", [process("sim", sim), process("safety", safety)])


def test_supervisor_modes_estop_reset_and_refusals_over_dds(tmp_path, domain_id):
    with (
        LaunchedDeployment(deployment(tmp_path), domain_id, tmp_path / "logs") as launched,
        RosProbe(domain_id, name="safety_probe") as probe,
    ):
        states = probe.collect(SafetyState, "safety/state", depth=50, latched=True)
        hardware = probe.collect(HardwareState, "hardware/state", depth=50, keep=200)

        def log() -> str:
            path = tmp_path / "logs" / "safety.log"
            return launched.output + (path.read_text(errors="replace") if path.exists() else "")

        def modes() -> list[str]:
            with probe.lock:
                out = []
                for m in states:
                    if not out or out[-1] != m.mode_name:
                        out.append(m.mode_name)
                return out

        probe.wait_for(lambda: "HOLD" in modes(), 120, f"DAMPING -> STANDING_UP -> ACTIVE -> HOLD; got {modes()}")
        # the whole sequence from the supervisor's log (the probe may join after the first states;
        # safety/state is latched, so it sees at least the current one)
        for text in (
            "DAMPING -> STANDING_UP: stand-up auto_stand at start",
            "STANDING_UP -> ACTIVE: stand-up ramp finished",
            "ACTIVE -> HOLD: hardware holds (body: no command for",
        ):
            probe.wait_for(lambda t=text: t in log(), 30, f"{text!r} in the log")
        assert log().index("-> STANDING_UP") < log().index("-> ACTIVE") < log().index("ACTIVE -> HOLD")
        start = len(modes()) - 1 - modes()[::-1].index("HOLD")
        hold = probe.latest("safety/state")
        assert hold.mode == SafetyState.HOLD and "no command for" in hold.reason, hold.reason
        assert hold.cause == SafetyState.CAUSE_HARDWARE_HOLD
        # the decision (recover or stay) follows at the supervisor's next step
        probe.wait_for(lambda: "recovery is off" in probe.latest("safety/state").reason, 30, "the HOLD decision")
        assert probe.latest("safety/state").mode == SafetyState.HOLD

        # bad requests: refused with a reason, nothing changes
        r = probe.call(SetOperatingMode, "safety/set_mode", SetOperatingMode.Request(mode=9, reason="test"))
        assert not r.success and "unknown mode 9" in r.message and r.mode == SafetyState.HOLD
        r = probe.call(SetOperatingMode, "safety/set_mode", SetOperatingMode.Request(mode=SafetyState.ACTIVE))
        assert not r.success and "STANDING_UP first" in r.message
        r = probe.call(Trigger, "safety/reset", Trigger.Request())
        assert not r.success and "reset leaves only ESTOP or FAULT" in r.message

        # e-stop on the topic: the hardware damps, latched
        pub = probe.matched_publisher(Bool, "safety/estop", subscribers=2)  # the supervisor and the sim
        probe.publish_delivered(pub, Bool(data=True))

        def body(msg) -> int:
            return msg.stop_states[list(msg.groups).index("body")]

        probe.wait_for(
            lambda: hardware and hardware[-1].estop_engaged and body(hardware[-1]) == HardwareState.DAMP,
            30,
            "hardware/state estop_engaged + DAMP",
        )
        probe.wait_for(lambda: probe.latest("safety/state").mode == SafetyState.ESTOP, 30, "safety/state ESTOP")
        assert probe.latest("safety/state").estop_engaged
        r = probe.call(Trigger, "safety/reset", Trigger.Request())
        assert not r.success and "release it" in r.message
        r = probe.call(SetOperatingMode, "safety/set_mode", SetOperatingMode.Request(mode=SafetyState.STANDING_UP))
        assert not r.success and "latched in ESTOP" in r.message
        r = probe.call(Trigger, "sim/reset", Trigger.Request())
        assert not r.success and "e-stop is engaged" in r.message and "safety/reset" in r.message

        probe.publish_delivered(pub, Bool(data=False))
        probe.wait_for(lambda: hardware and not hardware[-1].estop_engaged, 30, "the hardware e-stop released")
        assert body(hardware[-1]) == HardwareState.DAMP, "a release leaves the robot damped"
        # the damped robot sank: back on its feet at the start, held as at power-on
        r = probe.call(Trigger, "sim/reset", Trigger.Request())
        assert r.success, r.message
        probe.wait_for(lambda: body(hardware[-1]) == HardwareState.HOLD, 30, "the power-on hold after sim/reset")
        r = probe.call(Trigger, "safety/reset", Trigger.Request())
        assert r.success, r.message
        # auto_stand: the reset goes to DAMPING, and the stand-up follows once hardware/state shows
        # the hardware's e-stop released
        probe.wait_for(lambda: modes()[-1] in ("STANDING_UP", "ACTIVE", "HOLD"), 30, "stand-up after the reset")
        assert modes()[start:][:4] == ["HOLD", "ESTOP", "DAMPING", "STANDING_UP"], modes()
        probe.wait_for(lambda: body(hardware[-1]) == HardwareState.ACTIVE, 30, "the hardware active again")
        probe.wait_for(lambda: "ESTOP -> DAMPING: reset from ESTOP" in log(), 30, "the reset in the log")
    for text in ("ACTIVE -> HOLD: hardware holds (body: no command for", "e-stop: safety/estop topic"):
        assert text in log(), text


def test_a_toppling_push_is_a_fall_over_dds_and_ends_in_damp(tmp_path, domain_id):
    """The robot standing on the hardware's hold, pushed 60 N s from the front (sim/apply_wrench):
    the supervisor reports FAULT "fall detected: ..." and the hardware damps with its e-stop."""
    with (
        LaunchedDeployment(deployment(tmp_path), domain_id, tmp_path / "logs"),
        RosProbe(domain_id, name="fall_probe") as probe,
    ):
        probe.collect(SafetyState, "safety/state", depth=50, latched=True)
        hardware = probe.collect(HardwareState, "hardware/state", depth=50, keep=200)
        probe.wait_for(
            lambda: (m := probe.latest("safety/state")) is not None and m.mode == SafetyState.HOLD, 120, "HOLD"
        )
        push = ApplyWrench.Request(body="torso", duration_s=0.2)
        push.wrench.force.x = -300.0
        assert probe.call(ApplyWrench, "sim/apply_wrench", push).success
        probe.wait_for(lambda: probe.latest("safety/state").mode == SafetyState.FAULT, 30, "FAULT")
        fault = probe.latest("safety/state")
        assert fault.reason.startswith("fall detected: ") and fault.cause == SafetyState.CAUSE_FALL, fault.reason
        probe.wait_for(
            lambda: (
                hardware[-1].estop_engaged
                and hardware[-1].stop_states[list(hardware[-1].groups).index("body")] == HardwareState.DAMP
            ),
            30,
            "hardware DAMP",
        )
        assert "fall detected" in hardware[-1].reasons[list(hardware[-1].groups).index("body")]
        r = probe.call(Trigger, "safety/reset", Trigger.Request())
        assert r.success and "reset from FAULT" in r.message


@pytest.fixture
def context(domain_id):
    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    yield ctx
    rclpy.shutdown(context=ctx)


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"rate_hz": 0.5}, "parameter rate_hz=0.5 outside 1..1000"),
        ({"groups": ["legs"]}, "parameter groups=\\['legs'\\]: valid values are body, left_hand, right_hand"),
        ({"pose": "handstand"}, "parameter pose='handstand': valid values are stand, "),
        ({"max_speed_rad_s": 0.0}, "parameter max_speed_rad_s=0.0 outside"),
        ({"recover_holds_per_min": -1}, "parameter recover_holds_per_min=-1 outside 0..60"),
        ({"tilt_limit_rad": 2.0}, "parameter tilt_limit_rad=2.0 outside 0.01..1.5708 rad"),
        ({"capture_margin_m": -0.1}, "capture_margin_m=-0.1 outside"),
    ],
)
def test_supervisor_refuses_bad_parameters_naming_them(context, parameters, reason):
    overrides = [Parameter(k, value=v) for k, v in parameters.items()]
    with pytest.raises(ControlError, match=reason):
        SupervisorNode(context=context, parameter_overrides=overrides).destroy_node()


def test_a_sim_reset_during_the_stand_up_restarts_it_over_dds(tmp_path, domain_id):
    """The console's Reset simulation clicked right after an e-stop: safety/reset starts the
    stand-up ramp, sim/reset lands in the middle of it and puts the hardware back in its power-on
    hold. The supervisor must start the stand-up again from the measured pose and finish it
    (before, it took the start hold for a hold it does not recover, and the hardware damped 10 s
    later with the robot on the floor)."""
    sim = node("sim", world="empty", **{"camera.rate_hz": 0.0})
    safety = node("safety_supervisor", auto_stand=True, recover_holds_per_min=0, min_ramp_s=4.0)
    path = write_deployment(tmp_path, "safety_reset", [process("sim", sim), process("safety", safety)])
    with (
        LaunchedDeployment(path, domain_id, tmp_path / "logs") as launched,
        RosProbe(domain_id, name="reset_probe") as probe,
    ):
        states = probe.collect(SafetyState, "safety/state", depth=50, latched=True)

        def log() -> str:
            file = tmp_path / "logs" / "safety.log"
            return launched.output + (file.read_text(errors="replace") if file.exists() else "")

        def ramping() -> bool:
            with probe.lock:
                return any(m.mode == SafetyState.STANDING_UP and "ramping over" in m.reason for m in states)

        probe.wait_for(ramping, 120, "the stand-up ramp under way")
        with probe.lock:
            assert not any(m.mode == SafetyState.ACTIVE for m in states), "ACTIVE before the sim/reset"
        r = probe.call(Trigger, "sim/reset", Trigger.Request())
        assert r.success, r.message
        probe.wait_for(lambda: "went back to its start hold mid-stand-up" in log(), 30, "the stand-up restarted")
        probe.wait_for(
            lambda: "STANDING_UP -> ACTIVE: stand-up ramp finished" in log(), 60, "the restarted stand-up finished"
        )
        assert "-> FAULT" not in log() and "hold lasted" not in log(), log()[-2000:]

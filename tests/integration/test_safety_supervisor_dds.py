"""The safety supervisor over real DDS: the sim node and the supervisor as processes. With
auto_stand the supervisor goes DAMPING -> STANDING_UP -> ACTIVE; nobody commands the body in
ACTIVE here, so the hardware holds on its command timeout and the supervisor reports HOLD with the
hardware's reason (recovery off); an e-stop on the topic damps the hardware; reset -> DAMPING; bad
requests are refused with a reason."""

from __future__ import annotations

import pytest
import yaml
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from forma_interfaces.msg import HardwareState, SafetyState
from forma_interfaces.srv import SetOperatingMode
from tests.integration.ros_helpers import LaunchedDeployment, RosProbe

pytestmark = pytest.mark.integration
DOMAIN_ID = 53


def deployment(tmp_path) -> str:
    spec = {
        "name": "safety",
        "use_sim_time": True,
        "hosts": {
            "local": {
                "processes": [
                    {
                        "name": "sim",
                        "nodes": [{"node": "sim", "parameters": {"world": "empty", "camera.rate_hz": 0.0}}],
                    },
                    {
                        "name": "safety",
                        "nodes": [
                            {
                                "node": "safety_supervisor",
                                "parameters": {"auto_stand": True, "recover_holds_per_min": 0},
                            }
                        ],
                    },
                ]
            }
        },
    }
    (tmp_path / "deployments").mkdir()
    path = tmp_path / "deployments" / "safety.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_supervisor_modes_estop_reset_and_refusals_over_dds(tmp_path):
    with (
        LaunchedDeployment(deployment(tmp_path), DOMAIN_ID, tmp_path / "logs") as launched,
        RosProbe(DOMAIN_ID, name="safety_probe") as probe,
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
        seen = modes()
        assert seen[:4] == ["DAMPING", "STANDING_UP", "ACTIVE", "HOLD"], seen
        hold = probe.latest("safety/state")
        assert hold.mode == SafetyState.HOLD and "no command for" in hold.reason, hold.reason
        assert "recovery is off" in hold.reason

        # bad requests: refused with a reason, nothing changes
        r = probe.call(SetOperatingMode, "safety/set_mode", SetOperatingMode.Request(mode=9, reason="test"))
        assert not r.success and "unknown mode 9" in r.message and r.mode == SafetyState.HOLD
        r = probe.call(SetOperatingMode, "safety/set_mode", SetOperatingMode.Request(mode=SafetyState.ACTIVE))
        assert not r.success and "STANDING_UP first" in r.message
        r = probe.call(Trigger, "safety/reset", Trigger.Request())
        assert not r.success and "reset leaves only ESTOP or FAULT" in r.message

        # e-stop on the topic: the hardware damps, latched
        pub = probe.node.create_publisher(Bool, "safety/estop", 10)
        probe.wait_for(lambda: pub.get_subscription_count() > 0, 30, "the supervisor's safety/estop subscription")
        pub.publish(Bool(data=True))

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

        pub.publish(Bool(data=False))
        probe.wait_for(lambda: hardware and not hardware[-1].estop_engaged, 30, "the hardware e-stop released")
        assert body(hardware[-1]) == HardwareState.DAMP, "a release leaves the robot damped"
        r = probe.call(Trigger, "safety/reset", Trigger.Request())
        assert r.success, r.message
        # auto_stand: the reset goes to DAMPING and at once stands the robot up again (one callback,
        # so safety/state shows STANDING_UP next; the log shows both transitions)
        probe.wait_for(lambda: modes()[-1] in ("STANDING_UP", "ACTIVE", "HOLD"), 30, "stand-up after the reset")
        assert modes()[4:6] == ["ESTOP", "STANDING_UP"], modes()
        probe.wait_for(lambda: body(hardware[-1]) == HardwareState.ACTIVE, 30, "the hardware active again")
        probe.wait_for(lambda: "ESTOP -> DAMPING: reset from ESTOP" in log(), 30, "the reset in the log")
    for text in ("ACTIVE -> HOLD: hardware holds (body: no command for", "e-stop: safety/estop topic"):
        assert text in log(), text

"""Command pacing over real DDS (sim node in simtime mode): a commander that answers every
joint_states keeps the body ACTIVE; when it stalls, the simulation waits for it instead of letting
the hardware's 0.1 s command watchdog trip (sim time stands still); a commander silent for longer
than command_pacing_s is taken as stopped, and the watchdog HOLDs the body as designed."""

from __future__ import annotations

import threading
import time

import pytest
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

from forma_description import RobotModel, expand_description
from forma_description.poses import named_pose
from forma_interfaces.msg import HardwareState
from tests.support.deployments import node, process, write_deployment
from tests.support.ros import LaunchedDeployment, RosProbe, stamp_s

pytestmark = pytest.mark.integration


def test_the_sim_waits_for_a_stalled_commander_then_holds_when_it_stays_silent(tmp_path, domain_id):
    robot = RobotModel.from_urdf(expand_description())
    body = robot.group_joint_names("body")
    pose = named_pose("stand", robot)
    stand = [float(pose[robot.joint_names.index(n)]) for n in body]
    sim = node(
        "sim",
        world="empty",
        state_rate_hz=500.0,
        command_pacing_s=1.0,
        **{"camera.rate_hz": 0.0},
    )
    path = write_deployment(tmp_path, "pacing", [process("sim", sim)])
    answering = threading.Event()
    with LaunchedDeployment(path, domain_id, tmp_path / "logs") as launched, RosProbe(domain_id) as probe:
        pub = probe.node.create_publisher(JointState, "hardware/joint_commands", 10)
        latest = probe.collect(JointState, "joint_states", keep=1)
        states = probe.collect(HardwareState, "hardware/state", keep=1)

        def answer(msg: JointState) -> None:  # the commander: one command per joint_states
            if answering.is_set():
                pub.publish(JointState(header=msg.header, name=body, position=stand))

        probe.node.create_subscription(JointState, "joint_states", answer, 1)
        probe.wait_for(lambda: latest and states and pub.get_subscription_count() > 0, 60, "the sim")
        answering.set()
        assert probe.call(Trigger, "hardware/reset", Trigger.Request()).success

        def body_state() -> int:
            msg = states[-1]
            return msg.stop_states[list(msg.groups).index("body")]

        probe.wait_for(lambda: body_state() == HardwareState.ACTIVE, 30, "body ACTIVE")
        time.sleep(2.0)
        assert body_state() == HardwareState.ACTIVE
        # a 0.5 s stall of the commander: sim time waits (well under the 0.1 s watchdog)
        answering.clear()
        t_stall = stamp_s(latest[-1])
        time.sleep(0.5)
        advanced = stamp_s(latest[-1]) - t_stall
        answering.set()
        # the waiting sim publishes no new joint_states to answer: answer the last one now (else it
        # resumes only when its 1 s wait runs out, racing the check below)
        pub.publish(JointState(header=latest[-1].header, name=body, position=stand))
        time.sleep(0.5)
        assert advanced < 0.06, f"sim time ran {advanced:.3f} s while the commander stalled"
        assert body_state() == HardwareState.ACTIVE
        # silent for longer than command_pacing_s: taken as stopped, the watchdog acts
        answering.clear()
        probe.wait_for(lambda: body_state() == HardwareState.HOLD, 30, "the watchdog's HOLD")
        assert "no command for 0.10 s" in states[-1].reasons[list(states[-1].groups).index("body")]
    assert launched.exit_code == 0

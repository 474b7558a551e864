"""The sim deployment with the simulation swapped for the motor-bus driver + actuator emulator
(MuJoCo as the plant, python-can udp_multicast as the bus): the robot stands on the same joint-PD
stand, and an injected motor fault is diagnosed and damps the robot. Time is counted in driver
cycles (one joint_states message per cycle)."""

from __future__ import annotations

import os

import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import BatteryState, JointState

from forma_bringup.cli import config_dir
from forma_interfaces.msg import HardwareState
from forma_interfaces.srv import InjectFault
from tests.support.ros import LaunchedDeployment, RosProbe

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hil(tmp_path_factory, module_domain_id):
    """hil.yaml without the browser view, on private multicast groups."""
    tmp = tmp_path_factory.mktemp("hil")
    deployment = yaml.safe_load((config_dir() / "deployments" / "hil.yaml").read_text())
    deployment["parameters"] = [str(config_dir() / "params" / "forma.yaml")]
    processes = deployment["hosts"]["local"]["processes"]
    deployment["hosts"]["local"]["processes"] = [p for p in processes if p["name"] != "console"]
    base = f"239.75.{os.getpid() % 250}."
    for p in deployment["hosts"]["local"]["processes"]:
        for node in p["nodes"]:
            if node["node"] in ("actuator_emulator", "bus_driver"):
                node.setdefault("parameters", {})["multicast_base"] = base
            if node["node"] == "bus_driver":
                node["parameters"]["calibration_file"] = str(tmp / "calibration.yaml")
    path = tmp / "deployments" / "hil.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(deployment))
    with (
        LaunchedDeployment(path, module_domain_id, tmp / "logs") as launched,
        RosProbe(module_domain_id, name="hil_probe") as probe,
    ):
        yield launched, probe
    assert launched.exit_code == 0, launched.output[-2000:]
    assert launched.leftovers() == []


def test_the_robot_stands_on_the_bus_driver_and_a_motor_fault_damps_it(hil):
    launched, probe = hil
    states = probe.collect(HardwareState, "hardware/state", keep=3)
    truth = probe.collect(PoseStamped, "sim/base_pose_ground_truth", keep=1)
    battery = probe.collect(BatteryState, "battery_state", keep=1)
    diagnostics = probe.collect(DiagnosticArray, "diagnostics", keep=20)
    probe.wait_for(
        lambda: states and all(s == HardwareState.ACTIVE for s in states[-1].stop_states),
        120,
        "the stand node to activate the bus driver",
    )
    probe.wait_for(lambda: "ramping to the pose" in launched.output and truth, 60, "the stand ramp")
    cycles = probe.collect(JointState, "joint_states", depth=200)
    z0 = truth[-1].pose.position.z
    low, high = [z0], [z0]

    def stood(n):
        if truth:
            low[0], high[0] = min(low[0], truth[-1].pose.position.z), max(high[0], truth[-1].pose.position.z)
        return len(cycles) >= n

    probe.wait_for(lambda: stood(250), 120, "250 driver cycles (10 s at 25 Hz)")
    assert all(len(m.name) == 82 for m in cycles)
    assert high[0] - low[0] < 0.05 and z0 > 0.9, f"pelvis height moved between {low[0]:.3f} and {high[0]:.3f} m"
    last = states[-1]
    assert all(s == HardwareState.ACTIVE for s in last.stop_states), list(zip(last.groups, last.reasons, strict=True))
    assert "fault, damping" not in launched.output
    probe.wait_for(lambda: battery, 30, "battery_state from the power board")
    assert 40.0 < battery[-1].voltage < 52.0

    z_before_fault = truth[-1].pose.position.z
    reply = probe.call(
        InjectFault, "emulator/inject_fault", InjectFault.Request(fault="encoder_error", target="left_knee", value=1.0)
    )
    assert reply.success, reply.message
    n_at_injection = len(cycles)
    probe.wait_for(
        lambda: any(s == HardwareState.DAMP for s in states[-1].stop_states), 30, "damping after the encoder fault"
    )
    assert len(cycles) - n_at_injection <= 4, "the fault must damp within a few driver cycles"
    body = list(states[-1].groups).index("body")
    assert "left_knee reports ENCODER_FAULT" in states[-1].reasons[body]
    probe.wait_for(
        lambda: any("ENCODER_FAULT" in s.message for d in diagnostics for s in d.status), 30, "the fault on diagnostics"
    )
    n_fault = len(cycles)
    probe.wait_for(lambda: len(cycles) >= n_fault + 50, 60, "50 more driver cycles (2 s)")
    assert truth[-1].pose.position.z < z_before_fault - 0.3, "a damped robot sinks"

    bad = probe.call(InjectFault, "emulator/inject_fault", InjectFault.Request(fault="melt", target="", value=1.0))
    assert not bad.success and "unknown fault 'melt'" in bad.message

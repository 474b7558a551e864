"""The HIL rig through ros2_control: hil.yaml's bus driver (python-can udp_multicast) and actuator
emulator (MuJoCo as the plant), its joint-PD stand commanding through controller_commands, the
forward command controllers and the real controller_manager's topic hardware (wall time, as on
the robot). The robot stands on the emulated buses, and an injected encoder fault damps it within a
few driver cycles: the driver's fault handling sits below ros2_control and does not wait for it.
Time is counted in driver cycles (one hardware/joint_states message per cycle). Like
test_bus_driver_hil.py, the Python emulator is what a loaded machine starves first: beside another
full test run (load ~10 on 2 cores) its motors fell silent for 12 cycles and the driver faulted."""

from __future__ import annotations

import os

import pytest
import yaml
from geometry_msgs.msg import PoseStamped
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from forma_bringup.ros2_control_plan import HARDWARE_NODE_REMAPPINGS, topic_controller_spawn
from forma_description import expand_description
from forma_interfaces.msg import HardwareState
from forma_interfaces.srv import InjectFault
from tests.support import ros2_control as r2c
from tests.support.ros import LaunchedDeployment, RosProbe

pytestmark = pytest.mark.integration
if not r2c.available():
    pytest.skip(r2c.MISSING, allow_module_level=True)

UPDATE_RATE_HZ = 25  # the rig's body cycle: the Python driver and emulator are what the laptop rig can afford


def _hil_through_ros2_control(folder) -> tuple[str, str]:
    """hil.yaml without the browser view, on private multicast groups, the driver remapped for the
    topic hardware and the stand commanding through controller_commands; as two deployments, the
    stand's second: it has no `commanders` wait like the supervisor's, and ramped before the
    controllers could take its commands (the robot, started damped, sank meanwhile)."""
    spec = yaml.safe_load((r2c.REPO / "config" / "deployments" / "hil.yaml").read_text())
    spec["parameters"] = [str(r2c.REPO / "config" / p) for p in spec["parameters"]]
    base = f"239.76.{os.getpid() % 250}."
    processes = [p for p in spec["hosts"]["local"]["processes"] if p["name"] != "console"]
    for proc in processes:
        for node in proc["nodes"]:
            params = node.setdefault("parameters", {})
            if node["node"] in ("actuator_emulator", "bus_driver"):
                params["multicast_base"] = base
            if node["node"] == "bus_driver":
                params["calibration_file"] = str(folder / "calibration.yaml")
                node["remappings"] = dict(HARDWARE_NODE_REMAPPINGS)
            if node["node"] == "stand":
                node["remappings"] = {"hardware/joint_commands": "controllers/joint_commands"}
    processes.append(
        {
            "name": "commands",
            "nodes": [{"node": "controller_commands", "parameters": {"hardware_config": "hardware_hil.yaml"}}],
        }
    )
    paths = []
    for name, keep in (("hil_rig", lambda p: p["name"] != "control"), ("hil_stand", lambda p: p["name"] == "control")):
        part = {**spec, "name": name, "hosts": {"local": {"processes": [p for p in processes if keep(p)]}}}
        path = folder / "deployments" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(part))
        paths.append(str(path))
    return paths[0], paths[1]


def test_the_hil_rig_stands_through_ros2_control_and_an_encoder_fault_damps_it(tmp_path, domain_id):
    overrides = r2c.ci_overrides(tmp_path, update_rate_hz=UPDATE_RATE_HZ)
    spawn = topic_controller_spawn(yaml.safe_load(r2c.CONTROLLERS.read_text()))
    with RosProbe(domain_id, name="r2c_hil_probe") as probe:
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        probe.node.create_publisher(String, "/robot_description", latched).publish(
            String(data=expand_description(hardware="topic"))
        )
        states = probe.collect(HardwareState, "/hardware/state", keep=3)
        truth = probe.collect(PoseStamped, "/sim/base_pose_ground_truth", keep=1)
        manager = r2c.start_controller_manager(domain_id, [r2c.CONTROLLERS, overrides], tmp_path / "cm.log")
        try:
            # the controllers first (on wall time they need no hardware data): the stand's first
            # commands after its reset must find them active
            spawner = r2c.spawn(domain_id, spawn.active)
            assert spawner.returncode == 0, spawner.stdout[-3000:] + spawner.stderr[-3000:]
            rig, stand = _hil_through_ros2_control(tmp_path)
            with LaunchedDeployment(rig, domain_id, tmp_path / "rig_logs") as launched:
                probe.wait_for(lambda: "every controller is up" in launched.output, 120, "controller_commands ready")
                with LaunchedDeployment(stand, domain_id, tmp_path / "stand_logs") as stand_launch:
                    probe.wait_for(
                        lambda: states and all(s == HardwareState.ACTIVE for s in states[-1].stop_states),
                        120,
                        "the stand node to activate the bus driver through ros2_control",
                    )
                    probe.wait_for(lambda: "ramping to the pose" in stand_launch.output and truth, 60, "the stand ramp")
                    cycles = probe.collect(JointState, "/hardware/joint_states", depth=200)
                    z0 = truth[-1].pose.position.z
                    low, high = [z0], [z0]

                    def stood(n: int) -> bool:
                        low[0], high[0] = (
                            min(low[0], truth[-1].pose.position.z),
                            max(high[0], truth[-1].pose.position.z),
                        )
                        return len(cycles) >= n

                    probe.wait_for(lambda: stood(250), 120, "250 driver cycles (10 s at 25 Hz)")
                    assert high[0] - low[0] < 0.05 and z0 > 0.9, f"pelvis between {low[0]:.3f} and {high[0]:.3f} m"
                    last = states[-1]
                    assert all(s == HardwareState.ACTIVE for s in last.stop_states), list(
                        zip(last.groups, last.reasons, strict=True)
                    )
                    writers = {i.node_name for i in probe.node.get_publishers_info_by_topic("/hardware/joint_commands")}
                    assert writers == {"forma_body", "forma_left_hand", "forma_right_hand"}, writers

                    z_before_fault = truth[-1].pose.position.z
                    reply = probe.call(
                        InjectFault,
                        "/emulator/inject_fault",
                        InjectFault.Request(fault="encoder_error", target="left_knee", value=1.0),
                    )
                    assert reply.success, reply.message
                    n_at_injection = len(cycles)
                    probe.wait_for(
                        lambda: any(s == HardwareState.DAMP for s in states[-1].stop_states),
                        30,
                        "damping after the fault",
                    )
                    print(f"encoder fault: damped {len(cycles) - n_at_injection} driver cycles after the injection")
                    assert len(cycles) - n_at_injection <= 4, "the fault must damp within a few driver cycles"
                    body = list(states[-1].groups).index("body")
                    assert "left_knee reports ENCODER_FAULT" in states[-1].reasons[body]
                    n_fault = len(cycles)
                    probe.wait_for(lambda: len(cycles) >= n_fault + 50, 60, "50 more driver cycles (2 s)")
                    assert truth[-1].pose.position.z < z_before_fault - 0.3, "a damped robot sinks"
        finally:
            r2c.stop(manager)
    assert launched.exit_code == 0 and stand_launch.exit_code == 0, launched.output[-2000:]

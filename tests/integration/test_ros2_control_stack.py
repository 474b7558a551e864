"""The shipped `robot_ros2_control` deployment with the MuJoCo sim in place of the bus driver: the
safety supervisor stands the robot up and whole-body control keeps it standing for 60 s of robot
time, every command going through the real controller_manager (ros2_control_node with the topic
hardware, the controllers of config/controllers.yaml) and the sim's hardware contract below it:
no fall, no HOLD, the robot's height kept (ground truth, read by this test only), and nothing but
the topic hardware publishing hardware/joint_commands, with the WBC's feed-forward torques in it.
Then the WBC's process stops (SIGSTOP): the controllers keep streaming its last targets, and the
body must still hold within its watchdog's 0.1 s (controller_commands -> hardware/hold), as it does
without ros2_control.

Rates as the `sim` deployment runs on 2 cores: control and controller_manager at 250 Hz, the
supervisor and the hands at 125 Hz. The processes keep the file's real-time priorities and
controller_manager has none (thread_priority 0): the sim paces its time on controller_manager, its
commander, so a late controller_manager cycle slows sim time; the WBC above it is not paced on, and
at normal priority it once stalled 0.1 s of sim time on the loaded machine and was held."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest
import yaml
from geometry_msgs.msg import PoseStamped
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from forma_bringup.ros2_control_plan import topic_controller_spawn
from forma_description import expand_description
from forma_interfaces.msg import HardwareState, SafetyState, WbcStatus
from tests.support import ros2_control as r2c
from tests.support.ros import LaunchedDeployment, RosProbe, stamp_s

pytestmark = pytest.mark.integration
if not r2c.available():
    pytest.skip(r2c.MISSING, allow_module_level=True)

RATE_HZ = 250  # control period, /clock, controller_manager
STAND_S = 60.0  # robot time on whole-body control


def _ci_deployment(folder) -> str:
    """config/deployments/robot_ros2_control.yaml with the sim node in the bus driver's place (its
    remappings kept) and the `sim` deployment's rates; without the console."""
    spec = yaml.safe_load((r2c.REPO / "config" / "deployments" / "robot_ros2_control.yaml").read_text())
    spec["use_sim_time"] = True
    spec["parameters"] = [str(r2c.REPO / "config" / p) for p in spec["parameters"]]
    processes = []
    for proc in spec["hosts"]["robot"]["processes"]:
        if proc["name"] == "console":
            continue
        for node in proc["nodes"]:
            params = node.setdefault("parameters", {})
            if node["node"] == "bus_driver":
                node["node"] = "sim"
                params.update(
                    world="empty",
                    initial_pose="stand_balanced",
                    control_rate_hz=float(RATE_HZ),
                    sensor_rate_hz=float(RATE_HZ),  # the topic hardware reads joint_states every cycle
                    clock_rate_hz=float(RATE_HZ),  # controller_manager runs on sim time
                    **{"camera.rate_hz": 0.0},
                )
            elif node["node"] == "wbc":
                params["rate_hz"] = float(RATE_HZ)
            elif node["node"] in ("safety_supervisor", "hands"):
                params["rate_hz"] = RATE_HZ / 2
        processes.append(proc)
    spec["hosts"]["robot"]["processes"] = processes
    path = folder / "deployments" / "robot_ros2_control.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def _process(launched: LaunchedDeployment, name: str):
    """The deployment's process `name` (its forma_process --process NAME)."""
    for proc in launched.process_tree():
        argv = proc.cmdline()
        if "--process" in argv and argv[argv.index("--process") + 1] == name:
            return proc
    raise AssertionError(f"no process {name} in the deployment")


def _body(state: HardwareState) -> tuple[int, int, str]:
    """(stop state, cause, reason) of the body group."""
    i = list(state.groups).index("body")
    return state.stop_states[i], state.causes[i], state.reasons[i]


def test_robot_ros2_control_stands_on_whole_body_control_through_the_controllers(tmp_path, domain_id):
    overrides = r2c.ci_overrides(tmp_path, use_sim_time=True, update_rate_hz=RATE_HZ)
    spawn = topic_controller_spawn(yaml.safe_load(r2c.CONTROLLERS.read_text()))
    with RosProbe(domain_id, name="r2c_stack_probe") as probe:
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        description = probe.node.create_publisher(String, "/robot_description", latched)
        description.publish(String(data=expand_description(hardware="topic")))  # robot_state_publisher's part
        safety = probe.collect(SafetyState, "/safety/state", depth=50, latched=True)
        hardware = probe.collect(HardwareState, "/hardware/state", depth=50, keep=200)
        wbc = probe.collect(WbcStatus, "/wbc/status", keep=1)
        truth = probe.collect(PoseStamped, "/sim/base_pose_ground_truth", keep=1)
        stream = probe.collect(JointState, "/hardware/joint_commands", keep=30)
        manager = r2c.start_controller_manager(domain_id, [r2c.CONTROLLERS, overrides], tmp_path / "cm.log")
        try:
            with LaunchedDeployment(_ci_deployment(tmp_path), domain_id, tmp_path / "logs", host="robot") as launched:
                spawner = r2c.spawn(domain_id, spawn.active)
                assert spawner.returncode == 0, spawner.stdout[-3000:] + spawner.stderr[-3000:]
                probe.wait_for(lambda: wbc and wbc[-1].active, 240, "whole-body control in charge (safety ACTIVE)")
                probe.wait_for(lambda: truth, 30, "sim/base_pose_ground_truth")
                t0, z0, wall0 = stamp_s(truth[-1]), truth[-1].pose.position.z, time.monotonic()
                lowest = [z0]

                def stood() -> bool:
                    lowest[0] = min(lowest[0], truth[-1].pose.position.z)
                    return stamp_s(truth[-1]) >= t0 + STAND_S or safety[-1].mode != SafetyState.ACTIVE

                probe.wait_for(stood, 60 + 10 * STAND_S, f"{STAND_S:.0f} s of robot time")
                rtf = (stamp_s(truth[-1]) - t0) / (time.monotonic() - wall0)
                print(
                    f"stood {stamp_s(truth[-1]) - t0:.1f} s of robot time (RTF {rtf:.2f}) through ros2_control; "
                    f"pelvis {z0:.3f} m, lowest {lowest[0]:.3f} m"
                )
                modes = [m.mode_name for m in safety]
                assert safety[-1].mode == SafetyState.ACTIVE, [m.reason for m in safety]
                assert "HOLD" not in modes and "FAULT" not in modes, [m.reason for m in safety]
                assert all(s == HardwareState.ACTIVE for s in hardware[-1].stop_states), hardware[-1].reasons
                assert lowest[0] > z0 - 0.05, f"the pelvis sank from {z0:.3f} m to {lowest[0]:.3f} m"

                # every command went through ros2_control: the topic hardware is the only writer
                writers = {i.node_name for i in probe.node.get_publishers_info_by_topic("/hardware/joint_commands")}
                assert writers == {"forma_body", "forma_left_hand", "forma_right_hand"}, writers
                with probe.lock:
                    msg = next(m for m in reversed(stream) if "left_knee" in m.name)  # the body's topic hardware
                body = [i for i, n in enumerate(msg.name) if n.endswith(("knee", "hip_pitch", "ankle_pitch"))]
                assert np.max(np.abs(np.asarray(msg.effort)[body])) > 5.0, "no feed-forward torque from the WBC"

                # a dead WBC: the controllers keep streaming its last targets, controller_commands sees
                # the silence and the hardware holds the body as its own watchdog would (cause: timeout)
                control = _process(launched, "control")
                t_stop = stamp_s(truth[-1])
                control.send_signal(signal.SIGSTOP)

                def first_hold() -> HardwareState | None:  # the supervisor resets it again within ms
                    with probe.lock:
                        held = [m for m in hardware if stamp_s(m) >= t_stop and _body(m)[0] == HardwareState.HOLD]
                    return held[0] if held else None

                try:
                    probe.wait_for(first_hold, 60, "the body held")
                    _, cause, reason = _body(first_hold())
                    held_after_s = stamp_s(first_hold()) - t_stop
                finally:
                    control.send_signal(signal.SIGCONT)
                print(f"WBC stopped: body HOLD after {held_after_s:.3f} s of robot time ({reason})")
                assert cause == HardwareState.CAUSE_COMMAND_TIMEOUT and "hardware/hold" in reason, reason
                assert held_after_s < 0.1 + 0.1, "the hold came later than the watchdog's 0.1 s and a period's slack"
        finally:
            r2c.stop(manager)
        print(launched.output[-3000:])
    assert launched.exit_code == 0

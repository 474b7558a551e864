"""The shipped `sim` deployment, started as processes over real DDS, seen by an independent rclpy
client: every node describes its parameters (unit, range, read-only); the safety supervisor
stands the robot up and whole-body control keeps it standing,
hardware/robot_state carries all 82 joints at >= 90 % of 500 Hz and joint_states at >= 90 % of its
100 Hz (counted in sim time), the IMU and foot sensors read like a standing robot, camera images match camera_info, the
browser view is served, the robot answers a greeting and its face renders, an instruction sent as
the console sends it (vla/execute) picks the red cup up through the task skills (the cup's rise
read from the simulator's truth), a wave runs the shipped learned policy on every camera image,
after the console's Reset simulation the task skills know the hand is empty, and Ctrl-C leaves no
process and no Fast DDS shared memory behind."""

from __future__ import annotations

import math
import pathlib
import urllib.request

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, WrenchStamped
from rcl_interfaces.srv import DescribeParameters
from rclpy.action import ActionClient
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from forma_bringup.cli import deployment_path
from forma_bringup.deployment import load_deployment
from forma_bringup.params_doc import param_groups
from forma_bringup.registry import load_node_class
from forma_common.params import declared
from forma_interfaces.action import ExecuteInstruction
from forma_interfaces.msg import DetectedObjectArray, HardwareState, RobotState, SafetyState, WbcStatus
from forma_interfaces.srv import SetOperatingMode
from tests.support.browser import wait_for_server
from tests.support.ros import LaunchedDeployment, RosProbe, free_port, stamp_s

pytestmark = pytest.mark.integration


def fastdds_shm_files() -> set[str]:
    return {p.name for p in pathlib.Path("/dev/shm").glob("fast*")}


def test_sim_deployment_serves_the_robot(tmp_path, domain_id):
    shm_before = fastdds_shm_files()
    port = free_port()
    params = [f"console.port={port}"]  # the deployment's own camera (320x240 at 5 Hz): the pick plans from it
    with LaunchedDeployment("sim", domain_id, tmp_path / "logs", params) as deployment, RosProbe(domain_id) as probe:
        states = probe.collect(HardwareState, "hardware/state", keep=5)
        diagnostics = probe.collect(DiagnosticArray, "/diagnostics", keep=20)
        probe.wait_for(
            lambda: states and all(s == HardwareState.ACTIVE for s in states[-1].stop_states),
            90,
            "the safety supervisor to reset the hardware (hardware/state ACTIVE)",
        )
        wbc = probe.collect(WbcStatus, "wbc/status", keep=1)
        # subscribed early: on a loaded 2-core machine discovery of a new subscription can take long
        imu = probe.collect(Imu, "imu/data", keep=100)
        feet = {s: probe.collect(WrenchStamped, f"feet/{s}/wrench", keep=50) for s in ("left", "right")}
        probe.wait_for(lambda: wbc and wbc[-1].active, 60, "whole-body control active (wbc/status)")

        # hardware/robot_state every control period, joint_states at the sensor rate (as sim.yaml sets
        # them; forma.yaml's 500 / 100 Hz otherwise): every message names all 82 joints; >= 90 % of
        # the rate over 2 s of sim time
        sim = [n for p in load_deployment(deployment_path("sim")).processes(None) for n in p.nodes if n.node == "sim"]
        rates = {
            "hardware/robot_state": float(sim[0].parameters.get("control_rate_hz", 500.0)),
            "joint_states": float(sim[0].parameters.get("sensor_rate_hz", 100.0)),
        }
        for topic, msg_type in (("hardware/robot_state", RobotState), ("joint_states", JointState)):
            rate = rates[topic]
            received = probe.collect(msg_type, topic, depth=3000)
            probe.wait_for(lambda r=received: len(r) > 5, 30, topic)
            t0 = stamp_s(received[-1])
            probe.wait_for(lambda r=received, t=t0: stamp_s(r[-1]) > t + 2.1, 60, f"2 s of sim time of {topic}")
            probe.stop_collecting(topic)
            window = [m for m in received if t0 < stamp_s(m) <= t0 + 2.0]
            assert len(window) >= 0.9 * rate * 2.0, f"{len(window)} {topic} in 2 s of sim time"
            assert all(len(m.name) == 82 and len(m.position) == 82 and len(m.effort) == 82 for m in window)

        # IMU and feet: a standing robot
        # (the median over the last 0.2 s of sim time: the handover may jolt for a few periods)
        probe.wait_for(lambda: len(imu) == 100 and all(len(f) == 50 for f in feet.values()), 60, "imu/data, feet")
        with probe.lock:
            accel = [m.linear_acceleration for m in imu]
            load = sum(float(np.median([m.wrench.force.z for m in f])) for f in feet.values())
            imu_frame = imu[-1].header.frame_id
        assert float(np.median([math.hypot(a.x, a.y, a.z) for a in accel])) == pytest.approx(9.81, abs=1.0)
        assert imu_frame == "imu_link"
        assert load == pytest.approx(63.0 * 9.81, rel=0.15)

        # camera: images whose size matches camera_info
        color = probe.collect(Image, "head_camera/color/image_raw", keep=1)
        depth = probe.collect(Image, "head_camera/depth/image_raw", keep=1)
        info = probe.collect(CameraInfo, "head_camera/color/camera_info", keep=1)
        try:
            probe.wait_for(lambda: color and depth and info, 60, "head camera images")
        except AssertionError as exc:  # say whether the sim rendered, and whether the probe matched it
            matched = probe.subscriptions["head_camera/color/image_raw"].get_publisher_count()
            raise AssertionError(f"{exc}; image writers matched: {matched}; sim: {sim_physics(diagnostics)}") from None
        c, d, k = color[-1], depth[-1], info[-1]
        assert (c.width, c.height) == (d.width, d.height) == (k.width, k.height) == (320, 240)
        assert c.encoding == "rgb8" and len(c.data) == c.step * c.height == 320 * 240 * 3
        assert d.encoding == "32FC1" and len(d.data) == d.step * d.height == 320 * 240 * 4
        assert c.header.frame_id == k.header.frame_id == "head_camera_color_optical_frame"
        depth_m = np.frombuffer(bytes(d.data), np.float32)
        assert np.isfinite(depth_m).mean() > 0.5 and np.nanmedian(depth_m) < 3.0

        # the browser view is served and shows the robot (the console starts beside the vla node's
        # model load: its port may open seconds after the robot stands)
        wait_for_server(f"http://127.0.0.1:{port}/", 120)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200 and b"<html" in response.read().lower()
        probe.wait_for(
            lambda: "showing the robot (82 joints)" in deployment.output, 30, "the console to load the robot"
        )

        # the face and the dialogue: a greeting typed in (as from the browser) is answered, and the
        # face renders for the browser view, which subscribes to face/image
        replies = probe.collect(String, "interaction/reply")
        say = probe.node.create_publisher(String, "interaction/utterance", 10)
        probe.wait_for(lambda: say.get_subscription_count() > 0, 60, "the interaction node")
        say.publish(String(data="hello"))
        probe.wait_for(lambda: replies, 30, "a reply to hello")
        assert replies[0].data.startswith("Hello")
        face = probe.collect(Image, "face/image", keep=1)
        probe.wait_for(lambda: face, 30, "face/image")
        assert (face[-1].width, face[-1].height) == (480, 180)  # image_width_px: the size the console shows

        # perception sees the table's objects (in the console too)
        objects = probe.collect(DetectedObjectArray, "perception/objects", keep=1)
        probe.wait_for(lambda: objects and len(objects[-1].objects) == 6, 60, "the six tabletop objects")

        # the supervisor handed the body to the WBC and it stayed in charge: no hold, no fall
        safety = probe.collect(SafetyState, "safety/state", keep=1, latched=True)
        probe.wait_for(lambda: safety, 30, "safety/state")
        assert safety[-1].mode == SafetyState.ACTIVE and wbc[-1].active, (safety[-1].reason, wbc[-1].inactive_reason)

        # an instruction as the console sends it (vla/execute): the learned policy was not trained to
        # pick, so the vla node hands it to the task skills (tasks/execute), which pick the red cup up
        # from what perception sees; the cup's rise is read from the simulator's truth
        cup = probe.collect(PoseStamped, "sim/objects/red_cup/pose_ground_truth", keep=1)
        probe.wait_for(lambda: cup, 30, "the red cup's ground truth")
        cup_z0 = cup[-1].pose.position.z
        execute = ActionClient(probe.node, ExecuteInstruction, "vla/execute")
        assert execute.wait_for_server(timeout_sec=60.0), "vla/execute not served (the vla node)"
        # the vla node forwards to the task skills once they serve (on a loaded machine the tasks
        # node came up after the goal in one full run: "nothing serves tasks/execute")
        probe.wait_for(lambda: "tasks: serving tasks/execute" in deployment.output, 60, "the tasks node")
        refused = probe.on_executor(execute.send_goal_async, ExecuteInstruction.Goal(instruction="fly to the moon"))
        probe.wait_for(refused.done, 30, "vla/execute to answer the goal")
        answer = probe.on_executor(refused.result().get_result_async)
        probe.wait_for(answer.done, 30, "the refusal")
        assert not answer.result().result.success and "nothing I understand" in answer.result().result.message
        phases: list[str] = []
        sent = probe.on_executor(
            execute.send_goal_async, ExecuteInstruction.Goal(instruction="pick up the red cup"),
            lambda m: phases.append(m.feedback.phase) if not phases or phases[-1] != m.feedback.phase else None,
        )
        probe.wait_for(sent.done, 30, "vla/execute to answer the goal")
        result = probe.on_executor(sent.result().get_result_async)
        probe.wait_for(result.done, 240, "the pick's result")
        outcome = result.result().result
        assert outcome.success, (outcome.message, phases)
        assert {f"task skills: {p}" for p in ("finding", "reaching", "grasping", "lifting")} <= set(phases), phases
        assert "served by the task skills" in outcome.message, outcome.message
        assert cup[-1].pose.position.z - cup_z0 > 0.05, "the red cup did not come up"
        assert safety[-1].mode == SafetyState.ACTIVE

        # a wave is the learned policy's own (the shipped model, from the head camera's images at the
        # deployment's 5 Hz): every image becomes a chunk, none refused as stale
        outcome = run_goal(probe, execute, ExecuteInstruction.Goal(instruction="wave", timeout_s=3.0))
        assert outcome.success and "forma_tabletop/policy.onnx" in outcome.message, outcome.message
        chunks = int(outcome.message.split("(")[1].split(" chunks")[0])
        assert chunks >= 10, outcome.message  # 3 s at 5 Hz: 15

        # the console's Reset simulation: the world and the robot back at the start, stood up again;
        # the task skills know the hand no longer holds the cup
        assert probe.call(Trigger, "sim/reset", Trigger.Request(), timeout_s=60.0).success
        stand_up = SetOperatingMode.Request(mode=SafetyState.STANDING_UP)
        standing = probe.call(SetOperatingMode, "safety/set_mode", stand_up)
        assert standing.success, standing.message
        probe.wait_for(lambda: safety[-1].mode == SafetyState.ACTIVE, 60, "ACTIVE again after the reset")
        outcome = run_goal(probe, execute, ExecuteInstruction.Goal(instruction="put it down"))
        assert not outcome.success and "not holding anything" in outcome.message, outcome.message
        probe.on_executor(execute.destroy)  # (an action client left to the garbage collector kept DDS memory)

        # every node describes every parameter with its unit, range and read-only flag (ros2 param describe)
        for process in load_deployment(deployment_path("sim")).processes(None):
            for node in process.nodes:
                check_described(probe, node.name, load_node_class(node.node))

        children = deployment.process_tree()
        expected = load_deployment(deployment_path("sim")).processes(None)
        assert len([p for p in children if "forma_process" in " ".join(p.cmdline())]) == len(expected)

    assert deployment.exit_code == 0, deployment.output[-3000:]
    assert deployment.leftovers() == [], "processes left behind after Ctrl-C"
    assert "received SIGINT; stopping" in deployment.output
    assert fastdds_shm_files() <= shm_before, "Fast DDS shared memory left behind"


def run_goal(probe: RosProbe, client: ActionClient, goal) -> ExecuteInstruction.Result:
    sent = probe.on_executor(client.send_goal_async, goal)
    probe.wait_for(sent.done, 30, f"{goal.instruction!r} to be answered")
    result = probe.on_executor(sent.result().get_result_async)
    probe.wait_for(result.done, 120, f"the result of {goal.instruction!r}")
    return result.result().result


def check_described(probe: RosProbe, node_name: str, node_class) -> None:
    """rcl_interfaces/DescribeParameters of every parameter in the node's schema: the description
    with its unit, the range where the schema has one, read-only as declared."""
    wanted = {prefix + d.name: d for cls, prefix in param_groups(node_class) for d in declared(cls)}
    assert wanted, f"{node_name}: no parameter schema"
    reply = probe.call(
        DescribeParameters, f"/{node_name}/describe_parameters", DescribeParameters.Request(names=list(wanted))
    )
    assert len(reply.descriptors) == len(wanted), f"{node_name}: {len(reply.descriptors)} of {len(wanted)} described"
    for desc in reply.descriptors:
        d = wanted[desc.name]
        assert desc.read_only == d.spec.read_only, (node_name, desc.name)
        if d.spec.unit:
            assert f"[{d.spec.unit}]" in desc.description, (node_name, desc.name, desc.description)
        if d.spec.low is not None or d.spec.high is not None:
            assert desc.floating_point_range or desc.integer_range, (node_name, desc.name, "no range")


def sim_physics(diagnostics: list) -> str:
    """The sim's newest physics status (sim time, camera frames, pacing) from /diagnostics."""
    for array in reversed(list(diagnostics)):
        for status in array.status:
            if status.name.endswith(": physics"):
                return ", ".join(f"{v.key}={v.value}" for v in status.values)
    return "no physics status on /diagnostics"

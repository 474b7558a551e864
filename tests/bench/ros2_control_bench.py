"""ros2_control over the topic hardware, against the sim node in realtime mode (wall time, as on
the robot): the real controller_manager from ../shared/ros2_control at 500 Hz with the controllers
of the topic path (forma_bringup.ros2_control_plan).

ros2_control_cycle_p99_us: the p99 of the interval between consecutive controller_manager updates,
  from joint_state_broadcaster's stamps (one per update; read as raw bytes, so the probe's Python
  costs nothing to the figure); nominal 2000 us.
ros2_control_hop_ratio: a command to the hardware contract's decision, through ros2_control (a
  past-limit target on body_position_controller/commands) over the same straight onto
  hardware/joint_commands, in the same run; each trial times from the publish to the first
  hardware/state (500 Hz here) whose commands_rejected grew. A refused command is used because its
  arrival is visible at once and moves nothing; an accepted one takes the same path to the same
  check."""

from __future__ import annotations

import math
import pathlib
import statistics
import tempfile
import threading
import time

import numpy as np
import yaml
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger

from forma_bringup.ros2_control_plan import HARDWARE_NODE_REMAPPINGS, topic_controller_spawn
from forma_description import RobotModel, expand_description
from forma_description.poses import named_pose
from forma_interfaces.msg import HardwareState
from tests.support import ros2_control as r2c
from tests.support.deployments import node, process, write_deployment
from tests.support.ros import LaunchedDeployment, RosProbe

DOMAIN_ID = 61
POSE = "stand"


def bench_ros2_control(trials: int = 10) -> dict:
    if not r2c.available():
        raise RuntimeError(r2c.MISSING)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="forma-r2c-bench-"))
    robot = RobotModel.from_urdf(expand_description())
    sim = node(
        "sim",
        world="empty",
        initial_pose=POSE,
        mode="realtime",
        sensor_rate_hz=500.0,
        state_rate_hz=500.0,
        **{"camera.rate_hz": 0.0},
        remappings=HARDWARE_NODE_REMAPPINGS,
    )
    path = write_deployment(tmp, "r2c_bench", [process("sim", sim)], use_sim_time=None)
    spawn = topic_controller_spawn(yaml.safe_load(r2c.CONTROLLERS.read_text()))
    body = yaml.safe_load(r2c.CONTROLLERS.read_text())["body_position_controller"]["ros__parameters"]["joints"]
    pose = dict(zip(robot.joint_names, named_pose(POSE, robot), strict=True))
    with (
        LaunchedDeployment(path, DOMAIN_ID, tmp / "logs"),
        RosProbe(DOMAIN_ID, name="r2c_bench") as probe,
    ):
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        probe.node.create_publisher(String, "/robot_description", latched).publish(
            String(data=expand_description(hardware="topic"))
        )
        manager = r2c.start_controller_manager(DOMAIN_ID, [r2c.CONTROLLERS, r2c.ci_overrides(tmp)], tmp / "cm.log")
        try:
            spawned = r2c.spawn(DOMAIN_ID, spawn.active)
            if spawned.returncode != 0:
                raise RuntimeError(f"spawner failed: {spawned.stderr[-1000:]}")
            commanders = {
                name: probe.matched_publisher(Float64MultiArray, f"/{name}/commands")
                for name in (
                    "body_position_controller",
                    "left_hand_position_controller",
                    "right_hand_position_controller",
                )
            }
            direct = probe.matched_publisher(JointState, "/hardware/joint_commands")
            cfg = yaml.safe_load(r2c.CONTROLLERS.read_text())

            def command_pose(bad_elbow: bool = False) -> None:
                for name, pub in commanders.items():
                    joints = cfg[name]["ros__parameters"]["joints"]
                    data = [pose[j] + (3.0 if bad_elbow and j == "left_elbow" else 0.0) for j in joints]
                    if not bad_elbow or name == "body_position_controller":
                        pub.publish(Float64MultiArray(data=data))

            rejected = [0]
            arrived = threading.Event()

            def on_state(msg: HardwareState) -> None:
                if msg.commands_rejected > rejected[0]:
                    arrived.set()
                rejected[0] = msg.commands_rejected

            probe.on_executor(probe.node.create_subscription, HardwareState, "/hardware/state", on_state, 10)

            def take_over() -> None:
                command_pose()
                time.sleep(0.2)
                reply = probe.call(Trigger, "/hardware/reset", Trigger.Request())
                if not reply.success:
                    raise RuntimeError(reply.message)
                time.sleep(0.3)  # the stream accepted: commands_rejected stays put

            def hop_s(send) -> float:
                arrived.clear()
                time.sleep(0.05)
                arrived.clear()  # only a refusal that this trial's command causes
                t0 = time.perf_counter()
                send()
                if not arrived.wait(5.0):
                    raise RuntimeError("no refusal seen on hardware/state")
                return time.perf_counter() - t0

            def bad_direct() -> None:
                msg = JointState(name=list(body), position=[pose[j] for j in body])
                msg.position[body.index("left_elbow")] += 3.0
                now = probe.node.get_clock().now().to_msg()
                msg.header.stamp = now
                direct.publish(msg)

            through, straight = [], []
            for _ in range(trials):
                take_over()
                straight.append(hop_s(bad_direct))
                take_over()
                through.append(hop_s(lambda: command_pose(bad_elbow=True)))

            stamps = probe.collect_stamps(JointState, "/joint_states")
            time.sleep(5.0)
            with probe.lock:
                intervals_us = np.diff(np.array(stamps)) * 1e6
        finally:
            r2c.stop(manager)
    cycle_p99 = float(np.percentile(intervals_us, 99))
    through_ms, straight_ms = statistics.median(through) * 1e3, statistics.median(straight) * 1e3
    return {
        "cycle_p99_us": cycle_p99,
        "cycle_median_us": float(np.median(intervals_us)),
        "updates": len(intervals_us) + 1,
        "through_ms": through_ms,
        "straight_ms": straight_ms,
        "n": trials,
        "ratio": through_ms / straight_ms if straight_ms > 0 else math.inf,
    }

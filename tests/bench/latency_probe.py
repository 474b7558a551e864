"""Helper processes for the joint_states latency benchmark.

    python -m tests.bench.latency_probe listen SECONDS   # print latency percentiles as JSON
    python -m tests.bench.latency_probe talk SECONDS     # bare rclpy talker: 82-joint JointState at 500 Hz

Latency = wall time at reception - header stamp (wall time at publication), so the talker and
the stack's sim node (mode realtime) both stamp with wall time.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

QOS = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)


def listen(seconds: float) -> None:
    node = rclpy.create_node("latency_listener")
    latencies = []

    def on_message(msg: JointState) -> None:
        now = time.time_ns()
        latencies.append((now - (msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)) / 1e3)

    node.create_subscription(JointState, "joint_states", on_message, QOS)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    values = np.array(latencies[len(latencies) // 10 :])  # drop the start-up transient
    print(
        json.dumps(
            {
                "n": len(values),
                "p50_us": float(np.percentile(values, 50)) if len(values) else None,
                "p99_us": float(np.percentile(values, 99)) if len(values) else None,
            }
        ),
        flush=True,
    )


def talk(seconds: float) -> None:
    node = rclpy.create_node("latency_talker")
    pub = node.create_publisher(JointState, "joint_states", QOS)
    msg = JointState(
        name=[f"joint_{i}" for i in range(82)], position=[0.1] * 82, velocity=[0.0] * 82, effort=[0.0] * 82
    )

    def tick() -> None:
        t = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = t // 1_000_000_000, t % 1_000_000_000
        pub.publish(msg)

    node.create_timer(0.002, tick)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)


if __name__ == "__main__":
    rclpy.init()
    try:
        {"listen": listen, "talk": talk}[sys.argv[1]](float(sys.argv[2]))
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        rclpy.try_shutdown()

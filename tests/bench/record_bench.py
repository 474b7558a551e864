"""Recording: the highest message rate `forma record` sustains without a drop (82-joint
JointState messages from another process), beside the rate the publisher alone reaches. What a
SIGKILL loses is an acceptance trial over many kill moments (`record_kill_loss`,
tests/accept/trials_record.py), not a figure of one run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PUBLISHER = r"""
import sys, time, rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
rate, count = float(sys.argv[1]), int(sys.argv[2])
rclpy.init()
node = rclpy.create_node("bench_publisher")
pub = node.create_publisher(JointState, "bench", QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE))
msg = JointState(name=[f"joint_{k}" for k in range(82)], position=[0.1] * 82, velocity=[0.0] * 82, effort=[0.0] * 82)
deadline = time.monotonic() + 20
while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(0.5)
start = time.monotonic()
for k in range(count):
    t = time.time()
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(t), int((t % 1) * 1e9)
    msg.header.frame_id = str(k)
    pub.publish(msg)
    due = start + (k + 1) / rate
    while time.monotonic() < due:
        pass
print(count / (time.monotonic() - start), flush=True)
time.sleep(1.0)
node.destroy_node()
rclpy.shutdown()
"""


def _env(domain: int) -> dict:
    return {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}


def _record(out: Path, name: str, domain: int) -> subprocess.Popen:
    forma = str(Path(sys.executable).parent / "forma")
    return subprocess.Popen(
        [forma, "record", "/bench", "-o", str(out), "-n", name],
        env=_env(domain),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _recorded(path: Path) -> list[int]:
    from mcap_ros2.decoder import DecoderFactory

    from forma_record.mcap_file import read_messages

    factory = DecoderFactory()
    return [int(factory.decoder_for("cdr", m.schema)(m.data).header.frame_id) for m in read_messages(path)]


def _run_at(rate: float, seconds: float, domain: int, out: Path, name: str) -> tuple[float, int, int]:
    recorder = _record(out, name, domain)
    count = int(rate * seconds)
    try:
        pub = subprocess.run(
            [sys.executable, "-c", PUBLISHER, str(rate), str(count)],
            env=_env(domain),
            capture_output=True,
            text=True,
            timeout=120,
        )
        achieved = float(pub.stdout.strip().splitlines()[-1])
        time.sleep(1.0)
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=30)
    got = _recorded(out / f"{name}_0.mcap")
    return achieved, count, len(set(got))


def bench_record() -> dict:
    from tests.bench.run_bench import figure

    out = Path(tempfile.mkdtemp(prefix="forma-record-bench-"))
    best, publisher_max = 0.0, 0.0
    for k, rate in enumerate((1000.0, 2000.0, 4000.0, 8000.0)):
        achieved, sent, got = _run_at(rate, 3.0, 91, out, f"rate{k}")
        publisher_max = max(publisher_max, achieved)
        if got < sent:
            break
        best = achieved
    return {
        "record_msgs_per_s_max": figure(
            best,
            "msg/s",
            publisher_max,
            "82-joint JointState from another process, every message in the file "
            "(rates tried 1k-8k/s); baseline: the Python publisher's own top rate",
        ),
    }


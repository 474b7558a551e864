"""Recording the running simulation with `forma record`, killed with SIGKILL at a random moment
(seeded): the file opens with a standard MCAP reader, carries the ros2 profile, ros2msg schemas
and cdr messages that decode with the embedded schemas alone, and holds every message an
independent subscriber saw up to 1 s before the kill. Then `forma replay` plays it into a fresh
graph: same counts, same order per topic, the recorded spacing (at 2x), and /clock with --clock."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time

import numpy as np
import pytest
from mcap.stream_reader import StreamReader
from mcap_ros2.decoder import DecoderFactory
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import String

from forma_record.mcap_file import is_complete, read_messages, recover
from forma_record.replay import offered_qos
from tests.support.ros import VENV_BIN, LaunchedDeployment, RosProbe, stamp_s

pytestmark = pytest.mark.integration
SEED = 20261123
MATCH_SETTLE_S = 0.5  # [s of sim time], see below
LOSS_BOUND_S = 1.0


def env_for(domain: int) -> dict:
    return {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}


class Timeline:
    """(monotonic reception time, header stamp) of every message of a topic, seen by the probe."""

    def __init__(self, probe: RosProbe, msg_type, topic: str):
        self.seen: list[tuple[float, float]] = []
        self.lock = threading.Lock()
        probe.node.create_subscription(msg_type, topic, self._on, 1000)

    def _on(self, msg) -> None:
        with self.lock:
            self.seen.append((time.monotonic(), stamp_s(msg)))


@pytest.fixture(scope="module")
def recording(tmp_path_factory, module_domain_id):
    """A `forma record` of the running sim, SIGKILLed at a seeded random moment."""
    tmp = tmp_path_factory.mktemp("rec")
    params = ["sim.camera.width=160", "sim.camera.height=120", "sim.camera.rate_hz=5.0"]
    with (
        LaunchedDeployment("sim_headless", module_domain_id, tmp / "logs", params),
        RosProbe(module_domain_id) as probe,
    ):
        joints = Timeline(probe, JointState, "joint_states")
        imu = Timeline(probe, Imu, "imu/data")
        probe.wait_for(lambda: len(joints.seen) > 100, 90, "joint_states from the sim")
        log = open(tmp / "recorder.log", "wb")  # noqa: SIM115
        recorder = subprocess.Popen(
            [str(VENV_BIN / "forma"), "record", "-o", str(tmp), "-n", "run"],
            env=env_for(module_domain_id), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            path = tmp / "run_0.mcap"
            probe.wait_for(lambda: path.exists() and path.stat().st_size > 200_000, 60, "the recording to grow")
            time.sleep(random.Random(SEED).uniform(2.0, 5.0))
            t_kill = time.monotonic()
            os.kill(recorder.pid, signal.SIGKILL)
            recorder.wait(timeout=10)
        finally:
            if recorder.poll() is None:
                recorder.kill()
            log.close()
        time.sleep(0.5)
        with joints.lock, imu.lock:
            seen = {"/joint_states": list(joints.seen), "/imu/data": list(imu.seen)}
    return path, t_kill, seen


def decoded_stamps(path) -> dict[str, list[float]]:
    """Header stamps per topic, decoded with nothing but the schemas inside the file."""
    factory = DecoderFactory()
    out: dict[str, list[float]] = {}
    for m in read_messages(path):
        msg = factory.decoder_for(m.channel.message_encoding, m.schema)(m.data)
        if hasattr(msg, "header"):
            out.setdefault(m.topic, []).append(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)
        else:
            out.setdefault(m.topic, []).append(float("nan"))
    return out


def test_a_killed_recording_keeps_everything_up_to_a_second_before_the_kill(recording):
    path, t_kill, seen = recording
    assert not is_complete(path)  # it really was killed mid-file
    with open(path, "rb") as f:  # a standard streaming MCAP reader opens it
        header = next(iter(StreamReader(f).records))
    assert header.profile == "ros2"
    schemas = {m.schema.encoding for m in read_messages(path)}
    encodings = {m.channel.message_encoding for m in read_messages(path)}
    assert schemas == {"ros2msg"} and encodings == {"cdr"}
    stamps = decoded_stamps(path)
    assert "/robot_description" in stamps  # latched topics too
    assert len(stamps["/head_camera/color/image_raw"]) > 0
    for topic, timeline in seen.items():
        recorded = set(stamps[topic])
        # counted from half a second after the topic's first recorded message: while DDS completes
        # a new reader's reliable handshake, samples sent in between can miss it (measured: the
        # first sample, then a ~90 ms hole, in 1 of 6 runs). That is the subscription starting,
        # not the recording losing data.
        first = min(recorded) + MATCH_SETTLE_S
        expected = [s for t, s in timeline if s >= first and t < t_kill - LOSS_BOUND_S]
        missing = [s for s in expected if s not in recorded]
        assert len(expected) > 100
        assert not missing, (
            f"{topic}: {len(missing)} of {len(expected)} messages before the kill - 1 s lost "
            f"(recording from {first:.3f}, missing {missing[0]:.3f}..{missing[-1]:.3f})"
        )


def test_replay_reproduces_counts_order_and_timing(recording, tmp_path, domain_id):
    path, _, _ = recording
    complete, count = recover(path, tmp_path / "run.mcap")
    assert is_complete(complete) and count > 1000
    recorded = [m for m in read_messages(complete) if m.topic in ("/joint_states", "/imu/data")]
    stamps = decoded_stamps(complete)
    with RosProbe(domain_id, name="replay_probe") as probe:
        joints = Timeline(probe, JointState, "joint_states")
        imu = Timeline(probe, Imu, "imu/data")
        clock = probe.collect(Clock, "clock", keep=5)
        description = probe.collect(String, "robot_description", latched=True, keep=1)
        result = subprocess.run(
            [str(VENV_BIN / "forma"), "replay", str(complete), "--rate", "2", "--clock",
             "--topics", "/joint_states", "/imu/data", "/robot_description", "--wait-for-subscribers", "20"],
            env=env_for(domain_id), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        time.sleep(1.0)
        assert "timing error" in result.stdout
        for topic, timeline in (("/joint_states", joints), ("/imu/data", imu)):
            got = [s for _, s in timeline.seen]
            assert got == stamps[topic], f"{topic}: {len(got)} replayed vs {len(stamps[topic])} recorded, or reordered"
        # spacing: the replayed arrivals follow the recorded log times at 2x
        log_s = np.array([m.log_time_ns for m in recorded if m.topic == "/joint_states"]) * 1e-9
        arrival = np.array([t for t, _ in joints.seen])
        drift = (arrival - arrival[0]) - (log_s - log_s[0]) / 2.0
        # (measured on arrival in another process: 17 ms median with the machine oversubscribed 3:2,
        # so the bar is 20 ms; a replay at the wrong rate or in bursts is off by seconds)
        assert np.median(np.abs(drift - np.median(drift))) < 0.02, "replay timing off by more than 20 ms (median)"
        assert abs(drift[-1] - drift[0]) < 0.1
        assert description and "<robot" in description[-1].data
        # --clock carries the recording's time
        assert clock and abs(clock[-1].clock.sec + clock[-1].clock.nanosec * 1e-9 - log_s[-1]) < 0.5


def test_a_latched_topic_whose_subscribers_appear_before_its_publisher_is_recorded(tmp_path, domain_id):
    """Some node subscribes to robot_description before the recorder sees the description's
    publisher (the robot started after the recorder, or discovery is slow under load): the
    recorder must wait for the publisher's offer. Subscribed volatile, it misses a message latched
    before it subscribed (CI, once) and replays the topic unlatched."""

    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    with RosProbe(domain_id) as probe:
        probe.node.create_subscription(String, "late_description", lambda _: None, latched)
        log = open(tmp_path / "recorder.log", "wb")  # noqa: SIM115
        recorder = subprocess.Popen(
            [str(VENV_BIN / "forma"), "record", "-o", str(tmp_path), "-n", "late", "/late_description"],
            env=env_for(domain_id), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            path = tmp_path / "late_0.mcap"
            probe.wait_for(path.exists, 60, "the recorder to open its file")
            time.sleep(2.0)  # four discovery periods with the topic known only from its subscriber
            publisher = probe.node.create_publisher(String, "late_description", latched)
            publisher.publish(String(data="<robot name='iron'/>"))
            probe.wait_for(
                lambda: "recording /late_description" in (tmp_path / "recorder.log").read_text(), 30, "the subscription"
            )
            time.sleep(1.0)
            recorder.send_signal(signal.SIGINT)
            assert recorder.wait(timeout=30) == 0
        finally:
            if recorder.poll() is None:
                recorder.kill()
            log.close()
    assert is_complete(path)
    messages = list(read_messages(path))
    assert [m.topic for m in messages] == ["/late_description"]
    # replay re-latches the topic from the offer recorded with the channel (none offered: volatile)
    assert offered_qos(dict(messages[0].channel.metadata)).durability == DurabilityPolicy.TRANSIENT_LOCAL

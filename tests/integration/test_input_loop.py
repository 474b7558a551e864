"""forma_common.loop.InputLoop over real DDS: a node's step runs in its own thread once per sample
of its trigger stream, at the sample's stamp, never closer than min_interval_s of stamps; a
silent stream gets step(None) after silence_s; a step that raises stops the executor with the
reason (so the process exits and says why) instead of leaving the node alive without its loop."""

from __future__ import annotations

import threading
import time

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import JointState

from forma_common import qos
from forma_common.direct import DirectSubscription
from forma_common.loop import InputLoop, LoopStopped
from forma_common.messages import to_time_msg

pytestmark = pytest.mark.integration


@pytest.fixture
def nodes(domain_id):
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    node = Node("looped", context=context)
    sender = Node("sender", context=context)
    yield node, sender
    node.destroy_node()
    sender.destroy_node()
    rclpy.shutdown(context=context)


def _wait(predicate, timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


def _send(pub, stamp_s: float) -> None:
    msg = JointState(name=["a"], position=[stamp_s])
    msg.header.stamp = to_time_msg(stamp_s)
    pub.publish(msg)


def test_one_step_per_sample_at_its_stamp_thinned_by_min_interval(nodes):
    node, sender = nodes
    pub = sender.create_publisher(JointState, "joint_states", qos.COMMANDS)
    trigger = DirectSubscription(node, JointState, "joint_states", qos.NEWEST)
    steps: list[float | None] = []
    loop = InputLoop(node, trigger, steps.append, threading.RLock(), min_interval_s=0.009, silence_s=30.0)
    loop.start()
    try:
        _wait(lambda: trigger.publisher_count() == 1)
        for k in range(1, 13):  # a 500 Hz stream, 2 ms apart: a 100 Hz step takes every 5th
            _send(pub, k * 0.002)
            _wait(lambda k=k: loop.latest is not None and loop.latest.position[0] == k * 0.002)
        assert steps == pytest.approx([0.002, 0.012, 0.022])
        _send(pub, 0.001)  # the clock went back (a simulation reset): a step at once
        _wait(lambda: len(steps) == 4)
        assert steps[-1] == pytest.approx(0.001)
    finally:
        loop.stop()
        trigger.destroy()


def test_an_idle_loop_steps_on_the_newest_sample_per_interval_and_wakes_at_once(nodes):
    """Idle: a 100-sample burst is one step (the newest), not 100; wake() steps at once; busy again,
    one step per sample."""
    node, sender = nodes
    pub = sender.create_publisher(JointState, "joint_states", qos.COMMANDS)
    trigger = DirectSubscription(node, JointState, "joint_states", qos.NEWEST)
    steps: list[float | None] = []
    idle = threading.Event()
    idle.set()
    loop = InputLoop(
        node, trigger, steps.append, threading.RLock(), silence_s=30.0, idle=idle.is_set, idle_interval_s=30.0
    )
    loop.start()
    try:
        _wait(lambda: trigger.publisher_count() == 1)
        for k in range(1, 101):
            _send(pub, k * 0.002)
        time.sleep(0.3)
        assert [s for s in steps if s is not None] == []  # asleep for its interval
        loop.wake()
        _wait(lambda: any(s is not None and abs(s - 0.2) < 1e-6 for s in steps))
        assert [s for s in steps if s is not None] == pytest.approx([0.2])
        idle.clear()
        loop.wake()
        for k in range(101, 104):
            _send(pub, k * 0.002)
            _wait(lambda k=k: any(s is not None and abs(s - k * 0.002) < 1e-6 for s in steps))
    finally:
        loop.stop()
        trigger.destroy()


def test_a_silent_trigger_gets_a_step_without_a_stamp(nodes):
    node, _ = nodes
    trigger = DirectSubscription(node, JointState, "joint_states", qos.NEWEST)
    steps: list[float | None] = []
    loop = InputLoop(node, trigger, steps.append, threading.RLock(), silence_s=0.02)
    loop.start()
    try:
        _wait(lambda: len(steps) >= 2)
        assert set(steps) == {None}
    finally:
        loop.stop()
        trigger.destroy()


def test_a_step_that_raises_stops_the_executor_with_the_reason(nodes):
    node, sender = nodes
    pub = sender.create_publisher(JointState, "joint_states", qos.COMMANDS)
    trigger = DirectSubscription(node, JointState, "joint_states", qos.NEWEST)

    def step(stamp_s):
        raise ValueError(f"bad sample at {stamp_s}")

    loop = InputLoop(node, trigger, step, threading.RLock(), silence_s=30.0, name="broken_step")
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    loop.start()
    try:
        _wait(lambda: trigger.publisher_count() == 1)
        _send(pub, 0.5)
        with pytest.raises(LoopStopped, match=r"broken_step stopped: ValueError\('bad sample at 0.5'\)"):
            end = time.monotonic() + 10.0
            while time.monotonic() < end:
                executor.spin_once(timeout_sec=0.1)
    finally:
        executor.shutdown()
        loop.stop()
        trigger.destroy()


def test_a_loop_on_joint_states_parsed_from_their_bytes_steps_on_the_same_samples(nodes):
    """The supervisor's, hands' and vla's trigger: joint_states read by state_cdr's reader (no rclpy
    conversion) steps at the same stamps with the same numbers; a message the reader refuses is
    converted by rclpy instead, and the loop still steps on it."""
    from forma_common.state_cdr import CdrFormatError, JointStateReader, JointStateSample

    node, sender = nodes
    pub = sender.create_publisher(JointState, "joint_states", qos.COMMANDS)
    reader = JointStateReader()
    refuse = threading.Event()

    def parse(data: bytes) -> JointStateSample:
        if refuse.is_set():
            raise CdrFormatError("refused by the test")
        return reader.read(data)

    trigger = DirectSubscription(node, JointState, "joint_states", qos.NEWEST, parse=parse)
    steps: list[float | None] = []
    loop = InputLoop(node, trigger, steps.append, threading.RLock(), silence_s=30.0)
    loop.start()
    try:
        _wait(lambda: trigger.publisher_count() == 1)
        msg = JointState(name=["a", "b"], position=[0.25, -1.5], velocity=[2.0, 3.0], effort=[])
        msg.header.stamp = to_time_msg(1.004)
        pub.publish(msg)
        _wait(lambda: len(steps) == 1)
        sample = loop.latest
        assert isinstance(sample, JointStateSample)
        assert steps == pytest.approx([1.004])
        assert sample.name == ("a", "b")
        assert list(sample.position) == [0.25, -1.5] and list(sample.velocity) == [2.0, 3.0]
        assert len(sample.effort) == 0
        refuse.set()
        _send(pub, 1.008)
        _wait(lambda: len(steps) == 2)
        assert isinstance(loop.latest, JointState) and steps[-1] == pytest.approx(1.008)
        assert list(loop.latest.position) == [1.008]
    finally:
        loop.stop()
        trigger.destroy()

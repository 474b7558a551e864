"""The joint streams read and written as bytes (forma_common.state_cdr): reading gives what
rclpy's deserializer gives, field by field, and what is written reads back through rclpy's
deserializer as the message it was written from (rclpy's own bytes differ only in padding, which
it leaves uninitialised), for every shape the messages take (names of every length, so every
string padding; no effort; a frame_id; NaN readings); the reader reuses the decoded names while
they stay the same and refuses bytes it cannot read instead of guessing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import JointState

from forma_common.state_cdr import (
    CdrFormatError,
    JointStateReader,
    JointStateWriter,
    RobotStateReader,
    RobotStateWriter,
)
from forma_interfaces.msg import RobotState


def _message(rng: np.random.Generator, n: int, effort: bool, frame_id: str) -> RobotState:
    msg = RobotState(name=[f"j{i}_" + "x" * int(rng.integers(0, 7)) for i in range(n)])
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(rng.integers(0, 2**31)), int(rng.integers(0, 10**9))
    msg.header.frame_id = frame_id
    msg.position, msg.velocity = rng.normal(size=n).tolist(), rng.normal(size=n).tolist()
    msg.effort = rng.normal(size=n).tolist() if effort else []
    o = msg.orientation
    o.x, o.y, o.z, o.w = rng.normal(size=4).tolist()
    for v in (msg.angular_velocity, msg.linear_acceleration, *(w.force for w in (msg.left_foot, msg.right_foot))):
        v.x, v.y, v.z = rng.normal(size=3).tolist()
    msg.right_foot.torque.x = math.nan  # a sensor that did not answer
    return msg


def _assert_same_robot_state(sample, msg: RobotState) -> None:
    """sample: a RobotStateSample or a RobotState; NaN equals NaN."""
    if isinstance(sample, RobotState):
        o, w, a = sample.orientation, sample.angular_velocity, sample.linear_acceleration
        feet = [
            [x.force.x, x.force.y, x.force.z, x.torque.x, x.torque.y, x.torque.z]
            for x in (sample.left_foot, sample.right_foot)
        ]
        stamp, name = (sample.header.stamp.sec, sample.header.stamp.nanosec), tuple(sample.name)
        imu = ([o.x, o.y, o.z, o.w], [w.x, w.y, w.z], [a.x, a.y, a.z])
    else:
        feet = [sample.left_foot, sample.right_foot]
        stamp, name = (sample.stamp_sec, sample.stamp_nanosec), sample.name
        imu = (sample.orientation_xyzw, sample.angular_velocity, sample.linear_acceleration)
    assert stamp == (msg.header.stamp.sec, msg.header.stamp.nanosec)
    assert name == tuple(msg.name)
    for mine, theirs in ((sample.position, msg.position), (sample.velocity, msg.velocity), (sample.effort, msg.effort)):
        np.testing.assert_array_equal(mine, theirs)
    o, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
    for mine, theirs in zip(imu, ([o.x, o.y, o.z, o.w], [w.x, w.y, w.z], [a.x, a.y, a.z]), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    for mine, wrench in zip(feet, (msg.left_foot, msg.right_foot), strict=True):
        f, t = wrench.force, wrench.torque
        np.testing.assert_array_equal(mine, [f.x, f.y, f.z, t.x, t.y, t.z])


@pytest.mark.parametrize("seed", range(12))
def test_the_bytes_read_as_rclpy_reads_them(seed):
    rng = np.random.default_rng(seed)
    reader = RobotStateReader()
    for _ in range(3):  # the second and third message reuse the names decoded from the first
        msg = _message(rng, int(rng.integers(0, 90)), bool(seed % 2), "odom"[: seed % 5])
        _assert_same_robot_state(reader.read(serialize_message(msg)), msg)


def test_changed_names_are_decoded_again():
    reader = RobotStateReader()
    rng = np.random.default_rng(0)
    first = _message(rng, 5, True, "")
    reader.read(serialize_message(first))
    renamed = _message(rng, 5, True, "")
    renamed.name = [n.upper() for n in first.name]
    assert reader.read(serialize_message(renamed)).name == tuple(renamed.name)


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda b: b"\x00\x00" + b[2:], "encapsulation 0000"),  # big endian
        (lambda b: b[: len(b) // 2], "run past|unpack"),  # cut short
        (lambda b: b"", "encapsulation"),
    ],
)
def test_bytes_it_cannot_read_are_refused_not_guessed(mangle, reason):
    data = serialize_message(_message(np.random.default_rng(1), 30, True, "x"))
    with pytest.raises(CdrFormatError, match=reason):
        RobotStateReader().read(mangle(data))


@pytest.mark.parametrize("seed", range(12))
def test_written_robot_states_are_what_rclpy_reads(seed):
    rng = np.random.default_rng(seed)
    msg = _message(rng, int(rng.integers(0, 90)), bool(seed % 2), "")
    if seed % 3 == 0:  # a sensor that did not answer at all goes out as NaN
        for v in (msg.left_foot.force, msg.left_foot.torque):
            v.x = v.y = v.z = math.nan
        left = None
    else:
        left = ([msg.left_foot.force.x, msg.left_foot.force.y, msg.left_foot.force.z],
                [msg.left_foot.torque.x, msg.left_foot.torque.y, msg.left_foot.torque.z])
    o, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
    f, t = msg.right_foot.force, msg.right_foot.torque
    data = RobotStateWriter(msg.name).write_state(
        msg.header.stamp.sec,
        msg.header.stamp.nanosec,
        np.array(msg.position),
        np.array(msg.velocity),
        np.array(msg.effort),
        ((o.w, o.x, o.y, o.z), (w.x, w.y, w.z), (a.x, a.y, a.z)),
        left,
        ((f.x, f.y, f.z), (t.x, t.y, t.z)),
    )
    _assert_same_robot_state(deserialize_message(data, RobotState), msg)
    _assert_same_robot_state(RobotStateReader().read(data), msg)


@pytest.mark.parametrize("seed", range(8))
def test_joint_states_written_and_read_as_rclpy_does(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    msg = JointState(name=[f"joint_{i}" + "y" * (i % 5) for i in range(n)])
    msg.header.frame_id = "base_link"[: seed]
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(rng.integers(0, 2**31)), int(rng.integers(0, 10**9))
    msg.position = rng.normal(size=n).tolist()
    msg.velocity = rng.normal(size=n).tolist() if seed % 2 else []
    msg.effort = rng.normal(size=n).tolist() if seed % 3 else []
    data = JointStateWriter(msg.name, msg.header.frame_id).write(
        msg.header.stamp.sec, msg.header.stamp.nanosec, msg.position, msg.velocity, msg.effort
    )
    back = deserialize_message(data, JointState)
    assert back.header == msg.header and back.name == msg.name
    for mine, theirs in ((back.position, msg.position), (back.velocity, msg.velocity), (back.effort, msg.effort)):
        np.testing.assert_array_equal(mine, theirs)
    sample = JointStateReader().read(serialize_message(msg))
    assert sample.name == tuple(msg.name) and sample.stamp_s == pytest.approx(
        msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
    )
    for mine, theirs in ((sample.position, msg.position), (sample.velocity, msg.velocity), (sample.effort, msg.effort)):
        np.testing.assert_array_equal(mine, theirs)


def test_a_writer_refuses_values_that_do_not_match_its_names():
    with pytest.raises(ValueError, match="3 values for 2 names"):
        JointStateWriter(["a", "b"]).write(1, 0, [1.0, 2.0, 3.0], [], [])


def test_commands_from_several_commanders_read_each_with_its_own_names():
    """The hardware reads the WBC's, the hands' and the stand-up's commands in turn: each list of
    names decoded once is recognised again, and a list never seen is decoded, not mistaken."""
    writers = [JointStateWriter(names) for names in (["a", "b"], ["c", "d", "e"], ["a", "bx"], ["a"])]
    reader = JointStateReader()
    for k in range(12):
        writer = writers[k % len(writers)]
        n = len(writer.names)
        sample = reader.read(writer.write(k, 0, np.arange(n, dtype=float) + k, [], []))
        assert sample.name == writer.names and sample.stamp_sec == k
        np.testing.assert_array_equal(sample.position, np.arange(n) + k)

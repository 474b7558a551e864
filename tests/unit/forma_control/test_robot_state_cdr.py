"""hardware/robot_state read from its bytes (forma_control.wbc.robot_state_cdr) gives what
rclpy's deserializer gives, field by field, for every shape the message takes (names of every
length, so every string padding; no effort; a frame_id; NaN readings), reuses the decoded names
while they stay the same, and refuses bytes it cannot read instead of guessing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rclpy.serialization import serialize_message

from forma_control.wbc.robot_state_cdr import RobotStateFormatError, RobotStateReader
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


@pytest.mark.parametrize("seed", range(12))
def test_the_bytes_read_as_rclpy_reads_them(seed):
    rng = np.random.default_rng(seed)
    reader = RobotStateReader()
    for _ in range(3):  # the second and third message reuse the names decoded from the first
        msg = _message(rng, int(rng.integers(0, 90)), bool(seed % 2), "odom"[: seed % 5])
        sample = reader.read(serialize_message(msg))
        assert (sample.stamp_sec, sample.stamp_nanosec) == (msg.header.stamp.sec, msg.header.stamp.nanosec)
        assert sample.name == tuple(msg.name)
        for mine, theirs in ((sample.position, msg.position), (sample.velocity, msg.velocity)):
            np.testing.assert_array_equal(mine, theirs)
        np.testing.assert_array_equal(sample.effort, msg.effort)
        o, w, a = msg.orientation, msg.angular_velocity, msg.linear_acceleration
        np.testing.assert_array_equal(sample.orientation_xyzw, [o.x, o.y, o.z, o.w])
        np.testing.assert_array_equal(sample.angular_velocity, [w.x, w.y, w.z])
        np.testing.assert_array_equal(sample.linear_acceleration, [a.x, a.y, a.z])
        for mine, wrench in ((sample.left_foot, msg.left_foot), (sample.right_foot, msg.right_foot)):
            f, t = wrench.force, wrench.torque
            np.testing.assert_array_equal(mine, [f.x, f.y, f.z, t.x, t.y, t.z])


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
    with pytest.raises(RobotStateFormatError, match=reason):
        RobotStateReader().read(mangle(data))

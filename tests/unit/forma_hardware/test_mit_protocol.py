"""The MIT-mode CAN protocol: golden frames worked out by hand from the public specification,
round trips over each field's full range (hypothesis), saturation at the limits."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forma_hardware.protocols import mit
from forma_hardware.protocols.mit import MitError, MitRanges

# The Mini Cheetah reference ranges: p +-12.5 rad, v +-65 rad/s, kp 0..500, kd 0..5, t +-18 N m.
MC = MitRanges(-12.5, 12.5, -65.0, 65.0, 500.0, 5.0, -18.0, 18.0)


def lsb(lo, hi, bits):
    return (hi - lo) / ((1 << bits) - 1)


def test_golden_zero_command():
    # p = 0 -> trunc(12.5 * 65535 / 25) = 32767 = 0x7FFF; v = 0 -> trunc(65 * 4095 / 130) = 2047 = 0x7FF;
    # kp = kd = 0 -> 0; t = 0 -> 0x7FF  =>  7F FF | 7F F0 00 | 00 07 FF
    frame, saturated = mit.encode_command(0.0, 0.0, 0.0, 0.0, 0.0, MC)
    assert frame == bytes.fromhex("7FFF7FF0000007FF") and not saturated


def test_golden_full_scale_command():
    # p = +12.5 -> 0xFFFF; v = -65 -> 0x000; kp = 500 -> 0xFFF; kd = 5 -> 0xFFF; t = +18 -> 0xFFF
    frame, saturated = mit.encode_command(12.5, -65.0, 500.0, 5.0, 18.0, MC)
    assert frame == bytes.fromhex("FFFF000FFFFFFFFF") and not saturated


def test_golden_mid_values():
    # p = 1.0 -> trunc(13.5 * 65535 / 25) = 35388 = 0x8A3C; v = 10 -> trunc(75 * 4095 / 130) = 2362 = 0x93A;
    # kp = 100 -> trunc(100 * 4095 / 500) = 819 = 0x333; kd = 1 -> trunc(1 * 4095 / 5) = 819 = 0x333;
    # t = -2 -> trunc(16 * 4095 / 36) = 1820 = 0x71C
    frame, _ = mit.encode_command(1.0, 10.0, 100.0, 1.0, -2.0, MC)
    assert frame == bytes.fromhex("8A3C93A33333371C")


def test_golden_reply():
    # id 3, p = 0 (0x7FFF), v = 0 (0x7FF), t = 0 (0x7FF), 40 C -> 80 = 0x50, no error
    frame = mit.encode_reply(3, 0.0, 0.0, 0.0, 40.0, 0, MC)
    assert frame == bytes.fromhex("037FFF7FF7FF5000")
    reply = mit.decode_reply(bytes.fromhex("037FFF7FF7FF5005"), MC)
    assert reply.motor_id == 3 and reply.temperature_c == 40.0 and reply.error == mit.MotorError.ENCODER_FAULT
    assert abs(reply.position) <= lsb(-12.5, 12.5, 16) and abs(reply.torque) <= lsb(-18, 18, 12)


def test_special_frames():
    assert mit.ENTER_MOTOR_MODE.hex() == "fffffffffffffffc"
    assert mit.EXIT_MOTOR_MODE.hex() == "fffffffffffffffd"
    assert mit.SET_ZERO.hex() == "fffffffffffffffe"
    assert mit.is_special(mit.ENTER_MOTOR_MODE) and not mit.is_special(bytes(8))


@given(
    p=st.floats(-12.5, 12.5),
    v=st.floats(-65.0, 65.0),
    kp=st.floats(0.0, 500.0),
    kd=st.floats(0.0, 5.0),
    t=st.floats(-18.0, 18.0),
)
def test_command_round_trip_within_one_step(p, v, kp, kd, t):
    frame, saturated = mit.encode_command(p, v, kp, kd, t, MC)
    assert len(frame) == 8 and not saturated
    p2, v2, kp2, kd2, t2 = mit.decode_command(frame, MC)
    # trunc() rounds down: the decoded value is at most one step below, never above
    for x, y, step in (
        (p, p2, lsb(-12.5, 12.5, 16)),
        (v, v2, lsb(-65, 65, 12)),
        (kp, kp2, lsb(0, 500, 12)),
        (kd, kd2, lsb(0, 5, 12)),
        (t, t2, lsb(-18, 18, 12)),
    ):
        assert -1e-9 <= x - y <= step + 1e-9


@given(
    motor_id=st.integers(0, 255),
    p=st.floats(-12.5, 12.5),
    v=st.floats(-65.0, 65.0),
    t=st.floats(-18.0, 18.0),
    temperature=st.integers(-40, 215),
    error=st.integers(0, 255),
)
def test_reply_round_trip(motor_id, p, v, t, temperature, error):
    r = mit.decode_reply(mit.encode_reply(motor_id, p, v, t, temperature, error, MC), MC)
    assert r.motor_id == motor_id and r.error == error and r.temperature_c == temperature
    assert -1e-9 <= p - r.position <= lsb(-12.5, 12.5, 16) + 1e-9
    assert -1e-9 <= t - r.torque <= lsb(-18, 18, 12) + 1e-9


@given(p=st.floats(-1e6, 1e6).filter(lambda x: abs(x) > 12.5))
def test_out_of_range_saturates_and_says_so(p):
    frame, saturated = mit.encode_command(p, 0.0, 0.0, 0.0, 0.0, MC)
    assert saturated
    expected = 0xFFFF if p > 0 else 0x0000
    assert (frame[0] << 8 | frame[1]) == expected


def test_non_finite_and_malformed_are_refused():
    with pytest.raises(MitError, match="not finite"):
        mit.encode_command(math.nan, 0, 0, 0, 0, MC)
    with pytest.raises(MitError, match="7 bytes"):
        mit.decode_reply(bytes(7), MC)
    with pytest.raises(MitError, match="9 bytes"):
        mit.decode_command(bytes(9), MC)
    with pytest.raises(MitError, match="increasing"):
        MitRanges(1, -1, -1, 1, 1, 1, -1, 1)


@given(
    st.lists(
        st.tuples(st.floats(-13, 13), st.floats(-70, 70), st.floats(-1, 510), st.floats(-1, 6), st.floats(-20, 20)),
        min_size=1,
        max_size=30,
    )
)
def test_vectorised_codec_matches_the_scalar_one(commands):
    import numpy as np

    arrays = [np.array(c) for c in zip(*commands, strict=True)]
    ranges = mit.ranges_arrays([MC] * len(commands))
    frames, saturated = mit.encode_commands(*arrays, ranges)
    for k, c in enumerate(commands):
        frame, sat = mit.encode_command(*c, MC)
        assert frames[k] == frame and bool(saturated[k]) == sat
    replies = [mit.encode_reply(7, c[0], c[1], c[4], 50, 0, MC) for c in commands]
    decoded = mit.decode_replies(replies, ranges)
    for k, frame in enumerate(replies):
        r = mit.decode_reply(frame, MC)
        assert tuple(decoded[k]) == (r.position, r.velocity, r.torque, r.temperature_c, r.error)

"""The "MIT mode" CAN protocol of quasi-direct-drive actuators (MIT Mini Cheetah motor
controller; the same framing is used by CubeMars AK-series "MIT mode" and many others).

Command (master -> motor, arbitration ID = motor ID, 8 bytes), big-endian bit fields:
    position p* 16 bit | velocity v* 12 bit | kp 12 bit | kd 12 bit | torque t_ff 12 bit
    byte 0-1: p[15:0]; byte 2: v[11:4]; byte 3: v[3:0] kp[11:8]; byte 4: kp[7:0];
    byte 5: kd[11:4]; byte 6: kd[3:0] t[11:8]; byte 7: t[7:0]
Reply (motor -> master, arbitration ID = master ID, 8 bytes):
    byte 0: motor ID; byte 1-2: position 16 bit; byte 3: v[11:4]; byte 4: v[3:0] t[11:8];
    byte 5: t[7:0]; byte 6: temperature [deg C + 40]; byte 7: error code
Special commands (8 bytes): FF x7 then FC = enter motor mode, FD = exit motor mode (the motor
goes limp), FE = set the current position as zero.

Each field maps linearly onto [min, max] of the actuator model (config/actuators.yaml):
x_uint = trunc((x - min) * (2^bits - 1) / (max - min)), as in the reference float_to_uint;
values outside [min, max] saturate, and the encoder says so (nothing changes silently).
The temperature offset and error codes follow the common AK-series reply; vendors differ, so
both are part of the actuator model.
"""

from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np

from forma_hardware.errors import HardwareError

FRAME_BYTES = 8
ENTER_MOTOR_MODE = bytes([0xFF] * 7 + [0xFC])
EXIT_MOTOR_MODE = bytes([0xFF] * 7 + [0xFD])
SET_ZERO = bytes([0xFF] * 7 + [0xFE])
TEMPERATURE_OFFSET_C = 40


class MitError(HardwareError):
    """A value or frame of the MIT protocol is invalid."""


class MotorError(enum.IntEnum):
    """Error code of the reply's byte 7."""

    NONE = 0
    OVER_TEMPERATURE = 1
    OVER_CURRENT = 2
    OVER_VOLTAGE = 3
    UNDER_VOLTAGE = 4
    ENCODER_FAULT = 5
    PHASE_UNBALANCE = 6


@dataclasses.dataclass(frozen=True)
class MitRanges:
    """Value ranges of one actuator model: p [rad], v [rad/s], kp [N m/rad], kd [N m s/rad], t [N m]."""

    p_min: float
    p_max: float
    v_min: float
    v_max: float
    kp_max: float
    kd_max: float
    t_min: float
    t_max: float

    def __post_init__(self) -> None:
        for lo, hi, name in (
            (self.p_min, self.p_max, "p"),
            (self.v_min, self.v_max, "v"),
            (self.t_min, self.t_max, "t"),
        ):
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise MitError(f"{name} range [{lo}, {hi}] must be finite and increasing")
        if not (self.kp_max > 0 and self.kd_max > 0):
            raise MitError("kp_max and kd_max must be > 0")


@dataclasses.dataclass(frozen=True)
class MitReply:
    motor_id: int
    position: float  # [rad]
    velocity: float  # [rad/s]
    torque: float  # [N m]
    temperature_c: float
    error: int  # MotorError value (unknown codes are kept as numbers)


def float_to_uint(x: float, lo: float, hi: float, bits: int) -> tuple[int, bool]:
    """Saturating linear map of x in [lo, hi] onto [0, 2^bits - 1]; returns (value, saturated)."""
    if not math.isfinite(x):
        raise MitError(f"value {x} is not finite")
    top = (1 << bits) - 1
    saturated = x < lo or x > hi
    x = min(max(x, lo), hi)
    return min(int((x - lo) * top / (hi - lo)), top), saturated


def uint_to_float(u: int, lo: float, hi: float, bits: int) -> float:
    return u * (hi - lo) / ((1 << bits) - 1) + lo


def encode_command(p: float, v: float, kp: float, kd: float, t: float, r: MitRanges) -> tuple[bytes, bool]:
    """Pack one command frame; returns (frame, any field saturated)."""
    pu, s1 = float_to_uint(p, r.p_min, r.p_max, 16)
    vu, s2 = float_to_uint(v, r.v_min, r.v_max, 12)
    kpu, s3 = float_to_uint(kp, 0.0, r.kp_max, 12)
    kdu, s4 = float_to_uint(kd, 0.0, r.kd_max, 12)
    tu, s5 = float_to_uint(t, r.t_min, r.t_max, 12)
    frame = bytes(
        (
            pu >> 8,
            pu & 0xFF,
            vu >> 4,
            ((vu & 0xF) << 4) | (kpu >> 8),
            kpu & 0xFF,
            kdu >> 4,
            ((kdu & 0xF) << 4) | (tu >> 8),
            tu & 0xFF,
        )
    )
    return frame, s1 or s2 or s3 or s4 or s5


def decode_command(data: bytes, r: MitRanges) -> tuple[float, float, float, float, float]:
    """Unpack a command frame (the motor's side): p, v, kp, kd, t."""
    if len(data) != FRAME_BYTES:
        raise MitError(f"command frame has {len(data)} bytes, expected {FRAME_BYTES}")
    pu = (data[0] << 8) | data[1]
    vu = (data[2] << 4) | (data[3] >> 4)
    kpu = ((data[3] & 0xF) << 8) | data[4]
    kdu = (data[5] << 4) | (data[6] >> 4)
    tu = ((data[6] & 0xF) << 8) | data[7]
    return (
        uint_to_float(pu, r.p_min, r.p_max, 16),
        uint_to_float(vu, r.v_min, r.v_max, 12),
        uint_to_float(kpu, 0.0, r.kp_max, 12),
        uint_to_float(kdu, 0.0, r.kd_max, 12),
        uint_to_float(tu, r.t_min, r.t_max, 12),
    )


def encode_reply(motor_id: int, p: float, v: float, t: float, temperature_c: float, error: int, r: MitRanges) -> bytes:
    """Pack one reply frame (the motor's side)."""
    if not 0 <= motor_id <= 0xFF:
        raise MitError(f"motor id {motor_id} outside 0..255")
    pu, _ = float_to_uint(p, r.p_min, r.p_max, 16)
    vu, _ = float_to_uint(v, r.v_min, r.v_max, 12)
    tu, _ = float_to_uint(t, r.t_min, r.t_max, 12)
    temp = min(max(int(round(temperature_c)) + TEMPERATURE_OFFSET_C, 0), 0xFF)
    return bytes((motor_id, pu >> 8, pu & 0xFF, vu >> 4, ((vu & 0xF) << 4) | (tu >> 8), tu & 0xFF, temp, error & 0xFF))


def decode_reply(data: bytes, r: MitRanges) -> MitReply:
    """Unpack a reply frame; a frame of the wrong length raises MitError (a malformed frame)."""
    if len(data) != FRAME_BYTES:
        raise MitError(f"reply frame has {len(data)} bytes, expected {FRAME_BYTES}")
    pu = (data[1] << 8) | data[2]
    vu = (data[3] << 4) | (data[4] >> 4)
    tu = ((data[4] & 0xF) << 8) | data[5]
    return MitReply(
        motor_id=data[0],
        position=uint_to_float(pu, r.p_min, r.p_max, 16),
        velocity=uint_to_float(vu, r.v_min, r.v_max, 12),
        torque=uint_to_float(tu, r.t_min, r.t_max, 12),
        temperature_c=float(data[6] - TEMPERATURE_OFFSET_C),
        error=data[7],
    )


def is_special(data: bytes) -> bool:
    return len(data) == FRAME_BYTES and data[:7] == b"\xff" * 7 and data[7] in (0xFC, 0xFD, 0xFE)


# --- vectorised forms for the driver's cycle (one call per bus instead of one per motor) --------
def ranges_arrays(ranges: list[MitRanges]):
    """Per-motor (lo, hi) arrays of every field: p, v, kp, kd, t."""
    arr = np.array(
        [[r.p_min, r.p_max, r.v_min, r.v_max, 0.0, r.kp_max, 0.0, r.kd_max, r.t_min, r.t_max] for r in ranges]
    )
    return arr.reshape(-1, 5, 2)


def _to_uint(x, lo, hi, bits):
    top = (1 << bits) - 1
    saturated = (x < lo) | (x > hi)
    u = np.minimum(((np.clip(x, lo, hi) - lo) * top / (hi - lo)).astype(np.int64), top)
    return u, saturated


def encode_commands(p, v, kp, kd, t, ranges) -> tuple[list[bytes], np.ndarray]:
    """encode_command for n motors at once: (frames, saturated mask). Non-finite values raise."""
    fields = np.stack([p, v, kp, kd, t])
    if not np.all(np.isfinite(fields)):
        raise MitError("command value is not finite")
    pu, s1 = _to_uint(fields[0], ranges[:, 0, 0], ranges[:, 0, 1], 16)
    vu, s2 = _to_uint(fields[1], ranges[:, 1, 0], ranges[:, 1, 1], 12)
    kpu, s3 = _to_uint(fields[2], ranges[:, 2, 0], ranges[:, 2, 1], 12)
    kdu, s4 = _to_uint(fields[3], ranges[:, 3, 0], ranges[:, 3, 1], 12)
    tu, s5 = _to_uint(fields[4], ranges[:, 4, 0], ranges[:, 4, 1], 12)
    raw = np.stack(
        [
            pu >> 8,
            pu & 0xFF,
            vu >> 4,
            ((vu & 0xF) << 4) | (kpu >> 8),
            kpu & 0xFF,
            kdu >> 4,
            ((kdu & 0xF) << 4) | (tu >> 8),
            tu & 0xFF,
        ],
        axis=1,
    ).astype(np.uint8)
    return [row.tobytes() for row in raw], s1 | s2 | s3 | s4 | s5


def decode_replies(frames: list[bytes], ranges) -> np.ndarray:
    """decode_reply for n 8-byte frames at once -> (n, 5) array: position, velocity, torque,
    temperature [deg C], error code (motor ids are the caller's: byte 0)."""
    d = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(-1, FRAME_BYTES).astype(np.int64)
    pu = (d[:, 1] << 8) | d[:, 2]
    vu = (d[:, 3] << 4) | (d[:, 4] >> 4)
    tu = ((d[:, 4] & 0xF) << 8) | d[:, 5]

    def f(u, k, bits):
        return u * (ranges[:, k, 1] - ranges[:, k, 0]) / ((1 << bits) - 1) + ranges[:, k, 0]

    return np.stack([f(pu, 0, 16), f(vu, 1, 12), f(tu, 4, 12), d[:, 6] - TEMPERATURE_OFFSET_C, d[:, 7]], axis=1)

"""hardware/robot_state read straight from its serialized form (CDR, little endian), for the
whole-body controller's 500 Hz loop.

rclpy turns each RobotState into Python objects: 82 name strings, three arrays and ten nested
messages, ~46 us a sample here (x2-3 beside the rest of the stack on the 2-core machine, every
2 ms). The controller needs the numbers: this reader takes them from the bytes as numpy views
and decodes the names only when they change (they never do in a run): ~8 us. The layout is
forma_interfaces/msg/RobotState.msg in plain CDR (XCDR1), which every ROS 2 middleware writes;
a message it cannot parse raises RobotStateFormatError and the caller falls back to rclpy's
deserializer (tests compare the two field by field).
"""

from __future__ import annotations

import dataclasses
import struct

import numpy as np

_HEADER = 4  # encapsulation: 2 bytes kind + 2 bytes options; alignment counts from after it
_CDR_LE = (0, 1)  # plain CDR, little endian
_U32 = struct.Struct("<I")
_STAMP = struct.Struct("<iI")
_TAIL_DOUBLES = 4 + 3 + 3 + 6 + 6  # orientation, angular velocity, acceleration, two wrenches


class RobotStateFormatError(ValueError):
    """The bytes are not a little-endian plain-CDR RobotState this reader understands."""


@dataclasses.dataclass(frozen=True)
class RobotStateSample:
    """One hardware/robot_state, as the controller uses it (arrays are read-only views)."""

    stamp_sec: int
    stamp_nanosec: int
    name: tuple[str, ...]
    position: np.ndarray  # [rad]
    velocity: np.ndarray  # [rad/s]
    effort: np.ndarray  # [N m]; empty without torque sensing
    orientation_xyzw: np.ndarray  # (4,) as geometry_msgs/Quaternion lays it out
    angular_velocity: np.ndarray  # (3,) [rad/s]
    linear_acceleration: np.ndarray  # (3,) [m/s^2]
    left_foot: np.ndarray  # (6,) force xyz [N], torque xyz [N m]
    right_foot: np.ndarray  # (6,)

    @property
    def stamp_s(self) -> float:
        return self.stamp_sec + self.stamp_nanosec * 1e-9


class RobotStateReader:
    """Parses serialized RobotState messages; remembers the last names block."""

    def __init__(self) -> None:
        self._names_block = b""
        self._names: tuple[str, ...] = ()

    def read(self, data: bytes) -> RobotStateSample:
        try:
            return self._read(data)
        except (struct.error, ValueError, IndexError) as exc:
            raise RobotStateFormatError(f"not a RobotState in plain little-endian CDR: {exc}") from None

    def _read(self, data: bytes) -> RobotStateSample:
        if len(data) < _HEADER or (data[0], data[1]) != _CDR_LE:
            raise ValueError(f"encapsulation {data[:2].hex()} (expected 0001)")
        sec, nanosec = _STAMP.unpack_from(data, _HEADER)
        at = _HEADER + 8
        (length,) = _U32.unpack_from(data, at)  # header.frame_id
        at = _align(at + 4 + length, 4)
        (count,) = _U32.unpack_from(data, at)
        at += 4
        block = self._names_block
        if data[at : at + len(block)] == block and len(self._names) == count:
            at += len(block)  # the same names as the last message: nothing to decode
        else:
            start, names = at, []
            for _ in range(count):
                at = _align(at, 4)
                (length,) = _U32.unpack_from(data, at)
                names.append(bytes(data[at + 4 : at + 3 + length]).decode())  # (strings end in NUL)
                at += 4 + length
            self._names_block, self._names = bytes(data[start:at]), tuple(names)
        arrays = []
        for _ in range(3):  # position, velocity, effort
            at = _align(at, 4)
            (n,) = _U32.unpack_from(data, at)
            at += 4
            if n:
                at = _align(at, 8)
            arrays.append(_doubles(data, at, n))
            at += 8 * n
        tail = _doubles(data, _align(at, 8), _TAIL_DOUBLES)
        return RobotStateSample(
            sec, nanosec, self._names, *arrays, tail[0:4], tail[4:7], tail[7:10], tail[10:16], tail[16:22]
        )


def _align(offset: int, size: int) -> int:
    return _HEADER + ((offset - _HEADER + size - 1) & ~(size - 1))


def _doubles(data: bytes, offset: int, n: int) -> np.ndarray:
    if offset + 8 * n > len(data):
        raise ValueError(f"{n} doubles at byte {offset} run past the message's {len(data)} bytes")
    return np.frombuffer(data, np.float64, n, offset)

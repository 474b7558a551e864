"""The 500 Hz joint streams read and written straight as their serialized bytes (plain CDR,
little endian): hardware/robot_state, joint_states, hardware/joint_commands.

rclpy turns each message into Python objects and back: a RobotState is 82 name strings, three
arrays and ten nested messages, ~46 us each way here (x2-3 beside the rest of the stack on the
2-core machine, every 2 ms, in the hardware's loop and the controller's). The loops need the
numbers: the readers take them from the bytes as numpy views and decode the names only when they
change (they never do in a run), ~8 us; the writers keep the names block encoded and append the
arrays, ~5 us. `Publisher.publish(bytes)` sends them as they are.

The layouts are sensor_msgs/JointState and forma_interfaces/msg/RobotState in plain CDR (XCDR1),
which every ROS 2 middleware writes; a message a reader cannot parse raises CdrFormatError and
the caller falls back to rclpy's deserializer. The tests compare both directions with rclpy's
serializer, byte for byte.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Sequence

import numpy as np

_HEADER = 4  # encapsulation: 2 bytes kind + 2 bytes options; alignment counts from after it
_CDR_LE = (0, 1)  # plain CDR, little endian
_ENCAPSULATION = b"\x00\x01\x00\x00"
_U32 = struct.Struct("<I")
_STAMP = struct.Struct("<iI")
ROBOT_STATE_TAIL = 4 + 3 + 3 + 6 + 6  # doubles: orientation, angular velocity, acceleration, two wrenches


class CdrFormatError(ValueError):
    """The bytes are not a little-endian plain-CDR message of the layout this reader knows."""


RobotStateFormatError = CdrFormatError  # (the name the controller's loop knows it by)


@dataclasses.dataclass(frozen=True)
class JointStateSample:
    """One JointState-shaped message (joint_states, hardware/joint_commands); arrays are
    read-only views of the bytes."""

    stamp_sec: int
    stamp_nanosec: int
    name: tuple[str, ...]
    position: np.ndarray  # [rad]
    velocity: np.ndarray  # [rad/s]
    effort: np.ndarray  # [N m]

    @property
    def stamp_s(self) -> float:
        return self.stamp_sec + self.stamp_nanosec * 1e-9


@dataclasses.dataclass(frozen=True)
class RobotStateSample(JointStateSample):
    """One hardware/robot_state, as the controller uses it (arrays are read-only views)."""

    orientation_xyzw: np.ndarray  # (4,) as geometry_msgs/Quaternion lays it out
    angular_velocity: np.ndarray  # (3,) [rad/s]
    linear_acceleration: np.ndarray  # (3,) [m/s^2]
    left_foot: np.ndarray  # (6,) force xyz [N], torque xyz [N m]
    right_foot: np.ndarray  # (6,)


KNOWN_NAME_LISTS = 8  # name lists a reader keeps decoded (a hardware node's commanders: WBC, hands, stand-up)


class JointStateReader:
    """Parses serialized JointState messages; remembers the name lists it decoded last (the
    hardware reads commands from several commanders, each with its own joints)."""

    def __init__(self) -> None:
        self._known: dict[bytes, tuple[str, ...]] = {}  # encoded names block -> names, newest last

    def read(self, data: bytes) -> JointStateSample:
        try:
            sample, _ = self._read(data)
        except (struct.error, ValueError, IndexError) as exc:
            raise CdrFormatError(f"not a JointState in plain little-endian CDR: {exc}") from None
        return sample

    def _read(self, data: bytes) -> tuple[JointStateSample, int]:
        """The sample and the offset just after its effort array."""
        if len(data) < _HEADER or (data[0], data[1]) != _CDR_LE:
            raise ValueError(f"encapsulation {data[:2].hex()} (expected 0001)")
        sec, nanosec = _STAMP.unpack_from(data, _HEADER)
        at = _HEADER + 8
        (length,) = _U32.unpack_from(data, at)  # header.frame_id
        at = _align(at + 4 + length, 4)
        (count,) = _U32.unpack_from(data, at)
        at += 4
        for block, names in self._known.items():
            if len(names) == count and data.startswith(block, at):
                at += len(block)  # names decoded before: nothing to decode
                break
        else:
            start, decoded = at, []
            for _ in range(count):
                at = _align(at, 4)
                (length,) = _U32.unpack_from(data, at)
                if length == 0 or at + 4 + length > len(data):
                    raise ValueError(f"a name of {length} bytes at byte {at}")
                decoded.append(bytes(data[at + 4 : at + 3 + length]).decode())  # (strings end in NUL)
                at += 4 + length
            names = tuple(decoded)
            if len(self._known) >= KNOWN_NAME_LISTS:
                self._known.pop(next(iter(self._known)))
            self._known[bytes(data[start:at])] = names
        arrays = []
        for _ in range(3):  # position, velocity, effort
            at = _align(at, 4)
            (n,) = _U32.unpack_from(data, at)
            at += 4
            if n:
                at = _align(at, 8)
            arrays.append(_doubles(data, at, n))
            at += 8 * n
        return JointStateSample(sec, nanosec, names, *arrays), at


class RobotStateReader(JointStateReader):
    """Parses serialized RobotState messages (a JointState's fields, then the IMU and feet)."""

    def read(self, data: bytes) -> RobotStateSample:
        try:
            joints, at = self._read(data)
            tail = _doubles(data, _align(at, 8), ROBOT_STATE_TAIL)
        except (struct.error, ValueError, IndexError) as exc:
            raise CdrFormatError(f"not a RobotState in plain little-endian CDR: {exc}") from None
        return RobotStateSample(
            *_fields(joints),
            tail[0:4],
            tail[4:7],
            tail[7:10],
            tail[10:16],
            tail[16:22],
        )


class JointStateWriter:
    """Writes JointState messages for fixed names and frame: the header's frame and the names
    are encoded once; each message is the stamp and three arrays."""

    def __init__(self, names: Sequence[str], frame_id: str = "") -> None:
        self.names = tuple(names)
        head = bytearray(_ENCAPSULATION + bytes(8))  # the stamp goes in bytes 4..12
        _put_string(head, frame_id)
        _pad(head, 4)
        head += _U32.pack(len(self.names))
        for name in self.names:
            _pad(head, 4)
            _put_string(head, name)
        self._head = bytes(head)

    def write(self, sec: int, nanosec: int, position, velocity, effort, tail: np.ndarray | None = None) -> bytes:
        """The serialized message; position, velocity, effort: one float per name, or empty.
        tail: doubles that follow, 8-aligned (a RobotState's IMU and feet)."""
        out = bytearray(self._head)
        _STAMP.pack_into(out, _HEADER, sec, nanosec)
        for values in (position, velocity, effort):
            values = np.ascontiguousarray(values, dtype="<f8")
            if values.ndim != 1 or values.size not in (0, len(self.names)):
                raise ValueError(f"{values.size} values for {len(self.names)} names")
            _pad(out, 4)
            out += _U32.pack(values.size)
            if values.size:
                _pad(out, 8)
                out += values.tobytes()
        if tail is not None:
            _pad(out, 8)
            out += np.ascontiguousarray(tail, dtype="<f8").tobytes()
        return bytes(out)


class RobotStateWriter(JointStateWriter):
    """Writes RobotState messages for fixed names (its header carries no frame)."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(names, "")
        self._tail = np.full(ROBOT_STATE_TAIL, np.nan)

    def write_state(
        self,
        sec: int,
        nanosec: int,
        position,
        velocity,
        effort,
        imu: tuple | None,
        left_foot: tuple | None,
        right_foot: tuple | None,
    ) -> bytes:
        """imu: (orientation wxyz, angular velocity, linear acceleration) or None; each foot:
        (force, torque) or None. A sensor that is None goes out as NaN."""
        tail = self._tail
        tail[:] = np.nan
        if imu is not None:
            orientation_wxyz, angular_velocity, linear_acceleration = imu
            w, x, y, z = orientation_wxyz
            tail[0:4] = (x, y, z, w)
            tail[4:7] = angular_velocity
            tail[7:10] = linear_acceleration
        for start, wrench in ((10, left_foot), (16, right_foot)):
            if wrench is not None:
                tail[start : start + 3], tail[start + 3 : start + 6] = wrench
        return self.write(sec, nanosec, position, velocity, effort, tail)


def _fields(sample: JointStateSample) -> tuple:
    return (sample.stamp_sec, sample.stamp_nanosec, sample.name, sample.position, sample.velocity, sample.effort)


def _put_string(out: bytearray, text: str) -> None:
    raw = text.encode()
    out += _U32.pack(len(raw) + 1)
    out += raw + b"\x00"


def _pad(out: bytearray, size: int) -> None:
    out += bytes((-(len(out) - _HEADER)) % size)


def _align(offset: int, size: int) -> int:
    return _HEADER + ((offset - _HEADER + size - 1) & ~(size - 1))


def _doubles(data: bytes, offset: int, n: int) -> np.ndarray:
    if offset + 8 * n > len(data):
        raise ValueError(f"{n} doubles at byte {offset} run past the message's {len(data)} bytes")
    return np.frombuffer(data, np.float64, n, offset)

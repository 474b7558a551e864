"""Forma's sensor frames on the motor buses (our own boards, so our own format; documented in
src/forma_hardware/README.md). CAN-FD payloads of little-endian float32; each board answers the
master's SYNC frame (ID 0x080, empty) once per cycle.

| board | ID | payload (float32 each) | bytes |
|---|---|---|---|
| IMU | 0x070 | quaternion w x y z, gyro x y z [rad/s], accel x y z [m/s^2] | 40 -> DLC 48 |
| foot F/T | 0x060 + side (0 left, 1 right) | force x y z [N], torque x y z [N m] at the sole | 24 |
| fingertip touch | 0x068 + side | thumb index middle ring little [N] | 20 |
| power board | 0x07E | voltage [V], current [A], charge 0..1, temperature [deg C] | 16 |
"""

from __future__ import annotations

import dataclasses
import math
import struct

from forma_hardware.errors import HardwareError

SYNC_ID = 0x080
IMU_ID = 0x070
FT_BASE_ID = 0x060
TOUCH_BASE_ID = 0x068
POWER_ID = 0x07E
FD_LENGTHS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64)
SIDES = ("left", "right")


class SensorFrameError(HardwareError):
    """A sensor frame is malformed (wrong length, non-finite values)."""


@dataclasses.dataclass(frozen=True)
class FrameFormat:
    name: str
    n_floats: int

    @property
    def payload_bytes(self) -> int:
        """Smallest CAN-FD data length that holds the floats."""
        return next(n for n in FD_LENGTHS if n >= 4 * self.n_floats)


IMU = FrameFormat("imu", 10)
FT = FrameFormat("ft", 6)
TOUCH = FrameFormat("touch", 5)
POWER = FrameFormat("power", 4)

# The robot's sensor boards by the name the hardware config gives them: CAN id and frame format
# (what the bus driver decodes and the emulated boards send).
BOARD_IDS = {
    "imu": IMU_ID,
    "power": POWER_ID,
    "ft_left": FT_BASE_ID,
    "ft_right": FT_BASE_ID + 1,
    "touch_left": TOUCH_BASE_ID,
    "touch_right": TOUCH_BASE_ID + 1,
}
BOARD_FORMATS = {
    "imu": IMU,
    "power": POWER,
    "ft_left": FT,
    "ft_right": FT,
    "touch_left": TOUCH,
    "touch_right": TOUCH,
}


def encode(fmt: FrameFormat, values) -> bytes:
    values = [float(v) for v in values]
    if len(values) != fmt.n_floats:
        raise SensorFrameError(f"{fmt.name}: {len(values)} values, expected {fmt.n_floats}")
    raw = struct.pack(f"<{fmt.n_floats}f", *values)
    return raw + bytes(fmt.payload_bytes - len(raw))


def decode(fmt: FrameFormat, data: bytes) -> tuple[float, ...]:
    if len(data) != fmt.payload_bytes:
        raise SensorFrameError(f"{fmt.name} frame has {len(data)} bytes, expected {fmt.payload_bytes}")
    values = struct.unpack_from(f"<{fmt.n_floats}f", data)
    if not all(math.isfinite(v) for v in values):
        raise SensorFrameError(f"{fmt.name} frame carries a non-finite value")
    return values

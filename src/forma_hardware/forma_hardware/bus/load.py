"""CAN and CAN-FD frame durations, bit stuffing included, and the load a bus cycle puts on a bus.

Worst-case stuffing: one stuff bit per 4 bits of the stuffed region (a stuff bit can itself start
the next run of five). CAN-FD adds fixed stuff bits in the CRC field (one per 4 bits) and the
stuff count; with bit-rate switching the data phase runs at the data bit rate.
"""

from __future__ import annotations

import math

from forma_hardware.bus.topology import BusSpec
from forma_hardware.protocols import sensor_frames

SENSOR_PAYLOADS = {
    "imu": sensor_frames.IMU.payload_bytes,
    "power": sensor_frames.POWER.payload_bytes,
    "ft_left": sensor_frames.FT.payload_bytes,
    "ft_right": sensor_frames.FT.payload_bytes,
    "touch_left": sensor_frames.TOUCH.payload_bytes,
    "touch_right": sensor_frames.TOUCH.payload_bytes,
}


def classic_frame_bits(payload_bytes: int) -> int:
    """Standard-ID classic CAN data frame, worst-case stuffing, with the 3-bit interframe space."""
    stuffed = 34 + 8 * payload_bytes  # SOF .. CRC
    return stuffed + (stuffed - 1) // 4 + 13  # + CRC delimiter, ACK, EOF (10) + IFS (3)


def fd_frame_time_s(payload_bytes: int, nominal_bps: float, data_bps: float) -> float:
    """Standard-ID CAN-FD frame with bit-rate switch, worst-case stuffing, interframe space."""
    # arbitration phase: SOF ID(11) RRS IDE FDF res BRS = 17 bits, stuffable
    arbitration = 17 + (17 - 1) // 4
    crc = 17 if payload_bytes <= 16 else 21
    # data phase: ESI DLC(4) data, stuffable; stuff count (4) + CRC with fixed stuff bits
    dynamic = 5 + 8 * payload_bytes
    data = dynamic + (dynamic - 1) // 4 + 4 + crc + math.ceil((4 + crc) / 4)
    tail = 1 + 1 + 1 + 7 + 3  # CRC delimiter, ACK slot, ACK delimiter, EOF, IFS (nominal rate)
    return (arbitration + tail) / nominal_bps + data / data_bps


def frame_time_s(bus: BusSpec, payload_bytes: int) -> float:
    if bus.fd:
        return fd_frame_time_s(payload_bytes, bus.bitrate, bus.data_bitrate)
    if payload_bytes > 8:
        raise ValueError(f"bus {bus.name}: {payload_bytes}-byte frames need CAN-FD")
    return classic_frame_bits(payload_bytes) / bus.bitrate


def cycle_time_s(bus: BusSpec) -> float:
    """Bus time of one cycle: a command and a reply per motor, SYNC and the sensor frames."""
    t = len(bus.motors) * 2 * frame_time_s(bus, 8)
    if bus.sensors:
        t += frame_time_s(bus, 0) + sum(frame_time_s(bus, SENSOR_PAYLOADS[s]) for s in bus.sensors)
    return t


def bus_load(bus: BusSpec) -> float:
    """Fraction of the bus's time used at its cycle rate (1.0 = saturated)."""
    return cycle_time_s(bus) * bus.rate_hz

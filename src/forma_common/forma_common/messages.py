"""Stamps and message fields <-> plain Python, shared by every node's io layer."""

from __future__ import annotations

import array

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import KeyValue


def to_time_msg(t_s: float) -> Time:
    """Seconds -> builtin_interfaces/Time, rounded to the nanosecond. Rounding the whole value
    first matters: 3.9999999999 must become (4, 0), not (3, 0) — a stamp a second in the past."""
    sec, nanosec = divmod(round(t_s * 1e9), 1_000_000_000)
    return Time(sec=int(sec), nanosec=int(nanosec))


def stamp_s(stamp) -> float:
    """builtin_interfaces/Time -> seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def float_array(values) -> array.array:
    """A float64 array.array: the fast path of rclpy's sequence setters."""
    out = array.array("d")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


def key_values(pairs) -> list[KeyValue]:
    """(key, value) pairs -> diagnostic_msgs/KeyValue list, values as text."""
    return [KeyValue(key=k, value=str(v)) for k, v in pairs]

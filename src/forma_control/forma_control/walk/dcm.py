"""Divergent component of motion (DCM) of the linear inverted pendulum along a planned ZMP path.

xi = c + c_dot / omega obeys xi_dot = omega (xi - p): it diverges from the zero-moment point p.
The one bounded solution is fixed by the future ZMP path alone, so for a piecewise-linear ZMP plan
(feet and double-support transfers) xi is computed backward from the plan's end, where the robot
stands still (xi = p), in closed form per segment; the centre of mass follows xi with the stable
first-order c_dot = omega (xi - c). No preview gains to tune, exact for the model (Englsberger et
al., "Three-dimensional bipedal walking control based on divergent component of motion", 2015).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class ZmpSegment:
    """The ZMP moving linearly from `start` to `end` (xy, odom [m]) over `duration_s`."""

    duration_s: float
    start: np.ndarray
    end: np.ndarray


def dcm_at(segments: list[ZmpSegment], elapsed_s: float, omega: float) -> np.ndarray:
    """The bounded DCM (xy) `elapsed_s` into the first segment; after the last one the ZMP rests
    at its end. In a linear segment p(s) = a + r s, xi(s) = p(s) + r / omega + (xi(T) - b - r / omega)
    e^(omega (s - T))."""
    xi = np.asarray(segments[-1].end, float).copy()
    for index in range(len(segments) - 1, -1, -1):
        seg = segments[index]
        duration = max(seg.duration_s, 1e-9)
        rate = (seg.end - seg.start) / duration
        s = min(max(elapsed_s, 0.0), duration) if index == 0 else 0.0
        p = seg.start + rate * s
        xi = p + rate / omega + (xi - seg.end - rate / omega) * math.exp(omega * (s - duration))
    return xi


def follow(com_xy: np.ndarray, xi_xy: np.ndarray, omega: float, dt_s: float) -> np.ndarray:
    """One step of c_dot = omega (xi - c) with xi held over dt_s (exact for constant xi)."""
    return xi_xy + (com_xy - xi_xy) * math.exp(-omega * dt_s)

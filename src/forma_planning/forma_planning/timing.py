"""Time parameterization of a piecewise-linear joint path within per-joint velocity and
acceleration limits.

Each segment between two waypoints is a synchronized trapezoid: all joints start and stop
together, the joint that needs it most runs at its velocity or acceleration limit, the others
scale down. The robot stops at each interior waypoint, so it follows the checked straight
segments exactly: every sample of the trajectory lies on the path the collision checker passed
(a blend around a corner would leave it). Shortcutting first leaves few corners.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """Samples of a joint trajectory: times from its start [s] and positions, velocities,
    accelerations per joint [rad, rad/s, rad/s^2] (rows: samples, columns: `joint_names`)."""

    joint_names: tuple[str, ...]
    time_s: np.ndarray
    positions_rad: np.ndarray
    velocities_rad_s: np.ndarray
    accelerations_rad_s2: np.ndarray

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1])


def _segment_profile(length: float, v_max: float, a_max: float) -> tuple[float, float, float]:
    """(duration [s], cruise speed, acceleration time [s]) of a rest-to-rest trapezoid over
    `length` of a path parameter with speed and acceleration bounds."""
    if length <= 0.0:
        return 0.0, 0.0, 0.0
    t_acc = v_max / a_max
    if a_max * t_acc * t_acc >= length:  # never reaches v_max: a triangle
        t_acc = math.sqrt(length / a_max)
        return 2.0 * t_acc, a_max * t_acc, t_acc
    return length / v_max + t_acc, v_max, t_acc


def parameterize(
    waypoints_rad: np.ndarray,
    joint_names: tuple[str, ...],
    max_velocity_rad_s: np.ndarray,
    max_acceleration_rad_s2: np.ndarray,
    sample_period_s: float = 0.01,
) -> Trajectory:
    """A trajectory through `waypoints_rad` (rows: waypoints), resting at each, sampled every
    `sample_period_s` and at every waypoint."""
    waypoints = np.asarray(waypoints_rad, dtype=float)
    v_max = np.asarray(max_velocity_rad_s, dtype=float)
    a_max = np.asarray(max_acceleration_rad_s2, dtype=float)
    times, positions, velocities, accelerations = [0.0], [waypoints[0]], [np.zeros(len(v_max))], [np.zeros(len(v_max))]
    t0 = 0.0
    for q0, q1 in zip(waypoints[:-1], waypoints[1:], strict=True):
        delta = q1 - q0
        moving = np.abs(delta) > 1e-12
        if not np.any(moving):
            continue
        # path parameter s in [0, 1]: joint i moves delta_i * s, so ds/dt <= v_i / |delta_i|
        s_vel = float(np.min(v_max[moving] / np.abs(delta[moving])))
        s_acc = float(np.min(a_max[moving] / np.abs(delta[moving])))
        duration, s_cruise, t_acc = _segment_profile(1.0, s_vel, s_acc)
        a = s_cruise / t_acc
        count = max(1, math.ceil(duration / sample_period_s))
        for tau in np.linspace(0.0, duration, count + 1)[1:]:
            if tau < t_acc:
                s, sd, sdd = 0.5 * a * tau * tau, a * tau, a
            elif tau <= duration - t_acc:
                s, sd, sdd = 0.5 * a * t_acc * t_acc + s_cruise * (tau - t_acc), s_cruise, 0.0
            else:
                r = duration - tau
                s, sd, sdd = 1.0 - 0.5 * a * r * r, a * r, -a
            times.append(t0 + float(tau))
            positions.append(q0 + delta * min(s, 1.0))
            velocities.append(delta * sd)
            accelerations.append(delta * sdd)
        positions[-1] = q1.copy()
        velocities[-1] = np.zeros(len(v_max))
        t0 += duration
    return Trajectory(
        tuple(joint_names), np.array(times), np.array(positions), np.array(velocities), np.array(accelerations)
    )

"""Time parameterization of a piecewise-linear joint path within per-joint velocity and
acceleration limits, two ways:

- `parameterize`: each segment between two waypoints is a synchronized trapezoid: all joints
  start and stop together, the joint that needs it most runs at its velocity or acceleration
  limit, the others scale down. The robot rests at each interior waypoint, so it follows the
  checked straight segments exactly.
- `smooth`: a cubic spline through the waypoints (continuous velocity and acceleration, at rest at
  both ends), its time stretched until every joint is within its limits. The spline leaves the
  straight segments between waypoints, so its path is checked again (`is_free`, every
  `check_step_rad`); where it hits something, the neighbouring segments get their midpoints as
  extra knots (the spline hugs the checked path closer) and it is tried again; after
  `SMOOTH_REFINEMENTS` tries the rest-to-rest trapezoids are used.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

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


SMOOTH_REFINEMENTS = 3  # times the spline's knots are refined before falling back to trapezoids
LIMIT_MARGIN = 1.02  # the spline's time stretch covers its maxima between the evaluated points
EVALUATIONS_PER_SEGMENT = 200  # where the spline's velocity and acceleration maxima are looked for


def _knot_velocities(times: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Velocities at the knots of the C2 cubic spline through `knots` at `times`, at rest at both ends."""
    n = len(knots) - 1
    velocities = np.zeros_like(knots)
    if n < 2:
        return velocities
    h = np.diff(times)
    system = np.zeros((n - 1, n - 1))
    rhs = np.zeros((n - 1, knots.shape[1]))
    for k in range(1, n):
        row = k - 1
        system[row, row] = 2.0 * (h[k - 1] + h[k])
        if row > 0:
            system[row, row - 1] = h[k]
        if row < n - 2:
            system[row, row + 1] = h[k - 1]
        rhs[row] = 3.0 * (h[k] / h[k - 1] * (knots[k] - knots[k - 1]) + h[k - 1] / h[k] * (knots[k + 1] - knots[k]))
    velocities[1:n] = np.linalg.solve(system, rhs)
    return velocities


def _hermite(q0, q1, v0, v1, h: float, tau: np.ndarray):
    """Positions, velocities, accelerations of the cubic Hermite segment at times `tau` in [0, h]."""
    u = (tau / h)[:, None]
    dq = q1 - q0
    c2 = (3.0 * dq - (2.0 * v0 + v1) * h) / h**2
    c3 = (-2.0 * dq + (v0 + v1) * h) / h**3
    t = u * h
    return q0 + v0 * t + c2 * t**2 + c3 * t**3, v0 + 2.0 * c2 * t + 3.0 * c3 * t**2, 2.0 * c2 + 6.0 * c3 * t


def _spline(knots: np.ndarray, times: np.ndarray, sample_times: np.ndarray):
    velocities = _knot_velocities(times, knots)
    segment = np.clip(np.searchsorted(times, sample_times, side="right") - 1, 0, len(times) - 2)
    q, qd, qdd = (np.zeros((len(sample_times), knots.shape[1])) for _ in range(3))
    for k in np.unique(segment):
        mask = segment == k
        h = times[k + 1] - times[k]
        q[mask], qd[mask], qdd[mask] = _hermite(
            knots[k], knots[k + 1], velocities[k], velocities[k + 1], h, sample_times[mask] - times[k]
        )
    return q, qd, qdd


def smooth(
    waypoints_rad: np.ndarray,
    joint_names: tuple[str, ...],
    max_velocity_rad_s: np.ndarray,
    max_acceleration_rad_s2: np.ndarray,
    is_free: Callable[[np.ndarray], bool],
    lower_rad: np.ndarray,
    upper_rad: np.ndarray,
    check_step_rad: float,
    sample_period_s: float = 0.01,
    deadline_s: float = math.inf,
) -> tuple[Trajectory, bool]:
    """A smooth trajectory through the waypoints within the limits, its path checked by `is_free`
    and within [lower_rad, upper_rad]; (trajectory, True), or the trapezoids and False (also when
    `deadline_s`, a time.perf_counter() value, passes first)."""
    knots = np.asarray(waypoints_rad, dtype=float)
    v_max = np.asarray(max_velocity_rad_s, dtype=float)
    a_max = np.asarray(max_acceleration_rad_s2, dtype=float)
    if len(knots) < 3:  # one straight segment: the trapezoid is smooth enough and faster
        return parameterize(knots, joint_names, v_max, a_max, sample_period_s), False
    for _ in range(SMOOTH_REFINEMENTS + 1):
        if time.perf_counter() > deadline_s:
            break
        # time per segment: its rest-to-rest duration (keeps the knots' spacing in time sensible)
        h = np.array([parameterize(knots[k : k + 2], joint_names, v_max, a_max, 1.0).duration_s
                      for k in range(len(knots) - 1)])  # fmt: skip
        h = np.maximum(h, 1e-3)
        times = np.concatenate([[0.0], np.cumsum(h)])
        # evaluated points closer than half a check step apart (joint-space distance)
        lengths = np.linalg.norm(np.diff(knots, axis=0), axis=1)
        counts = [max(EVALUATIONS_PER_SEGMENT, math.ceil(4.0 * length / check_step_rad)) for length in lengths]
        dense = np.concatenate(
            [np.linspace(times[k], times[k + 1], counts[k], endpoint=False) for k in range(len(h))] + [times[-1:]]
        )
        segment_of = np.clip(np.searchsorted(times, dense, side="right") - 1, 0, len(h) - 1)
        q, qd, qdd = _spline(knots, times, dense)
        within = np.all((q >= lower_rad) & (q <= upper_rad), axis=1)
        bad_segments: set[int] = set()
        last_checked = q[0]
        for i in range(1, len(q)):
            if not within[i]:
                bad_segments.add(int(segment_of[i]))
            elif np.linalg.norm(q[i] - last_checked) >= check_step_rad:
                if not is_free(q[i]):
                    bad_segments.add(int(segment_of[i]))
                last_checked = q[i]
                if time.perf_counter() > deadline_s:
                    bad_segments.add(-1)  # out of time: not known to be free
                    break
        if -1 in bad_segments:
            break
        if not bad_segments:
            stretch = LIMIT_MARGIN * max(
                float(np.max(np.abs(qd) / v_max)), math.sqrt(float(np.max(np.abs(qdd) / a_max))), 1e-9
            )
            times = times * stretch
            duration = times[-1]
            count = max(1, math.ceil(duration / sample_period_s))
            samples = np.linspace(0.0, duration, count + 1)
            q, qd, qdd = _spline(knots, times, samples)
            q[-1], qd[-1] = knots[-1], 0.0
            return Trajectory(tuple(joint_names), samples, q, qd, qdd), True
        refined = [knots[0]]
        for k in range(len(h)):
            if k in bad_segments or k - 1 in bad_segments or k + 1 in bad_segments:
                refined.append(0.5 * (knots[k] + knots[k + 1]))
            refined.append(knots[k + 1])
        knots = np.array(refined)
    return parameterize(np.asarray(waypoints_rad, dtype=float), joint_names, v_max, a_max, sample_period_s), False

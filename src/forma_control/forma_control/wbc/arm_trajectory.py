"""Following an arm joint trajectory (e.g. forma_planning's collision-free plan) on whole-body
control: the trajectory's samples, how far the measured joints may stray from them, and why the
following stopped. Pure logic, no rclpy: the controller asks `reference(t)` for its joint task and
feeds `update(t, measured)` back; the outcome names mirror control_msgs/FollowJointTrajectory's
error codes so an action can pass them on.
"""

from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np

from forma_control.errors import TargetRejected


class FollowOutcome(enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # the last sample's time passed and the measured joints are within goal_rad
    PATH_TOLERANCE_VIOLATED = "path_tolerance_violated"  # a measured joint strayed > path_rad: stopped there
    GOAL_TOLERANCE_VIOLATED = "goal_tolerance_violated"  # not within goal_rad goal_time_s after the end
    CANCELLED = "cancelled"  # the caller cancelled, or a newer trajectory for the arm replaced it
    CONTROLLER_STOPPED = "controller_stopped"  # whole-body control was (re)activated or stopped


@dataclasses.dataclass(frozen=True)
class FollowTolerances:
    """How closely the measured joints must follow [rad], and how long the arm may settle at the end [s]."""

    path_rad: float = 0.15  # any joint this far from the trajectory's sample at the same time: stop
    goal_rad: float = 0.03  # every joint this close to the last sample: done
    goal_time_s: float = 1.0  # after the last sample's time, at most this long to get within goal_rad

    def __post_init__(self) -> None:
        for name in ("path_rad", "goal_rad", "goal_time_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise TargetRejected(f"trajectory tolerance {name} = {value} must be finite and > 0")


@dataclasses.dataclass(frozen=True)
class ArmTrajectory:
    """Samples of a joint trajectory: times from its start [s], positions [rad] and velocities
    [rad/s] per joint (rows: samples, columns: joint_names). forma_planning's Trajectory fits."""

    joint_names: tuple[str, ...]
    time_s: np.ndarray
    positions_rad: np.ndarray
    velocities_rad_s: np.ndarray

    def __post_init__(self) -> None:
        n, k = len(self.time_s), len(self.joint_names)
        if k == 0 or len(set(self.joint_names)) != k:
            raise TargetRejected(f"trajectory joints must be named once each; got {list(self.joint_names)}")
        t = np.asarray(self.time_s, float)
        if n < 1 or t.ndim != 1 or not np.all(np.isfinite(t)) or t[0] < 0.0 or np.any(np.diff(t) <= 0.0):
            raise TargetRejected("trajectory times must be finite, >= 0 and strictly increasing")
        for what in ("positions_rad", "velocities_rad_s"):
            values = np.asarray(getattr(self, what), float)
            if values.shape != (n, k):
                raise TargetRejected(f"trajectory {what} has shape {values.shape}; {n} samples x {k} joints expected")
            bad = ~np.isfinite(values)
            if np.any(bad):
                joint = self.joint_names[int(np.argwhere(bad)[0][1])]
                raise TargetRejected(f"trajectory {what} of {joint} is not finite")

    @classmethod
    def of(cls, trajectory) -> ArmTrajectory:
        """From anything with joint_names, time_s, positions_rad, velocities_rad_s (forma_planning's Trajectory)."""
        return cls(
            tuple(trajectory.joint_names),
            np.asarray(trajectory.time_s, float),
            np.asarray(trajectory.positions_rad, float),
            np.asarray(trajectory.velocities_rad_s, float),
        )

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1])

    def sample(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(positions [rad], velocities [rad/s]) at t_s from the start, linear between samples;
        before the first sample its position, after the last one its position at rest."""
        t = np.asarray(self.time_s, float)
        if t_s < t[0]:
            return self.positions_rad[0].copy(), np.zeros(len(self.joint_names))
        if t_s >= t[-1]:
            return self.positions_rad[-1].copy(), np.zeros(len(self.joint_names))
        i = int(np.searchsorted(t, t_s, side="right")) - 1
        a = (t_s - t[i]) / (t[i + 1] - t[i])
        q = (1.0 - a) * self.positions_rad[i] + a * self.positions_rad[i + 1]
        v = (1.0 - a) * self.velocities_rad_s[i] + a * self.velocities_rad_s[i + 1]
        return q, v


@dataclasses.dataclass
class FollowStatus:
    """Where the following stands: feedback while RUNNING, the result once not."""

    outcome: FollowOutcome = FollowOutcome.RUNNING
    reason: str = ""
    elapsed_s: float = 0.0  # robot time since the first tick that followed it [s]
    error_rad: float = 0.0  # largest |measured - sample| over the joints now
    max_error_rad: float = 0.0  # the largest error_rad so far, while the trajectory ran (not the settling)
    worst_joint: str = ""  # the joint of max_error_rad

    @property
    def running(self) -> bool:
        return self.outcome is FollowOutcome.RUNNING


class TrajectoryFollower:
    """One trajectory being followed: the reference it asks for and the verdict on the measured joints."""

    def __init__(self, trajectory: ArmTrajectory, tolerances: FollowTolerances | None = None) -> None:
        self.trajectory = trajectory
        self.tolerances = tolerances or FollowTolerances()
        self.start_s: float | None = None  # robot time of the first tick (set by the first update)
        self.status = FollowStatus()

    def elapsed(self, stamp_s: float) -> float:
        if self.start_s is None:
            self.start_s = stamp_s
        return stamp_s - self.start_s

    def reference(self, stamp_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The trajectory's (positions [rad], velocities [rad/s]) at robot time stamp_s."""
        return self.trajectory.sample(self.elapsed(stamp_s))

    def update(self, stamp_s: float, measured_rad: np.ndarray) -> FollowStatus:
        """Judge the measured joints (trajectory's order) at robot time stamp_s."""
        s, tol, traj = self.status, self.tolerances, self.trajectory
        if not s.running:
            return s
        t = self.elapsed(stamp_s)
        q, _ = traj.sample(t)
        error = np.abs(np.asarray(measured_rad, float) - q)
        worst = int(np.argmax(error))
        s.elapsed_s, s.error_rad = t, float(error[worst])
        if t <= traj.duration_s and s.error_rad > s.max_error_rad:
            s.max_error_rad, s.worst_joint = s.error_rad, traj.joint_names[worst]
        if t <= traj.duration_s and s.error_rad > tol.path_rad:
            self.stop(
                FollowOutcome.PATH_TOLERANCE_VIOLATED,
                f"{traj.joint_names[worst]} {s.error_rad:.3f} rad from the trajectory at {t:.2f} s of "
                f"{traj.duration_s:.2f} s (path tolerance {tol.path_rad} rad); stopped there",
            )
        elif t >= traj.duration_s and s.error_rad <= tol.goal_rad:
            self.stop(FollowOutcome.SUCCEEDED, f"arrived: every joint within {tol.goal_rad} rad of the last sample")
        elif t > traj.duration_s + tol.goal_time_s:
            self.stop(
                FollowOutcome.GOAL_TOLERANCE_VIOLATED,
                f"{traj.joint_names[worst]} still {s.error_rad:.3f} rad from the last sample "
                f"{tol.goal_time_s} s after the end (goal tolerance {tol.goal_rad} rad)",
            )
        return s

    def stop(self, outcome: FollowOutcome, reason: str) -> None:
        if self.status.running:
            self.status.outcome, self.status.reason = outcome, reason

"""Joint-space posture control: ramp smoothly from the measured pose to a target pose, then hold.

This is the joint-PD stand the robot uses until whole-body control exists, and the baseline
that whole-body control is measured against. The ramp never lunges: every joint moves at most
max_speed_rad_s, along a smooth (cosine) profile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from forma_hardware import JointCommand


class PostureRamp:
    """Targets from `start` to `goal` over a duration set by the largest joint move."""

    def __init__(
        self,
        joint_names: Sequence[str],
        goal: np.ndarray,
        max_speed_rad_s: float = 0.5,
        min_duration_s: float = 0.5,
        lower: np.ndarray | None = None,
        upper: np.ndarray | None = None,
    ) -> None:
        if not (math.isfinite(max_speed_rad_s) and max_speed_rad_s > 0):
            raise ValueError(f"max_speed_rad_s must be > 0, got {max_speed_rad_s}")
        self.joint_names = list(joint_names)
        self.goal = np.asarray(goal, float)
        if self.goal.shape != (len(self.joint_names),) or not np.all(np.isfinite(self.goal)):
            raise ValueError("goal must hold one finite position per joint")
        self.lower = np.full(len(self.goal), -np.inf) if lower is None else np.asarray(lower, float)
        self.upper = np.full(len(self.goal), np.inf) if upper is None else np.asarray(upper, float)
        if np.any(self.goal < self.lower) or np.any(self.goal > self.upper):
            raise ValueError("goal pose lies outside the joint limits")
        self.max_speed = max_speed_rad_s
        self.min_duration = min_duration_s
        self.start_q: np.ndarray | None = None
        self.t0 = 0.0
        self.duration = 0.0

    def start(self, measured_q: np.ndarray, now_s: float) -> float:
        """Begin a ramp from the measured pose; returns its duration [s].

        The measured pose is clipped into the joint limits first (a simulated or real joint
        can sit a hair past its stop), so no target ever lies outside them.
        """
        self.start_q = np.clip(np.asarray(measured_q, float), self.lower, self.upper)
        self.t0 = now_s
        largest = float(np.max(np.abs(self.goal - self.start_q))) if len(self.goal) else 0.0
        # a cosine profile peaks at pi/2 times the mean speed
        self.duration = max(self.min_duration, math.pi / 2 * largest / self.max_speed)
        return self.duration

    @property
    def started(self) -> bool:
        return self.start_q is not None

    def target(self, now_s: float) -> np.ndarray:
        if self.start_q is None:
            raise RuntimeError("start() the ramp before asking for targets")
        s = min(max((now_s - self.t0) / self.duration, 0.0), 1.0)
        blend = 0.5 - 0.5 * math.cos(math.pi * s)
        return self.start_q + blend * (self.goal - self.start_q)

    def done(self, now_s: float) -> bool:
        return self.start_q is not None and now_s - self.t0 >= self.duration

    def command(self, now_s: float) -> JointCommand:
        return JointCommand(names=self.joint_names, position=self.target(now_s), stamp_s=now_s)


def stand_controller(joint_names, goal, lower, upper, max_speed_rad_s: float = 0.5):
    """A lockstep controller (forma_sim.lockstep) that ramps from the measured pose to `goal` and
    holds it: the joint-PD stand, as the stand node runs it over DDS."""
    ramp = PostureRamp(joint_names, goal, max_speed_rad_s, lower=lower, upper=upper)

    def control(sim) -> JointCommand:
        if not ramp.started:
            ramp.start(sim.joint_positions(), sim.time)
        return ramp.command(sim.time)

    return control

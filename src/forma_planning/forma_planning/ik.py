"""Inverse kinematics of one planning group for pose goals: damped least squares on the group's
joints (the rest of the robot locked, as the collision checker holds it), within the joint limits,
restarted from random configurations until a collision-free solution is found or time runs out."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pinocchio as pin

from forma_planning.collision import GroupCollisionChecker

DAMPING = 1e-3  # of the least-squares step (keeps it finite near singularities)
ITERATIONS = 100  # per attempt
STEP = 0.8  # fraction of the Gauss-Newton step taken per iteration


@dataclasses.dataclass(frozen=True)
class IkResult:
    q_rad: np.ndarray | None  # a collision-free solution within the tolerances, or None
    position_error_m: float  # of the configuration closest in position seen (collision-free or not)
    orientation_error_rad: float
    attempts: int
    reached_but_colliding: int  # attempts that reached the pose in collision
    colliding_q_rad: np.ndarray | None = None  # the last of those (for saying what it touched)


def solve(
    checker: GroupCollisionChecker,
    tip_frame: str,
    target_in_base: pin.SE3,
    lower_rad: np.ndarray,
    upper_rad: np.ndarray,
    q_seed_rad: np.ndarray,
    rng: np.random.Generator,
    deadline_s: float,
    position_tolerance_m: float,
    orientation_tolerance_rad: float,
    min_attempts: int = 1,
) -> IkResult:
    """First attempt from `q_seed_rad` (the start: the nearest solution is usually wanted), then from
    uniform random configurations, until `deadline_s` (time.perf_counter()) and at least
    `min_attempts` times (a loaded machine must not leave one seed to chance)."""
    model, data = checker.model, checker.model.createData()
    frame = model.getFrameId(tip_frame)
    best = (np.inf, np.inf)
    attempts = colliding = 0
    colliding_q = None
    q = np.array(q_seed_rad, dtype=float)
    while time.perf_counter() < deadline_s or attempts < max(1, min_attempts):
        attempts += 1
        for _ in range(ITERATIONS):
            q_model = checker.model_q(q)
            pin.framesForwardKinematics(model, data, q_model)
            tip = data.oMf[frame]
            error = pin.log6(tip.actInv(target_in_base)).vector  # the step's error, in the tip frame
            position_m = float(np.linalg.norm(target_in_base.translation - tip.translation))
            angle_rad = float(np.linalg.norm(pin.log3(tip.rotation.T @ target_in_base.rotation)))
            best = min(best, (position_m, angle_rad))
            if position_m < position_tolerance_m and angle_rad < orientation_tolerance_rad:
                break
            jacobian = pin.computeFrameJacobian(model, data, q_model, frame, pin.LOCAL)
            if checker.permutation is not None:
                jacobian = jacobian[:, checker.permutation]
            jjt = jacobian @ jacobian.T + DAMPING * np.eye(6)
            q = np.clip(q + STEP * jacobian.T @ np.linalg.solve(jjt, error), lower_rad, upper_rad)
        if position_m < position_tolerance_m and angle_rad < orientation_tolerance_rad:
            if checker.is_free(q):
                return IkResult(q, position_m, angle_rad, attempts, colliding)
            colliding += 1
            colliding_q = q.copy()
        q = rng.uniform(lower_rad, upper_rad)
    return IkResult(None, best[0], best[1], attempts, colliding, colliding_q)

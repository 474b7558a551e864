"""Is the straight reach clear? Whole-body control's reach (wbc/reach) moves the palm along the
straight line to its target (its hand task pulls the palm toward the target at a capped speed, the
orientation turning alongside), so this follows the same line: the palm's pose interpolated from
where it is to the target every `STEP_M` (position) / `STEP_RAD` (orientation), each pose solved by
inverse kinematics of the arm seeded with the previous solution (what differential IK does), each
solution and the joint-space motion between two of them checked by the planner's own collision
checker against the scene's obstacles (padded by its OBSTACLE_PADDING_M, the step the motion is
checked at). Contacts of the arm with the robot's own body are not counted: the WBC keeps the arms
off the body itself (self-collision constraints, forma_control.wbc.collision), and an arm-only IK
along the line grazes the torso where the WBC's whole-body motion does not.

Clear only when every step is solved (but for a last step of at most LAST_STEP_M), clear of the
obstacles, and no step jumps (an IK branch change, which the WBC would not make): then the goal can
go to wbc/reach unchanged. Anything else sends it to the
planner. The arm alone moves here; the WBC also moves the spine a little and balance moves the
pelvis, which the scene's margin covers (forma_planning.perceived).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping

import numpy as np
import pinocchio as pin

from forma_planning import ik
from forma_planning.arm_planner import (
    CHECK_STEP_RAD,
    OBSTACLE_PADDING_M,
    ORIENTATION_TOLERANCE_RAD,
    POSITION_TOLERANCE_M,
    ArmPlanner,
)
from forma_planning.scene import Scene

STEP_M = 0.01  # [m] palm position step along the line (within the obstacles' padding)
STEP_RAD = 0.05  # [rad] palm orientation step
MAX_JUMP_RAD = 0.3  # [rad] a joint changing more than this between two steps: a branch change, not a line
# [m] a line whose last step alone is not solved by the arm's IK, at most this long, is clear: the
# sim pick's 6 cm move down beside the cup stopped at its last step in every run (the arm at a joint
# limit), was planned, and once no IK solution of the goal was free of the grown obstacles (the pick failed)
LAST_STEP_M = 0.015


@dataclasses.dataclass(frozen=True)
class StraightCheck:
    clear: bool
    reason: str  # why not ("" when clear), naming what the arm touches or where it stops
    steps: int  # poses solved along the line
    check_time_s: float  # [s] wall
    touches: bool = False  # not clear because the arm touches an obstacle (not: out of reach, a jump)


def straight_reach(
    planner: ArmPlanner,
    group: str,
    start_rad: Mapping[str, float],
    target_in_base: pin.SE3,
    scene: Scene,
) -> StraightCheck:
    """Check the straight-line reach of the tip of `group` (an arm: its palm) from where the robot
    is (`start_rad`: every joint [rad]) to `target_in_base`, against `scene` (base_link)."""
    t_begin = time.perf_counter()
    tip = planner.tip_link(group)
    joints = planner.group_joints(group)
    limits = planner.limits(joints)
    checker = planner.checker(group, start_rad, scene, OBSTACLE_PADDING_M)
    q = np.array([float(start_rad[j]) for j in joints])
    frame = checker.model.getFrameId(tip)
    pin.framesForwardKinematics(checker.model, checker.data, checker.model_q(q))
    palm = checker.data.oMf[frame].copy()
    offset = pin.log6(palm.actInv(target_in_base)).vector  # palm -> target, in the palm frame
    distance_m = float(np.linalg.norm(target_in_base.translation - palm.translation))
    angle_rad = float(np.linalg.norm(offset[3:]))
    steps = max(1, math.ceil(distance_m / STEP_M), math.ceil(angle_rad / STEP_RAD))
    rng = np.random.default_rng(0)  # (unused: one attempt per step, from the previous solution)

    def done(clear: bool, reason: str, k: int, touches: bool = False) -> StraightCheck:
        return StraightCheck(clear, reason, k, time.perf_counter() - t_begin, touches)

    def touched(q_rad: np.ndarray) -> list[str]:
        """The obstacles the arm touches (or comes within the padding of) at q_rad; contacts of the
        arm with the robot's own body are left to the WBC, which keeps them apart itself
        (forma_control.wbc.collision)."""
        return [f"{a}-{b}" for a, b in checker.touching_obstacles(q_rad)]

    hit = touched(q)
    if hit:
        return done(False, f"the arm starts within {OBSTACLE_PADDING_M * 100:.0f} cm of {', '.join(hit)}", 0, True)
    for k in range(1, steps + 1):
        # the palm's pose k/steps of the way: position on the straight line, orientation slerped
        s = k / steps
        rotation = palm.rotation @ pin.exp3(s * pin.log3(palm.rotation.T @ target_in_base.rotation))
        pose = pin.SE3(rotation, palm.translation + s * (target_in_base.translation - palm.translation))
        found = ik.solve(
            checker, tip, pose, limits.lower_rad, limits.upper_rad, q, rng, 0.0,
            POSITION_TOLERANCE_M, ORIENTATION_TOLERANCE_RAD,
        )  # fmt: skip
        where = f"{s * distance_m * 100:.0f} cm along the {distance_m * 100:.0f} cm line"
        q_next = found.q_rad if found.q_rad is not None else found.colliding_q_rad
        if q_next is None and k == steps and (1.0 - (k - 1) / steps) * distance_m <= LAST_STEP_M:
            # only the target itself is not solved (a joint limit, the arm's reach without the spine),
            # the line is clear up to the step before it: the WBC closes the last centimetre itself
            return done(True, "", k - 1)
        if q_next is None:
            return done(False, f"the arm cannot follow the line {where} (out of reach or at a joint limit)", k - 1)
        jump = np.abs(q_next - q)
        if float(jump.max()) > MAX_JUMP_RAD:
            joint = joints[int(np.argmax(jump))]
            return done(False, f"{joint} would jump {float(jump.max()):.2f} rad {where}", k - 1)
        # the solution and the joint-space motion to it, every CHECK_STEP_RAD
        substeps = max(1, math.ceil(float(np.linalg.norm(q_next - q)) / CHECK_STEP_RAD))
        for i in range(1, substeps + 1):
            hit = touched(q + (q_next - q) * (i / substeps))
            if hit:
                return done(False, f"the arm would touch {', '.join(hit)} {where}", k - 1, True)
        q = q_next
    return done(True, "", steps)

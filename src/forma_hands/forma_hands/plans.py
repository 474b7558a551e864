"""How a hand approaches each object class, as measured on the hand rig (forma_hands.lockstep) and
used on the full robot (the tasks' grasp planner): grasp type, where the object sits relative to
the palm, the force, the object's symmetry, the open hand's approach. Pure data (no simulator)."""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class GraspPlan:
    """How the hand approaches one object: grasp type, object centre relative to the stand (the
    wrist) at grasp height [m, world axes with the stand at zero yaw; the right hand's, mirrored
    for the left], goal force [N]."""

    grasp_type: str
    object_from_stand_m: tuple[float, float, float]
    max_force_n: float
    yaw_symmetry_rad: float  # the object looks the same after this rotation (0 = round)
    orientation: str = "palm_down"  # how the stand holds the hand (forma_sim HAND_ORIENTATIONS)
    # where the open hand starts, relative to its grasp pose [m, stand axes]: it moves in from there
    approach_from_m: tuple[float, float, float] = (0.0, 0.0, 0.06)


# Palm vertical, thumb up, the hand coming in along its fingers (from the wrist's side the object
# would hit the thumb) until the object sits in front of the palm at the knuckles; the power wrap then
# presses it with the thumb toward the curling fingers. Measured on dev seeds (5000+): see trials_hands.
SIDE_APPROACH_M = (0.0, 0.10, 0.0)
PLANS = {
    "ball": GraspPlan("power", (0.052, -0.085, -0.01), 20.0, 0.0, "palm_side", SIDE_APPROACH_M),
    "box": GraspPlan("power", (0.05, -0.085, -0.005), 20.0, math.pi / 2, "palm_side", SIDE_APPROACH_M),
    "cup": GraspPlan("power", (0.058, -0.085, -0.005), 20.0, 0.0, "palm_side", SIDE_APPROACH_M),
}
# The spherical cage from above (palm down): holds the ball, but from above the fingers cannot reach
# under a box's or a cup's equator. The DDS test (tests/integration/test_hands_dds.py) grasps with it.
TOP_DOWN_BALL = GraspPlan("spherical", (0.115, 0.01, -0.07), 15.0, 0.0)


def hand_yaw(plan: GraspPlan, object_yaw_rad: float) -> float:
    """The hand's turn about the vertical that matches the object's yaw, modulo the object's symmetry
    (0 for a round object) [rad]."""
    period = plan.yaw_symmetry_rad
    return (object_yaw_rad + period / 2) % period - period / 2 if period else 0.0

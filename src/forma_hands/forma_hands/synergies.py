"""Low-dimensional hand command -> 22 joint targets (hands/{left,right}/command, for policies and
teleop).

Three synergies, each 0..1 (forma_interfaces/HandCommand):
  closure            0 = fingers open and straight, 1 = a closed fist (mcp, pip, dip, thumb mcp/ip,
                     palm arch together, in the ratio of a human grasp).
  spread             0 = fingers together, 1 = fanned out.
  thumb_opposition   0 = thumb beside the index, 1 = thumb in front of the palm, pronated so its pad
                     faces the index and middle pads.

Finger–finger collision is avoided in the command space by two rules (tests/unit/forma_hands/test_hands.py checks
them with forward kinematics: adjacent phalanges never come closer than their radii allow):
  1. The fan is monotone: spread angles grow away from the middle finger (middle 0, index and ring
     a little, little the most), so two adjacent fingers never turn toward each other.
  2. Spread is taken back as the fingers close: spread_applied = spread * (1 - closure). A flexed
     finger swept sideways would cross its neighbour; a closed fist has no spread at all.
  3. The palm arch cups the ring and little fingers about an axis along the fingers, which tilts
     their flexion planes toward the middle finger: flexed, a 0.1 rad arch crosses the middle and
     ring fingers by 1.6 mm (measured), so the synergy arches at most 0.05 rad (0.7 mm clear).
The thumb curls less the more it is opposed (it would otherwise press through the index):
thumb flexion = closure * (1 - 0.4 * opposition) of its full range below.
"""

from __future__ import annotations

import dataclasses
import math

from forma_hands.errors import HandsError
from forma_hands.hand_joints import LOCAL_JOINTS, LONG_FINGERS, HandJoints

# Spread weight per finger, times the mcp_abd upper limit (rule 1: monotone away from the middle).
SPREAD_FAN = {"index": 0.8, "middle": 0.0, "ring": 0.5, "little": 1.0}
# Finger flexion at closure 1 [rad] (within finger_mcp/pip/dip limits 1.6/1.9/1.4).
FLEX_AT_CLOSURE = {"mcp": 1.40, "pip": 1.50, "dip": 1.00}
PALM_ARCH_AT_CLOSURE = 0.05  # [rad] (rule 3)
# Thumb carpometacarpal pose beside the index (opposition 0) and opposed (opposition 1) [rad].
THUMB_BESIDE = {"thumb_cmc_abd": 0.05, "thumb_cmc_flex": 0.0, "thumb_cmc_rot": 0.0}
THUMB_OPPOSED = {"thumb_cmc_abd": 0.60, "thumb_cmc_flex": 0.20, "thumb_cmc_rot": 0.45}
THUMB_FLEX_AT_CLOSURE = {"thumb_mcp": 0.80, "thumb_ip": 0.80}


@dataclasses.dataclass(frozen=True)
class Synergy:
    """One hand's synergy values, each in 0..1 (refused otherwise, naming the field)."""

    closure: float = 0.0
    spread: float = 0.0
    thumb_opposition: float = 0.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not (isinstance(value, int | float) and math.isfinite(value) and 0.0 <= value <= 1.0):
                raise HandsError(f"synergy {field.name} = {value}: must be a finite number in 0..1")


def applied_spread(spread: float, closure: float) -> float:
    """Rule 2: the spread left at a given closure (0 at a closed fist)."""
    return spread * (1.0 - closure)


def synergy_targets(synergy: Synergy, hand: HandJoints) -> dict[str, float]:
    """The 22 joint targets [rad] by local name; always within the hand's limits."""
    c, o = synergy.closure, synergy.thumb_opposition
    s = applied_spread(synergy.spread, c)
    q: dict[str, float] = {}
    for j in THUMB_BESIDE:
        q[j] = THUMB_BESIDE[j] + o * (THUMB_OPPOSED[j] - THUMB_BESIDE[j])
    for j, full in THUMB_FLEX_AT_CLOSURE.items():
        q[j] = c * (1.0 - 0.4 * o) * full
    for f in LONG_FINGERS:
        q[f"{f}_mcp_abd"] = s * SPREAD_FAN[f] * hand.upper[f"{f}_mcp_abd"]
        for joint, full in FLEX_AT_CLOSURE.items():
            q[f"{f}_{joint}"] = c * full
    q["palm_arch"] = c * PALM_ARCH_AT_CLOSURE
    q = {j: q[j] for j in LOCAL_JOINTS}
    hand.check(q, "synergy targets")
    return q

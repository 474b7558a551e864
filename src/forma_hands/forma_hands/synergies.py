"""Low-dimensional hand command -> 22 joint targets (hands/{left,right}/command, for policies and
teleop).

Three synergies, each 0..1 (forma_interfaces/HandCommand):
  closure            0 = fingers open and straight, 1 = closed (mcp, pip, dip, thumb mcp/ip, palm
                     arch together, in the ratio of a human grasp).
  spread             0 = fingers together, 1 = fanned out.
  thumb_opposition   0 = thumb beside the index: closing makes a fist;
                     1 = thumb swung out in front of the palm: closing makes the power wrap of the
                     grasp taxonomy (forma_hands.taxonomy "power": the fingers curl at pip and dip
                     more than at mcp, the thumb presses in toward them). In between, a blend.

The opposed path is the power grasp's own (its pre-shape at closure 0, its closed shape at 1), so
a policy commanding synergies grasps a cup as the grasp controller does; a fist's path could not
hold one (measured: the task expert's palm path replayed with a synergy fist dropped the cup).

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
thumb flexion = closure * (1 - opposition) of its full range below.
"""

from __future__ import annotations

import dataclasses
import math

from forma_hands.errors import HandsError
from forma_hands.hand_joints import LOCAL_JOINTS, LONG_FINGERS, HandJoints

# Spread weight per finger, times the mcp_abd upper limit (rule 1: monotone away from the middle).
SPREAD_FAN = {"index": 0.8, "middle": 0.0, "ring": 0.5, "little": 1.0}
# Finger flexion at closure 1 [rad] (within finger_mcp/pip/dip limits 1.6/1.9/1.4): a fist with the
# thumb beside, the power wrap with it opposed.
FLEX_AT_CLOSURE = {"mcp": 1.40, "pip": 1.50, "dip": 1.00}
WRAP_AT_CLOSURE = {"mcp": 0.70, "pip": 1.70, "dip": 1.30}
PALM_ARCH_AT_CLOSURE = 0.05  # [rad] (rule 3)
# Thumb carpometacarpal pose beside the index (opposition 0), and opposed (opposition 1) open and
# closed: the power wrap's thumb, swung out (abduction 1.3) and closing in to 0.9 [rad].
THUMB_BESIDE = {"thumb_cmc_abd": 0.05, "thumb_cmc_flex": 0.0, "thumb_cmc_rot": 0.0}
THUMB_OPPOSED_OPEN = {"thumb_cmc_abd": 1.30, "thumb_cmc_flex": 0.60, "thumb_cmc_rot": 0.30}
THUMB_OPPOSED_CLOSED = {"thumb_cmc_abd": 0.90, "thumb_cmc_flex": 0.60, "thumb_cmc_rot": 0.30}
THUMB_FLEX_AT_CLOSURE = {"thumb_mcp": 0.80, "thumb_ip": 0.80}  # beside; opposed, the thumb stays straight


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


def flex_at_closure(opposition: float) -> dict[str, float]:
    """Each long finger's mcp, pip, dip at closure 1 for a thumb opposition: fist to wrap."""
    return {j: FLEX_AT_CLOSURE[j] + opposition * (WRAP_AT_CLOSURE[j] - FLEX_AT_CLOSURE[j]) for j in FLEX_AT_CLOSURE}


def synergy_targets(synergy: Synergy, hand: HandJoints) -> dict[str, float]:
    """The 22 joint targets [rad] by local name; always within the hand's limits."""
    c, o = synergy.closure, synergy.thumb_opposition
    s = applied_spread(synergy.spread, c)
    q: dict[str, float] = {}
    for j in THUMB_BESIDE:
        opposed = THUMB_OPPOSED_OPEN[j] + c * (THUMB_OPPOSED_CLOSED[j] - THUMB_OPPOSED_OPEN[j])
        q[j] = THUMB_BESIDE[j] + o * (opposed - THUMB_BESIDE[j])
    for j, full in THUMB_FLEX_AT_CLOSURE.items():
        q[j] = c * (1.0 - o) * full
    for f in LONG_FINGERS:
        q[f"{f}_mcp_abd"] = s * SPREAD_FAN[f] * hand.upper[f"{f}_mcp_abd"]
        for joint, full in flex_at_closure(o).items():
            q[f"{f}_{joint}"] = c * full
    q["palm_arch"] = c * (1.0 - o) * PALM_ARCH_AT_CLOSURE  # the fist's; the power wrap keeps the palm flat
    q = {j: q[j] for j in LOCAL_JOINTS}
    hand.check(q, "synergy targets")
    return q

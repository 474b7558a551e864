"""The grasp taxonomy: each grasp type is a pre-shape (22 joint targets the hand takes before it
touches anything) and a closing strategy (the target each finger closes toward, which fingers
close, how fast, and which fingertips must be in contact for the grasp to count as holding).

Values are [rad] by local joint name; they start from a synergy (forma_hands.synergies) and change
a few joints. Pinch and tripod were found with forward kinematics of the description: the thumb
tip meets the index (and middle) tip in front of the palm, pad toward pad (tests/unit/forma_hands/test_hands.py
checks it). `closed` is deliberately past where an object stops the fingers: closing ends on
contact force, not on reaching it; reaching it without contact means the hand is empty.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from forma_hands.errors import HandsError
from forma_hands.hand_joints import FINGERS, LOCAL_JOINTS, HandJoints
from forma_hands.synergies import Synergy, synergy_targets


@dataclasses.dataclass(frozen=True)
class GraspType:
    name: str
    description: str
    preshape: Mapping[str, float]  # all 22 joints [rad]
    closed: Mapping[str, float]  # all 22 joints [rad]: where closing fingers head
    closing_fingers: tuple[str, ...]  # fingers that close (the others keep the pre-shape)
    required_contacts: tuple[str, ...]  # fingertips that must touch for "holding"
    close_speed_per_s: float  # closure fraction per second (0..1 per finger)
    min_contacts: int = 1  # fingertips (required or not) that must touch for "holding"
    # While holding: fewer fingers than this in contact (for loss_debounce_s) = the object is gone.
    # Loads shift between fingers as the object is lifted (the thumb of a cage may unload), so
    # holding needs fewer contacts than establishing the grasp.
    hold_min_contacts: int = 1
    # Joints the pre-shape first moves elsewhere, so that the hand shapes around an object without
    # sweeping through it (e.g. the thumb swung out sideways before it abducts down).
    preshape_via: Mapping[str, float] = dataclasses.field(default_factory=dict)

    @property
    def closes(self) -> bool:
        return bool(self.closing_fingers)


def _shape(hand: HandJoints, synergy: Synergy, **overrides: float) -> dict[str, float]:
    q = synergy_targets(synergy, hand)
    for j, v in overrides.items():
        if j not in q:
            raise HandsError(f"unknown hand joint {j!r}")
        q[j] = v
    return hand.clip(q)


def _fingers(names: str, **per_joint: float) -> dict[str, float]:
    """Same flexion for several long fingers: _fingers('ring little', mcp=1.2, pip=1.4)."""
    return {f"{f}_{j}": v for f in names.split() for j, v in per_joint.items()}


def grasp_types(hand: HandJoints) -> dict[str, GraspType]:
    """Every grasp type for one hand (limits from its description)."""
    tucked = _fingers("ring little", mcp=1.2, pip=1.4, dip=0.9)  # out of the way of a precision grasp
    middle_tucked = _fingers("middle", mcp=1.2, pip=1.4, dip=0.9)
    # the power wrap's thumb: tilted toward the little finger so that, palm vertical and thumb up, it
    # meets a 6-8 cm object on a table below its rim (measured on the hand rig: 0.3 rad passes over a ball)
    power_thumb = {"thumb_cmc_flex": 0.6, "thumb_cmc_rot": 0.3}
    thumb_pinch = {"thumb_cmc_abd": 0.53, "thumb_cmc_flex": 0.10, "thumb_cmc_rot": 0.27}
    thumb_tripod = {"thumb_cmc_abd": 0.56, "thumb_cmc_flex": 0.19, "thumb_cmc_rot": 0.43}
    open_hand, relaxed = _shape(hand, Synergy(0.0, 0.5, 0.0)), _shape(hand, Synergy(0.2, 0.2, 0.3))
    pointing = _shape(
        hand,
        Synergy(0.0, 0.0, 0.0),
        **_fingers("middle ring little", mcp=1.2, pip=1.4, dip=0.9),
        thumb_cmc_abd=0.6,
        thumb_cmc_flex=0.5,
        thumb_mcp=0.5,
        thumb_ip=0.4,
    )
    types = [
        GraspType(
            "power",
            "cylindrical wrap from the side (cup, bottle, box, ball on a table): the thumb, swung out in front of"
            " the palm and angled down, presses the object toward the fingers as they curl around its other side",
            _shape(hand, Synergy(0.0, 0.0, 0.0), **power_thumb, thumb_cmc_abd=1.3),
            _shape(
                hand,
                Synergy(0.0, 0.0, 0.0),
                **power_thumb,
                thumb_cmc_abd=0.9,
                **_fingers("index middle ring little", mcp=0.7, pip=1.7, dip=1.3),
            ),
            FINGERS,
            ("thumb", "middle"),
            0.6,
            3,
            2,
        ),
        GraspType(
            "spherical",
            "ball, apple, small box from above: the thumb, abducted 1.15 rad in front of the palm, swings toward"
            " the fingers as they curl over the far side (a cage)",
            _shape(hand, Synergy(0.1, 0.3, 0.0), thumb_cmc_abd=1.15, thumb_cmc_flex=0.4),
            _shape(hand, Synergy(1.0, 0.3, 0.0), thumb_cmc_abd=0.7, thumb_cmc_flex=0.4, thumb_mcp=0.2, thumb_ip=0.2),
            FINGERS,
            ("thumb", "middle"),
            0.8,
            3,
            2,
            {"thumb_cmc_flex": -0.4},
        ),
        GraspType(
            "pinch",
            "tip pinch between the thumb and index pads (small objects)",
            _shape(
                hand,
                Synergy(0.0, 0.0, 0.0),
                thumb_ip=-0.2,
                **thumb_pinch,
                **tucked,
                **middle_tucked,
                index_mcp=0.25,
                index_pip=0.5,
                index_dip=0.4,
            ),
            _shape(
                hand,
                Synergy(0.0, 0.0, 0.0),
                thumb_mcp=0.05,
                thumb_ip=0.0,
                **thumb_pinch,
                **tucked,
                **middle_tucked,
                index_mcp=0.45,
                index_pip=1.35,
                index_dip=1.1,
            ),
            ("thumb", "index"),
            ("thumb", "index"),
            0.6,
        ),
        GraspType(
            "tripod",
            "thumb, index and middle pads meet (pen, small box)",
            _shape(
                hand,
                Synergy(0.0, 0.0, 0.0),
                thumb_ip=-0.2,
                **thumb_tripod,
                **tucked,
                index_mcp=0.3,
                middle_mcp=0.25,
                **_fingers("index middle", pip=0.6, dip=0.45),
            ),
            _shape(
                hand,
                Synergy(0.0, 0.0, 0.0),
                thumb_mcp=0.05,
                thumb_ip=0.0,
                **thumb_tripod,
                **tucked,
                index_mcp=0.5,
                middle_mcp=0.45,
                **_fingers("index middle", pip=1.4, dip=1.05),
            ),
            ("thumb", "index", "middle"),
            ("thumb", "index", "middle"),
            0.6,
        ),
        GraspType(
            "lateral",
            "key grip: the thumb pad presses the object against the side of the curled index",
            _shape(hand, Synergy(0.75, 0.0, 0.0), thumb_cmc_abd=0.05, thumb_cmc_flex=-0.3),
            _shape(hand, Synergy(0.75, 0.0, 0.0), thumb_cmc_abd=0.05, thumb_cmc_flex=0.5, thumb_mcp=0.9, thumb_ip=0.9),
            ("thumb",),
            ("thumb",),
            0.5,
        ),
        GraspType(
            "hook",
            "bag handle: fingers curl at pip and dip, thumb stays out of the way",
            _shape(hand, Synergy(0.1, 0.0, 0.0)),
            _shape(hand, Synergy(0.0, 0.0, 0.0), **_fingers("index middle ring little", mcp=0.4, pip=1.8, dip=1.3)),
            ("index", "middle", "ring", "little"),
            ("index", "middle"),
            0.8,
        ),
        GraspType(
            "open", "fingers straight and apart, thumb beside: ready to grasp", open_hand, open_hand, (), (), 1.0
        ),
        GraspType("relax", "the resting hand: slightly curled, thumb half opposed", relaxed, relaxed, (), (), 1.0),
        GraspType("point", "index straight, the other fingers curled, thumb over them: pointing", pointing, pointing,
                  (), (), 1.0),
    ]
    out = {t.name: t for t in types}
    for t in types:
        hand.check(t.preshape, f"{t.name} pre-shape")
        hand.check(t.closed, f"{t.name} closed shape")
        assert set(t.preshape) == set(LOCAL_JOINTS)
    return out


GRASP_TYPE_NAMES = ("power", "spherical", "pinch", "tripod", "lateral", "hook", "open", "relax", "point")

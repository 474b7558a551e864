"""Facial expressions as numbers: named expressions and valence/arousal (ROS4HRI's meaning) mapped
onto the parameters the renderer draws."""

from __future__ import annotations

import dataclasses
import math

from forma_face.errors import FaceError


@dataclasses.dataclass(frozen=True)
class FaceParams:
    """What the face shows. Units are fractions of the face's natural size; 0 = neutral offsets."""

    eye_open: float = 1.0  # 0 closed .. 1 normal .. 1.3 wide
    squint: float = 0.0  # lower lid raised, 0..1
    pupil_size: float = 1.0  # 0.6 .. 1.4
    gaze_x: float = 0.0  # -1 (robot's right) .. 1 (robot's left), screen horizontal
    gaze_y: float = 0.0  # -1 down .. 1 up
    brow_height: float = 0.0  # -1 low .. 1 high
    brow_angle: float = 0.0  # -1 inner ends down (angry) .. 1 inner ends up (sad, afraid)
    brow_asym: float = 0.0  # one brow raised (thinking, confused), -1..1
    mouth_width: float = 0.5  # 0..1
    mouth_open: float = 0.05  # 0..1
    mouth_curve: float = 0.0  # -1 frown .. 1 smile
    mouth_round: float = 0.0  # 0..1 lips pushed out
    mouth_skew: float = 0.0  # -1..1 one corner higher
    blush: float = 0.0  # 0..1

    def lerp(self, other: FaceParams, s: float) -> FaceParams:
        return FaceParams(
            *(a + s * (b - a) for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other), strict=True))
        )

    def replace(self, **changes) -> FaceParams:
        return dataclasses.replace(self, **changes)


NEUTRAL = FaceParams()
EXPRESSIONS: dict[str, FaceParams] = {
    "neutral": NEUTRAL,
    "happy": FaceParams(
        eye_open=0.9,
        squint=0.35,
        pupil_size=1.1,
        brow_height=0.3,
        mouth_width=0.75,
        mouth_open=0.25,
        mouth_curve=0.9,
        blush=0.6,
    ),
    "sad": FaceParams(
        eye_open=0.75,
        pupil_size=0.95,
        gaze_y=-0.35,
        brow_height=0.1,
        brow_angle=0.9,
        mouth_width=0.4,
        mouth_open=0.05,
        mouth_curve=-0.8,
    ),
    "surprised": FaceParams(
        eye_open=1.3, pupil_size=0.7, brow_height=1.0, brow_angle=0.2, mouth_width=0.35, mouth_open=0.8, mouth_round=0.8
    ),
    "angry": FaceParams(
        eye_open=0.8,
        squint=0.5,
        pupil_size=0.8,
        brow_height=-0.7,
        brow_angle=-1.0,
        mouth_width=0.55,
        mouth_open=0.12,
        mouth_curve=-0.6,
    ),
    "afraid": FaceParams(
        eye_open=1.25,
        pupil_size=0.65,
        brow_height=0.7,
        brow_angle=0.9,
        mouth_width=0.6,
        mouth_open=0.35,
        mouth_curve=-0.35,
    ),
    "disgusted": FaceParams(
        eye_open=0.7,
        squint=0.6,
        brow_height=-0.4,
        brow_angle=-0.4,
        brow_asym=0.4,
        mouth_width=0.5,
        mouth_open=0.1,
        mouth_curve=-0.5,
        mouth_skew=0.7,
    ),
    "thinking": FaceParams(
        eye_open=0.95,
        gaze_x=0.6,
        gaze_y=0.55,
        brow_asym=0.8,
        brow_height=0.2,
        mouth_width=0.35,
        mouth_open=0.03,
        mouth_skew=-0.5,
    ),
    "listening": FaceParams(
        eye_open=1.1,
        pupil_size=1.15,
        brow_height=0.35,
        brow_angle=0.2,
        mouth_width=0.45,
        mouth_open=0.05,
        mouth_curve=0.25,
    ),
    "speaking": FaceParams(eye_open=1.0, brow_height=0.15, mouth_width=0.55, mouth_open=0.35, mouth_curve=0.2),
    "sleepy": FaceParams(
        eye_open=0.25, pupil_size=0.9, gaze_y=-0.3, brow_height=-0.2, mouth_width=0.4, mouth_open=0.1, mouth_round=0.3
    ),
    "confused": FaceParams(
        eye_open=1.0,
        brow_asym=-0.9,
        brow_angle=0.4,
        gaze_x=-0.3,
        mouth_width=0.45,
        mouth_open=0.08,
        mouth_curve=-0.2,
        mouth_skew=0.8,
    ),
}


def clamp(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def expression_params(name: str, valence: float = 0.0, arousal: float = 0.0, confidence: float = 1.0) -> FaceParams:
    """The face for a named expression (or "" for valence/arousal alone).

    valence (unpleasant -1 .. +1 pleasant) and arousal (calm -1 .. +1 excited) add their own shape
    on top of the name; confidence 0..1 sets the intensity (0 means unspecified: full).
    """
    for label, value in (("valence", valence), ("arousal", arousal), ("confidence", confidence)):
        if not math.isfinite(value):
            raise FaceError(f"{label} is {value}; it must be a finite number")
    if not (-1.0 <= valence <= 1.0 and -1.0 <= arousal <= 1.0):
        raise FaceError(f"valence {valence} / arousal {arousal} outside -1..1")
    if not 0.0 <= confidence <= 1.0:
        raise FaceError(f"confidence {confidence} outside 0..1")
    key = name.strip().lower()
    if key and key not in EXPRESSIONS:
        raise FaceError(f"unknown expression {name!r}; known: {', '.join(EXPRESSIONS)}")
    base = EXPRESSIONS[key] if key else NEUTRAL
    weight = 0.35 if key else 1.0  # a name dominates; valence/arousal alone shape the whole face
    v, a = valence * weight, arousal * weight
    shaped = base.replace(
        mouth_curve=clamp(base.mouth_curve + 0.9 * v, -1, 1),
        brow_angle=clamp(base.brow_angle - 0.5 * v + (0.3 * a if v < 0 else 0.0), -1, 1),
        blush=clamp(base.blush + 0.4 * max(v, 0.0), 0, 1),
        eye_open=clamp(base.eye_open + 0.3 * a, 0.1, 1.35),
        pupil_size=clamp(base.pupil_size - 0.25 * a, 0.6, 1.4),
        brow_height=clamp(base.brow_height + 0.5 * a, -1, 1),
        mouth_open=clamp(base.mouth_open + 0.2 * max(a, 0.0), 0, 1),
        squint=clamp(base.squint + 0.3 * max(-a, 0.0), 0, 1),
    )
    intensity = confidence if confidence > 0 else 1.0
    return NEUTRAL.lerp(shaped, intensity)

"""The policy's action: what a policy should drive (DESIGN §4, "VLA action space"), one vector of
33 numbers per step, which fits the ~32-dim action heads of public VLAs. Whole-body control keeps
balance and turns it into joint commands.

| slice | names | meaning |
|---|---|---|
| 0:9 | left_palm_{x,y,z}_m, left_palm_r{0..5} | the left palm frame (`left_hand`: at the palm's face,
|     |                                         | x along the fingers, z out of the palm; the frame
|     |                                         | wbc/targets/left_hand moves) in `torso`: position [m],
|     |                                         | rotation as its matrix's first two columns ("6D" form) |
| 9:18 | right_palm_... | the same for the right palm |
| 18:21 | left_hand_{closure,spread,thumb_opposition} | forma_hands synergies, each 0..1 |
| 21:24 | right_hand_... | the same for the right hand |
| 24:27 | gaze_{x,y,z}_m | the point the head camera looks at, in `torso` [m] |
| 27:30 | torso_height_m, torso_roll_rad, torso_pitch_rad | the torso frame's height change from standing
|       |                                                 | [m], its roll and pitch from level [rad] |
| 30:33 | base_vx_m_s, base_vy_m_s, base_wz_rad_s | base velocity in `base_link`; held at 0 until the robot walks |

The rotation columns are blended and learned as plain numbers; `palm_rotation` turns them back
into a rotation matrix (Gram-Schmidt), so any 6 numbers that are not parallel give a rotation.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from forma_vla.errors import ActionError

SIDES = ("left", "right")
SYNERGIES = ("closure", "spread", "thumb_opposition")


def _names() -> tuple[str, ...]:
    names: list[str] = []
    for side in SIDES:
        names += [f"{side}_palm_{a}_m" for a in "xyz"] + [f"{side}_palm_r{k}" for k in range(6)]
    for side in SIDES:
        names += [f"{side}_hand_{s}" for s in SYNERGIES]
    names += [f"gaze_{a}_m" for a in "xyz"]
    names += ["torso_height_m", "torso_roll_rad", "torso_pitch_rad"]
    names += ["base_vx_m_s", "base_vy_m_s", "base_wz_rad_s"]
    return tuple(names)


ACTION_NAMES = _names()
ACTION_DIM = len(ACTION_NAMES)
PALM = {"left": slice(0, 9), "right": slice(9, 18)}
HAND = {"left": slice(18, 21), "right": slice(21, 24)}
GAZE = slice(24, 27)
TORSO = slice(27, 30)
BASE = slice(30, 33)


EPSILON = 1e-6  # what blending two actions at a limit may add in rounding
# A learned policy answers a dimension its data held at 0 with a tiny number (the network's output
# times the floored std): a base velocity within 1 mm/s (1 mrad/s) of zero is none.
BASE_DEAD_BAND = 1e-3
# a synergy this little outside 0..1 is its end: a regression overshoots (the shipped model: -0.057)
SYNERGY_DEAD_BAND = 0.1
# a torso height or tilt this little past its limit is the limit (measured: the shipped model asked
# for +0.027 m against +0.02 after a pick, -0.151 against -0.15 when leaning); more is refused
TORSO_HEIGHT_DEAD_BAND_M = 0.02
TORSO_TILT_DEAD_BAND_RAD = 0.05


@dataclasses.dataclass(frozen=True)
class ActionLimits:
    """What an action may ask; beyond these the whole step is refused (nothing is clamped)."""

    palm_reach_m: float = 1.0  # a palm at most this far from the torso frame's origin [m]
    gaze_max_m: float = 10.0  # a gaze point at most this far [m]
    torso_height_m: tuple[float, float] = (-0.15, 0.02)  # the WBC's torso limits [m]
    torso_tilt_rad: float = 0.5  # the torso's z axis from vertical, roll and pitch together [rad]
    base_speed_m_s: float = 0.0  # no walking yet: any base velocity is refused
    base_turn_rad_s: float = 0.0


@dataclasses.dataclass(frozen=True)
class Action:
    """One step of the action vector, split into what each consumer takes."""

    palm_position_m: dict[str, np.ndarray]  # side -> (3,) in torso
    palm_rotation: dict[str, np.ndarray]  # side -> (3, 3) in torso
    hand_synergies: dict[str, np.ndarray]  # side -> (closure, spread, thumb_opposition)
    gaze_point_m: np.ndarray  # (3,) in torso
    torso_height_m: float
    torso_roll_rad: float
    torso_pitch_rad: float
    base_velocity: np.ndarray  # (vx, vy, wz)


def palm_rotation(r6: np.ndarray) -> np.ndarray:
    """The rotation matrix whose first two columns are closest to the 6 numbers (Gram-Schmidt)."""
    a, b = np.asarray(r6[:3], float), np.asarray(r6[3:6], float)
    na = np.linalg.norm(a)
    if na < 1e-6:
        raise ActionError("palm rotation: its first column is zero")
    x = a / na
    b = b - x * (x @ b)
    nb = np.linalg.norm(b)
    if nb < 1e-6:
        raise ActionError("palm rotation: its two columns are parallel")
    y = b / nb
    return np.column_stack([x, y, np.cross(x, y)])


def rotation_r6(rotation: np.ndarray) -> np.ndarray:
    """The 6 numbers of a rotation matrix (its first two columns, column by column)."""
    r = np.asarray(rotation, float)
    return np.concatenate([r[:, 0], r[:, 1]])


def decode(vector: np.ndarray, limits: ActionLimits = ActionLimits()) -> Action:
    """One action vector -> Action; ActionError with the reason if it is not finite, has the
    wrong size or asks for what the limits refuse."""
    v = np.asarray(vector, float)
    if v.shape != (ACTION_DIM,):
        first = ", ".join(ACTION_NAMES[:3])
        raise ActionError(f"an action has {ACTION_DIM} numbers ({first}, ...); got shape {v.shape}")
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        raise ActionError(f"{ACTION_NAMES[bad[0]]} is not a finite number")
    positions, rotations, synergies = {}, {}, {}
    for side in SIDES:
        palm = v[PALM[side]]
        if np.linalg.norm(palm[:3]) > limits.palm_reach_m:
            distance = np.linalg.norm(palm[:3])
            raise ActionError(f"{side} palm {distance:.2f} m from the torso (limit {limits.palm_reach_m})")
        positions[side], rotations[side] = palm[:3].copy(), palm_rotation(palm[3:])
        s = v[HAND[side]]
        if np.any(s < -SYNERGY_DEAD_BAND) or np.any(s > 1.0 + SYNERGY_DEAD_BAND):
            raise ActionError(f"{side} hand synergies {np.round(s, 3).tolist()} outside 0..1")
        synergies[side] = np.clip(s, 0.0, 1.0)
    gaze = v[GAZE]
    if np.linalg.norm(gaze) > limits.gaze_max_m:
        raise ActionError(f"gaze point {np.linalg.norm(gaze):.1f} m away (limit {limits.gaze_max_m})")
    height, roll, pitch = (float(x) for x in v[TORSO])
    lo, hi = limits.torso_height_m
    if not lo - TORSO_HEIGHT_DEAD_BAND_M <= height <= hi + TORSO_HEIGHT_DEAD_BAND_M:
        raise ActionError(f"torso height {height:+.3f} m outside {lo:+.2f}..{hi:+.2f} m")
    if torso_tilt_rad(roll, pitch) > limits.torso_tilt_rad + TORSO_TILT_DEAD_BAND_RAD:
        raise ActionError(f"torso roll/pitch {roll:+.2f}/{pitch:+.2f} rad tilt it "
                          f"{torso_tilt_rad(roll, pitch):.2f} rad from vertical (limit {limits.torso_tilt_rad})")
    height, roll, pitch = within_limits(v, limits)[TORSO]  # within the dead bands: at the limit
    base = v[BASE]
    slack = BASE_DEAD_BAND
    if math.hypot(base[0], base[1]) > limits.base_speed_m_s + slack or abs(base[2]) > limits.base_turn_rad_s + slack:
        raise ActionError(f"base velocity {np.round(base, 3).tolist()}: the robot does not walk yet")
    if limits.base_speed_m_s == 0.0 and limits.base_turn_rad_s == 0.0:
        base = np.zeros(3)  # within the dead band: none
    return Action(positions, rotations, synergies, gaze.copy(), height, roll, pitch, base.copy())


def within_limits(vector: np.ndarray, limits: ActionLimits = ActionLimits()) -> np.ndarray:
    """The torso's height, roll and pitch clipped into the limits (for actions read from the robot,
    which may sit a little past them; a policy's actions are refused, never clipped)."""
    v = np.array(vector, float)
    lo, hi = limits.torso_height_m
    v[TORSO.start] = min(max(v[TORSO.start], lo), hi)
    roll, pitch = v[TORSO.start + 1], v[TORSO.start + 2]
    for _ in range(20):  # scaled toward level until the tilt is within the limit
        tilt = torso_tilt_rad(roll, pitch)
        if tilt <= limits.torso_tilt_rad:
            break
        roll, pitch = (x * limits.torso_tilt_rad / tilt * 0.999 for x in (roll, pitch))
    v[TORSO.start + 1], v[TORSO.start + 2] = roll, pitch
    return v


def torso_tilt_rad(roll_rad: float, pitch_rad: float) -> float:
    """The angle of the torso's z axis from vertical for a roll and a pitch (what the WBC limits)."""
    return math.acos(max(-1.0, min(1.0, math.cos(roll_rad) * math.cos(pitch_rad))))


def encode(action: Action) -> np.ndarray:
    """Action -> its vector (the inverse of decode for valid actions)."""
    v = np.zeros(ACTION_DIM)
    for side in SIDES:
        v[PALM[side]] = np.concatenate([action.palm_position_m[side], rotation_r6(action.palm_rotation[side])])
        v[HAND[side]] = action.hand_synergies[side]
    v[GAZE] = action.gaze_point_m
    v[TORSO] = (action.torso_height_m, action.torso_roll_rad, action.torso_pitch_rad)
    v[BASE] = action.base_velocity
    return v

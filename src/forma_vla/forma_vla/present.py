"""The action the robot is at now, read from its joints and IMU: where a policy's chunks start
(ChunkExecutor.start holds it until the first chunk blends in, so taking over never moves the
robot), and the label a demonstration records for the state it was in.

Each part inverts what its consumer does with the action: palm poses by forward kinematics in the
`torso` frame; hand synergies from the 22 finger joints (the inverse of forma_hands' synergy map,
exact for a hand the synergies posed); gaze as the point 1 m along the head camera's optical axis;
the torso's height change from standing and its roll and pitch from level, from the IMU's
orientation of the pelvis. The base velocity is 0 (the robot does not walk yet). A measured torso a
few millimetres past the limits an action may ask (the WBC overshoots its own targets) is brought
back within them, so the present action is always one decode accepts.
"""

from __future__ import annotations

import math

import numpy as np

from forma_description.frames import RobotFrames
from forma_hands.hand_joints import LONG_FINGERS, HandJoints
from forma_hands.synergies import SPREAD_FAN, THUMB_BESIDE, THUMB_OPPOSED_OPEN, flex_at_closure
from forma_vla.action_space import ACTION_DIM, GAZE, HAND, PALM, SIDES, TORSO, ActionLimits, rotation_r6, within_limits

GAZE_DISTANCE_M = 1.0  # the gaze point along the optical axis: any distance names the same direction
CAMERA_FRAME = "head_camera_color_optical_frame"


def synergies_from_joints(q_local: dict[str, float], hand: HandJoints) -> np.ndarray:
    """(closure, spread, thumb_opposition) of one hand from its joints by local name [rad]: the
    opposition from the thumb's carpometacarpal flexion and rotation (which closing leaves alone),
    the closure from the index finger's flexion against that opposition's closed shape (the index
    is the finger a pointing hand keeps straight while the others curl: read from all four, a
    pointing hand would come back half closed, its index curled off its target), the spread from
    the fingers' abduction."""
    opposition = float(np.mean([
        (q_local[j] - THUMB_BESIDE[j]) / (THUMB_OPPOSED_OPEN[j] - THUMB_BESIDE[j])
        for j in ("thumb_cmc_flex", "thumb_cmc_rot")
    ]))
    o = min(max(opposition, 0.0), 1.0)
    full = flex_at_closure(o)
    closure = float(np.mean([q_local[f"index_{j}"] / full[j] for j in full]))
    fanned = [f for f in LONG_FINGERS if SPREAD_FAN[f] > 0.0]
    applied = float(np.mean([q_local[f"{f}_mcp_abd"] / (SPREAD_FAN[f] * hand.upper[f"{f}_mcp_abd"]) for f in fanned]))
    c = min(max(closure, 0.0), 1.0)
    spread = applied / (1.0 - c) if c < 0.999 else 0.0  # a closed hand has no spread to read
    return np.clip([closure, spread, opposition], 0.0, 1.0)


class PresentAction:
    """Computes the present action of one robot (its description, hands and standing height)."""

    def __init__(self, frames: RobotFrames, hands: dict[str, HandJoints], standing_torso_height_m: float, prefix="",
                 limits: ActionLimits = ActionLimits()):
        self.frames = frames
        self.limits = limits
        self.hands = hands
        self.standing_torso_height_m = standing_torso_height_m
        self.prefix = prefix

    @classmethod
    def standing(cls, robot, frames: RobotFrames, stand_pose: str = "stand_balanced") -> PresentAction:
        """For a RobotModel: both hands, and 'standing' the torso's height in the named pose."""
        from forma_description.poses import named_pose

        hands = {side: HandJoints.from_robot(robot, side, robot.prefix) for side in SIDES}
        present = cls(frames, hands, 0.0, robot.prefix)
        frames.update(robot.joint_names, named_pose(stand_pose, robot))
        present.standing_torso_height_m = present.torso_height_m()
        return present

    def torso_height_m(self) -> float:
        """The torso frame above the lower sole, along the pelvis's z (level when standing) [m]."""
        p = self.prefix
        torso = self.frames.transform(f"{p}base_link", f"{p}torso")[2, 3]
        soles = [self.frames.transform(f"{p}base_link", f"{p}{s}_sole")[2, 3] for s in SIDES]
        return float(torso - min(soles))

    def __call__(self, names, positions, base_rotation_world: np.ndarray) -> np.ndarray:
        """The action vector for joint positions (any order) and the pelvis's orientation in a
        z-up world (the IMU's, as a 3 x 3 rotation)."""
        p = self.prefix
        self.frames.update(names, positions)
        by_name = dict(zip(names, positions, strict=True))
        v = np.zeros(ACTION_DIM)
        for side in SIDES:
            t = self.frames.transform(f"{p}torso", f"{p}{side}_hand")  # the palm frame the WBC moves
            v[PALM[side]] = np.concatenate([t[:3, 3], rotation_r6(t[:3, :3])])
            hand = self.hands.get(side)
            if hand is not None:
                local = {name.split(f"{side}_", 1)[1]: by_name.get(name, 0.0) for name in hand.names}
                v[HAND[side]] = synergies_from_joints(local, hand)
        camera = self.frames.transform(f"{p}torso", f"{p}{CAMERA_FRAME}")
        v[GAZE] = camera[:3, 3] + GAZE_DISTANCE_M * camera[:3, 2]  # the optical axis is z
        torso_in_base = self.frames.transform(f"{p}base_link", f"{p}torso")[:3, :3]
        torso_world = np.asarray(base_rotation_world, float) @ torso_in_base
        roll = math.atan2(torso_world[2, 1], torso_world[2, 2])
        pitch = math.asin(max(-1.0, min(1.0, -torso_world[2, 0])))
        v[TORSO] = (self.torso_height_m() - self.standing_torso_height_m, roll, pitch)
        return within_limits(v, self.limits)

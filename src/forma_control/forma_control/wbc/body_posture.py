"""The posture that goes with a lowered, leaning torso: legs bent (feet flat, pelvis level) to
the pelvis height asked for, the spine pitched, rolled and turned with the torso.

Why: the posture task pulls the joints to a nominal pose. Against a pelvis-height target alone it
kept the knees near straight (measured: 1.4 cm of a 10 cm crouch), and a torso lean came from the
hips, not the spine. A torso target (wbc/targets/torso, the tasks' reach to a table) moves the
nominal pose with it, so the tasks and the posture agree.
"""

from __future__ import annotations

import numpy as np
import pinocchio as pin

from forma_control.wbc.model import WholeBodyModel

LEG_BEND = {"hip_pitch": -1.0, "knee": 2.0, "ankle_pitch": -1.0}  # per radian of bend: feet flat
SPINE_PITCH_SHARE = {"waist_pitch": 0.7, "chest_pitch": 0.3}  # how a torso pitch splits over the spine
MAX_BEND_RAD = 0.9


class BodyPosture:
    """nominal(drop, torso in pelvis) for one robot, from its standing nominal pose."""

    def __init__(self, model: WholeBodyModel, standing: np.ndarray) -> None:
        self.m = model
        self.standing = np.asarray(standing, float).copy()
        names = [n.removeprefix(model.robot.prefix) for n in model.joint_names]
        self.bend = np.array([LEG_BEND.get(n.split("_", 1)[-1], 0.0) if n.split("_")[0] in ("left", "right") else 0.0
                              for n in names])
        self.index = {n: i for i, n in enumerate(names)}
        bends = np.linspace(0.0, MAX_BEND_RAD, 19)
        height0 = self.pelvis_above_soles(self.standing)
        # pelvis drop [m] for each bend [rad]: grows monotonically over this range
        self.drops = np.array([height0 - self.pelvis_above_soles(self.standing + b * self.bend) for b in bends])
        self.bends = bends

    def pelvis_above_soles(self, joints: np.ndarray) -> float:
        """The pelvis height above the soles [m] for these body joints, the pelvis level."""
        q = pin.neutral(self.m.model)
        q[self.m.q_index] = np.clip(joints, self.m.lower, self.m.upper)
        data = self.m.model.createData()
        pin.framesForwardKinematics(self.m.model, data, q)
        return float(-data.oMf[self.m.frame["right_sole"]].translation[2])

    def leg_bend_rad(self, drop_m: float) -> float:
        """The bend that lowers the pelvis by drop_m (0 for none or a raise)."""
        return float(np.interp(max(drop_m, 0.0), self.drops, self.bends))

    def nominal(self, drop_m: float, torso_in_pelvis: np.ndarray) -> np.ndarray:
        """The standing nominal pose with the legs bent for a pelvis drop_m lower and the spine
        turned to the torso's orientation relative to the level pelvis (roll, pitch, yaw)."""
        joints = self.standing + self.leg_bend_rad(drop_m) * self.bend
        roll, pitch, yaw = pin.rpy.matrixToRpy(torso_in_pelvis)
        for name, share in SPINE_PITCH_SHARE.items():
            if name in self.index:
                joints[self.index[name]] += share * pitch
        for name, angle in (("waist_roll", roll), ("waist_yaw", yaw)):
            if name in self.index:
                joints[self.index[name]] += angle
        return np.clip(joints, self.m.lower, self.m.upper)

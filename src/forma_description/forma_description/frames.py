"""Frames of the robot from its description and joint positions (pinocchio forward kinematics):
what tf2 gives on a ROS 2 install, computed here because the pip side has no tf2. Shared by every
node that needs a frame's pose (perception's camera, teleop's initial marker poses)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pinocchio as pin

from forma_description.errors import DescriptionError
from forma_description.mjcf import matrix_to_quat_wxyz


class RobotFrames:
    """Poses of named frames relative to each other for the latest joint positions.

    `error` is the exception raised for bad input; a package wrapping this class may set its own
    (a subclass of ValueError) so that its callers see one exception family."""

    error: type[ValueError] = DescriptionError

    def __init__(self, urdf_xml: str) -> None:
        try:
            self.model = pin.buildModelFromXML(urdf_xml)
        except Exception as exc:  # pinocchio raises plain exceptions with the parser's message
            raise self.error(f"robot_description is not a URDF pinocchio can load: {exc}") from exc
        self.data = self.model.createData()
        self.q = pin.neutral(self.model)
        self.index = {self.model.names[i]: self.model.joints[i].idx_q for i in range(1, self.model.njoints)}
        self.joint_states_seen = False
        pin.framesForwardKinematics(self.model, self.data, self.q)

    def update(self, names: Sequence[str], positions: Sequence[float]) -> None:
        """Apply joint_states (any order, any subset; unknown names and NaN ignored)."""
        if len(names) != len(positions):
            raise self.error(f"joint_states with {len(names)} names and {len(positions)} positions")
        for name, q in zip(names, positions, strict=True):
            i = self.index.get(name)
            if i is not None and np.isfinite(q):
                self.q[i] = q
        pin.framesForwardKinematics(self.model, self.data, self.q)
        self.joint_states_seen = True

    def has(self, frame: str) -> bool:
        return self.model.existFrame(frame)

    def transform(self, target: str, source: str) -> np.ndarray:
        """4 x 4 T_target_source: maps points in `source` to `target`."""
        for frame in (target, source):
            if not self.model.existFrame(frame):
                raise self.error(f"frame {frame!r} is not in the robot description")
        t = self.data.oMf[self.model.getFrameId(target)].actInv(self.data.oMf[self.model.getFrameId(source)])
        return t.homogeneous

    def pose(self, target: str, source: str) -> tuple[np.ndarray, np.ndarray]:
        """The pose of frame `source` expressed in `target`: position [m] and unit quaternion wxyz."""
        t = self.transform(target, source)
        return t[:3, 3].copy(), matrix_to_quat_wxyz(t[:3, :3])

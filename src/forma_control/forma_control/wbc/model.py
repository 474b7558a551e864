"""The whole-body model: pinocchio with a free-flyer base and the body joints only.

The hands' 44 joints belong to the hands node: they are locked at a fixed pose (their mass and
inertia stay in the model), so the controller's decision variables are the 6 base velocities
and the 38 body joints' velocities.
"""

from __future__ import annotations

import numpy as np
import pinocchio as pin

from forma_control.errors import ControlConfigError
from forma_description import RobotModel

FEET = ("left_sole", "right_sole")
HANDS = {"left": "left_hand", "right": "right_hand"}


class WholeBodyModel:
    """pinocchio model of the body (hands locked) with index maps between joint names and q/v."""

    def __init__(self, robot: RobotModel, hand_pose: dict[str, float] | None = None) -> None:
        full = pin.buildModelFromXML(robot.urdf_xml, pin.JointModelFreeFlyer())
        q_lock = pin.neutral(full)
        hand_pose = hand_pose or {}
        lock_ids = []
        for j in robot.joints:
            if j.group == "body":
                continue
            jid = full.getJointId(j.name)
            q_lock[full.joints[jid].idx_q] = hand_pose.get(j.name, 0.0)
            lock_ids.append(jid)
        geometry = pin.buildGeomFromUrdfString(full, robot.urdf_xml, pin.COLLISION)
        self.model, self.collision_geometry = pin.buildReducedModel(full, geometry, lock_ids, q_lock)
        self.data = self.model.createData()
        self.robot = robot
        p = robot.prefix
        self.joint_names = [j.name for j in robot.joints if j.group == "body"]
        self.n_joints = len(self.joint_names)
        # q = [base xyz, base quat xyzw, joints...], v = [base lin, base ang (local), joints...]
        self.q_index = np.array([self.model.joints[self.model.getJointId(n)].idx_q for n in self.joint_names])
        self.v_index = np.array([self.model.joints[self.model.getJointId(n)].idx_v for n in self.joint_names])
        if not (
            np.all(self.q_index == np.arange(7, 7 + self.n_joints))
            and np.all(self.v_index == np.arange(6, 6 + self.n_joints))
        ):
            # keep the maps general, but the controller assumes pinocchio's depth-first order = ours
            order = np.argsort(self.q_index)
            self.joint_names = [self.joint_names[i] for i in order]
            self.q_index, self.v_index = self.q_index[order], self.v_index[order]
        limits = {j.name: j for j in robot.joints}
        self.lower = np.array([limits[n].lower for n in self.joint_names])
        self.upper = np.array([limits[n].upper for n in self.joint_names])
        self.velocity_limit = np.array([limits[n].velocity for n in self.joint_names])
        self.effort_limit = np.array([limits[n].effort for n in self.joint_names])
        self.frame = {}
        for name in (
            *FEET,
            *HANDS.values(),
            "torso",
            "head",
            "base_link",
            "imu_link",
            "head_camera_color_optical_frame",
        ):
            if not self.model.existFrame(p + name):
                raise ControlConfigError(f"frame {p + name!r} is not in the robot description")
            self.frame[name] = self.model.getFrameId(p + name)
        self.mass_kg = float(pin.computeTotalMass(self.model))
        self.nv = self.model.nv

    def configuration(self, base_xyz: np.ndarray, base_wxyz: np.ndarray, joints: np.ndarray) -> np.ndarray:
        """q in pinocchio's layout from a base pose (world) and body joint positions (our order)."""
        q = np.empty(self.model.nq)
        q[:3] = base_xyz
        w, x, y, z = base_wxyz
        q[3:7] = (x, y, z, w)
        q[self.q_index] = joints
        return q

    def joints_of(self, q: np.ndarray) -> np.ndarray:
        return q[self.q_index]

    def update(self, q: np.ndarray, v: np.ndarray | None = None) -> None:
        """Kinematics (and Jacobians, CoM) at q; with v also the CoM velocity."""
        if v is None:
            pin.forwardKinematics(self.model, self.data, q)
        else:
            pin.forwardKinematics(self.model, self.data, q, v)
        pin.computeJointJacobians(self.model, self.data, q)
        pin.updateFramePlacements(self.model, self.data)
        pin.centerOfMass(self.model, self.data, q, v if v is not None else np.zeros(self.nv))
        pin.jacobianCenterOfMass(self.model, self.data, q, False)

    def pose(self, frame: str) -> pin.SE3:
        return self.data.oMf[self.frame[frame]]

    def jacobian(self, frame: str) -> np.ndarray:
        """6 x nv Jacobian of the frame, world-aligned at the frame's origin (linear; angular)."""
        return pin.getFrameJacobian(self.model, self.data, self.frame[frame], pin.LOCAL_WORLD_ALIGNED)

    @property
    def com(self) -> np.ndarray:
        return self.data.com[0].copy()

    @property
    def com_velocity(self) -> np.ndarray:
        return self.data.vcom[0].copy()

    @property
    def com_jacobian(self) -> np.ndarray:
        return self.data.Jcom

    def gravity_torques(self, q: np.ndarray) -> np.ndarray:
        """Generalised gravity vector g(q) [N, N m] (nv)."""
        return pin.computeGeneralizedGravity(self.model, self.data, q)

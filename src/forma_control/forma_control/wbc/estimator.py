"""Floating-base estimate from what the robot senses: IMU orientation and gyro, joint encoders
and foot forces (leg odometry). The controller never reads simulator ground truth.

The world frame here is the robot's own `odom`: each foot in contact is anchored where it
touched down; the base sits where the contact legs' kinematics put it, and its linear velocity
is the one that keeps the contact soles still.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from forma_control.wbc.model import FEET, WholeBodyModel


@dataclasses.dataclass
class Sensors:
    """One control period's measurements (body joints in WholeBodyModel.joint_names order)."""

    stamp_s: float
    joint_positions: np.ndarray  # [rad]
    joint_velocities: np.ndarray  # [rad/s]
    imu_orientation_wxyz: np.ndarray  # base_link in odom (the IMU sits at base_link)
    imu_angular_velocity: np.ndarray  # [rad/s] in base_link
    foot_force_z: dict[str, float]  # [N] per side: load on the sole, positive up
    joint_efforts: np.ndarray | None = None  # [N m] measured torques (the hand-over starts from them)


@dataclasses.dataclass
class BaseEstimate:
    q: np.ndarray  # pinocchio configuration in odom
    v: np.ndarray  # pinocchio velocity (base linear/angular in base_link, joints)
    contact_weight: dict[str, float]  # share of the load per sole, sums to 1 (0.5/0.5 with no load)
    load_n: float  # total measured foot force [N]


class LegOdometry:
    """Base pose and velocity from the IMU and the legs in contact."""

    def __init__(self, model: WholeBodyModel, contact_threshold_n: float = 30.0) -> None:
        self.model = model
        self.contact_threshold_n = contact_threshold_n
        self.anchors: dict[str, np.ndarray] | None = None
        self.floor_z = 0.0  # odom's floor height (the soles' at the first estimate)
        self._in_contact: dict[str, bool] | None = None  # the last soles found bearing weight

    def estimate(self, s: Sensors) -> BaseEstimate:
        m = self.model
        q = m.configuration(np.zeros(3), s.imu_orientation_wxyz, s.joint_positions)
        m.update(q)
        soles = {side: m.pose(f).translation.copy() for side, f in zip(("left", "right"), FEET, strict=True)}
        forces = {side: max(float(s.foot_force_z.get(side, 0.0)), 0.0) for side in soles}
        load = sum(forces.values())
        in_contact = {side: forces[side] > self.contact_threshold_n for side in soles}
        if not any(in_contact.values()):
            # unloaded for an instant (the stance sole unloads for a few ms as the body bobs while
            # walking): the soles that bore weight last. Taking both averaged the swinging foot's
            # velocity into the base's and the capture point jumped 10-20 cm (measured)
            in_contact = dict(self._in_contact) if self._in_contact else {side: True for side in soles}
        self._in_contact = dict(in_contact)
        total = sum(forces[side] for side in soles if in_contact[side])
        weight = {side: (forces[side] / total if total > 0 else 0.5) if in_contact[side] else 0.0 for side in soles}
        if total <= 0:
            n = sum(in_contact.values())
            weight = {side: (1.0 / n if in_contact[side] else 0.0) for side in soles}
        if self.anchors is None:
            mid = 0.5 * (soles["left"] + soles["right"])
            floor_z = min(soles["left"][2], soles["right"][2])
            offset = np.array([-mid[0], -mid[1], -floor_z])
            self.anchors = {side: soles[side] + offset for side in soles}
            self.floor_z = 0.0
        base = sum(weight[side] * (self.anchors[side] - soles[side]) for side in soles)
        for side in soles:
            if not in_contact[side]:
                self.anchors[side] = soles[side] + base  # a swinging foot moves with the leg
                # flat floor: it lands at the floor's height (a heel or toe touching first put the
                # sole frame centimetres up, and the base estimate rose with every step)
                self.anchors[side][2] = self.floor_z
        q[:3] = base  # kinematics at the zero base stay valid: world-aligned Jacobians do not
        # change with the base's translation, so the velocity below needs no second update
        v = np.zeros(m.nv)
        v[3:6] = s.imu_angular_velocity
        v[m.v_index] = s.joint_velocities
        # base linear velocity (base frame) that keeps the contact soles still, weighted least
        # squares: a sole's velocity is R v_base + J_rest v_rest with R the base rotation (the
        # base's linear columns of a world-aligned Jacobian), so the normal equations are
        # (sum w) I v_base = sum w R^T (-J_rest v_rest): no solve needed
        v_base = np.zeros(3)
        for side, frame in zip(("left", "right"), FEET, strict=True):
            if weight[side] > 0.0:
                jac = m.jacobian(frame)[:3]
                v_base -= weight[side] * (jac[:, :3].T @ (jac[:, 3:] @ v[3:]))
        v[:3] = v_base / sum(weight.values())
        return BaseEstimate(q=q, v=v, contact_weight=weight, load_n=load)

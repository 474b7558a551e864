"""The Reach action's logic: is a hand target reachable (and if not, why), and has the hand
arrived. A target outside the workspace is reported with the reason, never silently clipped.

Reachability is decided by solving the inverse kinematics of the arm and the spine (the whole-body
controller bends the spine toward a hand target too) within joint limits on a scratch copy of the
model, with the legs where the controller holds them: if arm and spine cannot get there, the goal
is refused with the closest they get and the joints that stop them. (Arm alone, a palm pose over
the table that whole-body control reaches to 1 cm was refused as 1.5 cm and 5 deg away.)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pinocchio as pin

from forma_control.wbc.model import HANDS, WholeBodyModel
from forma_description.limbs import ARM_JOINTS, arm_joint_names

SPINE_JOINTS = ("waist_yaw", "waist_roll", "waist_pitch", "chest_pitch")
SPINE_SLACK_M = 0.15  # how much further than the arm's length the spine can bring the palm (bound)


@dataclasses.dataclass(frozen=True)
class Reachability:
    reachable: bool
    position_error_m: float  # of the best arm pose found
    orientation_error_rad: float
    reason: str


def pose_error(goal: pin.SE3, current: pin.SE3) -> tuple[float, float]:
    """(distance [m], rotation angle [rad]) between two poses."""
    distance = float(np.linalg.norm(goal.translation - current.translation))
    angle = float(np.linalg.norm(pin.log3(current.rotation.T @ goal.rotation)))
    return distance, angle


class ReachabilityChecker:
    def __init__(self, model: WholeBodyModel) -> None:
        self.m = model
        self.data = model.model.createData()
        p = model.robot.prefix
        self.arm_v = {}
        self.arm_names = {}
        self.shoulder = {}
        self.reach_m = {}
        for side in HANDS:
            names = arm_joint_names(side, p)
            self.arm_names[side] = names
            spine = [p + j for j in SPINE_JOINTS if p + j in model.joint_names]
            self.arm_v[side] = np.array([model.joint_names.index(n) for n in spine + names])
            self.chain_names = spine
            self.shoulder[side] = model.model.getJointId(f"{p}{side}_{ARM_JOINTS[0]}")
        # arm reach: the chain's length from the first scapula joint to the palm (an upper bound:
        # no arm pose puts the palm further from that joint)
        self.geometry = model.collision_geometry
        self.geometry_data = pin.GeometryData(self.geometry)
        self.body_boxes = [
            i
            for i, g in enumerate(self.geometry.geometryObjects)
            if g.name.rsplit("_", 1)[0] in {p + n for n in ("torso", "abdomen", "base_link", "head")}
            and hasattr(g.geometry, "halfSide")
        ]
        q0 = pin.neutral(model.model)
        pin.framesForwardKinematics(model.model, self.data, q0)
        for side, frame in HANDS.items():
            points = [self.data.oMi[model.model.getJointId(n)].translation for n in self.arm_names[side]]
            points.append(self.data.oMf[model.frame[frame]].translation)
            self.reach_m[side] = float(sum(np.linalg.norm(b - a) for a, b in zip(points[:-1], points[1:], strict=True)))

    def check(
        self, side: str, goal: pin.SE3, q: np.ndarray, position_tolerance_m: float, orientation_tolerance_rad: float
    ) -> Reachability:
        """Can the `side` arm put its palm at `goal` (odom) from configuration q (odom)?"""
        m, data = self.m, self.data
        pin.framesForwardKinematics(m.model, data, q)
        shoulder = data.oMi[self.shoulder[side]]
        distance = float(np.linalg.norm(goal.translation - shoulder.translation))
        if distance > self.reach_m[side] + SPINE_SLACK_M:
            return Reachability(
                False,
                distance - self.reach_m[side],
                math.nan,
                f"target {distance:.2f} m from the {side} shoulder; arm reach is {self.reach_m[side]:.2f} m",
            )
        torso = data.oMf[m.frame["torso"]]
        in_torso = torso.actInv(goal.translation)
        if in_torso[0] < -0.12:
            return Reachability(
                False, math.nan, math.nan, f"target is {-in_torso[0]:.2f} m behind the back (x in torso frame)"
            )
        inside = self._inside_body(q, goal.translation)
        if inside:
            return Reachability(False, math.nan, math.nan, f"target is inside the robot's {inside}")
        q = q.copy()
        cols = m.v_index[self.arm_v[side]]
        qi = m.q_index[self.arm_v[side]]
        lower, upper = m.lower[self.arm_v[side]], m.upper[self.arm_v[side]]
        frame = m.frame[HANDS[side]]
        best = (math.inf, math.inf)
        for _ in range(150):
            pin.computeJointJacobians(m.model, data, q)
            pin.updateFramePlacements(m.model, data)
            pose = data.oMf[frame]
            err6 = pin.log6(pose.actInv(goal)).vector  # local twist to the goal
            dist, ang = pose_error(goal, pose)
            if dist + 0.1 * ang < best[0] + 0.1 * best[1]:
                best = (dist, ang)
            if dist < 0.3 * position_tolerance_m and ang < 0.3 * orientation_tolerance_rad:
                break
            jac = pin.getFrameJacobian(m.model, data, frame, pin.LOCAL)[:, cols]
            step = jac.T @ np.linalg.solve(jac @ jac.T + 1e-3 * np.eye(6), err6)
            q[qi] = np.clip(q[qi] + np.clip(step, -0.3, 0.3), lower, upper)
        dist, ang = best
        if dist <= position_tolerance_m and ang <= orientation_tolerance_rad:
            return Reachability(True, dist, ang, "reachable")
        at_limit = [
            n.removeprefix(m.robot.prefix)
            for n, v, lo, hi in zip(self.chain_names + self.arm_names[side], q[qi], lower, upper, strict=True)
            if v <= lo + 1e-3 or v >= hi - 1e-3
        ]
        why = f" ({', '.join(at_limit)} at their limits)" if at_limit else ""
        return Reachability(
            False,
            dist,
            ang,
            f"the closest the {side} arm (with the spine) gets is {dist * 100:.1f} cm"
            f" and {math.degrees(ang):.0f} deg away{why}",
        )

    def _inside_body(self, q: np.ndarray, point: np.ndarray) -> str:
        """Name of the torso/abdomen/pelvis/head box containing the point (with the palm's
        clearance of 3 cm), or ""."""
        pin.updateGeometryPlacements(self.m.model, self.data, self.geometry, self.geometry_data, q)
        for i in self.body_boxes:
            placement = self.geometry_data.oMg[i]
            local = placement.actInv(point)
            if np.all(np.abs(local) < self.geometry.geometryObjects[i].geometry.halfSide + 0.03):
                return self.geometry.geometryObjects[i].name.rsplit("_", 1)[0]
        return ""


@dataclasses.dataclass
class ReachProgress:
    """Follows one Reach goal on the measured hand: reached once within tolerance for settle_s."""

    side: str
    goal: pin.SE3
    position_tolerance_m: float
    orientation_tolerance_rad: float
    deadline_s: float
    settle_s: float = 0.1
    within_since_s: float | None = None

    def update(self, measured_palm: pin.SE3, now_s: float) -> tuple[str, float, float]:
        """('running' | 'reached' | 'timeout', position error [m], orientation error [rad])."""
        dist, ang = pose_error(self.goal, measured_palm)
        if dist <= self.position_tolerance_m and ang <= self.orientation_tolerance_rad:
            if self.within_since_s is None:
                self.within_since_s = now_s
            if now_s - self.within_since_s >= self.settle_s:
                return "reached", dist, ang
        else:
            self.within_since_s = None
        if now_s >= self.deadline_s:
            return "timeout", dist, ang
        return "running", dist, ang

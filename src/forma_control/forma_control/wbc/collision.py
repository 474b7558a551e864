"""Self-collision avoidance as QP constraints: for each watched pair of the description's
collision shapes (arms against the torso, pelvis, head and thighs; the arms against each other;
the legs against each other), the distance may shrink no faster than it would decay exponentially
to the safety distance:

    d_dot = n . (v_2 - v_1) >= -gain (d - d_safe)     for pairs closer than d_influence

with d, the witness points and n from coal (through pinocchio's GeometryModel), and v_i the
witness points' velocities from the joint Jacobians.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pinocchio as pin

ARM_LINKS = ("forearm", "palm", "elbow_link")
BODY_LINKS = ("torso", "abdomen", "base_link", "head", "left_thigh", "right_thigh")


def default_pairs(prefix: str = "") -> list[tuple[str, str]]:
    """(link, link) pairs whose collision shapes must keep apart."""
    pairs = []
    for side in ("left", "right"):
        for arm in ARM_LINKS:
            for body in BODY_LINKS:
                pairs.append((f"{prefix}{side}_{arm}", f"{prefix}{body}"))
    for a in ("forearm", "palm"):
        for b in ("forearm", "palm"):
            pairs.append((f"{prefix}left_{a}", f"{prefix}right_{b}"))
    pairs += [(f"{prefix}left_shank", f"{prefix}right_shank"), (f"{prefix}left_thigh", f"{prefix}right_thigh")]
    return pairs


@dataclasses.dataclass
class CollisionSettings:
    safety_distance_m: float = 0.02  # closest approach the QP allows [m]
    influence_distance_m: float = 0.06  # pairs further apart than this add no constraint [m]
    gain: float = 10.0  # [1/s] how fast the gap may close toward the safety distance
    every_ticks: int = 2  # distances and rows computed every this many ticks, reused in between


class SelfCollision:
    """Distances and constraint rows for the watched pairs on a pinocchio model."""

    def __init__(self, model: pin.Model, geometry: pin.GeometryModel, pairs, settings: CollisionSettings) -> None:
        self.model = model
        self.geometry = geometry
        self.settings = settings
        by_link: dict[str, list[int]] = {}
        for i, obj in enumerate(geometry.geometryObjects):
            by_link.setdefault(obj.name.rsplit("_", 1)[0], []).append(i)
        self.pair_names = []
        for a, b in pairs:
            for ga in by_link.get(a, []):
                for gb in by_link.get(b, []):
                    geometry.addCollisionPair(pin.CollisionPair(ga, gb))
                    self.pair_names.append((a, b))
        self.geometry_data = pin.GeometryData(geometry)
        self.n_pairs = len(self.pair_names)
        # per pair: the joints carrying its two shapes (looked up once, not every tick)
        self.pair_joints = [
            (geometry.geometryObjects[pair.first].parentJoint, geometry.geometryObjects[pair.second].parentJoint)
            for pair in geometry.collisionPairs
        ]
        self._c = np.zeros((self.n_pairs, model.nv))
        self._lower = np.full(self.n_pairs, -1e20)
        self._filled: list[int] = []
        if not (isinstance(settings.every_ticks, int) and settings.every_ticks >= 1):
            raise ValueError(f"collision every_ticks={settings.every_ticks!r}: an integer >= 1")
        self.refresh_ticks = max(1, round(25 / settings.every_ticks))  # all pairs every 25 control ticks
        self.watch_m = settings.influence_distance_m + 0.06  # 1.2 m/s of closing speed for 25 ticks at 500 Hz
        self.near: list[int] = []
        self.ticks = 0
        self.calls = 0
        self._last = None

    def rows(self, data: pin.Data, q: np.ndarray):
        """(C, lower, min distance, closest pair): n_pairs rows for l <= C v (upper = +inf).
        `data` must hold the kinematics and joint Jacobians at q (WholeBodyModel.update).
        Computed every `every_ticks` calls and reused in between: at the arms' 1 m/s a gap changes
        by 2 mm in a 500 Hz period, while the rows cost a seventh of a tick (measured)."""
        if self._last is not None and self.calls % self.settings.every_ticks:
            self.calls += 1
            return self._last
        self.calls += 1
        self._last = self._compute(data, q)
        return self._last

    def _compute(self, data: pin.Data, q: np.ndarray):
        s = self.settings
        pin.updateGeometryPlacements(self.model, data, self.geometry, self.geometry_data, q)
        # all pairs every refresh_ticks; in between only the pairs that were near (a far pair
        # cannot close the gap to the influence distance in that time at the arms' speeds)
        if self.ticks % self.refresh_ticks == 0:
            pin.computeDistances(self.geometry, self.geometry_data)
            self.near = [
                k for k in range(self.n_pairs) if self.geometry_data.distanceResults[k].min_distance < self.watch_m
            ]
        else:
            for k in self.near:
                pin.computeDistance(self.geometry, self.geometry_data, k)
        self.ticks += 1
        c, lower = self._c, self._lower  # reused: only the rows filled last tick are cleared
        c[self._filled] = 0.0
        lower[self._filled] = -1e20
        self._filled = []
        closest, closest_pair = np.inf, ("", "")
        results = self.geometry_data.distanceResults
        rows: list[int] = []  # pairs within the influence distance, with their witness points
        points: list[np.ndarray] = []  # p1, p2, n per pair
        for k in self.near:
            result = results[k]
            d = result.min_distance
            if d < closest:
                closest, closest_pair = d, self.pair_names[k]
            if d > s.influence_distance_m:
                continue
            p1, p2 = result.getNearestPoint1(), result.getNearestPoint2()
            points += [p1, p2, (p2 - p1) / d if d > 1e-4 else np.asarray(result.normal)]
            rows.append(k)
            lower[k] = -s.gain * (d - s.safety_distance_m)
        if rows:
            c[rows] = self._normal_rows(data, rows, np.array(points).reshape(len(rows), 3, 3))
            self._filled = rows
        return c, lower, closest, closest_pair

    def _normal_rows(self, data: pin.Data, pairs: list[int], points: np.ndarray) -> np.ndarray:
        """n . (J_p2 - J_p1) for each pair at once (points: p1, p2, n per pair): the velocity at
        which the gap closes, per generalised velocity. For a point p fixed to joint j,
        n . J_p = n . J_lin + (r x n) . J_ang with r = p - the joint's origin (all in the world
        frame). One Jacobian per joint, however many pairs it carries."""
        jacobians: dict[int, np.ndarray] = {}
        for k in pairs:
            for joint in self.pair_joints[k]:
                if joint not in jacobians:
                    jacobians[joint] = pin.getJointJacobian(self.model, data, joint, pin.LOCAL_WORLD_ALIGNED)
        first = [self.pair_joints[k][0] for k in pairs]
        second = [self.pair_joints[k][1] for k in pairs]
        normal = points[:, 2]
        rows = np.zeros((len(pairs), self.model.nv))
        for sign, joints, point in ((-1.0, first, points[:, 0]), (1.0, second, points[:, 1])):
            jac = np.array([jacobians[j] for j in joints])  # (pairs, 6, nv)
            origin = np.array([data.oMi[j].translation for j in joints])
            r = point - origin
            # r x n, written out: np.cross costs 5x as much on a few rows
            r_x_n = r[:, [1, 2, 0]] * normal[:, [2, 0, 1]] - r[:, [2, 0, 1]] * normal[:, [1, 2, 0]]
            rows += sign * (np.einsum("pi,pij->pj", normal, jac[:, :3]) + np.einsum("pi,pij->pj", r_x_n, jac[:, 3:]))
        return rows

"""Collision checking for one planning group with pinocchio + coal on the description's collision
geometry: the robot's other joints are locked where they are (pinocchio's reduced model), so a
state is just the group's joint positions.

Checked pairs: every pair of geometries that the group's joints move relative to each other, minus
the SRDF's disabled pairs (the matrix MoveIt uses), and every moving geometry against every scene
obstacle. Pairs whose relative pose the group cannot change (the legs against the torso, a finger
against its palm) are left out: the planner cannot make them better or worse; so are pairs of a
moving geometry and a fixed one beyond its reach (a bound on the distance from its chain's first
joint that the geometry can come: the chain's link lengths plus the geometry's size).
Obstacles are padded by `obstacle_padding_m` while planning (boxes grown, the half-space raised),
so that a motion checked at discrete steps keeps clear between them too.

States are checked through coal's dynamic AABB tree (pinocchio's broad-phase manager), which only
runs the narrow phase on the pairs whose bounding boxes overlap: 3x faster than going through the
pair list here, and repeatable. (The pair list through `computeCollisions(..., stop=True)` gave a
different verdict on repeated calls for shallow cylinder contacts, 1-5 mm deep: coal's GJK caches
its guess from the previous call.)
"""

from __future__ import annotations

import coal
import numpy as np
import pinocchio as pin

from forma_planning.scene import SLAB_THICKNESS_M, Box, Scene, SupportPlane

LinkPair = tuple[str, str]


def _pair(a: str, b: str) -> LinkPair:
    return (a, b) if a < b else (b, a)


def box_object(box: Box, padding_m: float) -> tuple[coal.CollisionGeometry, pin.SE3]:
    """The box's coal shape, grown by padding_m on every side, and its placement in base_link."""
    x, y, z, w = box.orientation_in_base_xyzw
    rotation = pin.Quaternion(w, x, y, z).normalized().toRotationMatrix()
    size = np.asarray(box.size_m, dtype=float) + 2.0 * padding_m
    return coal.Box(*size), pin.SE3(rotation, np.asarray(box.center_in_base_m, dtype=float))


def _plane_object(plane: SupportPlane, padding_m: float) -> tuple[coal.CollisionGeometry, pin.SE3]:
    normal = np.asarray(plane.normal_in_base, dtype=float)
    normal = normal / np.linalg.norm(normal)
    if plane.extent_size_xy_m is None:  # everything below the plane: n . p <= offset
        return coal.Halfspace(normal, float(plane.offset_m) + padding_m), pin.SE3.Identity()
    cx, cy = map(float, plane.extent_center_xy_m)
    sx, sy = (float(v) + 2.0 * padding_m for v in plane.extent_size_xy_m)
    thickness = SLAB_THICKNESS_M + 2.0 * padding_m
    surface_z = (plane.offset_m - normal[0] * cx - normal[1] * cy) / normal[2]
    rotation = pin.Quaternion.FromTwoVectors(np.array([0.0, 0.0, 1.0]), normal).toRotationMatrix()
    centre = np.array([cx, cy, surface_z]) - normal * (SLAB_THICKNESS_M / 2.0)
    return coal.Box(sx, sy, thickness), pin.SE3(rotation, centre)


class GroupCollisionChecker:
    """Is a configuration of one group's joints free of collision, and if not, which pairs touch."""

    def __init__(
        self,
        model: pin.Model,
        geometry: pin.GeometryModel,
        group_joints: list[str],
        q_full_rad: np.ndarray,
        disabled: set[LinkPair],
        scene: Scene,
        obstacle_padding_m: float = 0.0,
    ) -> None:
        lock = [model.getJointId(n) for n in model.names[1:] if n not in set(group_joints)]
        self.model, self.geometry = pin.buildReducedModel(model, geometry, lock, q_full_rad)
        self.joint_names = list(self.model.names[1:])
        if self.joint_names != list(group_joints):  # the reduced model keeps the description's order
            order = {n: i for i, n in enumerate(self.joint_names)}
            self.permutation = np.array([order[n] for n in group_joints])
        else:
            self.permutation = None
        robot_count = len(self.geometry.geometryObjects)
        self.names: list[str] = [self.model.frames[o.parentFrame].name for o in self.geometry.geometryObjects]
        for k, obstacle in enumerate((*scene.boxes, *scene.planes)):
            if isinstance(obstacle, Box):
                shape, placement = box_object(obstacle, obstacle_padding_m)
            else:
                shape, placement = _plane_object(obstacle, obstacle_padding_m)
            self.geometry.addGeometryObject(pin.GeometryObject(f"obstacle_{k}", 0, 0, placement, shape))
            self.names.append(obstacle.name)
        parent = [o.parentJoint for o in self.geometry.geometryObjects]
        reach_m, origin_m, centre_m, radius_m = self._reach_bounds()
        for i in range(len(parent)):
            for j in range(i + 1, len(parent)):
                if parent[i] == parent[j]:
                    continue  # rigidly together, or both fixed: the group cannot change them
                if j >= robot_count and i >= robot_count:
                    continue
                fixed, moving = (i, j) if parent[i] == 0 else (j, i) if parent[j] == 0 else (None, None)
                if (
                    fixed is not None
                    and np.linalg.norm(centre_m[fixed] - origin_m[moving]) - radius_m[fixed] > reach_m[moving]
                ):
                    continue  # out of reach
                if j < robot_count and (
                    self.names[i] == self.names[j] or _pair(self.names[i], self.names[j]) in disabled
                ):
                    continue
                self.geometry.addCollisionPair(pin.CollisionPair(i, j))
        self.data = self.model.createData()
        self.geometry_data = pin.GeometryData(self.geometry)  # for the pair-by-pair reasons
        self.broadphase_data = pin.GeometryData(self.geometry)  # kept alive for the manager
        self.broadphase = pin.BroadPhaseManager_DynamicAABBTreeCollisionManager(
            self.model, self.geometry, self.broadphase_data
        )
        self.pair_count = len(self.geometry.collisionPairs)
        self.obstacle_pairs = [  # (pair index, pair) of the pairs with a scene obstacle
            (k, cp) for k, cp in enumerate(self.geometry.collisionPairs) if max(cp.first, cp.second) >= robot_count
        ]
        self.checks = 0  # states checked, for the figures

    def _reach_bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per geometry [m]: a moving one's reach (a bound on its distance from the origin of its
        chain's first joint, which the fixed rest holds in place) and that origin; a fixed one's
        bounding sphere (centre in base_link, radius). Groups of several chains (`arms`) have a
        first joint per chain."""
        data = self.model.createData()
        pin.forwardKinematics(self.model, data, pin.neutral(self.model))
        chain_root = np.arange(self.model.njoints)
        chain_m = np.zeros(self.model.njoints)  # bound on the distance from the chain's root to each joint
        for k in range(1, self.model.njoints):
            parent = self.model.parents[k]
            if parent != 0:
                chain_root[k] = chain_root[parent]
                chain_m[k] = chain_m[parent] + np.linalg.norm(self.model.jointPlacements[k].translation)
        revolute = all(j.shortname().startswith("JointModelR") for j in self.model.joints[1:])
        count = len(self.geometry.geometryObjects)
        reach, origin, centre, radius = np.zeros(count), np.zeros((count, 3)), np.zeros((count, 3)), np.zeros(count)
        for g, obj in enumerate(self.geometry.geometryObjects):
            shape = obj.geometry
            shape.computeLocalAABB()
            if not np.isfinite(shape.aabb_radius):  # a half-space: never out of reach
                radius[g] = np.inf
                continue
            size = shape.aabb_radius + np.linalg.norm(shape.aabb_center)
            if obj.parentJoint == 0:
                centre[g] = obj.placement.act(shape.aabb_center)  # fixed: placed in base_link
                radius[g] = size
            elif not revolute:  # a sliding joint's travel is not in the placements: no bound
                reach[g] = np.inf
            else:
                reach[g] = chain_m[obj.parentJoint] + np.linalg.norm(obj.placement.translation) + size
                origin[g] = data.oMi[int(chain_root[obj.parentJoint])].translation
        return reach, origin, centre, radius

    def model_q(self, q_group_rad: np.ndarray) -> np.ndarray:
        """The reduced model's configuration from the group's joint positions (in the group's order)."""
        q = np.asarray(q_group_rad, dtype=float)
        if self.permutation is None:
            return q
        out = np.empty(len(q))
        out[self.permutation] = q
        return out

    def is_free(self, q_group_rad: np.ndarray) -> bool:
        """True when no checked pair touches (stops at the first contact)."""
        self.checks += 1
        return not pin.computeCollisions(self.model, self.data, self.broadphase, self.model_q(q_group_rad), True)

    def colliding(self, q_group_rad: np.ndarray) -> list[LinkPair]:
        """Every checked pair in contact, by link or obstacle name (for the reason of a refusal)."""
        pin.computeCollisions(
            self.model, self.data, self.geometry, self.geometry_data, self.model_q(q_group_rad), False
        )
        hits = set()
        for k, cp in enumerate(self.geometry.collisionPairs):
            if self.geometry_data.collisionResults[k].isCollision():
                hits.add(_pair(self.names[cp.first], self.names[cp.second]))
        return sorted(hits)

    def touching_obstacles(self, q_group_rad: np.ndarray) -> list[LinkPair]:
        """The pairs of a moving geometry and a scene obstacle in contact (obstacles as padded), by
        name; the robot's contacts with itself are not looked at (cheaper than `colliding`)."""
        pin.framesForwardKinematics(self.model, self.data, self.model_q(q_group_rad))
        pin.updateGeometryPlacements(self.model, self.data, self.geometry, self.geometry_data)
        hits = set()
        for k, cp in self.obstacle_pairs:
            if pin.computeCollision(self.geometry, self.geometry_data, k):
                hits.add(_pair(self.names[cp.first], self.names[cp.second]))
        return sorted(hits)

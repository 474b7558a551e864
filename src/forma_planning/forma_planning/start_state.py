"""A start state the planner can leave: after a reach of whole-body control the arm may rest on the
body by the description's collision shapes (measured over DDS: the right upper arm on the torso at
the SRDF's `ready` palm), and the planner refuses a start in collision — every motion from it is.
MoveIt's FixStartStateCollision answers the same with a nearby free state; so does this: random
configurations of the group within a growing box around the start (at most `max_offset_rad` per
joint), the first collision-free one. Only contacts with the robot's own body are fixed this way:
a start touching a perceived obstacle is the scene's matter and is left to the planner's refusal.

The trajectory then starts there: at most `max_offset_rad` from the measured arm, within the
follower's path tolerance (forma_interfaces/FollowArmTrajectory: 0.15 rad by default), which the
arm closes in its first control ticks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import coal
import numpy as np

from forma_planning.arm_planner import OBSTACLE_PADDING_M, ArmPlanner
from forma_planning.collision import box_object
from forma_planning.scene import Scene

MAX_OFFSET_RAD = 0.1  # [rad] per joint: below the trajectory follower's default path tolerance (0.15)
ATTEMPTS = 300


@dataclasses.dataclass(frozen=True)
class StartFix:
    start_rad: dict[str, float]  # every joint; the group's moved to a free state (or as given)
    moved_rad: float  # the largest joint change [rad]; 0: the start was free
    touching: tuple[str, ...]  # the pairs that touched at the given start ("a-b")


def free_start_nearby(
    planner: ArmPlanner,
    group: str,
    start_rad: Mapping[str, float],
    scene: Scene,
    max_offset_rad: float = MAX_OFFSET_RAD,
    seed: int = 0,
) -> StartFix | None:
    """The start as given when it is free; else a free one within max_offset_rad per joint of the
    group when only the robot's own body is touched; None when none is found or an obstacle is."""
    joints = planner.group_joints(group)
    checker = planner.checker(group, start_rad, scene, OBSTACLE_PADDING_M)
    q0 = np.array([float(start_rad[j]) for j in joints])
    if checker.is_free(q0):
        return StartFix(dict(start_rad), 0.0, ())
    pairs = checker.colliding(q0)
    obstacles = {o.name for o in (*scene.boxes, *scene.planes)}
    if any(a in obstacles or b in obstacles for a, b in pairs):
        return None
    limits = planner.limits(joints)
    rng = np.random.default_rng(seed)
    for k in range(1, ATTEMPTS + 1):
        radius = max_offset_rad * k / ATTEMPTS  # the nearest free states first
        q = np.clip(q0 + rng.uniform(-radius, radius, len(joints)), limits.lower_rad, limits.upper_rad)
        if checker.is_free(q):
            moved = {**start_rad, **dict(zip(joints, map(float, q), strict=True))}
            return StartFix(moved, float(np.max(np.abs(q - q0))), tuple(f"{a}-{b}" for a, b in pairs))
    return None


def objects_at_the_arm(
    planner: ArmPlanner, group: str, start_rad: Mapping[str, float], scene: Scene
) -> tuple[str, ...]:
    """The scene's obstacles (boxes and planes) the group's links touch where the arm is now (as
    given, padded by the planner's OBSTACLE_PADDING_M). The arm is really there, so such a box is
    held, touched, or the arm itself seen by the camera (measured in the sim: a box on the forearm
    after a grasp), and such a table is one the hand rests on: an obstacle the planner could only
    refuse the start for. MoveIt leaves such objects out the same way (attached objects, the
    sensor's self-filter)."""
    obstacles = (*scene.boxes, *scene.planes)
    if not obstacles:
        return ()
    joints = planner.group_joints(group)
    checker = planner.checker(group, start_rad, scene, OBSTACLE_PADDING_M)
    q0 = np.array([float(start_rad[j]) for j in joints])
    names = {o.name for o in obstacles}
    touched = {name for pair in checker.touching_obstacles(q0) for name in pair if name in names}
    return tuple(o.name for o in obstacles if o.name in touched)


def boxes_on_the_robot(
    planner: ArmPlanner, start_rad: Mapping[str, float], scene: Scene, padding_m: float = OBSTACLE_PADDING_M
) -> tuple[str, ...]:
    """The scene's boxes that overlap any link of the robot where it is now (every joint at
    `start_rad`, the description's collision shapes, boxes padded by padding_m): the camera saw the
    robot itself (a forearm, the other hand) or what a hand holds. The robot is really there, so
    such a box is no obstacle; the group's own check (objects_at_the_arm) sees only the planning
    arm's links and the links it can reach, and a box on the other arm or the torso is neither."""
    if not scene.boxes:
        return ()
    placements = planner.geometry_placements(start_rad)
    links = []  # (shape, placement, bounding sphere centre, radius) of every robot geometry
    for obj, placement in zip(planner.geometry.geometryObjects, placements, strict=True):
        obj.geometry.computeLocalAABB()
        centre = placement.act(np.asarray(obj.geometry.aabb_center))
        links.append((obj.geometry, coal.Transform3s(placement.rotation, placement.translation), centre,
                      float(obj.geometry.aabb_radius)))  # fmt: skip
    on = []
    for box in scene.boxes:
        shape, placement = box_object(box, padding_m)
        box_tf = coal.Transform3s(placement.rotation, placement.translation)
        box_radius = 0.5 * float(np.linalg.norm(np.asarray(box.size_m) + 2.0 * padding_m))
        for link_shape, link_tf, centre, radius in links:
            if np.linalg.norm(centre - placement.translation) > radius + box_radius:
                continue  # the bounding spheres are apart
            if coal.collide(link_shape, link_tf, shape, box_tf, coal.CollisionRequest(), coal.CollisionResult()):
                on.append(box.name)
                break
    return tuple(on)


def without(scene: Scene, names: tuple[str, ...]) -> Scene:
    """The scene less the named boxes and planes."""
    return Scene(
        boxes=tuple(b for b in scene.boxes if b.name not in names),
        planes=tuple(p for p in scene.planes if p.name not in names),
    )

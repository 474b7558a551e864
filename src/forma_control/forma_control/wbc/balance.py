"""Balance: keep the capture point (divergent component of motion) over the support polygon.

Linear inverted pendulum: xi = c + c_dot / omega, omega = sqrt(g / z_com). The centre of mass
reference is moved against the capture point's excursion from its nominal place, so the
position-controlled legs push the zero-moment point toward the side the robot is falling to,
and the nominal place itself sits mid-foot, where the support polygon's margins are largest.
"""

from __future__ import annotations

import math

import numpy as np

GRAVITY = 9.81


def omega(com_height_m: float) -> float:
    """Natural frequency of the linear inverted pendulum [1/s]."""
    return math.sqrt(GRAVITY / max(com_height_m, 0.1))


def capture_point(com_xy: np.ndarray, com_velocity_xy: np.ndarray, com_height_m: float) -> np.ndarray:
    return com_xy + com_velocity_xy / omega(com_height_m)


def support_polygon(sole_poses, foot_back_m: float, foot_front_m: float, foot_half_width_m: float) -> np.ndarray:
    """Corners (N x 2, counter-clockwise) of the convex hull of the soles in contact.

    sole_poses: iterable of (xyz, 3x3 rotation) of each sole in contact.
    """
    corners = []
    for xyz, rot in sole_poses:
        for dx in (-foot_back_m, foot_front_m):
            for dy in (-foot_half_width_m, foot_half_width_m):
                corners.append(xyz[:2] + rot[:2, :2] @ np.array([dx, dy]))
    return convex_hull(np.array(corners))


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull of 2D points (monotone chain)."""
    pts = sorted({(float(p[0]), float(p[1])) for p in points})
    if len(pts) <= 2:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def distance_outside(point: np.ndarray, hull_ccw: np.ndarray) -> float:
    """Signed distance [m] of a 2D point outside a convex CCW polygon (negative inside): outside,
    the distance to the nearest point of the boundary; inside, minus the distance to it."""
    n = len(hull_ccw)
    if n == 0:
        return math.nan
    if n < 3:
        return float(min(np.linalg.norm(point - p) for p in hull_ccw))
    inside = True
    nearest = math.inf
    for i in range(n):
        a, b = hull_ccw[i], hull_ccw[(i + 1) % n]
        edge = b - a
        length_sq = float(np.dot(edge, edge))
        if length_sq < 1e-24:
            continue
        if edge[0] * (point[1] - a[1]) - edge[1] * (point[0] - a[0]) < 0:
            inside = False  # right of a CCW edge
        t = min(max(float(np.dot(point - a, edge)) / length_sq, 0.0), 1.0)
        nearest = min(nearest, float(np.linalg.norm(point - (a + t * edge))))
    return -nearest if inside else nearest


def signed_distance(polygon: np.ndarray, point: np.ndarray) -> float:
    """Distance of a point to a convex CCW polygon's boundary [m]: positive inside, negative outside."""
    return -distance_outside(point, polygon)


def clip_to_polygon(polygon: np.ndarray, point: np.ndarray, margin_m: float) -> np.ndarray:
    """The point, or the nearest point of the polygon shrunk by margin_m when it lies outside."""
    if signed_distance(polygon, point) >= margin_m:
        return point
    centre = polygon.mean(axis=0)
    lo, hi = 0.0, 1.0  # bisection along the segment centre -> point (convex polygon)
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if signed_distance(polygon, centre + mid * (point - centre)) >= margin_m:
            lo = mid
        else:
            hi = mid
    return centre + lo * (point - centre)

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
    local = np.array(
        [[dx, dy] for dx in (-foot_back_m, foot_front_m) for dy in (-foot_half_width_m, foot_half_width_m)]
    )
    corners = [np.asarray(xyz)[:2] + local @ np.asarray(rot)[:2, :2].T for xyz, rot in sole_poses]
    return convex_hull(np.vstack(corners))


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull of 2D points (monotone chain)."""
    pts = sorted(set(map(tuple, np.asarray(points, float).tolist())))
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
    the distance to the nearest point of the boundary; inside, minus the distance to it.
    Plain floats: for the 4-8 corners of a support polygon ~4x faster than numpy (it runs every
    control tick)."""
    n = len(hull_ccw)
    if n == 0:
        return math.nan
    px, py = float(point[0]), float(point[1])
    corners = hull_ccw.tolist() if isinstance(hull_ccw, np.ndarray) else [tuple(c) for c in hull_ccw]
    if n < 3:
        return min(math.hypot(px - x, py - y) for x, y in corners)
    inside = True
    nearest_sq = math.inf
    for i in range(n):
        ax, ay = corners[i]
        bx, by = corners[(i + 1) % n]
        ex, ey = bx - ax, by - ay
        length_sq = ex * ex + ey * ey
        if length_sq < 1e-24:
            continue
        rx, ry = px - ax, py - ay
        if ex * ry - ey * rx < 0:
            inside = False  # right of a CCW edge
        t = min(max((rx * ex + ry * ey) / length_sq, 0.0), 1.0)
        dx, dy = rx - t * ex, ry - t * ey
        nearest_sq = min(nearest_sq, dx * dx + dy * dy)
    nearest = math.sqrt(nearest_sq)
    return -nearest if inside else nearest


def signed_distance(polygon: np.ndarray, point: np.ndarray) -> float:
    """Distance of a point to a convex CCW polygon's boundary [m]: positive inside, negative outside."""
    return -distance_outside(point, polygon)


def clip_to_polygon(polygon: np.ndarray, point: np.ndarray, margin_m: float) -> np.ndarray:
    """The point, or the furthest point toward it on the segment from the polygon's centre that
    lies at least margin_m inside (the centre when no point of the segment does).

    Inside a convex polygon the distance to the boundary is the smallest distance to its edges'
    lines, so "at least margin_m inside" is one linear inequality per edge along the segment:
    solved exactly (a bisection here took 1.1 ms, half a control period)."""
    point = np.asarray(point, float)
    if len(polygon) < 3 or signed_distance(polygon, point) >= margin_m:
        return point
    centre = polygon.mean(axis=0)
    edge = np.roll(polygon, -1, axis=0) - polygon
    length = np.hypot(edge[:, 0], edge[:, 1])
    keep = length > 1e-12
    inward = np.stack([-edge[keep, 1], edge[keep, 0]], axis=1) / length[keep, None]  # left normals (CCW)
    slack = np.einsum("ij,ij->i", inward, centre - polygon[keep]) - margin_m  # >= 0 needed, at t = 0
    rate = inward @ (point - centre)  # d(slack)/dt along centre + t (point - centre)
    t_lo, t_hi = 0.0, 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = -slack / rate
    if np.any((rate == 0) & (slack < 0)):
        return centre
    if np.any(rate > 0):
        t_lo = max(t_lo, float(np.max(bound[rate > 0])))
    if np.any(rate < 0):
        t_hi = min(t_hi, float(np.min(bound[rate < 0])))
    if t_lo > t_hi:
        return centre
    return centre + t_hi * (point - centre)

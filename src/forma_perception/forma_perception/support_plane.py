"""The support plane (a table top): the highest near-horizontal plane with enough points.

Points are in a gravity-aligned robot frame (base_link while the robot stands: z up). RANSAC
finds the dominant horizontal planes one after another (floor, table, ...); the highest one with
enough inliers is the surface objects stand on, refined by least squares.
"""

from __future__ import annotations

import dataclasses

import numpy as np

MAX_TILT_RAD = 0.15  # a standing robot leans a few degrees; slopes through object tops are steeper
INLIER_M = 0.012
SCORE_POINTS = 2500
MIN_SHARE = 0.2


@dataclasses.dataclass(frozen=True)
class Plane:
    """n . p = d with |n| = 1 and n pointing up (n_z > 0); `inliers` indexes the input points."""

    normal: np.ndarray
    offset: float
    inliers: np.ndarray

    def height_of(self, points: np.ndarray) -> np.ndarray:
        """Signed distance above the plane [m]."""
        return points @ self.normal - self.offset


def _refine(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares plane: the scatter matrix's weakest direction (a 3 x 3 eigenproblem, not an
    SVD of all N points)."""
    points = np.asarray(points, dtype=np.float64)
    centre = points.mean(axis=0)
    offsets = points - centre
    _, vectors = np.linalg.eigh(offsets.T @ offsets)
    normal = vectors[:, 0] if vectors[2, 0] > 0 else -vectors[:, 0]
    return normal, float(normal @ centre)


def find_planes(points: np.ndarray, rng: np.random.Generator, max_planes: int = 3, min_points: int = 300,
                iterations: int = 150) -> list[Plane]:  # fmt: skip
    """Up to max_planes near-horizontal planes, biggest first (points: N x 3, finite)."""
    remaining = np.arange(len(points))
    planes: list[Plane] = []
    cos_tilt = np.cos(MAX_TILT_RAD)
    for _ in range(max_planes):
        if len(remaining) < min_points:
            break
        pts = points[remaining]
        # hypotheses are scored on a subsample (the cost of a frame must not grow with its size),
        # all at once: normals K x 3, distances SCORE_POINTS x K
        probe = pts[rng.choice(len(pts), size=min(len(pts), SCORE_POINTS), replace=False)]
        a, b, c = (probe[idx] for idx in rng.integers(0, len(probe), size=(3, iterations)))
        normals = np.cross(b - a, c - a)
        norms = np.linalg.norm(normals, axis=1)
        keep = norms > 1e-9
        normals = normals[keep] / norms[keep, None]
        offsets = np.einsum("ij,ij->i", normals, a[keep])
        upright = np.abs(normals[:, 2]) >= cos_tilt
        normals, offsets = normals[upright], offsets[upright]
        best = None
        best_count = 0.0
        if len(normals):
            counts = (np.abs(probe @ normals.T - offsets) < INLIER_M).sum(axis=0) * (len(pts) / len(probe))
            k = int(np.argmax(counts))
            best, best_count = (normals[k], float(offsets[k])), float(counts[k])
        if best is None or best_count < min_points:
            break
        normal, offset = best
        members = np.abs(pts @ normal - offset) < INLIER_M
        normal, offset = _refine(pts[members])
        members = np.abs(pts @ normal - offset) < INLIER_M
        planes.append(Plane(normal, offset, remaining[members]))
        remaining = remaining[~members]
    return planes


def support_plane(points: np.ndarray, rng: np.random.Generator, min_points: int = 300) -> Plane | None:
    """The highest horizontal plane with at least min_points points and at least MIN_SHARE of the
    biggest plane's (small planes found after the big ones are object tops and table-edge
    residue, measured), or None."""
    planes = find_planes(points, rng, min_points=min_points)
    if not planes:
        return None
    biggest = max(len(p.inliers) for p in planes)
    candidates = [p for p in planes if len(p.inliers) >= MIN_SHARE * biggest]
    return max(candidates, key=lambda p: p.offset / p.normal[2])

"""Objects on the support plane: segmentation (pixels above the plane and over it, split at depth
edges, connected components), then a colour name, a shape class and a bounding box per object.

Shapes are told apart by what the camera sees of them from above: a ball's points lie on a
sphere; a cup's top rim is a circle (its footprint fills ~pi/4 of its bounding rectangle); a box's
top is a rectangle (fills ~all of it). The box centre comes from that top footprint and the
height above the plane, not from the visible points' mean (which leans towards the camera).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from forma_perception.support_plane import Plane

MIN_HEIGHT_M = 0.012  # above the plane: lower is plane noise or a sheet of paper
MAX_HEIGHT_M = 0.40
DEPTH_EDGE_M = 0.03  # neighbouring pixels further apart than this belong to different surfaces
MIN_PIXELS = 25
TOP_BAND_M = 0.012  # the top surface: points within this of an object's highest point
CLIPPED_VALUE = 250  # HSV value at which a pixel counts as clipped by the light
MIN_UNCLIPPED_PIXELS, UNCLIPPED_SHARE = 10, 0.15
HUES = (  # OpenCV hue (0..180) upper bounds
    (8, "red"),
    (20, "orange"),
    (34, "yellow"),
    (85, "green"),
    (128, "blue"),
    (160, "purple"),
    (180, "red"),
)


@dataclasses.dataclass(frozen=True)
class Detection:
    """One object in the plane-aligned robot frame the points were given in."""

    label: str
    color: str
    score: float
    position: np.ndarray  # bounding-box centre [m]
    yaw: float  # about the plane normal [rad]
    size: np.ndarray  # extent along the box's own x, y, z [m]
    pixels: int


def colour_name(rgb_pixels: np.ndarray) -> str:
    """The dominant colour of N x 3 RGB uint8 pixels as a word."""
    hsv = cv2.cvtColor(rgb_pixels.reshape(-1, 1, 3).astype(np.uint8), cv2.COLOR_RGB2HSV).reshape(-1, 3)
    h, s, v = (float(np.median(hsv[:, i])) for i in range(3))
    if v < 50:
        return "black"
    if s < 60:
        return "white" if v > 190 else "grey"
    saturated = hsv[hsv[:, 1] >= 60]
    # a brightly lit surface clips a channel at 255 and its hue slides toward the next colour (an
    # orange cup in full light read hue 21-23, "yellow"; its unclipped pixels 15): the unclipped
    # pixels say the colour where there are enough of them
    unclipped = saturated[saturated[:, 2] < CLIPPED_VALUE]
    if len(unclipped) >= max(MIN_UNCLIPPED_PIXELS, UNCLIPPED_SHARE * len(saturated)):
        saturated = unclipped
    hue = float(np.median(saturated[:, 0])) if len(saturated) else h
    return next(name for bound, name in HUES if hue <= bound)


def segment(points: np.ndarray, plane: Plane) -> tuple[np.ndarray, np.ndarray]:
    """Label image (0 = none) of object candidates: above the plane, split at depth edges; and
    each label's bounding box and area (cv2's stats rows: x, y, width, height, area)."""
    height = plane.height_of(points)  # NaN where there is no depth
    with np.errstate(invalid="ignore"):
        candidate = (height > MIN_HEIGHT_M) & (height < MAX_HEIGHT_M)
    z = points[:, :, 2]
    edge = np.zeros_like(candidate)
    with np.errstate(invalid="ignore"):
        edge[:, 1:] |= np.abs(np.diff(z, axis=1)) > DEPTH_EDGE_M
        edge[1:, :] |= np.abs(np.diff(z, axis=0)) > DEPTH_EDGE_M
    mask = (candidate & ~edge).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    return labels, stats


def _footprint(top_xy: np.ndarray) -> tuple[tuple[float, float], tuple[float, float], float, float]:
    """minAreaRect of the top points (centre, size, angle in degrees) and hull fill ratio."""
    pts = (top_xy * 1000.0).astype(np.float32)  # mm: cv2's geometry works in pixels-like units
    (cx, cy), (w, h), angle = cv2.minAreaRect(pts)
    hull_area = cv2.contourArea(cv2.convexHull(pts))
    fill = hull_area / max(w * h, 1e-6)
    return (cx / 1000.0, cy / 1000.0), (w / 1000.0, h / 1000.0), angle, fill


def _sphere(points: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Least-squares sphere: centre, radius, RMS residual."""
    a = np.column_stack([2 * points, np.ones(len(points))])
    b = (points**2).sum(axis=1)
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    centre = sol[:3]
    radius = float(np.sqrt(max(sol[3] + centre @ centre, 0.0)))
    rms = float(np.sqrt(np.mean((np.linalg.norm(points - centre, axis=1) - radius) ** 2)))
    return centre, radius, rms


def plane_basis(plane: Plane) -> np.ndarray:
    """3 x 3 rotation whose rows are the plane's x, y (in-plane) and its normal."""
    n = plane.normal
    x = np.array([1.0, 0.0, 0.0]) - n[0] * n
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(n, x), n])


OUTLINE_TOLERANCE_MM = 5.0  # the published outline keeps within this of the hull (fewer vertices)


def outline(plane: Plane, plane_points: np.ndarray) -> np.ndarray:
    """The support surface as seen: the convex hull of the plane's own points (N x 3, robot frame),
    on the plane, K x 3 [m] in the same frame; what a planner needs to keep an arm off the table top
    without the whole point cloud."""
    if len(plane_points) < 3:
        return np.zeros((0, 3))
    basis = plane_basis(plane)
    hull = cv2.convexHull(((plane_points @ basis.T)[:, :2] * 1000.0).astype(np.float32))
    hull = cv2.approxPolyDP(hull, OUTLINE_TOLERANCE_MM, True).reshape(-1, 2).astype(np.float64) / 1000.0
    in_plane = np.column_stack([hull, np.full(len(hull), plane.offset)])
    return in_plane @ basis  # (rows of basis: x, y, normal; a point is x * bx + y * by + offset * n)


def describe(points: np.ndarray, rgb: np.ndarray, plane: Plane) -> Detection | None:
    """One segment (N x 3 points, N x 3 colours) -> a detection, or None if it is not an object."""
    if len(points) < MIN_PIXELS:
        return None
    basis = plane_basis(plane)
    local = points @ basis.T  # plane frame: x, y in the plane, z = height above it (+ offset)
    height = plane.height_of(points)
    top = float(np.percentile(height, 98))
    if top < MIN_HEIGHT_M:
        return None
    top_xy = local[height > top - TOP_BAND_M][:, :2]
    if len(top_xy) < 5:
        top_xy = local[:, :2]
    (cx, cy), (w, h), angle, fill = _footprint(top_xy)
    centre_s, radius, rms = _sphere(points)
    color = colour_name(rgb)
    if rms < 0.004 and abs(2 * radius - top) < 0.3 * top:
        centre_plane = basis @ centre_s
        position = basis.T @ np.array([centre_plane[0], centre_plane[1], plane.offset + radius])
        d = 2 * radius
        return Detection("ball", color, 0.9, position, 0.0, np.array([d, d, d]), len(points))
    centre = basis.T @ np.array([cx, cy, plane.offset + top / 2])
    if fill < 0.9 and abs(w - h) < 0.25 * max(w, h):
        d = (w + h) / 2
        return Detection("cup", color, 0.8, centre, 0.0, np.array([d, d, top]), len(points))
    yaw = np.radians(angle)
    return Detection("box", color, 0.8, centre, float(yaw), np.array([w, h, top]), len(points))


def detect(points: np.ndarray, rgb: np.ndarray, plane: Plane, plane_points: np.ndarray) -> list[Detection]:
    """Every object standing on the plane, from H x W x 3 points (robot frame), their colours and
    the plane's own points (its extent: objects must stand over it)."""
    labels, stats = segment(points, plane)
    basis = plane_basis(plane)
    hull = cv2.convexHull(((plane_points @ basis.T)[:, :2] * 1000.0).astype(np.float32))
    found = []
    for k in range(1, len(stats)):
        x, y, w, h, area = stats[k]
        if area < MIN_PIXELS:
            continue  # speckle: describe() would refuse it
        # each segment read inside its bounding box: a whole-image mask per segment cost a
        # third of the frame
        box = (slice(y, y + h), slice(x, x + w))
        member = labels[box] == k
        det = describe(points[box][member], rgb[box][member], plane)
        if det is None:
            continue
        xy = (basis @ det.position)[:2] * 1000.0
        if cv2.pointPolygonTest(hull, (float(xy[0]), float(xy[1])), True) < -20.0:
            continue  # not over the support surface (e.g. the robot's own hand beside the table)
        found.append(det)
    return found

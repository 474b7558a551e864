"""One RGB-D frame -> tracked objects: points in the robot's gravity-aligned frame, the support
plane, objects on it, track IDs. Pure: no ROS, the node feeds it."""

from __future__ import annotations

import dataclasses

import numpy as np

from forma_perception.objects import Detection, detect, outline
from forma_perception.onnx_detector import OnnxDetector, lift
from forma_perception.rgbd import CameraModel, points_in_frame
from forma_perception.support_plane import Plane, support_plane
from forma_perception.tracker import Tracker

MIN_PLANE_SHARE = 0.004  # of the image's pixels: a table covering less than this is not found
PLANE_POINTS = 40_000


@dataclasses.dataclass(frozen=True)
class TrackedObject:
    id: str
    detection: Detection


@dataclasses.dataclass(frozen=True)
class FrameResult:
    objects: list[TrackedObject]
    plane: Plane | None
    valid_depth_share: float
    plane_outline: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 3)))  # K x 3, base frame


class ObjectPipeline:
    """Keeps the tracker and a seeded random generator (RANSAC), so results are reproducible.
    With a learned detector, its 2D boxes lifted by the depth replace the geometric segmentation."""

    def __init__(self, seed: int = 0, detector: OnnxDetector | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        self.tracker = Tracker()
        self.detector = detector

    def process(
        self, rgb: np.ndarray, depth_m: np.ndarray, camera: CameraModel, t_base_camera: np.ndarray
    ) -> FrameResult:
        """rgb H x W x 3, depth H x W metres (NaN = none), T_base_camera 4 x 4 (base z up)."""
        points = points_in_frame(depth_m, camera, t_base_camera)
        valid = np.isfinite(points[:, :, 2])
        share = float(valid.mean())
        if self.detector is not None:
            lifted = [lift(box, points, rgb, t_base_camera[:3, 3]) for box in self.detector.detect_2d(rgb)]
            tracks = self.tracker.update([d for d in lifted if d is not None])
            return FrameResult([TrackedObject(t.id, t.detection) for t in tracks], None, share)
        # the plane is found on at most ~PLANE_POINTS pixels (every k-th row and column): its fit
        # does not improve with more, its cost does not stay flat
        k = max(1, int(np.sqrt(valid.size / PLANE_POINTS)))
        sparse = points[::k, ::k][valid[::k, ::k]]
        plane = support_plane(sparse, self.rng, min_points=max(50, int(MIN_PLANE_SHARE * sparse.shape[0])))
        if plane is None:
            self.tracker.update([])
            return FrameResult([], None, share)
        detections = detect(points, rgb, plane, sparse[plane.inliers])
        tracks = self.tracker.update(detections)
        objects = [TrackedObject(t.id, t.detection) for t in tracks]
        return FrameResult(objects, plane, share, outline(plane, sparse[plane.inliers]))

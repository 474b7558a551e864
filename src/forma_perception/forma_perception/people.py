"""Faces in front of the robot: OpenCV's Haar frontal-face cascade (its weights ship inside
opencv-python-headless, nothing is downloaded) on a grey image, each face box lifted to 3D by the
robust median of the valid depth inside it, in the robot's gravity-aligned base frame.

Cost is kept low by searching only where a face can be: the image rectangle that holds depth
points at face heights (FACE_Z_BASE_M, above the table and the objects on it) within the search
range; with no such points there is nothing to search and nothing is spent. The grey crop is
resized so that a face at the farthest depth found there (at most `max_range_m`) is the cascade's
24-pixel window: a near person is searched on a reduced image, a far one on a magnified one, at
about the same work at 320x240 and at 640x480.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from forma_perception.errors import PerceptionError
from forma_perception.rgbd import CameraModel, points_in_camera

CASCADE = "haarcascade_frontalface_default.xml"
WINDOW_PX = 24  # the frontal cascade's detection window
FACE_WIDTH_M = 0.14  # a cascade box spans about this much of a real face (brow to chin, cheek to cheek)
FACE_WIDTH_RANGE_M = (0.08, 0.30)  # boxes whose size at their depth is outside this are not faces
FACE_Z_BASE_M = (0.10, 1.30)  # face centres above base_link (pelvis, ~0.95 m above the floor when standing)
MIN_RANGE_M = 0.35
ROI_STRIDE = 4  # the search rectangle is found on every 4th pixel's depth
MIN_VALID_DEPTH = 0.2  # of the pixels in a face's inner box: fewer valid -> no 3D position
MIN_NEIGHBOURS = 4  # the cascade's overlapping hits needed for a face
SCALE_STEP = 1.15  # the cascade's pyramid step


@dataclasses.dataclass(frozen=True)
class FaceDetection:
    """One face: its centre on the face's surface in the base frame [m] and its image box [px]."""

    position: np.ndarray
    box_px: tuple[int, int, int, int]  # x, y, width, height in the colour image
    score: float
    label: str = "face"  # for the tracker


@dataclasses.dataclass(frozen=True)
class FaceSearch:
    """What one frame cost and where it looked (for the node's diagnostics and the bench)."""

    roi_px: tuple[int, int, int, int] | None  # x, y, width, height searched; None: nothing at face height
    scale: float  # grey crop resize factor given to the cascade


def load_cascade(name: str = CASCADE) -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + name
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise PerceptionError(f"face cascade {path} did not load: is opencv-python-headless < 5 installed?")
    return cascade


class FaceDetector:
    """Haar frontal faces with 3D positions, for faces from MIN_RANGE_M to `max_range_m`."""

    def __init__(self, max_range_m: float = 3.0) -> None:
        if not (math.isfinite(max_range_m) and 0.8 <= max_range_m <= 6.0):
            raise PerceptionError(f"people_max_range_m {max_range_m} outside 0.8..6.0 m")
        self.max_range_m = float(max_range_m)
        self.cascade = load_cascade()

    def search_area(
        self, depth_m: np.ndarray, camera: CameraModel, t_base_camera: np.ndarray
    ) -> tuple[tuple[int, int, int, int], float, float] | None:
        """(x, y, w, h) of the image part with depth points at face heights within range, grown by
        a face's width so the cascade sees the whole head, and the nearest and farthest of those
        points' depths [m]; None if there are none."""
        s = ROI_STRIDE
        sparse = depth_m[::s, ::s]
        h, w = sparse.shape
        small = CameraModel(w, h, camera.fx / s, camera.fy / s, camera.cx / s, camera.cy / s)
        points = points_in_camera(sparse, small)
        z_base = points @ t_base_camera[2, :3] + t_base_camera[2, 3]
        with np.errstate(invalid="ignore"):
            mask = (z_base >= FACE_Z_BASE_M[0]) & (z_base <= FACE_Z_BASE_M[1]) & (sparse <= self.max_range_m + 0.2)
        if not mask.any():
            return None
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        depths = sparse[mask]
        near = max(float(np.min(depths)), MIN_RANGE_M)
        far = min(float(np.percentile(depths, 98)), self.max_range_m)
        grow = int(camera.fx * FACE_WIDTH_M / near)
        x0, x1 = max(0, cols[0] * s - grow), min(camera.width, cols[-1] * s + s + grow)
        y0, y1 = max(0, rows[0] * s - grow), min(camera.height, rows[-1] * s + s + grow)
        return (int(x0), int(y0), int(x1 - x0), int(y1 - y0)), near, max(far, near)

    def detect(
        self, rgb: np.ndarray, depth_m: np.ndarray, camera: CameraModel, t_base_camera: np.ndarray
    ) -> tuple[list[FaceDetection], FaceSearch]:
        """rgb H x W x 3, depth H x W [m] (NaN = none), T_base_camera 4 x 4 -> faces in base.
        The crop is scaled so that a face at the farthest depth found at face height is the
        cascade's window; the largest face searched is one at the nearest such depth."""
        area = self.search_area(depth_m, camera, t_base_camera)
        if area is None:
            return [], FaceSearch(None, 0.0)
        (x0, y0, w, h), near, far = area
        smallest_px = camera.fx * FACE_WIDTH_M / far * 0.85  # a little smaller than a face's box there
        scale = WINDOW_PX / smallest_px
        grey = cv2.cvtColor(np.ascontiguousarray(rgb[y0 : y0 + h, x0 : x0 + w]), cv2.COLOR_RGB2GRAY)
        interpolation = cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=interpolation)
        if min(grey.shape) < WINDOW_PX:
            return [], FaceSearch((x0, y0, w, h), scale)
        grey = cv2.equalizeHist(grey)  # the cascade's contrasts, under any lighting
        largest = max(WINDOW_PX + 1, int(camera.fx * FACE_WIDTH_M / near * 1.3 * scale))
        boxes, neighbours = self.cascade.detectMultiScale2(
            grey, scaleFactor=SCALE_STEP, minNeighbors=MIN_NEIGHBOURS, minSize=(WINDOW_PX, WINDOW_PX),
            maxSize=(largest, largest),
        )  # fmt: skip
        faces = []
        for (bx, by, bw, bh), n in zip(np.reshape(boxes, (-1, 4)), np.ravel(neighbours), strict=True):
            box = (x0 + int(bx / scale), y0 + int(by / scale), max(1, int(bw / scale)), max(1, int(bh / scale)))
            face = lift_face(box, depth_m, camera, t_base_camera, float(n) / (float(n) + 5.0))
            if face is not None:
                faces.append(face)
        return faces, FaceSearch((x0, y0, w, h), scale)


def lift_face(
    box_px: tuple[int, int, int, int],
    depth_m: np.ndarray,
    camera: CameraModel,
    t_base_camera: np.ndarray,
    score: float,
) -> FaceDetection | None:
    """The face box's centre ray at the median valid depth of the box's inner half (holes, NaN and
    the background at the box's corners do not move it); None when too little depth is valid or
    the box is not face-sized at that depth."""
    x, y, w, h = box_px
    inner = depth_m[y + h // 4 : y + h - h // 4, x + w // 4 : x + w - w // 4]
    valid = inner[np.isfinite(inner)]
    if inner.size == 0 or valid.size < max(4, MIN_VALID_DEPTH * inner.size):
        return None
    z = float(np.median(valid))
    width_m = w * z / camera.fx
    if not FACE_WIDTH_RANGE_M[0] <= width_m <= FACE_WIDTH_RANGE_M[1]:
        return None
    u, v = x + w / 2.0, y + h / 2.0
    p_camera = np.array([(u - camera.cx) / camera.fx * z, (v - camera.cy) / camera.fy * z, z])
    p_base = t_base_camera[:3, :3] @ p_camera + t_base_camera[:3, 3]
    if not FACE_Z_BASE_M[0] - 0.1 <= p_base[2] <= FACE_Z_BASE_M[1] + 0.1:
        return None
    return FaceDetection(p_base, (int(x), int(y), int(w), int(h)), score)


PERSON_GATE_M = 0.5  # a walking person's face moves less than this between two processed frames (5 Hz)
PERSON_FORGET_AFTER = 10  # frames


@dataclasses.dataclass(frozen=True)
class TrackedPerson:
    id: str
    face: FaceDetection


class PeoplePipeline:
    """Faces with 3D positions and track IDs (`person-<n>`) that stay with a person across frames."""

    def __init__(self, max_range_m: float = 3.0) -> None:
        from forma_perception.tracker import Tracker  # the tracker knows FaceDetection

        self.detector = FaceDetector(max_range_m)
        self.tracker = Tracker("person", PERSON_GATE_M, PERSON_FORGET_AFTER)
        self.last_search: FaceSearch | None = None

    def process(
        self, rgb: np.ndarray, depth_m: np.ndarray, camera: CameraModel, t_base_camera: np.ndarray
    ) -> list[TrackedPerson]:
        """rgb H x W x 3, depth H x W [m] (NaN = none), T_base_camera 4 x 4 (base z up)."""
        faces, self.last_search = self.detector.detect(rgb, depth_m, camera, t_base_camera)
        return [TrackedPerson(t.id, t.detection) for t in self.tracker.update(faces)]

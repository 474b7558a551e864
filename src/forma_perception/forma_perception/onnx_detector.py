"""A learned 2D detector from the user's ONNX model (ONNX Runtime, CPU), lifted to 3D with the
depth image: the backend for objects the geometric pipeline does not know.

The model's I/O signature (documented in the README; checked on load, with errors that say
what differs):
- one input, float32 [1, 3, H, W] with fixed H and W: RGB in 0..1 (the image is resized to it);
- outputs named `boxes` float32 [N, 4] (x1, y1, x2, y2 as fractions of the image width and
  height), `scores` float32 [N] (0..1) and `labels` int64 [N] (indices into the labels list).

3D (`lift`): the nearest surface inside the middle half of each box (the rim and what lies behind
are background), moved back by half its width; the colour name comes from the same pixels.
"""

from __future__ import annotations

import dataclasses
import pathlib

import cv2
import numpy as np

from forma_perception.errors import PerceptionError
from forma_perception.objects import Detection, colour_name

OUTPUTS = ("boxes", "scores", "labels")
FOREGROUND_M = 0.05


@dataclasses.dataclass(frozen=True)
class Box2D:
    label: str
    score: float
    u1: float
    v1: float
    u2: float
    v2: float


class OnnxDetector:
    """Runs a user's ONNX detector on RGB frames."""

    def __init__(self, model_path: str | pathlib.Path, labels: list[str], score_threshold: float = 0.5) -> None:
        import onnxruntime

        path = pathlib.Path(model_path).expanduser()
        if not path.is_file():
            raise PerceptionError(f"ONNX model {path} does not exist")
        if not labels:
            raise PerceptionError("an ONNX detector needs its labels (the names of its class indices)")
        if not 0.0 <= score_threshold <= 1.0:
            raise PerceptionError(f"score_threshold {score_threshold} outside 0..1")
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types with the reason
            raise PerceptionError(f"{path} is not a loadable ONNX model: {exc}") from exc
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise PerceptionError(f"{path.name}: expected one input [1, 3, H, W], got {len(inputs)}")
        shape = inputs[0].shape
        if len(shape) != 4 or shape[1] != 3 or not all(isinstance(d, int) and d > 0 for d in shape[2:]):
            raise PerceptionError(
                f"{path.name}: input {inputs[0].name} has shape {shape}; expected [1, 3, H, W], H and W fixed"
            )
        if inputs[0].type != "tensor(float)":
            raise PerceptionError(f"{path.name}: input type {inputs[0].type}; expected tensor(float)")
        names = {o.name for o in self.session.get_outputs()}
        missing = [n for n in OUTPUTS if n not in names]
        if missing:
            raise PerceptionError(
                f"{path.name}: outputs {sorted(names)}; expected {', '.join(OUTPUTS)} (missing {missing})"
            )
        self.input_name, self.height, self.width = inputs[0].name, int(shape[2]), int(shape[3])
        self.labels, self.score_threshold = list(labels), score_threshold

    def detect_2d(self, rgb: np.ndarray) -> list[Box2D]:
        """Boxes in pixels of `rgb`, above the score threshold, with a known label."""
        h, w = rgb.shape[:2]
        blob = cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        boxes, scores, labels = self.session.run(list(OUTPUTS), {self.input_name: blob.transpose(2, 0, 1)[None]})
        boxes, scores, labels = np.asarray(boxes, float), np.asarray(scores, float).ravel(), np.asarray(labels).ravel()
        if boxes.ndim != 2 or boxes.shape[1] != 4 or not len(boxes) == len(scores) == len(labels):
            raise PerceptionError(
                f"model output shapes boxes {boxes.shape}, scores {scores.shape}, labels {labels.shape}"
            )
        out = []
        for (x1, y1, x2, y2), score, index in zip(boxes, scores, labels, strict=True):
            if not (np.isfinite(score) and score >= self.score_threshold and 0 <= index < len(self.labels)):
                continue
            if not (np.all(np.isfinite([x1, y1, x2, y2])) and x2 > x1 and y2 > y1):
                continue
            out.append(Box2D(self.labels[int(index)], float(score), x1 * w, y1 * h, x2 * w, y2 * h))
        return out


def lift(
    box: Box2D, points: np.ndarray, rgb: np.ndarray, camera_position: np.ndarray, min_points: int = 10
) -> Detection | None:
    """A 2D box -> a 3D detection from the robot-frame points inside its middle half: the nearest
    surface in the box (points within FOREGROUND_M of its 20th-percentile range; what lies behind
    is background), its median moved back along the viewing ray by half the object's width (a
    solid object's centre is behind the surface the camera sees)."""
    h, w = points.shape[:2]
    du, dv = (box.u2 - box.u1) / 4, (box.v2 - box.v1) / 4
    u1, u2 = int(max(0, box.u1 + du)), int(min(w, np.ceil(box.u2 - du)))
    v1, v2 = int(max(0, box.v1 + dv)), int(min(h, np.ceil(box.v2 - dv)))
    if u2 <= u1 or v2 <= v1:
        return None
    inside = points[v1:v2, u1:u2].reshape(-1, 3)
    colours = rgb[v1:v2, u1:u2].reshape(-1, 3)
    valid = np.isfinite(inside[:, 2])
    if np.count_nonzero(valid) < min_points:
        return None
    pts, colours = inside[valid], colours[valid]
    distance = np.linalg.norm(pts - camera_position, axis=1)
    near = distance <= np.percentile(distance, 20) + FOREGROUND_M
    pts, colours = pts[near], colours[near]
    surface = np.median(pts, axis=0)
    ray = (surface - camera_position) / np.linalg.norm(surface - camera_position)
    across = np.cross(ray, [0.0, 0.0, 1.0])
    across /= max(np.linalg.norm(across), 1e-9)
    width = float(np.subtract(*np.percentile(pts @ across, [95, 5])))
    low, high = np.percentile(pts, 5, axis=0), np.percentile(pts, 95, axis=0)
    size = np.array([width, width, high[2] - low[2]])
    return Detection(box.label, colour_name(colours), box.score, surface + ray * width / 2, 0.0, size, len(pts))

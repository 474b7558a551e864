"""TF <-> pose maths for the node's TF side on a ROS 2 install (tf2_ros is not on the pip side):
a looked-up transform (translation + quaternion, as geometry_msgs/Transform carries them) -> a
4 x 4 matrix, and the detected objects and people -> the child frames the node broadcasts
(`object/<id>`, `person/<id>`). Pure, so it is tested where tf2 cannot run."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

import numpy as np

from forma_perception.errors import PerceptionError

UNIT_TOLERANCE = 1e-3  # |q| further from 1 than this is a broken transform, not rounding


@dataclasses.dataclass(frozen=True)
class FrameTransform:
    """One TF edge: `child` expressed in `parent` (translation [m], rotation as x, y, z, w)."""

    parent: str
    child: str
    translation: tuple[float, float, float]
    rotation_xyzw: tuple[float, float, float, float]


def matrix_from_transform(
    translation: Sequence[float], rotation_xyzw: Sequence[float], what: str = "transform"
) -> np.ndarray:
    """4 x 4 T_parent_child from a TF transform; NaN/inf or a non-unit quaternion is refused."""
    t = np.asarray(translation, float)
    q = np.asarray(rotation_xyzw, float)
    if t.shape != (3,) or q.shape != (4,) or not (np.all(np.isfinite(t)) and np.all(np.isfinite(q))):
        raise PerceptionError(f"{what}: translation {t.tolist()} / rotation {q.tolist()} is not a finite transform")
    norm = float(np.linalg.norm(q))
    if abs(norm - 1.0) > UNIT_TOLERANCE:
        raise PerceptionError(f"{what}: quaternion {q.tolist()} has norm {norm:.4f}, expected 1")
    x, y, z, w = q / norm
    m = np.eye(4)
    m[:3, :3] = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    m[:3, 3] = t
    return m


def quaternion_xyzw(rotation: np.ndarray) -> tuple[float, float, float, float]:
    """x, y, z, w of a 3 x 3 rotation matrix (w >= 0)."""
    m = np.asarray(rotation, float)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2.0 * math.sqrt(1.0 + trace)
        q = ((m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4)
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = (s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s)
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = ((m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = ((m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s)
    sign = -1.0 if q[3] < 0 else 1.0
    return tuple(float(sign * v) for v in q)  # type: ignore[return-value]


def transform_from_matrix(m: np.ndarray) -> tuple[tuple[float, float, float], tuple[float, float, float, float]]:
    """(translation, rotation x, y, z, w) of a 4 x 4 transform."""
    return (float(m[0, 3]), float(m[1, 3]), float(m[2, 3])), quaternion_xyzw(m[:3, :3])


def detection_frames(
    objects_parent: str,
    people_parent: str,
    objects: Iterable[tuple[str, Sequence[float], Sequence[float]]],
    people: Iterable[tuple[str, Sequence[float]]],
) -> list[FrameTransform]:
    """TF frames for one frame's results, children of the frames they were published in: objects
    as (id, position [m], orientation x, y, z, w) -> `object/<id>`; people as (id, face position
    [m]) -> `person/<id>`, axes parallel to the parent's (a face's position has no orientation)."""
    out = [
        FrameTransform(objects_parent, f"object/{i}", tuple(float(v) for v in p), tuple(float(v) for v in q))
        for i, p, q in objects
    ]
    identity = (0.0, 0.0, 0.0, 1.0)
    out += [FrameTransform(people_parent, f"person/{i}", tuple(float(v) for v in p), identity) for i, p in people]
    return out

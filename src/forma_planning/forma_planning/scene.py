"""The planning scene: obstacles the arm must not touch, in `base_link` (the pelvis frame, z up
while the robot stands; where perception finds the support plane and the objects).

Perception gives a support plane (n . p = d) and object boxes (centre, orientation, size); both map
onto these types one to one. The scene is validated on construction: a NaN or a non-positive size
is refused with the obstacle's name.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from forma_planning.errors import PlanRequestError

SLAB_THICKNESS_M = 0.05  # a bounded support plane is a slab of this thickness below its surface


def _finite(name: str, what: str, values) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(array)):
        raise PlanRequestError(f"obstacle {name!r}: {what} {array.tolist()} is not finite")
    return array


@dataclasses.dataclass(frozen=True)
class Box:
    """An object's bounding box in base_link."""

    name: str
    center_in_base_m: tuple[float, float, float]
    size_m: tuple[float, float, float]  # full extents along the box's own x, y, z [m]
    orientation_in_base_xyzw: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        _finite(self.name, "center", self.center_in_base_m)
        size = _finite(self.name, "size", self.size_m)
        if size.shape != (3,) or np.any(size <= 0.0):
            raise PlanRequestError(f"obstacle {self.name!r}: size {size.tolist()} m must be three positive extents")
        quat = _finite(self.name, "orientation", self.orientation_in_base_xyzw)
        if quat.shape != (4,) or abs(np.linalg.norm(quat) - 1.0) > 1e-3:
            raise PlanRequestError(
                f"obstacle {self.name!r}: orientation {quat.tolist()} is not a unit quaternion (x, y, z, w)"
            )


@dataclasses.dataclass(frozen=True)
class SupportPlane:
    """A table top: the plane n . p = offset in base_link (n points up). With an extent it is a slab
    SLAB_THICKNESS_M thick under that rectangle of the surface; without, the half-space below the
    plane (MoveIt's infinite plane), which forbids the arm everywhere below the table's height."""

    name: str
    normal_in_base: tuple[float, float, float]
    offset_m: float
    extent_center_xy_m: tuple[float, float] | None = None  # centre of the top's rectangle, base_link x, y [m]
    extent_size_xy_m: tuple[float, float] | None = None  # its size along base_link x, y [m]

    def __post_init__(self) -> None:
        normal = _finite(self.name, "normal", self.normal_in_base)
        if normal.shape != (3,) or abs(np.linalg.norm(normal) - 1.0) > 1e-3 or normal[2] <= 0.0:
            raise PlanRequestError(
                f"support plane {self.name!r}: normal {normal.tolist()} must be a unit vector pointing up"
            )
        if not math.isfinite(self.offset_m):
            raise PlanRequestError(f"support plane {self.name!r}: offset {self.offset_m} m is not finite")
        if (self.extent_center_xy_m is None) != (self.extent_size_xy_m is None):
            raise PlanRequestError(f"support plane {self.name!r}: give both the extent's centre and size, or neither")
        if self.extent_size_xy_m is not None:
            _finite(self.name, "extent centre", self.extent_center_xy_m)
            size = _finite(self.name, "extent size", self.extent_size_xy_m)
            if size.shape != (2,) or np.any(size <= 0.0):
                raise PlanRequestError(
                    f"support plane {self.name!r}: extent {size.tolist()} m must be two positive sizes"
                )


@dataclasses.dataclass(frozen=True)
class Scene:
    boxes: tuple[Box, ...] = ()
    planes: tuple[SupportPlane, ...] = ()

    def __post_init__(self) -> None:
        names = [o.name for o in (*self.boxes, *self.planes)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise PlanRequestError(f"obstacle names must be unique; repeated: {', '.join(duplicates)}")

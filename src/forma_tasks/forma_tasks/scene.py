"""What perception sees, as the skills use it: objects and people in base_link, and finding the
one an instruction names. Pure (the node and the lockstep harness fill it)."""

from __future__ import annotations

import dataclasses

import numpy as np

from forma_tasks.errors import TaskFailed
from forma_tasks.instructions import ObjectQuery


@dataclasses.dataclass(frozen=True)
class SeenObject:
    id: str
    label: str
    color: str
    position: np.ndarray  # bounding-box centre in base_link [m]
    yaw_rad: float  # about the vertical
    size_m: np.ndarray  # extent along its own x, y, z [m]

    def describe(self) -> str:
        return " ".join(w for w in ("the", self.color, self.label) if w)


@dataclasses.dataclass(frozen=True)
class SeenPerson:
    id: str
    face_position: np.ndarray  # centre of the face in base_link [m]


@dataclasses.dataclass(frozen=True)
class Scene:
    stamp_s: float  # the camera frame's time (robot clock)
    objects: tuple[SeenObject, ...] = ()
    people: tuple[SeenPerson, ...] = ()

    def matching(self, query: ObjectQuery) -> list[SeenObject]:
        return [
            o
            for o in self.objects
            if (query.label is None or o.label == query.label) and (query.color is None or o.color == query.color)
        ]

    def find(self, query: ObjectQuery) -> SeenObject:
        """The object the query names, the nearest to the robot if several match; TaskFailed
        naming what is in view if none does."""
        found = self.matching(query)
        if not found:
            seen = ", ".join(sorted(o.describe() for o in self.objects)) or "nothing on the table"
            raise TaskFailed(f"no {query.describe().removeprefix('the ')} in view (I see {seen})")
        return min(found, key=lambda o: float(np.linalg.norm(o.position[:2])))

    def nearest_person(self) -> SeenPerson:
        if not self.people:
            raise TaskFailed("nobody in view: I see no face")
        return min(self.people, key=lambda p: float(np.linalg.norm(p.face_position[:2])))

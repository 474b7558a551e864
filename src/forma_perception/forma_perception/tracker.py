"""Track IDs that stay with an object (or a person) across frames: greedy nearest-neighbour
association of detections to tracks (same label first), new IDs for the unmatched, tracks
forgotten after a number of frames without a match. Detections are anything with a `position`
[m] and a `label` (objects' Detection, people's FaceDetection)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from forma_perception.objects import Detection
from forma_perception.people import FaceDetection

GATE_M = 0.06  # an object moves less than this between two frames (15 Hz, a hand pushing it)
FORGET_AFTER = 15  # frames
LABEL_CHANGE_M = 0.03  # a label flicker keeps the ID only if the object did not move more than this


@dataclasses.dataclass
class Track:
    id: str
    detection: Detection | FaceDetection
    misses: int = 0


class Tracker:
    def __init__(self, prefix: str = "obj", gate_m: float = GATE_M, forget_after: int = FORGET_AFTER) -> None:
        """IDs are `<prefix>-<n>`; a detection further than gate_m [m] from a track starts a new one."""
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)
        self.prefix, self.gate_m, self.forget_after = prefix, gate_m, forget_after

    def update(self, detections: list[Detection] | list[FaceDetection]) -> list[Track]:
        """Associate one frame's detections; returns the tracks seen in this frame."""
        pairs = sorted(
            (
                (
                    np.linalg.norm(t.detection.position - d.position)
                    + (0.0 if t.detection.label == d.label else LABEL_CHANGE_M),
                    i,
                    j,
                )
                for i, t in enumerate(self.tracks)
                for j, d in enumerate(detections)
            ),
        )
        used_t, used_d, seen = set(), set(), []
        for cost, i, j in pairs:
            if cost > self.gate_m or i in used_t or j in used_d:
                continue
            used_t.add(i)
            used_d.add(j)
            track = self.tracks[i]
            track.detection, track.misses = detections[j], 0
            seen.append(track)
        for i, track in enumerate(self.tracks):
            if i not in used_t:
                track.misses += 1
        for j, det in enumerate(detections):
            if j not in used_d:
                track = Track(f"{self.prefix}-{next(self._ids)}", det)
                self.tracks.append(track)
                seen.append(track)
        self.tracks = [t for t in self.tracks if t.misses <= self.forget_after]
        return seen

"""The server side of the ROS 2 interactive-marker protocol, as state and messages (no rclpy):
what the standard `interactive_markers.InteractiveMarkerServer` (Jazzy, 2.5.x) keeps and sends,
for machines where that library is not installed (the pip side has no wheel of it).

The protocol, as RViz's client (interactive_markers' InteractiveMarkerClient) expects it:
- service `<ns>/get_interactive_markers` (visualization_msgs/srv/GetInteractiveMarkers): every
  current marker and the sequence number of the last update sent;
- topic `<ns>/update` (InteractiveMarkerUpdate, type UPDATE): markers added or replaced, poses
  moved, names erased; each update's `seq_num` is one more than the previous one (the client asks
  for all markers again when it sees a gap);
- topic `<ns>/feedback` (InteractiveMarkerFeedback) from the clients: a POSE_UPDATE moves the
  marker for every other client too; feedback from a second client within 1 s of the first one's
  is ignored, so two operators dragging the same marker do not fight.
Changes are collected and go out together on `apply_changes`, as with the library.
"""

from __future__ import annotations

import copy
import dataclasses

from std_msgs.msg import Header
from visualization_msgs.msg import (
    InteractiveMarker,
    InteractiveMarkerFeedback,
    InteractiveMarkerPose,
    InteractiveMarkerUpdate,
)

CONFLICT_WINDOW_S = 1.0  # feedback from another client this soon after the last is ignored [s]
_FULL, _POSE, _ERASE = "full", "pose", "erase"


@dataclasses.dataclass
class _Change:
    kind: str  # _FULL, _POSE or _ERASE
    marker: InteractiveMarker | None = None  # _FULL: the new marker
    pose_header: tuple | None = None  # _POSE: (Pose, Header)


class MarkerProtocol:
    """The markers a server holds, its pending changes and its sequence number."""

    def __init__(self, server_id: str = "") -> None:
        self.server_id = server_id
        self.seq_num = 0
        self.markers: dict[str, InteractiveMarker] = {}
        self.pending: dict[str, _Change] = {}
        self.last_feedback: dict[str, tuple[str, float]] = {}  # marker -> (client_id, steady time [s])

    def insert(self, marker: InteractiveMarker) -> None:
        """Add or replace a marker (sent on the next apply_changes)."""
        self.pending[marker.name] = _Change(_FULL, marker=marker)

    def set_pose(self, name: str, pose, header: Header | None = None) -> bool:
        """Move a marker (header None or with an empty frame: keep its header); False if unknown."""
        change = self.pending.get(name)
        if change is not None and change.kind == _ERASE:
            return False
        if change is not None and change.kind == _FULL:  # not sent yet: move the marker to be sent
            change.marker.pose = pose
            if header is not None and header.frame_id:
                change.marker.header = header
            return True
        if name not in self.markers:
            return False
        if header is None or not header.frame_id:
            header = self.markers[name].header
        self.pending[name] = _Change(_POSE, pose_header=(pose, header))
        return True

    def erase(self, name: str) -> bool:
        if name not in self.markers and name not in self.pending:
            return False
        self.pending[name] = _Change(_ERASE)
        return True

    def clear(self) -> None:
        self.pending = {name: _Change(_ERASE) for name in self.markers}

    def get(self, name: str) -> InteractiveMarker | None:
        """The marker as it will be after the pending changes (None if it will not exist)."""
        change = self.pending.get(name)
        if change is None:
            return self.markers.get(name)
        if change.kind == _FULL:
            return change.marker
        if change.kind == _ERASE or name not in self.markers:
            return None
        marker = copy.copy(self.markers[name])
        marker.pose, marker.header = change.pose_header
        return marker

    def apply_changes(self) -> InteractiveMarkerUpdate | None:
        """The update message carrying the pending changes (None when there are none); the
        sequence number advances by one per message."""
        if not self.pending:
            return None
        update = InteractiveMarkerUpdate()
        update.server_id = self.server_id
        update.type = InteractiveMarkerUpdate.UPDATE
        for name, change in self.pending.items():
            if change.kind == _FULL:
                self.markers[name] = change.marker
                update.markers.append(change.marker)
            elif change.kind == _POSE:
                if name not in self.markers:
                    continue
                marker = self.markers[name]
                marker.pose, marker.header = change.pose_header
                update.poses.append(InteractiveMarkerPose(header=marker.header, pose=marker.pose, name=name))
            elif name in self.markers:
                del self.markers[name]
                self.last_feedback.pop(name, None)
                update.erases.append(name)
        self.pending = {}
        self.seq_num += 1
        update.seq_num = self.seq_num
        return update

    def fill_response(self, response):
        """A GetInteractiveMarkers response: every current marker and the last sequence number."""
        response.sequence_number = self.seq_num
        response.markers = list(self.markers.values())
        return response

    def accept_feedback(self, feedback: InteractiveMarkerFeedback, now_s: float) -> bool:
        """Record a client's feedback; False (ignore it) for an unknown marker or a second client
        within CONFLICT_WINDOW_S of another one's. A POSE_UPDATE becomes a pending pose change."""
        name = feedback.marker_name
        marker = self.markers.get(name)
        if marker is None:
            return False
        last = self.last_feedback.get(name)
        if last is not None and last[0] != feedback.client_id and now_s - last[1] < CONFLICT_WINDOW_S:
            return False
        self.last_feedback[name] = (feedback.client_id, now_s)
        if feedback.event_type == InteractiveMarkerFeedback.POSE_UPDATE:
            stamp = marker.header.stamp
            header = marker.header if (stamp.sec == 0 and stamp.nanosec == 0) else feedback.header
            self.set_pose(name, feedback.pose, header)
        return True

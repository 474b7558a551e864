"""An interactive-marker server for machines without the `interactive_markers` library (the pip
side): the protocol of marker_protocol.py on a node's service, publisher and subscription, with
the library's names, QoS and call semantics, so the teleop node uses either one unchanged and
RViz on a ROS 2 machine drives it like the standard server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rclpy.node import Node
from rclpy.qos import QoSProfile
from std_msgs.msg import Header
from visualization_msgs.msg import InteractiveMarker, InteractiveMarkerFeedback, InteractiveMarkerUpdate
from visualization_msgs.srv import GetInteractiveMarkers

from forma_teleop.marker_protocol import MarkerProtocol

FeedbackCallback = Callable[[InteractiveMarkerFeedback], None]


class MarkerServer:
    """Drop-in for interactive_markers.InteractiveMarkerServer (the subset the teleop node uses)."""

    DEFAULT_FEEDBACK_CALLBACK = 255

    def __init__(
        self,
        node: Node,
        namespace: str,
        *,
        update_pub_qos: QoSProfile = QoSProfile(depth=100),
        feedback_sub_qos: QoSProfile = QoSProfile(depth=1),
    ) -> None:
        self.node, self.namespace = node, namespace
        self.protocol = MarkerProtocol(server_id=node.get_fully_qualified_name())
        self.lock = threading.Lock()
        self.callbacks: dict[str, dict[int, FeedbackCallback]] = {}
        self.service = node.create_service(
            GetInteractiveMarkers, f"{namespace}/get_interactive_markers", self._on_get_markers
        )
        self.update_pub = node.create_publisher(InteractiveMarkerUpdate, f"{namespace}/update", update_pub_qos)
        self.feedback_sub = node.create_subscription(
            InteractiveMarkerFeedback, f"{namespace}/feedback", self.processFeedback, feedback_sub_qos
        )

    # --- the library's API -------------------------------------------------------------------------
    def insert(self, marker: InteractiveMarker, *, feedback_callback=None, feedback_type=DEFAULT_FEEDBACK_CALLBACK):
        with self.lock:
            self.protocol.insert(marker)
        if feedback_callback is not None:
            self.setCallback(marker.name, feedback_callback, feedback_type)

    def setCallback(self, name: str, feedback_callback, feedback_type=DEFAULT_FEEDBACK_CALLBACK) -> bool:  # noqa: N802
        with self.lock:
            if self.protocol.get(name) is None:
                return False
            callbacks = self.callbacks.setdefault(name, {})
            if feedback_callback is None:
                callbacks.pop(feedback_type, None)
            else:
                callbacks[feedback_type] = feedback_callback
            return True

    def setPose(self, name: str, pose, header: Header | None = None) -> bool:  # noqa: N802
        with self.lock:
            return self.protocol.set_pose(name, pose, header)

    def erase(self, name: str) -> bool:
        with self.lock:
            return self.protocol.erase(name)

    def clear(self) -> None:
        with self.lock:
            self.protocol.clear()

    def get(self, name: str) -> InteractiveMarker | None:
        with self.lock:
            return self.protocol.get(name)

    def applyChanges(self) -> None:  # noqa: N802
        with self.lock:
            update = self.protocol.apply_changes()
            if update is not None:
                self.update_pub.publish(update)  # under the lock: updates leave in seq_num order

    def processFeedback(self, feedback: InteractiveMarkerFeedback) -> None:  # noqa: N802
        """A client's feedback: record it, call the marker's callback, send the pose changes."""
        with self.lock:
            if not self.protocol.accept_feedback(feedback, time.monotonic()):
                return
            callbacks = self.callbacks.get(feedback.marker_name, {})
            callback = callbacks.get(feedback.event_type, callbacks.get(self.DEFAULT_FEEDBACK_CALLBACK))
        if callback is not None:
            callback(feedback)
        self.applyChanges()

    def shutdown(self) -> None:
        """Erase the markers for the clients, then release the ROS entities."""
        if self.service is None:
            return
        if self.node.context.ok():
            self.clear()
            self.applyChanges()
        self.node.destroy_service(self.service)
        self.node.destroy_publisher(self.update_pub)
        self.node.destroy_subscription(self.feedback_sub)
        self.service = None

    # --- service ---------------------------------------------------------------------------------------
    def _on_get_markers(self, _request, response):
        with self.lock:
            return self.protocol.fill_response(response)

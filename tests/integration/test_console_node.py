"""The console node in this process over real DDS, with a websocket viewer connected: what it
draws from perception/objects, what it sends from the hand targets and the joystick (stamped
with the robot's clock), how it refuses bad input without stopping, and that it drops its
high-rate subscriptions when the last viewer leaves."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import PointStamped, PoseStamped, TwistStamped
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String

from forma_console.node import ConsoleError, ConsoleNode
from forma_description.xacro_expand import expand_description
from forma_interfaces.msg import DetectedObject, DetectedObjectArray
from tests.support.ros import RosProbe, free_port

pytestmark = pytest.mark.integration
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class Console:
    """A ConsoleNode spun in a background thread in its own context."""

    def __init__(self, port: int, domain_id: int, **parameters):
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        overrides = [Parameter("port", value=port), *(Parameter(k, value=v) for k, v in parameters.items())]
        self.node = ConsoleNode(context=self.context, parameter_overrides=overrides)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def viewer(port: int):
    """A viewer without a browser: a websocket client speaking viser's protocol. viser counts a
    client as connected once it reports its camera, as the browser does on load."""
    import msgspec
    import viser
    from viser._messages import ViewerCameraMessage
    from websockets.sync.client import connect

    connection = connect(f"ws://127.0.0.1:{port}", subprotocols=[f"viser-v{viser.__version__}"], max_size=None)
    camera = ViewerCameraMessage(
        wxyz=(1.0, 0.0, 0.0, 0.0),
        position=(2.0, 0.0, 1.0),
        fov=1.0,
        near=0.01,
        far=100.0,
        image_height=600,
        image_width=800,
        look_at=(0.0, 0.0, 0.9),
        up_direction=(0.0, 0.0, 1.0),
    )
    connection.send(msgspec.msgpack.encode(camera.as_serializable_dict()))
    return connection


def wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def joint_state(stamp_s: float, names: list[str]) -> JointState:
    msg = JointState(name=names, position=[0.0] * len(names))
    msg.header.stamp.sec, msg.header.stamp.nanosec = int(stamp_s), int(round((stamp_s % 1) * 1e9))
    return msg


def detected(frame: str, *objects: tuple[str, float]) -> DetectedObjectArray:
    msg = DetectedObjectArray()
    msg.header.frame_id = frame
    for track_id, x in objects:
        obj = DetectedObject(id=track_id, label="cup", color="red", score=0.9)
        obj.pose.position.x, obj.pose.position.z, obj.pose.orientation.w = x, 0.1, 1.0
        obj.size_m.x = obj.size_m.y = obj.size_m.z = 0.08
        msg.objects.append(obj)
    return msg


def test_console_node_draws_sends_and_refuses(domain_id):
    port = free_port()
    urdf = expand_description()
    with RosProbe(domain_id, name="console_probe") as probe:
        description = probe.node.create_publisher(String, "robot_description", LATCHED)
        description.publish(String(data=urdf))
        pubs = {
            "joint_states": probe.node.create_publisher(JointState, "joint_states", 10),
            "objects": probe.node.create_publisher(DetectedObjectArray, "perception/objects", 10),
            "face": probe.node.create_publisher(Image, "face/image", 10),
        }
        targets = probe.collect(PoseStamped, "wbc/targets/left_hand")
        gaze = probe.collect(PointStamped, "wbc/targets/gaze")
        cmd_vel = probe.collect(TwistStamped, "cmd_vel")
        console = Console(port, domain_id, camera_feed_hz=0.0)
        node = console.node
        try:
            wait_until(lambda: node.robot_view is not None, 60, "the robot from robot_description")
            assert not node.streams, "no viewer: no 500 Hz subscriptions"
            with viewer(port):
                wait_until(
                    lambda: len(node.streams) == 1 and None not in (node.joint_states_in, node.base_pose_in),
                    10,
                    "joint_states, base pose and face subscriptions",
                )
                names = node.robot_view.joint_names
                wait_until(lambda: pubs["joint_states"].get_subscription_count() > 0, 10, "discovery")
                pubs["joint_states"].publish(joint_state(12.5, names))
                wait_until(lambda: node.robot_time.sec == 12, 10, "the robot's clock from joint_states")

                # hand target -> wbc/targets/left_hand, base_link, stamped with the robot's clock
                assert node.controls.send_hand_target("left_hand", [0.3, 0.25, 0.1], [1.0, 0.0, 0.0, 0.0])
                probe.wait_for(lambda: targets, 10, "wbc/targets/left_hand")
                t = targets[-1]
                assert t.header.frame_id == "base_link" and (t.header.stamp.sec, t.header.stamp.nanosec) == (12, 5e8)
                assert (t.pose.position.x, t.pose.position.y, t.pose.position.z) == (0.3, 0.25, 0.1)
                assert not node.controls.send_hand_target("left_hand", [np.nan, 0, 0], [1, 0, 0, 0])
                assert "refused" in node.controls.hand_status.content
                time.sleep(0.3)
                assert len(targets) == 1, "a refused target must not be published"
                pose = node._frame_pose("left_hand")
                assert pose is not None and abs(pose[0][1]) > 0.1  # the hand is beside the pelvis

                # gaze target -> wbc/targets/gaze (PointStamped), same frame and clock; NaN refused
                assert node.controls.send_gaze_target([1.2, 0.1, 0.3])
                probe.wait_for(lambda: gaze, 10, "wbc/targets/gaze")
                g = gaze[-1]
                assert g.header.frame_id == "base_link" and (g.header.stamp.sec, g.header.stamp.nanosec) == (12, 5e8)
                assert (g.point.x, g.point.y, g.point.z) == (1.2, 0.1, 0.3)
                assert not node.controls.send_gaze_target([1.0, np.nan, 0.3])
                assert "gaze target refused" in node.controls.hand_status.content
                node.controls._toggle_gaze(True)  # the gizmo starts in front of the head
                head = node._frame_pose("head")
                assert np.linalg.norm(node.controls.gizmos["gaze"].position - head[0]) == pytest.approx(1.0, abs=1e-6)
                node.controls._toggle_gaze(False)
                time.sleep(0.3)
                assert len(gaze) == 1, "a refused gaze target must not be published"

                # joystick: clamped to the limits while Walk is ticked; Stop sends zero
                node.controls.forward.value, node.controls.yaw.value = 0.3, 0.5
                node.controls.walking.value = True
                probe.wait_for(lambda: len(cmd_vel) >= 3, 10, "cmd_vel at 10 Hz")
                assert (cmd_vel[-1].twist.linear.x, cmd_vel[-1].twist.angular.z) == (0.3, 0.5)
                node.controls.stop_walking()
                probe.wait_for(lambda: cmd_vel[-1].twist.linear.x == 0.0, 10, "zero cmd_vel")
                count = len(cmd_vel)
                time.sleep(0.5)
                assert len(cmd_vel) == count, "nothing published while Walk is off"

                # detected objects: boxes by track ID in the objects' frame; gone when not seen
                pubs["objects"].publish(detected("torso", ("obj-1", 0.5), ("obj-2", 0.6)))
                wait_until(lambda: set(node.object_nodes) == {"obj-1", "obj-2"}, 10, "two object boxes")
                torso = node._frame_pose("torso")
                assert np.allclose(node.object_frame.position, torso[0])
                pubs["objects"].publish(detected("torso", ("obj-2", 0.6)))
                wait_until(lambda: set(node.object_nodes) == {"obj-2"}, 10, "obj-1 removed")
                pubs["objects"].publish(detected("no_such_frame", ("obj-9", 0.6)))
                time.sleep(0.5)
                assert set(node.object_nodes) == {"obj-2"}, "objects in an unknown frame are not drawn"

                # a malformed face image is refused; the next good one is shown
                pubs["face"].publish(Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(10)))
                good = Image(height=48, width=64, encoding="rgb8", step=192, data=bytes([200]) * (48 * 192))
                time.sleep(0.3)
                pubs["face"].publish(good)
                wait_until(lambda: node.face.image.shape == (48, 64, 3), 10, "the good face image")
                assert "face/image" in node.reported_errors
            wait_until(
                lambda: not node.streams and node.joint_states_in is None,
                10,
                "the high-rate subscriptions dropped after the viewer left",
            )
        finally:
            console.close()


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"update_rate_hz": 0.0}, "parameter update_rate_hz=0.0 outside 1..60"),
        ({"camera_feed_hz": 100.0}, "parameter camera_feed_hz=100.0 outside 0..30"),
        ({"walk_forward_m_s": -1.0}, "parameter walk_forward_m_s=-1.0 outside 0..3"),
        ({"walk_yaw_rad_s": 0.0}, r"parameter walk_yaw_rad_s=0.0 outside \(0, 3\]"),
    ],
)
def test_console_refuses_bad_parameters(parameters, reason, domain_id):
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    try:
        overrides = [Parameter("port", value=free_port()), *(Parameter(k, value=v) for k, v in parameters.items())]
        with pytest.raises(ConsoleError, match=reason):
            ConsoleNode(context=context, parameter_overrides=overrides)
    finally:
        rclpy.shutdown(context=context)

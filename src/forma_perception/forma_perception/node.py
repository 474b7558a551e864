"""The perception node: head RGB-D (standard sensor_msgs colour, depth and camera_info, so a real
camera driver's topics work unchanged) + joint_states + robot_description -> perception/objects,
perception/support_plane (the table top's outline, for the planner's scene) and perception/people
(faces with 3D positions).

Colour and depth are paired by stamp (registered frames carry the same stamp); the camera's pose
comes from forward kinematics of the latest joint positions (`camera_pose_source: fk`), or from
TF on a ROS 2 install (`tf`). Poses are published in `frame` (default torso); with `publish_tf`
(ROS 2 install) every object and person is also broadcast as a TF frame. Bad input is logged
and reported on diagnostics, and changes nothing: the node keeps running and processes the next
good frame.

Its clock is the camera's: every output carries the stamp of the frame it comes from, so with
`camera_pose_source: fk` the node needs no /clock (use_sim_time is turned off: the /clock
subscription would wake its executor 100 times a second for nothing).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point32, PolygonStamped, TransformStamped
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import String

from forma_common import qos
from forma_common.direct import DirectSubscription
from forma_common.node import declare_params, on_robot_clock, run_node
from forma_common.params import param
from forma_interfaces.msg import DetectedObject, DetectedObjectArray, Person, PersonArray
from forma_perception.errors import PerceptionError
from forma_perception.onnx_detector import OnnxDetector
from forma_perception.people import PeoplePipeline
from forma_perception.pipeline import ObjectPipeline
from forma_perception.rgbd import CameraModel, check_sizes, decode_color, decode_depth
from forma_perception.robot_frames import RobotFrames
from forma_perception.tf_frames import detection_frames, matrix_from_transform

BASE_FRAME = "base_link"  # gravity-aligned while the robot stands: the support plane is found here
DETECTORS = ("geometric", "onnx")
POSE_SOURCES = ("fk", "tf")


def stamp_s(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def import_tf2():
    """tf2_ros, which exists on a ROS 2 install only (no wheel on the pip side)."""
    try:
        import tf2_ros
    except ImportError as exc:
        raise PerceptionError(
            "publish_tf / camera_pose_source tf need tf2_ros (a ROS 2 install); on the pip side leave "
            "publish_tf false and camera_pose_source fk"
        ) from exc
    return tf2_ros


def yaw_quaternion(rotation: np.ndarray, yaw: float) -> tuple[float, float, float, float]:
    """wxyz of rotation @ Rz(yaw)."""
    c, s = math.cos(yaw), math.sin(yaw)
    m = rotation @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    w = math.sqrt(max(0.0, 1.0 + m[0, 0] + m[1, 1] + m[2, 2])) / 2
    if w > 1e-6:
        return w, (m[2, 1] - m[1, 2]) / (4 * w), (m[0, 2] - m[2, 0]) / (4 * w), (m[1, 0] - m[0, 1]) / (4 * w)
    x = math.sqrt(max(0.0, 1.0 + m[0, 0] - m[1, 1] - m[2, 2])) / 2
    return 0.0, x, (m[0, 1] + m[1, 0]) / (4 * x), (m[0, 2] + m[2, 0]) / (4 * x)


def plane_outline(points_in_base: np.ndarray, t_out_base: np.ndarray, header) -> PolygonStamped:
    """The support plane's outline (K x 3 in base_link) in the output frame, with the objects'
    header; no points when no plane was found in this frame (so a stale table is not kept)."""
    msg = PolygonStamped()
    msg.header.stamp, msg.header.frame_id = header.stamp, header.frame_id
    for p in np.asarray(points_in_base, float).reshape(-1, 3) @ t_out_base[:3, :3].T + t_out_base[:3, 3]:
        msg.polygon.points.append(Point32(x=float(p[0]), y=float(p[1]), z=float(p[2])))
    return msg


@dataclasses.dataclass(frozen=True)
class PerceptionParams:
    frame: str = param("torso", "robot frame of the published poses")
    camera: str = param("head_camera", "camera namespace: <camera>/{color,depth}/image_raw, <camera>/color/camera_info")
    sync_tolerance_s: float = param(
        0.005, "largest stamp difference of a colour/depth pair", unit="s", low=0.0, high=0.1
    )
    max_rate_hz: float = param(
        15.0,
        "process at most this many frames per second (camera time); the rest are skipped",
        unit="Hz",
        low=0.01,
    )
    seed: int = param(0, "random seed of the plane search (results are reproducible)", low=0)
    detector: str = param(
        "geometric", "geometric (support plane + shapes) or onnx (your model, see README)", choices=DETECTORS
    )
    onnx_model: str = param("", "detector onnx: path of the .onnx file")
    onnx_labels: list[str] = param([""], "detector onnx: class names, in the model's label order")
    onnx_score_threshold: float = param(0.5, "detector onnx: boxes scoring lower are dropped", low=0.0, high=1.0)
    people_enabled: bool = param(True, "detect faces and publish perception/people")
    people_frame: str = param("", "robot frame of perception/people positions; empty: the frame parameter")
    people_max_range_m: float = param(
        3.0, "farthest face searched; sets the smallest face size looked for", unit="m", low=0.8, high=6.0
    )
    camera_pose_source: str = param(
        "fk", "fk (forward kinematics of joint_states) or tf (ROS 2 install)", choices=POSE_SOURCES
    )
    publish_tf: bool = param(
        False, "broadcast objects and people as TF frames object/<id>, person/<id> (ROS 2 install)"
    )


def onnx_detector(model: str, labels: list[str], score_threshold: float) -> OnnxDetector:
    """The detector of `detector: onnx`; PerceptionError naming the parameter that is wrong."""
    names = [label for label in labels if label]
    if not names:
        raise PerceptionError(
            f"parameter onnx_labels={labels}: detector onnx needs the class names, in the model's label order"
        )
    try:
        return OnnxDetector(model, names, score_threshold)
    except PerceptionError as exc:  # the model file: missing, not loadable, not [1, 3, H, W] -> boxes
        raise PerceptionError(f"parameter onnx_model={model!r}: {exc}") from None


class PerceptionNode(Node):
    """Tabletop objects with 3D poses and people (faces) with 3D positions, both with stable IDs,
    from the head RGB-D camera."""

    PARAMS = (PerceptionParams,)

    def __init__(self, node_name: str = "perception", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        p = declare_params(self, PerceptionParams, error=PerceptionError)
        self.frame, camera, self.tolerance = p.frame, p.camera, p.sync_tolerance_s
        self.min_period_s = 1.0 / p.max_rate_hz
        self.last_processed_s = -math.inf
        detector = None
        if p.detector == "onnx":
            detector = onnx_detector(p.onnx_model, p.onnx_labels, p.onnx_score_threshold)
        self.pipeline = ObjectPipeline(p.seed, detector)
        self.people = PeoplePipeline(p.people_max_range_m) if p.people_enabled else None
        self.people_frame = p.people_frame or self.frame
        self.pose_source = p.camera_pose_source
        if self.pose_source != "tf":  # (tf2's listener keeps the node's clock)
            on_robot_clock(self)
        self.tf_buffer = self.tf_broadcaster = None
        if p.publish_tf or self.pose_source == "tf":
            tf2_ros = import_tf2()
            if self.pose_source == "tf":
                self.tf_buffer = tf2_ros.Buffer()
                self._tf_listener = tf2_ros.TransformListener(self.tf_buffer, self)
            if p.publish_tf:
                self.tf_broadcaster = tf2_ros.TransformBroadcaster(self)
        self.frames: RobotFrames | None = None
        self.camera: CameraModel | None = None
        self.camera_frame = ""
        self.latest_joints: JointState | None = None
        self.color: Image | None = None
        self.depth: Image | None = None
        self.frames_processed = 0
        self.last_error = ""

        self.pub = self.create_publisher(DetectedObjectArray, "perception/objects", 10)
        self.pub_plane = self.create_publisher(PolygonStamped, "perception/support_plane", 10)
        self.pub_people = self.create_publisher(PersonArray, "perception/people", 10) if self.people else None
        self.pub_diag = self.create_publisher(DiagnosticArray, "diagnostics", 10)
        self.create_subscription(String, "robot_description", self._on_description, qos.LATCHED)
        # polled when a frame is processed: the newest sample, never a wake-up per message (500 Hz)
        self.joint_states_in = DirectSubscription(self, JointState, "joint_states", qos.NEWEST)
        self.create_subscription(CameraInfo, f"{camera}/color/camera_info", self._on_info, qos.SENSORS)
        self.create_subscription(Image, f"{camera}/color/image_raw", self._on_color, qos.SENSORS)
        self.create_subscription(Image, f"{camera}/depth/image_raw", self._on_depth, qos.SENSORS)
        outputs = "perception/objects" + (", perception/people" if self.people else "")
        self.get_logger().info(
            f"perception: {camera} -> {outputs} in frame {self.frame!r}, camera pose by {self.pose_source}"
        )

    # --- inputs -------------------------------------------------------------------------------------
    def _on_description(self, msg: String) -> None:
        try:
            frames = RobotFrames(msg.data)
            for name, frame in (("frame", self.frame), ("people_frame", self.people_frame)):
                if not frames.has(frame):
                    raise PerceptionError(f"{name} {frame!r} is not in the robot description")
        except PerceptionError as exc:
            self._report(str(exc))
            return
        self.frames = frames

    def _on_info(self, msg: CameraInfo) -> None:
        try:
            self.camera = CameraModel.from_camera_info(msg.width, msg.height, msg.k)
            self.camera_frame = msg.header.frame_id
        except PerceptionError as exc:
            self.camera = None
            self._report(f"camera_info: {exc}")

    def _on_color(self, msg: Image) -> None:
        self.color = msg
        self._try_pair()

    def _on_depth(self, msg: Image) -> None:
        self.depth = msg
        self._try_pair()

    # --- one frame ----------------------------------------------------------------------------------
    def _try_pair(self) -> None:
        color, depth = self.color, self.depth
        if color is None or depth is None:
            return
        if abs(stamp_s(color.header.stamp) - stamp_s(depth.header.stamp)) > self.tolerance:
            return  # the partner of this frame has not arrived yet
        self.color = self.depth = None
        t = stamp_s(color.header.stamp)
        if t - self.last_processed_s < self.min_period_s * 0.999 and t >= self.last_processed_s:
            return  # over the rate budget (a stamp going backwards, e.g. a replay, resets it)
        self.last_processed_s = t
        try:
            self._process(color, depth)
        except PerceptionError as exc:
            self._report(str(exc))

    def _process(self, color: Image, depth: Image) -> None:
        if self.camera is None:
            raise PerceptionError(
                "no valid camera_info yet: is the camera driver publishing <camera>/color/camera_info?"
            )
        if self.pose_source == "fk" and self.frames is None:
            raise PerceptionError("no robot_description yet: frames cannot be computed")
        self.latest_joints = self.joint_states_in.take_newest() or self.latest_joints
        if self.pose_source == "fk" and self.latest_joints is None:
            raise PerceptionError("no joint_states yet: the camera's pose is unknown")
        rgb = decode_color(bytes(color.data), color.height, color.width, color.step, color.encoding)
        depth_m = decode_depth(
            bytes(depth.data), depth.height, depth.width, depth.step, depth.encoding, bool(depth.is_bigendian)
        )
        check_sizes(rgb, depth_m, self.camera)
        camera_frame = color.header.frame_id or self.camera_frame
        if self.pose_source == "tf":
            t_base_camera = self._lookup(BASE_FRAME, camera_frame, color.header.stamp)
            t_out_base = self._lookup(self.frame, BASE_FRAME, color.header.stamp)
            t_people_base = self._lookup(self.people_frame, BASE_FRAME, color.header.stamp)
        else:
            joints = self.latest_joints
            self.frames.update(joints.name, joints.position)
            t_base_camera = self.frames.transform(BASE_FRAME, camera_frame)
            t_out_base = self.frames.transform(self.frame, BASE_FRAME)
            t_people_base = self.frames.transform(self.people_frame, BASE_FRAME)
        result = self.pipeline.process(rgb, depth_m, self.camera, t_base_camera)
        out = DetectedObjectArray()
        out.header.stamp, out.header.frame_id = color.header.stamp, self.frame
        for tracked in result.objects:
            d = tracked.detection
            obj = DetectedObject(id=tracked.id, label=d.label, color=d.color, score=float(d.score))
            p = t_out_base[:3, :3] @ d.position + t_out_base[:3, 3]
            obj.pose.position.x, obj.pose.position.y, obj.pose.position.z = (float(v) for v in p)
            o = obj.pose.orientation
            o.w, o.x, o.y, o.z = yaw_quaternion(t_out_base[:3, :3], d.yaw)
            obj.size_m.x, obj.size_m.y, obj.size_m.z = (float(v) for v in d.size)
            out.objects.append(obj)
        self.pub.publish(out)
        self.pub_plane.publish(plane_outline(result.plane_outline, t_out_base, out.header))
        people = self._publish_people(rgb, depth_m, t_base_camera, t_people_base, color.header.stamp)
        if self.tf_broadcaster is not None:
            self._broadcast(out, people)
        self.frames_processed += 1
        if self.last_error:
            self.get_logger().info("frames are processed again")
            self.last_error = ""
        if result.plane is None:
            self.get_logger().warning(
                "no support plane in view (table out of view, or depth missing)", throttle_duration_sec=5.0
            )

    def _publish_people(self, rgb, depth_m, t_base_camera, t_out_base, stamp) -> PersonArray | None:
        """Faces in people_frame (t_out_base: T_people_frame_base)."""
        if self.people is None:
            return None
        out = PersonArray()
        out.header.stamp, out.header.frame_id = stamp, self.people_frame
        for tracked in self.people.process(rgb, depth_m, self.camera, t_base_camera):
            face = tracked.face
            p = t_out_base[:3, :3] @ face.position + t_out_base[:3, 3]
            person = Person(id=tracked.id, score=float(face.score), face_detected=True)
            person.face_position_m.x, person.face_position_m.y, person.face_position_m.z = (float(v) for v in p)
            x, y, w, h = face.box_px
            person.face_x_px, person.face_y_px, person.face_width_px, person.face_height_px = x, y, w, h
            out.people.append(person)
        self.pub_people.publish(out)
        return out

    def _lookup(self, target: str, source: str, stamp) -> np.ndarray:
        """T_target_source from TF at the image's stamp (camera_pose_source tf)."""
        try:
            msg = self.tf_buffer.lookup_transform(target, source, Time.from_msg(stamp))
        except Exception as exc:  # tf2's LookupException, ExtrapolationException, ...: the reason is the text
            raise PerceptionError(f"no TF {source} -> {target} at the image's stamp: {exc}") from exc
        t, q = msg.transform.translation, msg.transform.rotation
        return matrix_from_transform((t.x, t.y, t.z), (q.x, q.y, q.z, q.w), f"TF {source} -> {target}")

    def _broadcast(self, objects: DetectedObjectArray, people: PersonArray | None) -> None:
        frames = detection_frames(
            self.frame,
            self.people_frame,
            [
                (o.id, (o.pose.position.x, o.pose.position.y, o.pose.position.z),
                 (o.pose.orientation.x, o.pose.orientation.y, o.pose.orientation.z, o.pose.orientation.w))
                for o in objects.objects
            ],
            [(p.id, (p.face_position_m.x, p.face_position_m.y, p.face_position_m.z))
             for p in (people.people if people else [])],
        )  # fmt: skip
        transforms = []
        for f in frames:
            msg = TransformStamped()
            msg.header.stamp, msg.header.frame_id, msg.child_frame_id = objects.header.stamp, f.parent, f.child
            tr, rot = msg.transform.translation, msg.transform.rotation
            tr.x, tr.y, tr.z = f.translation
            rot.x, rot.y, rot.z, rot.w = f.rotation_xyzw
            transforms.append(msg)
        if transforms:
            self.tf_broadcaster.sendTransform(transforms)

    def _report(self, reason: str) -> None:
        """Log (once per distinct reason) and publish on diagnostics; nothing else changes."""
        if reason != self.last_error:
            self.get_logger().error(reason)
            self.last_error = reason
        status = DiagnosticStatus(level=DiagnosticStatus.ERROR, name=f"{self.get_name()}: input", message=reason)
        status.values = [KeyValue(key="frames_processed", value=str(self.frames_processed))]
        diag = DiagnosticArray(status=[status])
        newest = self.color or self.depth  # the camera's clock (module docstring)
        diag.header.stamp = newest.header.stamp if newest is not None else self.get_clock().now().to_msg()
        self.pub_diag.publish(diag)

    def destroy_node(self) -> None:
        self.joint_states_in.destroy()
        super().destroy_node()


def main(args=None) -> None:
    """Run the perception node alone: `ros2 run forma_perception perception_node`."""
    run_node(PerceptionNode, (PerceptionError,), args)

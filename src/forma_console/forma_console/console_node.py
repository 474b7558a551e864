"""The browser view: the live robot in 3D (from robot_description and joint_states), the
hardware state per command group, e-stop / reset buttons, the robot's face (face/image) and a text
box to talk to it (interaction/utterance, answers from interaction/reply), served by viser.

The robot is placed at the simulator's ground-truth pelvis pose when that topic exists (a
visualisation aid only; controllers never read it), otherwise at the origin.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from forma_console.robot_view import RobotView
from forma_console.view_model import JointStateMapper, hardware_status_markdown
from forma_interfaces.msg import HardwareState
from forma_interfaces.srv import EStop

LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
SENSOR_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)


class ConsoleError(ValueError):
    """A console parameter is invalid."""


class ConsoleNode(Node):
    """Serves the browser view with viser."""

    def __init__(self, node_name: str = "console", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        for name, default, description in (
            ("host", "127.0.0.1", "address the web server listens on (0.0.0.0 = every interface)"),
            ("port", 8080, "web server port"),
            ("update_rate_hz", 20.0, "how often the 3D view is refreshed [Hz]"),
        ):
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        host, port = self.get_parameter("host").value, self.get_parameter("port").value
        rate = self.get_parameter("update_rate_hz").value
        if not (isinstance(port, int) and 1 <= port <= 65535):
            raise ConsoleError(f"port {port} outside 1..65535")
        if not (math.isfinite(rate) and 1.0 <= rate <= 60.0):
            raise ConsoleError(f"update_rate_hz {rate} outside 1..60")

        import viser

        self.server = viser.ViserServer(host=host, port=port, label="Forma", verbose=False)
        self.server.scene.add_grid("/ground", width=6.0, height=6.0, cell_size=0.25, section_size=1.0)
        self.robot_frame = self.server.scene.add_frame("/robot", show_axes=False)
        self.server.initial_camera.position = (2.2, -1.8, 1.7)
        self.server.initial_camera.look_at = (0.0, 0.0, 0.9)
        self.robot_view: RobotView | None = None
        self.mapper: JointStateMapper | None = None
        self.lock = threading.Lock()
        self.latest_joints: JointState | None = None
        self.base_pose: PoseStamped | None = None
        self.frames_drawn = 0
        self._make_gui()

        self.create_subscription(String, "robot_description", self._on_description, LATCHED_QOS)
        self.create_subscription(JointState, "joint_states", self._on_joint_states, SENSOR_QOS)
        self.create_subscription(PoseStamped, "sim/base_pose_ground_truth", self._on_base_pose, SENSOR_QOS)
        self.create_subscription(HardwareState, "hardware/state", self._on_hardware_state, SENSOR_QOS)
        self.create_subscription(Image, "face/image", self._on_face, SENSOR_QOS)
        self.create_subscription(String, "interaction/reply", self._on_reply, 10)
        self.utterance_pub = self.create_publisher(String, "interaction/utterance", 10)
        self.estop_client = self.create_client(EStop, "hardware/estop")
        self.reset_client = self.create_client(Trigger, "hardware/reset")
        self.create_timer(1.0 / rate, self._refresh)
        shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
        self.url = f"http://{shown}:{port}"
        self.get_logger().info(f"browser view: {self.url}")

    def _make_gui(self) -> None:
        gui = self.server.gui
        self.status = gui.add_markdown("waiting for hardware/state ...")
        estop = gui.add_button("E-STOP", color="red", hint="damp every joint now (latched)")
        release = gui.add_button("Release e-stop", hint="clears the latch; the robot stays damped until reset")
        reset = gui.add_button("Reset and stand", color="green", hint="activate the hardware; the stand node ramps up")
        self.face = gui.add_image(np.zeros((120, 320, 3), np.uint8), label="Face", format="jpeg")
        self.say_box = gui.add_text("Say", "", hint="talk to the robot (interaction/utterance)")
        say = gui.add_button("Say it")
        self.reply = gui.add_markdown("")
        say.on_click(lambda _: self._say())
        estop.on_click(lambda _: self._call_estop(True))
        release.on_click(lambda _: self._call_estop(False))
        reset.on_click(lambda _: self._call_reset())

    # --- buttons (run in viser's threads; service calls are asynchronous) -------------------------
    def _call_estop(self, engage: bool) -> None:
        if not self.estop_client.service_is_ready():
            self.get_logger().error("hardware/estop is not available: is the hardware node running?")
            return
        self.estop_client.call_async(EStop.Request(engage=engage, reason="browser console"))
        self.get_logger().warning("e-stop " + ("engaged" if engage else "released") + " from the browser")

    def _call_reset(self) -> None:
        if not self.reset_client.service_is_ready():
            self.get_logger().error("hardware/reset is not available: is the hardware node running?")
            return
        self.reset_client.call_async(Trigger.Request())
        self.get_logger().info("reset requested from the browser")

    def _say(self) -> None:
        text = self.say_box.value.strip()
        if text:
            self.utterance_pub.publish(String(data=text))
            self.reply.content = f"**You:** {text}"
            self.say_box.value = ""

    # --- subscriptions ------------------------------------------------------------------------------
    def _on_description(self, msg: String) -> None:
        try:
            view = RobotView(self.server, msg.data, root="/robot")
        except Exception as exc:  # a broken description must not take the console down
            self.get_logger().error(f"robot_description could not be loaded for display: {exc}")
            return
        with self.lock:
            self.robot_view = view
            self.mapper = JointStateMapper(view.joint_names)
        self.get_logger().info(f"showing the robot ({len(view.joint_names)} joints)")

    def _on_face(self, msg: Image) -> None:
        if msg.encoding != "rgb8" or len(msg.data) != msg.height * msg.step:
            return
        frame = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step // 3, 3)[:, : msg.width]
        step = max(1, msg.width // 480)  # a browser thumbnail is enough
        self.face.image = np.ascontiguousarray(frame[::step, ::step])

    def _on_reply(self, msg: String) -> None:
        lines = [*self.reply.content.split("  \n"), f"**Robot:** {msg.data}"]
        self.reply.content = "  \n".join(line for line in lines[-6:] if line)

    def _on_joint_states(self, msg: JointState) -> None:
        self.latest_joints = msg

    def _on_base_pose(self, msg: PoseStamped) -> None:
        self.base_pose = msg

    def _on_hardware_state(self, msg: HardwareState) -> None:
        self.status.content = hardware_status_markdown(
            msg.groups,
            msg.stop_states,
            msg.actuator_modes,
            msg.reasons,
            msg.estop_engaged,
            msg.commands_rejected,
            msg.commands_clamped,
        )

    def _refresh(self) -> None:
        msg, self.latest_joints = self.latest_joints, None
        with self.lock:
            if self.robot_view is None or msg is None:
                return
            if self.mapper.update(msg.name, msg.position):
                self.robot_view.update(self.mapper.configuration)
                self.frames_drawn += 1
        pose = self.base_pose
        if pose is not None:
            p, o = pose.pose.position, pose.pose.orientation
            self.robot_frame.position = np.array([p.x, p.y, p.z])
            self.robot_frame.wxyz = np.array([o.w, o.x, o.y, o.z])

    def destroy_node(self) -> None:
        self.server.stop()
        super().destroy_node()


def main(args=None) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = ConsoleNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()

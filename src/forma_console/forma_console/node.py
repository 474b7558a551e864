"""The operator console in the browser, served by viser: the live robot in 3D (from
robot_description and joint_states) with the detected objects (perception/objects), the head
camera's colour and depth, the face (face/image), safety/state and the hardware state per
command group, e-stop / release / reset, a text box to talk to the robot, and the controls in
controls.py (hand targets, walking joystick, instruction box).

The e-stop is the first thing on the page and its click handler runs on viser's event loop
itself: it reaches the hardware node while the thread pool is busy with other callbacks and
without waiting for this node's executor (the service request leaves at once).

The robot is placed at the simulator's ground-truth pelvis pose when that topic exists (a
visualisation aid only; controllers never read it), otherwise at the origin.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from forma_common import qos
from forma_common.direct import DirectSubscription
from forma_common.node import declare_params, run_node
from forma_common.params import param
from forma_console.access import AccessError, is_loopback, load_token, readable_by_others
from forma_console.controls import Controls
from forma_console.gate import AccessGate
from forma_console.images import ImageFormatError, color_to_rgb, depth_to_rgb, thumbnail
from forma_console.robot_view import RobotView
from forma_console.teleop import TeleopError, WalkLimits
from forma_console.view_model import (
    JointStateMapper,
    hardware_status_markdown,
    object_boxes,
    safety_markdown,
)
from forma_interfaces.msg import DetectedObjectArray, HardwareState, SafetyState
from forma_interfaces.srv import EStop, SetOperatingMode

IDLE_PERIOD_S = 1.0  # the view's timers while no browser is connected [s]


class ConsoleError(ValueError):
    """A console parameter is invalid."""


@dataclasses.dataclass(frozen=True)
class ConsoleParams:
    """The web server, the view's rates and the walking joystick's range."""

    host: str = param(
        "127.0.0.1",
        "address the web server listens on (0.0.0.0 = every interface); "
        "a non-loopback address needs access_token_file",
    )
    port: int = param(8080, "web server port", low=1, high=65535)
    update_rate_hz: float = param(20.0, "how often the 3D view is refreshed", unit="Hz", low=1.0, high=60.0)
    camera_feed_hz: float = param(
        5.0,
        "head camera thumbnails per second; 0 = do not subscribe (the sim renders only for subscribers)",
        unit="Hz",
        low=0.0,
        high=30.0,
    )
    # the joystick's range is (0, 3] (WalkLimits): the node refuses 0 itself, a declared range is inclusive
    walk_forward_m_s: float = param(0.5, "walking joystick range, forward/backward; > 0", unit="m/s", low=0.0, high=3.0)
    walk_lateral_m_s: float = param(0.3, "walking joystick range, sideways; > 0", unit="m/s", low=0.0, high=3.0)
    walk_yaw_rad_s: float = param(0.8, "walking joystick range, turning; > 0", unit="rad/s", low=0.0, high=3.0)
    access_token_file: str = param(
        "",
        "file holding the access token every request but the e-stop then needs (created with a new token, mode 0600, "
        "if missing); required when host is not a loopback address; empty = no token",
    )


class ConsoleNode(Node):
    """Serves the browser view with viser."""

    PARAMS = (ConsoleParams,)

    def __init__(self, node_name: str = "console", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        p = declare_params(self, ConsoleParams, error=ConsoleError)
        host, port, rate, camera_hz = p.host, p.port, p.update_rate_hz, p.camera_feed_hz
        walk = (
            ("walk_forward_m_s", p.walk_forward_m_s, "m/s"),
            ("walk_lateral_m_s", p.walk_lateral_m_s, "m/s"),
            ("walk_yaw_rad_s", p.walk_yaw_rad_s, "rad/s"),
        )
        for name, value, unit in walk:
            if value <= 0.0:
                raise ConsoleError(f"parameter {name}={value!r} outside (0, 3] {unit}")
        try:
            walk_limits = WalkLimits(*(value for _, value, _ in walk))
        except TeleopError as exc:
            raise ConsoleError(str(exc)) from exc

        token = self._access_token(host, p.access_token_file)

        import viser

        # With a token viser listens on loopback only, at a port of its own, behind the gate
        self.server = viser.ViserServer(
            host="127.0.0.1" if token else host, port=0 if token else port, label="Forma", verbose=False
        )
        self.gate: AccessGate | None = None
        if token:
            self.gate = AccessGate(host, port, self.server.get_port(), token, lambda: self._call_estop(True), self._log)
            try:
                self.gate.start()
            except OSError as exc:
                self.server.stop()
                raise ConsoleError(f"cannot listen on {host}:{port}: {exc}") from None
        self.server.scene.add_grid("/ground", width=6.0, height=6.0, cell_size=0.25, section_size=1.0)
        self.robot_frame = self.server.scene.add_frame("/robot", show_axes=False)
        self.server.initial_camera.position = (2.2, -1.8, 1.7)
        self.server.initial_camera.look_at = (0.0, 0.0, 0.9)
        self.robot_view: RobotView | None = None
        self.mapper: JointStateMapper | None = None
        self.lock = threading.Lock()
        self.base_pose: PoseStamped | None = None
        self.robot_time = JointState().header.stamp
        self.objects: DetectedObjectArray | None = None
        self.object_frame = self.server.scene.add_frame("/robot/objects", show_axes=False)
        self.object_nodes: dict[str, tuple] = {}
        self.camera_frames: dict[str, Image] = {}
        self.frames_drawn = 0
        self.reported_errors: set[str] = set()
        self.utterance_pub = self.create_publisher(String, "interaction/utterance", 10)
        # The e-stop goes to the lowest layer (hardware/estop) and on safety/estop, which the hardware
        # and the safety supervisor both take. With a supervisor (safety/state seen), release and
        # reset go through it; without one (e.g. the hil deployment's stand) to the hardware.
        self.estop_client = self.create_client(EStop, "hardware/estop")
        self.reset_client = self.create_client(Trigger, "hardware/reset")
        self.sim_reset_client = self.create_client(Trigger, "sim/reset")
        self.estop_pub = self.create_publisher(Bool, "safety/estop", 10)
        self.safety_estop_client = self.create_client(EStop, "safety/estop")
        self.safety_reset_client = self.create_client(Trigger, "safety/reset")
        self.safety_mode_client = self.create_client(SetOperatingMode, "safety/set_mode")
        self.supervised = False
        tabs = self._make_gui()
        self.controls = Controls(self, self.server, tabs, lambda: self.robot_time, self._frame_pose, walk_limits)

        self.create_subscription(String, "robot_description", self._on_description, qos.LATCHED)
        self.hardware_state_in = DirectSubscription(self, HardwareState, "hardware/state", qos.POLLED)  # polled
        self.create_subscription(String, "interaction/reply", self._on_reply, 10)
        self.create_subscription(SafetyState, "safety/state", self._on_safety, qos.LATCHED)
        self.create_subscription(DetectedObjectArray, "perception/objects", self._on_objects, qos.SENSORS)
        self.camera_hz = camera_hz
        self.streams: list = []  # the high-rate subscriptions, held only while a browser is connected
        self.joint_states_in: DirectSubscription | None = None
        self.base_pose_in: DirectSubscription | None = None
        self.create_timer(0.5, self._follow_viewers)
        # the view's timers run at their rates only while a browser is connected (_follow_viewers)
        self.periods_ns = {"refresh": int(1e9 / rate), "cameras": int(1e9 / camera_hz) if camera_hz > 0 else 0}
        self.camera_timer = self.create_timer(IDLE_PERIOD_S, self._show_cameras) if camera_hz > 0 else None
        self.refresh_timer = self.create_timer(IDLE_PERIOD_S, self._refresh)
        shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
        self.url = f"http://{shown}:{port}"
        if token:
            self.get_logger().info(
                f"browser view: {self.url}/?token=<the token in {p.access_token_file}> "
                "(every control needs the token; the e-stop does not)"
            )
        else:
            self.get_logger().info(f"browser view: {self.url}")

    def _access_token(self, host: str, token_file: str) -> str | None:
        """The token the console needs (None: none, loopback only); refuses a non-loopback host without one."""
        if not token_file:
            if is_loopback(host):
                return None
            raise ConsoleError(
                f"host {host} is reachable from the network, so the console needs an access token: set "
                "access_token_file to a file holding one (created with a new token if missing, e.g. "
                "~/.forma/console_token), or bind host 127.0.0.1 and reach it through `ssh -L 8080:localhost:8080`"
            )
        try:
            token, created = load_token(token_file)
        except AccessError as exc:
            raise ConsoleError(str(exc)) from None
        if created:
            self.get_logger().warning(f"access token created in {token_file} (mode 0600): read it there")
        elif readable_by_others(token_file):
            self.get_logger().warning(f"access token file {token_file} is readable by other users: chmod 600 it")
        return token

    def _log(self, level: str, text: str) -> None:
        getattr(self.get_logger(), level)(text)

    def _make_gui(self):
        """Safety first (always visible), then tabs; returns the tab group for the controls."""
        gui = self.server.gui
        estop = gui.add_button("E-STOP", color="red", hint="damp every joint now (latched)")
        self.safety = gui.add_markdown("safety/state: no supervisor has published yet")
        release = gui.add_button("Release e-stop", hint="clears the latch; the robot stays damped until reset")
        reset = gui.add_button(
            "Reset and stand", color="green", hint="safety/reset (hardware/reset without a supervisor), then stand up"
        )
        restart = gui.add_button(
            "Reset simulation",
            hint="sim/reset: the robot back on its feet at the start and the objects back in place, then stand up",
        )
        self.estop_feedback = gui.add_markdown("")

        async def on_estop(_event) -> None:  # the event loop itself: no queue behind slow handlers
            self._call_estop(True)

        self.buttons = {"estop": estop, "release": release, "reset": reset, "sim_reset": restart}
        estop.on_click(on_estop)
        release.on_click(lambda _: self._call_estop(False))
        reset.on_click(lambda _: self._call_reset())
        restart.on_click(lambda _: self._call_sim_reset())
        tabs = gui.add_tab_group()
        with tabs.add_tab("Robot"):
            self.status = gui.add_markdown("waiting for hardware/state ...")
        with tabs.add_tab("Camera"):
            blank = np.zeros((60, 80, 3), np.uint8)
            self.color_image = gui.add_image(blank, label="head camera colour", format="jpeg")
            self.depth_image = gui.add_image(
                blank, label="depth (red near, blue far, black = no return)", format="jpeg"
            )
        with tabs.add_tab("Face"):
            self.face = gui.add_image(np.zeros((120, 320, 3), np.uint8), label="Face", format="jpeg")
            self.say_box = gui.add_text("Say", "", hint="talk to the robot (interaction/utterance)")
            say = gui.add_button("Say it")
            self.reply = gui.add_markdown("")
        say.on_click(lambda _: self._say())
        return tabs

    # --- buttons (run in viser's threads; service calls are asynchronous) -------------------------
    def _call_estop(self, engage: bool) -> str:
        """Engage or release the e-stop; returns what was done (also shown on the page)."""
        if engage:
            self.estop_pub.publish(Bool(data=True))
        elif self.supervised and self.safety_estop_client.service_is_ready():
            self.safety_estop_client.call_async(EStop.Request(engage=False, reason="browser console"))
            self.estop_feedback.content = "e-stop release sent to the safety supervisor"
            self.get_logger().warning("e-stop released from the browser (safety/estop)")
            return self.estop_feedback.content
        if not self.estop_client.service_is_ready():
            self.estop_feedback.content = "**hardware/estop is not available: is the hardware node running?**"
            self.get_logger().error("hardware/estop is not available: is the hardware node running?")
            return "safety/estop published; hardware/estop is not available: is the hardware node running?"
        self.estop_client.call_async(EStop.Request(engage=engage, reason="browser console"))
        self.estop_feedback.content = "e-stop " + ("sent" if engage else "release sent")
        self.get_logger().warning("e-stop " + ("engaged" if engage else "released") + " from the browser")
        return self.estop_feedback.content

    def _call_reset(self) -> None:
        if self.supervised:
            if not self.safety_reset_client.service_is_ready():
                self.get_logger().error("safety/reset is not available: is the safety supervisor running?")
                return
            # reset leaves ESTOP/FAULT (refused elsewhere: nothing to reset); then ask to stand up
            self.safety_reset_client.call_async(Trigger.Request()).add_done_callback(self._stand_up)
            self.get_logger().info("reset requested from the browser (safety/reset)")
            return
        if not self.reset_client.service_is_ready():
            self.get_logger().error("hardware/reset is not available: is the hardware node running?")
            return
        self.reset_client.call_async(Trigger.Request())
        self.get_logger().info("reset requested from the browser")

    def _call_sim_reset(self) -> None:
        """safety/reset (out of FAULT/ESTOP: the e-stop released), then sim/reset (the world and the
        robot back at the start, the hardware as at power-on), then a stand-up request once the
        supervisor has seen the robot upright again (auto_stand stands it up by itself)."""
        if not self.sim_reset_client.service_is_ready():
            self.estop_feedback.content = "**sim/reset is not available: no simulator (on a robot, lift it upright)**"
            self.get_logger().error("sim/reset is not available: is the simulator running?")
            return
        if self.supervised and self.safety_reset_client.service_is_ready():
            self.safety_reset_client.call_async(Trigger.Request()).add_done_callback(lambda _: self._sim_reset())
        else:
            self._sim_reset()
        self.get_logger().info("simulation reset requested from the browser")

    def _sim_reset(self) -> None:
        def done(future) -> None:
            result = future.result()
            message = result.message if result is not None else "no answer"
            self.estop_feedback.content = f"sim/reset: {message}"
            if result is not None and result.success:
                if self.supervised:  # after the supervisor's next steps have seen the robot upright
                    threading.Timer(0.5, self._stand_up, args=(None,)).start()
                else:
                    self._call_reset()

        self.sim_reset_client.call_async(Trigger.Request()).add_done_callback(done)

    def _stand_up(self, _future) -> None:
        request = SetOperatingMode.Request(mode=SafetyState.STANDING_UP, reason="browser console")
        future = self.safety_mode_client.call_async(request)
        future.add_done_callback(
            lambda f: self.get_logger().info(f"stand-up request: {f.result().message if f.result() else 'no answer'}")
        )

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
        rgb = self._to_rgb("face/image", msg, depth=False)
        if rgb is not None:
            self.face.image = thumbnail(rgb, 480)

    def _follow_viewers(self) -> None:
        """Subscribe to joint_states, the images and the ground-truth pose only while a browser is
        connected: the simulator and the face node render images only for subscribers.
        joint_states and the pose are polled at the view's refresh (direct subscriptions): read
        through the executor, each message costs a wake-up (~0.5 ms here; the 50 Hz pose alone
        was 0.025 core)."""
        watched = bool(self.server.get_clients())
        self._pace_view(watched)
        if watched and not self.streams:
            self.joint_states_in = DirectSubscription(self, JointState, "joint_states", qos.NEWEST)
            self.base_pose_in = DirectSubscription(self, PoseStamped, "sim/base_pose_ground_truth", qos.NEWEST)
            # the face node renders face/image only for subscribers
            self.streams.append(self.create_subscription(Image, "face/image", self._on_face, qos.SENSORS))
            if self.camera_hz > 0:
                for kind in ("color", "depth"):
                    topic = f"head_camera/{kind}/image_raw"
                    callback = lambda m, k=kind: self.camera_frames.__setitem__(k, m)  # noqa: E731
                    self.streams.append(self.create_subscription(Image, topic, callback, qos.SENSORS))
        elif not watched and self.streams:
            for subscription in self.streams:
                self.destroy_subscription(subscription)
            self.streams.clear()
            self.joint_states_in.destroy()
            self.base_pose_in.destroy()
            self.joint_states_in = self.base_pose_in = None

    def _pace_view(self, watched: bool) -> None:
        """The view's timers at their rates while watched, at IDLE_PERIOD_S (status only) if not:
        each executor wake-up costs ~0.5 ms of CPU on the 2-core machine."""
        for timer, name in ((self.refresh_timer, "refresh"), (self.camera_timer, "cameras")):
            if timer is not None:
                period = self.periods_ns[name] if watched else int(IDLE_PERIOD_S * 1e9)
                if timer.timer_period_ns != period:
                    timer.timer_period_ns = period

    def _show_cameras(self) -> None:
        color, depth = self.camera_frames.pop("color", None), self.camera_frames.pop("depth", None)
        if color is not None and (rgb := self._to_rgb("head_camera/color", color, depth=False)) is not None:
            self.color_image.image = thumbnail(rgb, 320)
        if depth is not None and (rgb := self._to_rgb("head_camera/depth", depth, depth=True)) is not None:
            self.depth_image.image = thumbnail(rgb, 320)

    def _to_rgb(self, source: str, msg: Image, depth: bool) -> np.ndarray | None:
        """Image -> RGB, or None with the reason logged once per source."""
        try:
            if depth:
                return depth_to_rgb(
                    bytes(msg.data), msg.height, msg.width, msg.step, msg.encoding, bool(msg.is_bigendian)
                )
            return color_to_rgb(bytes(msg.data), msg.height, msg.width, msg.step, msg.encoding)
        except ImageFormatError as exc:
            if source not in self.reported_errors:
                self.reported_errors.add(source)
                self.get_logger().error(f"{source}: not shown: {exc}")
            return None

    def _on_safety(self, msg: SafetyState) -> None:
        self.supervised = True
        self.safety.content = safety_markdown(msg.mode, msg.mode_name, msg.reason, msg.estop_engaged)

    def _on_objects(self, msg: DetectedObjectArray) -> None:
        self.objects = msg

    def _frame_pose(self, frame: str) -> tuple[np.ndarray, np.ndarray] | None:
        """A robot frame's pose in base_link from the latest joint positions (None if unknown)."""
        with self.lock:
            if self.robot_view is None:
                return None
            return self.robot_view.frame_pose(frame)

    def _on_reply(self, msg: String) -> None:
        lines = [*self.reply.content.split("  \n"), f"**Robot:** {msg.data}"]
        self.reply.content = "  \n".join(line for line in lines[-6:] if line)

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
        if (state := self.hardware_state_in.take_newest()) is not None:
            self._on_hardware_state(state)
        msg = self.joint_states_in.take_newest() if self.joint_states_in is not None else None
        if self.base_pose_in is not None and (pose := self.base_pose_in.take_newest()) is not None:
            self.base_pose = pose
        if msg is not None:
            self.robot_time = msg.header.stamp
        with self.lock:
            if self.robot_view is None:
                return
            if msg is not None and self.mapper.update(msg.name, msg.position):
                self.robot_view.update(self.mapper.configuration)
                self.frames_drawn += 1
        self._draw_objects()  # objects move with the robot frames they are given in
        pose = self.base_pose
        if pose is not None:
            p, o = pose.pose.position, pose.pose.orientation
            self.robot_frame.position = np.array([p.x, p.y, p.z])
            self.robot_frame.wxyz = np.array([o.w, o.x, o.y, o.z])

    def _draw_objects(self) -> None:
        msg, self.objects = self.objects, None
        if msg is None:
            return
        frame = msg.header.frame_id or "base_link"
        pose = self._frame_pose(frame)
        if pose is None:
            if f"objects:{frame}" not in self.reported_errors:
                self.reported_errors.add(f"objects:{frame}")
                self.get_logger().error(
                    f"perception/objects in frame {frame!r}, which the robot description lacks: not drawn"
                )
            return
        self.object_frame.position, self.object_frame.wxyz = pose
        boxes, skipped = object_boxes(msg.objects)
        for reason in skipped:
            self.get_logger().warning(f"perception/objects: {reason}", throttle_duration_sec=5.0)
        scene, seen = self.server.scene, set()
        for box in boxes:
            seen.add(box.key)
            nodes = self.object_nodes.get(box.key)
            if nodes is None:
                name = f"/robot/objects/{box.key}"
                nodes = self.object_nodes[box.key] = (
                    scene.add_box(name, color=(255, 160, 0), dimensions=tuple(box.size), opacity=0.5),
                    scene.add_label(f"{name}_label", box.caption, anchor="bottom-center"),
                )
            shape, label = nodes
            shape.position, shape.wxyz, shape.dimensions = box.position, box.wxyz, tuple(box.size)
            label.position = box.position + np.array([0.0, 0.0, box.size[2] / 2 + 0.03])
            label.text = box.caption
        for key in set(self.object_nodes) - seen:
            for handle in self.object_nodes.pop(key):
                handle.remove()

    def destroy_node(self) -> None:
        if self.gate is not None:
            self.gate.stop()
        self.server.stop()
        if self.joint_states_in is not None:
            self.joint_states_in.destroy()
            self.base_pose_in.destroy()
        self.hardware_state_in.destroy()
        super().destroy_node()


def main(args=None) -> None:
    """Run the console alone: `ros2 run forma_console console_node`."""
    run_node(ConsoleNode, (ConsoleError,), args)

"""The console's controls that command the robot: draggable hand and gaze targets (wbc/targets/*), the
walking joystick (cmd_vel) and the instruction box (goals with their feedback, to the learned policy
on vla/execute or to the task skills on tasks/execute where a deployment runs both).

Everything a control publishes is stamped with the robot's clock (the newest joint_states
stamp), so the stamps are right under sim time and on the real robot alike, and the console
needs no /clock. Nothing is published until the operator turns a control on; turning it off,
or the last browser tab closing, stops the robot's base.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from geometry_msgs.msg import PointStamped, PoseStamped, TwistStamped
from rclpy.action import ActionClient

from forma_console.teleop import HANDS, TeleopError, WalkLimits, gaze_target, hand_target, point_ahead
from forma_console.view_model import instruction_markdown
from forma_interfaces.action import ExecuteInstruction

BASE_FRAME = "base_link"
# who carries out an instruction: the label in the console -> the action. Where no vla node runs,
# the tasks node serves vla/execute itself (the deployment says which: config/deployments/*.yaml).
EXECUTORS = {"vla/execute (learned policy where one is deployed)": "vla/execute",
             "tasks/execute (task skills)": "tasks/execute"}
WALK_PUBLISH_HZ = 10.0


class Controls:
    """Builds the control panels in `gui` and wires them to `node`'s publishers."""

    def __init__(self, node, server, gui_tabs, robot_stamp, hand_pose, walk_limits: WalkLimits) -> None:
        self.node, self.server = node, server
        self.robot_stamp = robot_stamp  # () -> builtin_interfaces/Time of the newest joint_states
        self.hand_pose = hand_pose  # (frame) -> (position, wxyz) in base_link, or None before the robot is known
        self.walk_limits = walk_limits
        self.lock = threading.RLock()  # a value set here may call back into these handlers
        self.hand_pubs = {h: node.create_publisher(PoseStamped, f"wbc/targets/{h}", 10) for h in HANDS}
        self.gaze_pub = node.create_publisher(PointStamped, "wbc/targets/gaze", 10)
        self.cmd_vel_pub = node.create_publisher(TwistStamped, "cmd_vel", 10)
        self.executors = {action: ActionClient(node, ExecuteInstruction, action) for action in EXECUTORS.values()}
        self._for_executor: deque[Callable[[], None]] = deque()  # action calls from viser's threads
        self._executor_wake = node.create_guard_condition(self._run_for_executor)
        self.goal_handle = None
        self.moving = False
        self.targets_sent = {h: 0 for h in (*HANDS, "gaze")}
        self.gizmos: dict[str, object] = {}
        self._hand_panel(gui_tabs.add_tab("Hands"))
        self._walk_panel(gui_tabs.add_tab("Walk"))
        self._task_panel(gui_tabs.add_tab("Task"))
        node.create_timer(1.0 / WALK_PUBLISH_HZ, self._publish_walk)
        server.on_client_disconnect(lambda _client: self._stop_walking_if_nobody_watches())

    # --- hand targets -------------------------------------------------------------------------------
    def _hand_panel(self, tab) -> None:
        with tab:
            self.hand_status = self.server.gui.add_markdown(
                "Tick a hand or the gaze, then drag its gizmo in the 3D view: every move sends the pose "
                "(base_link frame) to `wbc/targets/left_hand`, `wbc/targets/right_hand` or the point to "
                "look at to `wbc/targets/gaze`."
            )
            for hand in HANDS:
                box = self.server.gui.add_checkbox(f"Drag {hand.replace('_', ' ')} target", False)
                box.on_update(lambda event, hand=hand: self._toggle_hand(hand, event.target.value))
            gaze = self.server.gui.add_checkbox("Drag gaze target", False)
            gaze.on_update(lambda event: self._toggle_gaze(event.target.value))

    def _toggle_hand(self, hand: str, enabled: bool) -> None:
        with self.lock:
            gizmo = self.gizmos.pop(hand, None)
            if gizmo is not None:
                gizmo.remove()
            if not enabled:
                return
            pose = self.hand_pose(hand)
            if pose is None:
                self.hand_status.content = "no robot yet (robot_description and joint_states): try again"
                return
            gizmo = self.server.scene.add_transform_controls(
                f"/robot/targets/{hand}", scale=0.25, position=pose[0], wxyz=pose[1]
            )
            gizmo.on_update(
                lambda event, hand=hand: self.send_hand_target(hand, event.target.position, event.target.wxyz)
            )
            self.gizmos[hand] = gizmo

    def _toggle_gaze(self, enabled: bool) -> None:
        with self.lock:
            gizmo = self.gizmos.pop("gaze", None)
            if gizmo is not None:
                gizmo.remove()
            if not enabled:
                return
            head = self.hand_pose("head")
            if head is None:
                self.hand_status.content = "no robot yet (robot_description and joint_states): try again"
                return
            gizmo = self.server.scene.add_transform_controls(
                "/robot/targets/gaze", scale=0.2, position=point_ahead(*head), disable_rotations=True
            )
            gizmo.on_update(lambda event: self.send_gaze_target(event.target.position))
            self.gizmos["gaze"] = gizmo

    def send_gaze_target(self, position) -> bool:
        """Publish the point to look at (base_link frame); False, with the reason shown, if refused."""
        try:
            position = gaze_target(position)
        except TeleopError as exc:
            self.hand_status.content = f"gaze target refused: {exc}"
            return False
        msg = PointStamped()
        msg.header.stamp, msg.header.frame_id = self.robot_stamp(), BASE_FRAME
        msg.point.x, msg.point.y, msg.point.z = (float(v) for v in position)
        self.gaze_pub.publish(msg)
        self.targets_sent["gaze"] += 1
        x, y, z = position
        self.hand_status.content = f"gaze target sent: ({x:+.2f}, {y:+.2f}, {z:+.2f}) m in base_link"
        return True

    def send_hand_target(self, hand: str, position, wxyz) -> bool:
        """Publish one hand target (base_link frame); False, with the reason shown, if refused."""
        try:
            position, wxyz = hand_target(position, wxyz)
        except TeleopError as exc:
            self.hand_status.content = f"{hand} target refused: {exc}"
            return False
        msg = PoseStamped()
        msg.header.stamp, msg.header.frame_id = self.robot_stamp(), BASE_FRAME
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in position)
        o = msg.pose.orientation
        o.w, o.x, o.y, o.z = (float(v) for v in wxyz)
        self.hand_pubs[hand].publish(msg)
        self.targets_sent[hand] += 1
        x, y, z = position
        self.hand_status.content = f"{hand} target sent: ({x:+.2f}, {y:+.2f}, {z:+.2f}) m in base_link"
        return True

    # --- walking joystick ---------------------------------------------------------------------------
    def _walk_panel(self, tab) -> None:
        gui, lim = self.server.gui, self.walk_limits
        with tab:
            self.walking = gui.add_checkbox(
                "Walk", False, hint=f"publish cmd_vel at {WALK_PUBLISH_HZ:g} Hz while ticked"
            )
            self.forward = gui.add_slider("forward [m/s]", -lim.forward_m_s, lim.forward_m_s, 0.05, 0.0)
            self.lateral = gui.add_slider("left [m/s]", -lim.lateral_m_s, lim.lateral_m_s, 0.05, 0.0)
            self.yaw = gui.add_slider("turn left [rad/s]", -lim.yaw_rad_s, lim.yaw_rad_s, 0.05, 0.0)
            stop = gui.add_button("Stop", color="orange", hint="zero velocity and untick Walk")
        self.walking.on_update(lambda event: None if event.target.value else self._send_stop())
        stop.on_click(lambda _: self.stop_walking())

    def stop_walking(self) -> None:
        with self.lock:
            self.walking.value = False
            for slider in (self.forward, self.lateral, self.yaw):
                slider.value = 0.0
        self._send_stop()

    def _send_stop(self) -> None:
        """One zero velocity after motion (the untick and the Stop button may both ask for it)."""
        with self.lock:
            if self.moving:
                self._send_twist(0.0, 0.0, 0.0)

    def _stop_walking_if_nobody_watches(self) -> None:
        if self.walking.value and not self.server.get_clients():
            self.node.get_logger().warning("last browser tab closed while walking: stopping")
            self.stop_walking()

    def _publish_walk(self) -> None:
        with self.lock:  # not between stop_walking's untick and its zero
            if self.walking.value:
                self._send_twist(self.forward.value, self.lateral.value, self.yaw.value)

    def _send_twist(self, forward: float, lateral: float, yaw: float) -> None:
        vx, vy, wz = self.walk_limits.clamp(forward, lateral, yaw)
        self.moving = (vx, vy, wz) != (0.0, 0.0, 0.0) or self.walking.value
        msg = TwistStamped()
        msg.header.stamp, msg.header.frame_id = self.robot_stamp(), BASE_FRAME
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.angular.z = vx, vy, wz
        self.cmd_vel_pub.publish(msg)

    # --- instruction box ----------------------------------------------------------------------------
    def _task_panel(self, tab) -> None:
        gui = self.server.gui
        with tab:
            self.instruction = gui.add_text("Instruction", "", hint='e.g. "pick up the red cup"')
            self.executor = gui.add_dropdown("Run on", tuple(EXECUTORS), initial_value=next(iter(EXECUTORS)))
            run = gui.add_button("Execute", color="green")
            cancel = gui.add_button("Cancel")
            self.task_status = gui.add_markdown("no instruction yet")
        run.on_click(lambda _: self.execute(self.instruction.value))
        cancel.on_click(lambda _: self.cancel())

    def execute(self, text: str) -> bool:
        """Send a vla/execute goal; False, with the reason shown, if it cannot be sent."""
        text = text.strip()
        if not text:
            self.task_status.content = "type an instruction first"
            return False
        action = EXECUTORS.get(self.executor.value, "vla/execute")
        client = self.executors[action]
        if not client.server_is_ready():
            self.task_status.content = instruction_markdown(
                text, f"nothing serves {action} (is the tasks or the vla node running? `sim` runs tasks on vla/execute)"
            )
            return False
        self.task_status.content = instruction_markdown(text, f"sent to {action}, waiting for it to accept")
        goal = ExecuteInstruction.Goal(instruction=text)

        def send() -> None:
            future = client.send_goal_async(goal, feedback_callback=lambda fb: self._on_feedback(text, fb.feedback))
            future.add_done_callback(lambda f: self._on_accepted(text, f.result()))

        self._on_executor(send)
        return True

    def cancel(self) -> None:
        handle = self.goal_handle
        if handle is None:
            self.task_status.content = "nothing to cancel"
            return
        self._on_executor(handle.cancel_goal_async)
        self.task_status.content += "  \ncancel requested"

    def _on_executor(self, call: Callable[[], None]) -> None:
        """Run an action-client call on the node's executor. rclpy's ActionClient files a request's
        future only after sending it: sent from viser's thread, a reply the executor takes in
        between is dropped, and the instruction would wait "for the executor to accept" for ever."""
        self._for_executor.append(call)
        self._executor_wake.trigger()

    def _run_for_executor(self) -> None:
        while self._for_executor:
            self._for_executor.popleft()()

    def _on_accepted(self, text: str, handle) -> None:
        if not handle.accepted:
            self.task_status.content = instruction_markdown(text, "refused by the executor")
            return
        self.goal_handle = handle
        self.task_status.content = instruction_markdown(text, "accepted")
        handle.get_result_async().add_done_callback(lambda f: self._on_result(text, handle, f.result()))

    def _on_feedback(self, text: str, feedback) -> None:
        self.task_status.content = instruction_markdown(text, "running", feedback.phase, feedback.progress)

    def _on_result(self, text: str, handle, response) -> None:
        if self.goal_handle is handle:
            self.goal_handle = None
        result = response.result
        state = {4: "succeeded", 5: "canceled", 6: "aborted"}.get(response.status, f"status {response.status}")
        detail = f"{state} after {result.duration_s:.1f} s" + (f": {result.message}" if result.message else "")
        self.task_status.content = instruction_markdown(text, ("done: " if result.success else "failed: ") + detail)

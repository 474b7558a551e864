"""The hands node: two 22-DoF hands behind the hardware contract (DESIGN §4).

Per hand (`sides`), at rate_hz: the hand's 22 finger joints on hardware/joint_commands (each hand is
its own command group with its own 0.25 s watchdog at the hardware node, so this node publishes
every period, holding the measured pose until told otherwise). Inputs: joint_states (positions and
efforts), hands/<side>/touch (forma_interfaces/FingertipTouch), robot_description (latched; the
hand's joints and limits). Commands: hands/<side>/command (forma_interfaces/HandCommand synergies,
for teleop and policies) and the action hands/<side>/grasp (forma_interfaces/action/Grasp). A held
object that is lost is reported on hands/<side>/events (std_msgs/String "object_lost: <reason>").

The hardware decides (hardware/state): a hand commands only while its group (`<side>_hand`) is
ACTIVE. Latched (HOLD, DAMP: an e-stop, a fault, a watchdog, the start-up hold) it stops sending,
ends a running grasp with HARDWARE_NOT_ACTIVE and the hardware's reason, and refuses goals and
synergy commands; after the reset (by the safety supervisor) it holds the measured pose again.

Control authority: the last source wins and says so in the log: a HandCommand ends a running grasp
(CANCELED, "pre-empted by hands/<side>/command"), a new grasp goal ends the previous one. Goals are
accepted and then checked: a bad goal ends at once with INVALID_GOAL and the reason (a rejected goal
could not carry one), and moves nothing.

The hands step in a thread of their own, once per joint_states sample (at most rate_hz), and read
the touch streams and hardware/state there from direct subscriptions (forma_common.loop: an
executor wake-up per period and per /clock cost this process ~0.1 core on the 2-core machine).
Their clock is the robot's: the newest joint_states stamp (sim time in simulation), so they need
no /clock, and each command carries the time of the sample it answers.
"""

from __future__ import annotations

import dataclasses
import math
import threading

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from forma_common import qos
from forma_common.direct import DirectSubscription
from forma_common.loop import InputLoop, locked
from forma_common.messages import to_time_msg
from forma_common.node import GoalResult, declare_params, on_robot_clock, run_node
from forma_common.params import param
from forma_common.state_cdr import JointStateReader
from forma_description import RobotModel
from forma_hands.errors import HandsError
from forma_hands.grasp import ErrorCode, GraspConfig, GraspController, GraspGoal, Outcome, Phase
from forma_hands.hand_joints import FINGERS, LOCAL_JOINTS, SIDES, HandJoints
from forma_hands.synergies import Synergy, synergy_targets
from forma_hands.taxonomy import grasp_types
from forma_interfaces.action import Grasp
from forma_interfaces.msg import FingertipTouch, HandCommand, HardwareState

TOUCH_MAX_AGE_S = 0.2  # touch older than this is treated as missing (no contact known)


class _Hand:
    """One hand's state in the node."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.joints: HandJoints | None = None
        self.ctrl: GraspController | None = None
        self.touch_n = [0.0] * len(FINGERS)
        self.touch_s = -math.inf
        self.goal_handle = None
        self.done: GoalResult | None = None
        self.last_feedback_s = -math.inf
        self.latched = "no hardware/state yet"  # why the hand must not command ("" = it may)
        self.sent: list[float] | None = None  # the last command's positions (None: send the next at once)
        self.sent_s = -math.inf  # when it went out [s, the node's clock]

    @property
    def group(self) -> str:
        return f"{self.side}_hand"


@dataclasses.dataclass(frozen=True)
class HandsParams:
    """The node's own parameters (the grasp thresholds are GraspConfig's, same names)."""

    sides: list[str] = param(["left", "right"], "hands to drive; each must be in robot_description", choices=SIDES)
    rate_hz: float = param(
        100.0,
        "step rate per hand, at most (one step per joint_states sample; the hardware watchdog per hand is 0.25 s)",
        unit="Hz",
        low=10.0,
        high=500.0,
    )
    feedback_rate_hz: float = param(10.0, "Grasp action feedback rate", unit="Hz", low=0.1, high=100.0)
    keepalive_s: float = param(
        0.02,
        "an unchanged command is sent again this often (the hardware's hand watchdog is 0.25 s); a changed one at "
        "the next tick",
        unit="s",
        low=0.0,
        high=0.2,
    )


class HandsNode(Node):
    """Synergy commands and Grasp actions for the robot's hands -> hardware/joint_commands."""

    PARAMS = (HandsParams, GraspConfig)

    def __init__(self, node_name: str = "hands", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        on_robot_clock(self)  # (module docstring)
        p = declare_params(self, HandsParams, error=HandsError)
        self.config = declare_params(self, GraspConfig, error=HandsError)
        sides = p.sides
        if not sides or len(set(sides)) != len(sides):
            raise HandsError(f"parameter sides={sides}: a non-empty list of distinct hands from {', '.join(SIDES)}")
        self.rate_hz = p.rate_hz
        self.feedback_period_s = 1.0 / p.feedback_rate_hz
        self.keepalive_s = p.keepalive_s
        self.hands = {s: _Hand(s) for s in sides}
        self.positions: dict[str, float] = {}
        self.efforts: dict[str, float] = {}
        self.ticks = 0
        self.lock = threading.RLock()  # the step's thread vs the executor's callbacks
        self.robot_now = 0.0  # the robot's clock: the newest joint_states stamp [s]
        self.last_step_s: float | None = None

        self.pub_cmd = None  # created once the hands are known: a supervisor waits for it (`commanders`)
        self.pub_events = {s: self.create_publisher(String, f"hands/{s}/events", 10) for s in sides}
        self.create_subscription(String, "robot_description", self._on_description, qos.LATCHED)
        self.joint_states_in = DirectSubscription(
            self, JointState, "joint_states", qos.NEWEST, parse=JointStateReader().read
        )  # polled
        self.touch_in = {s: DirectSubscription(self, FingertipTouch, f"hands/{s}/touch", qos.NEWEST) for s in sides}
        self.hardware_state_in = DirectSubscription(self, HardwareState, "hardware/state", qos.POLLED)  # polled
        self._goal_wake = GoalResult.waker(self)
        self._servers = []
        for s in sides:
            self.create_subscription(
                HandCommand, f"hands/{s}/command", lambda m, s=s: self._on_command(s, m), qos.EVENTS
            )
            self._servers.append(
                ActionServer(
                    self,
                    Grasp,
                    f"hands/{s}/grasp",
                    execute_callback=self._executor_for(s),
                    goal_callback=lambda goal: GoalResponse.ACCEPT,
                    cancel_callback=lambda gh: CancelResponse.ACCEPT,
                )
            )
        self.loop = InputLoop(
            self,
            self.joint_states_in,
            self._tick,
            self.lock,
            min_interval_s=0.9 / self.rate_hz,
            silence_s=2.0 / self.rate_hz,
            name="hands_step",
        )
        self.get_logger().info(
            f"hands: {', '.join(sides)} at {self.rate_hz:.0f} Hz -> hardware/joint_commands; "
            f"actions {', '.join(f'hands/{s}/grasp' for s in sides)}"
        )
        self.loop.start()

    # --- inputs -------------------------------------------------------------------------------------
    @locked
    def _on_description(self, msg: String) -> None:
        try:
            robot = RobotModel.from_urdf(msg.data)
            joints = {s: HandJoints.from_robot(robot, s) for s in self.hands}
        except (HandsError, ValueError) as exc:
            self.get_logger().error(f"robot_description refused: {exc}; set `sides` to the hands it has")
            return
        for s, h in self.hands.items():
            if h.joints is None or h.joints.names != joints[s].names:
                h.joints = joints[s]
                h.ctrl = GraspController(h.joints, grasp_types(h.joints), self.config)
        if self.pub_cmd is None:
            self.pub_cmd = self.create_publisher(JointState, "hardware/joint_commands", qos.COMMANDS)
        self.get_logger().info(f"robot_description: {robot.name}, hands {', '.join(self.hands)} ready")

    def _take_inputs(self, joint_states_stamp_s: float | None) -> None:
        """Every hardware/state and the newest touch samples since the last step, and the
        joint_states sample the step is for (None: the stream was silent)."""
        if joint_states_stamp_s is not None:
            self.robot_now = joint_states_stamp_s
            self._on_joints(self.loop.latest)
        for msg in self.hardware_state_in.take_all():
            self._on_hardware_state(msg)
        for side, sub in self.touch_in.items():
            if (msg := sub.take_newest()) is not None:
                self._on_touch(side, msg)

    def _on_joints(self, msg: JointState) -> None:
        if len(msg.position) != len(msg.name):
            self.get_logger().warn(f"joint_states with {len(msg.name)} names and {len(msg.position)} positions ignored")
            return
        efforts = msg.effort if len(msg.effort) == len(msg.name) else [0.0] * len(msg.name)
        for n, q, e in zip(msg.name, msg.position, efforts, strict=True):
            self.positions[n] = q
            self.efforts[n] = e

    def _on_hardware_state(self, msg: HardwareState) -> None:
        states = dict(zip(msg.groups, zip(msg.stop_states, msg.reasons, strict=False), strict=False))
        for h in self.hands.values():
            state, reason = states.get(h.group, (None, ""))
            if state is None:
                latched = f"hardware/state has no group {h.group}"
            elif state != HardwareState.ACTIVE:
                name = {HardwareState.HOLD: "HOLD", HardwareState.DAMP: "DAMP"}.get(state, str(state))
                latched = f"{h.group} is latched in {name} ({reason})"
            else:
                latched = ""
            if latched and not h.latched:
                self.get_logger().warn(f"{h.side} hand stopped commanding: {latched}; waiting for a reset")
                if h.done is not None and not h.done.done():
                    self._finish(h, Outcome(False, False, ErrorCode.HARDWARE_NOT_ACTIVE, latched))
                if h.ctrl is not None:
                    h.ctrl.targets = None  # after the reset: hold the pose the hand is in then
            elif not latched and h.latched:
                self.get_logger().info(f"{h.side} hand: {h.group} active; holding the measured pose")
            h.latched = latched
            if latched:
                h.sent = None  # after the reset, the first command goes out at once

    def _on_touch(self, side: str, msg: FingertipTouch) -> None:
        if list(msg.fingers) != list(FINGERS) or len(msg.force_n) != len(FINGERS):
            self.get_logger().warn(f"hands/{side}/touch refused: fingers {list(msg.fingers)}, expected {list(FINGERS)}")
            return
        if not all(math.isfinite(f) and f >= 0 for f in msg.force_n):
            self.get_logger().warn(f"hands/{side}/touch refused: forces {list(msg.force_n)} must be finite and >= 0")
            return
        h = self.hands[side]
        h.touch_n, h.touch_s = [float(f) for f in msg.force_n], self._now()

    @locked
    def _on_command(self, side: str, msg: HandCommand) -> None:
        h = self.hands[side]
        try:
            if h.ctrl is None:
                raise HandsError("no robot_description yet")
            if h.latched:
                raise HandsError(f"the hardware is not taking this hand's commands: {h.latched}")
            targets = synergy_targets(Synergy(msg.closure, msg.spread, msg.thumb_opposition), h.joints)
        except HandsError as exc:
            self.get_logger().warn(f"hands/{side}/command refused: {exc}; nothing changed")
            return
        if h.done is not None and not h.done.done():
            self._finish(h, Outcome(False, False, ErrorCode.CANCELED, f"pre-empted by hands/{side}/command"))
            self.get_logger().info(f"{side} grasp pre-empted by hands/{side}/command (teleop/policy)")
        h.ctrl.set_targets(targets)

    # --- the action ---------------------------------------------------------------------------------
    def _executor_for(self, side: str):
        """A coroutine function per hand (rclpy awaits it only if it *is* a coroutine function)."""

        async def execute(goal_handle) -> Grasp.Result:
            return await self._execute(side, goal_handle)

        return execute

    async def _execute(self, side: str, goal_handle) -> Grasp.Result:
        h = self.hands[side]
        g = goal_handle.request
        done = GoalResult(self._goal_wake)
        with self.lock:  # (the goal starts between two steps)
            refusal = self._start(h, side, g, goal_handle, done)
        if refusal is not None:
            return refusal
        outcome: Outcome = await done
        result = Grasp.Result(
            success=outcome.success, holding=outcome.holding, error_code=int(outcome.code), message=outcome.message
        )
        if outcome.code == ErrorCode.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        elif outcome.success:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        if outcome.success:  # (rclpy refuses two severities from one call site)
            self.get_logger().info(f"{side} grasp {g.grasp_type!r}: {outcome.message}")
        else:
            self.get_logger().warn(f"{side} grasp {g.grasp_type!r} failed: {outcome.message}")
        return result

    def _start(self, h: _Hand, side: str, g, goal_handle, done: GoalResult) -> Grasp.Result | None:
        """Start the goal on the hand's controller, or refuse it: the result to return (the goal
        then ended) or None (started)."""
        try:
            if h.ctrl is None:
                raise HandsError("no robot_description yet")
            pos = self._hand_positions(h)
            if pos is None:
                raise HandsError("no joint_states for this hand yet: is the hardware running?")
            if h.latched:
                self.get_logger().warn(f"hands/{side}/grasp goal refused: {h.latched}")
                goal_handle.abort()
                return Grasp.Result(
                    success=False, holding=False, error_code=ErrorCode.HARDWARE_NOT_ACTIVE, message=h.latched
                )
            position = size = None
            if g.has_object:
                p = g.object_pose.pose.position
                position, size = (p.x, p.y, p.z), (g.object_size_m.x, g.object_size_m.y, g.object_size_m.z)
            goal = GraspGoal(g.hand, g.grasp_type, float(g.max_force_n), float(g.timeout_s), position, size)
            if h.done is not None and not h.done.done():
                self._finish(h, Outcome(False, False, ErrorCode.CANCELED, "pre-empted by a new grasp goal"))
            h.ctrl.start(goal, self._now(), pos, preshape_only=bool(g.preshape_only))
        except HandsError as exc:
            self.get_logger().warn(f"hands/{side}/grasp goal refused: {exc}")
            goal_handle.abort()
            return Grasp.Result(success=False, holding=False, error_code=ErrorCode.INVALID_GOAL, message=str(exc))
        self.get_logger().info(f"{side} grasp {g.grasp_type!r} started (max {g.max_force_n:.1f} N)")
        h.goal_handle, h.done = goal_handle, done
        return None

    def _finish(self, h: _Hand, outcome: Outcome) -> None:
        if h.done is not None:
            h.done.finish(outcome)
        h.goal_handle = None

    # --- the control period -------------------------------------------------------------------------
    def _tick(self, joint_states_stamp_s: float | None) -> None:
        """One step (InputLoop, under the lock) at a joint_states sample; with the stamp None (the
        stream silent) it only takes hardware/state and touch: no positions, no command."""
        self._take_inputs(joint_states_stamp_s)
        if joint_states_stamp_s is None:
            return
        now = self.robot_now
        last, self.last_step_s = self.last_step_s, now
        dt = 1.0 / self.rate_hz if last is None else min(max(now - last, 0.0), 2.0 / self.rate_hz)
        self.ticks += 1
        for h in self.hands.values():
            if h.ctrl is None or h.latched:
                continue
            pos = self._hand_positions(h)
            if pos is None:
                continue
            if h.ctrl.targets is None:
                h.ctrl.hold_position(pos)
            if h.goal_handle is not None and h.goal_handle.is_cancel_requested:
                self._finish(h, h.ctrl.cancel(now, "canceled by the client; releasing"))
            efforts = {loc: self.efforts.get(full, 0.0) for loc, full in zip(LOCAL_JOINTS, h.joints.names, strict=True)}
            touch = h.touch_n if now - h.touch_s <= TOUCH_MAX_AGE_S else [0.0] * len(FINGERS)
            targets, feedback = h.ctrl.tick(now, dt, pos, efforts, touch)
            for event in h.ctrl.pop_events():
                self.pub_events[h.side].publish(String(data=f"object_lost: {event}"))
                self.get_logger().warn(f"{h.side} hand: {event}")
            if h.goal_handle is not None:
                if now - h.last_feedback_s >= self.feedback_period_s:
                    h.last_feedback_s = now
                    h.goal_handle.publish_feedback(
                        Grasp.Feedback(
                            phase=feedback.phase,
                            closure=float(feedback.closure),
                            contacts=int(feedback.contacts),
                            total_force_n=float(feedback.total_force_n),
                        )
                    )
                if h.ctrl.outcome is not None and h.ctrl.phase in (Phase.HOLD, Phase.DONE):
                    self._finish(h, h.ctrl.outcome)
            if targets is not None:
                self._publish(h, targets, now)

    def _publish(self, h: _Hand, targets: dict[str, float], now: float) -> None:
        """A hand holding still sends its command every keepalive_s, not every tick: the
        hardware keeps the last one, and each costs a publish here and a take there."""
        positions = [float(targets[j]) for j in LOCAL_JOINTS]
        if positions == h.sent and 0.0 <= now - h.sent_s < self.keepalive_s:  # (sim/reset turns the clock back)
            return
        msg = JointState()
        msg.header.stamp = to_time_msg(now)
        msg.name = list(h.joints.names)
        msg.position = positions
        self.pub_cmd.publish(msg)
        h.sent, h.sent_s = positions, now

    def _hand_positions(self, h: _Hand) -> dict[str, float] | None:
        try:
            return {loc: self.positions[full] for loc, full in zip(LOCAL_JOINTS, h.joints.names, strict=True)}
        except KeyError:
            return None

    def _now(self) -> float:
        return self.robot_now

    def destroy_node(self) -> None:
        self.loop.stop()
        for sub in (self.joint_states_in, *self.touch_in.values(), self.hardware_state_in):
            sub.destroy()
        super().destroy_node()


def main(args=None) -> None:
    """Run the hands node alone: `ros2 run forma_hands hands_node`."""
    run_node(HandsNode, (HandsError,), args)

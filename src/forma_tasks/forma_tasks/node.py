"""The tasks node: serves vla/execute (forma_interfaces/ExecuteInstruction) with the skills of
forma_tasks.skills, composed from the running stack's own interfaces only.

Inputs: hardware/robot_state (joints and the IMU's orientation: forward kinematics and the robot's
clock), robot_description (latched), perception/objects and perception/people (in base_link),
hands/<side>/events (object lost), safety/state. Outputs: wbc/targets/gaze and wbc/targets/torso
(base_link, stamped with the robot's clock), goals on wbc/reach (or planning/reach: parameter
reach_action) and hands/<side>/grasp.

One instruction at a time: a goal that arrives while one runs is accepted and ends at once,
unsuccessful, saying what runs (the result carries the reason; a rejected goal could not).
Nothing starts unless the safety supervisor reports ACTIVE. Cancel stops the skill: the reaches
end (the hands hold where they are), an empty hand opens, the body stands up, holding what it holds.

Threads: the executor (action server, clients, latched inputs) and one worker per instruction that
runs the skill. The worker alone reads the polled streams (forma_common.direct); its action-client
calls are handed to the executor (a request sent from another thread can lose its reply).
"""

from __future__ import annotations

import collections
import dataclasses
import math
import threading
import time
import traceback
from collections.abc import Callable

import numpy as np
import pinocchio as pin
from geometry_msgs.msg import PointStamped, PoseStamped
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from rclpy.node import Node
from std_msgs.msg import String

from forma_common import qos
from forma_common.direct import DirectSubscription
from forma_common.messages import stamp_s, to_time_msg
from forma_common.node import GoalResult, declare_params, run_node
from forma_common.params import param
from forma_description import RobotModel
from forma_description.frames import RobotFrames
from forma_description.poses import available_poses
from forma_interfaces.action import ExecuteInstruction, Grasp, Reach
from forma_interfaces.msg import DetectedObjectArray, PersonArray, RobotState, SafetyState
from forma_tasks.errors import TaskError, TaskFailed
from forma_tasks.robot import (
    CANCELED,
    REACHED,
    REJECTED,
    TIMEOUT,
    UNREACHABLE,
    HandResult,
    ReachResult,
    level_from_base,
    standing_pelvis_height,
)
from forma_tasks.runner import Outcome, TaskRunner
from forma_tasks.scene import Scene, SeenObject, SeenPerson

SIDES = ("left", "right")
REACH_OUTCOMES = {0: REACHED, 1: UNREACHABLE, 2: TIMEOUT, 3: CANCELED, 4: REJECTED}
POLL_S = 0.01  # the worker's wait step [s wall]


@dataclasses.dataclass(frozen=True)
class TasksParams:
    default_timeout_s: float = param(90.0, "an instruction without timeout_s gives up after this", unit="s",
                                     low=1.0, high=3600.0)
    stand_pose: str = param(
        "stand_balanced", "the named pose the robot stands in (its pelvis height)", choices=available_poses()
    )
    perception_timeout_s: float = param(
        3.0, "a perception frame must arrive within this after the skill asks for one", unit="s", low=0.1, high=60.0
    )
    server_timeout_s: float = param(
        2.0, "wbc/reach and hands/<side>/grasp must answer a goal within this", unit="s", low=0.1, high=60.0
    )
    action_name: str = param(
        "vla/execute", "the action served (tasks/execute where a learned policy's vla node serves vla/execute)",
        read_only=True,
    )
    reach_action: str = param(
        "wbc/reach", "where reach goals go: wbc/reach (the straight reach) or planning/reach (the planner node: "
        "around the perceived objects when the straight reach is blocked; same action type)",
    )


class DdsReach:
    """robot.ReachHandle over a wbc/reach goal."""

    def __init__(self, robot: DdsRobot) -> None:
        self.robot = robot
        self.handle = None
        self.done: ReachResult | None = None
        self.cancel_requested = False

    def result(self) -> ReachResult | None:
        return self.done

    def cancel(self) -> None:
        if self.done is None and self.handle is not None and not self.cancel_requested:
            self.cancel_requested = True
            self.robot.node.on_executor(self.handle.cancel_goal_async)


class DdsRobot:
    """robot.Robot over DDS: what forma_tasks.lockstep does in process, here with the deployed nodes."""

    def __init__(self, node: TasksNode) -> None:
        self.node = node
        self.standing_pelvis_height_m = node.standing_pelvis_height_m
        self.state: RobotState | None = None
        self.state_wall_s = -math.inf  # when the newest state arrived (monotonic wall clock)

    # --- inputs (the worker's thread only) ---------------------------------------------------------
    def _poll(self) -> None:
        if self.node.state_in is None:  # subscribed for this instruction only
            self.node.state_in = DirectSubscription(self.node, RobotState, "hardware/robot_state", qos.NEWEST)
            self.state = None
        msg = self.node.state_in.take_newest()
        if msg is not None:
            self.state = msg
            self.state_wall_s = time.monotonic()
        for side, sub in self.node.events_in.items():
            for event in sub.take_all():
                if event.data.startswith("object_lost"):
                    self.node.lost[side] = event.data.removeprefix("object_lost: ")

    def _state(self) -> RobotState:
        """The newest robot state; TaskFailed when none came for perception_timeout_s (wall)."""
        self._poll()
        end = time.monotonic() + self.node.params.perception_timeout_s
        while self.state is None or time.monotonic() - self.state_wall_s > self.node.params.perception_timeout_s:
            if time.monotonic() > end:
                raise TaskFailed("no hardware/robot_state for a while: is the hardware (or sim) node running?")
            time.sleep(POLL_S)
            self._poll()
        return self.state

    def _tilt(self) -> pin.SE3:
        """level <- base_link, from the IMU's orientation and the imu_link's place on the pelvis."""
        state = self._state()
        q = state.orientation
        world_imu = pin.Quaternion(q.w, q.x, q.y, q.z).toRotationMatrix()
        imu_base = self.node.frames.transform("imu_link", "base_link")[:3, :3]
        return pin.SE3(level_from_base(world_imu @ imu_base), np.zeros(3))

    def _update_frames(self) -> None:
        state = self._state()
        self.node.frames.update(list(state.name), np.asarray(state.position, float))

    # --- robot.Robot ----------------------------------------------------------------------------------
    def now(self) -> float:
        return stamp_s(self._state().header.stamp)

    def wait(self, seconds: float) -> None:
        end = self.now() + seconds
        while self.now() < end:
            time.sleep(POLL_S)

    def frame(self, name: str) -> pin.SE3:
        self._update_frames()
        return self._tilt() * pin.SE3(self.node.frames.transform("base_link", name))

    def observe(self) -> Scene:
        asked = self.now()
        deadline = time.monotonic() + self.node.params.perception_timeout_s
        objects = people = None
        while objects is None or (self.node.people_seen and people is None):
            if time.monotonic() > deadline:
                raise TaskFailed("no perception frame: is the perception node running (perception/objects)?")
            time.sleep(POLL_S)
            for msg in self.node.objects_in.take_all():
                if stamp_s(msg.header.stamp) >= asked:
                    objects = objects or msg
            for msg in self.node.people_in.take_all():
                self.node.people_seen = True
                if stamp_s(msg.header.stamp) >= asked:
                    people = people or msg
        to_level = self._from_frame(objects.header.frame_id)
        seen = []
        for o in objects.objects:
            p, q = o.pose.position, o.pose.orientation
            rotation = to_level.rotation @ pin.Quaternion(q.w, q.x, q.y, q.z).toRotationMatrix()
            seen.append(SeenObject(o.id, o.label, o.color, to_level.act(np.array([p.x, p.y, p.z])),
                                   math.atan2(rotation[1, 0], rotation[0, 0]),
                                   np.array([o.size_m.x, o.size_m.y, o.size_m.z])))
        persons = []
        if people is not None:
            to_level = self._from_frame(people.header.frame_id)
            for person in people.people:
                if person.face_detected:
                    f = person.face_position_m
                    persons.append(SeenPerson(person.id, to_level.act(np.array([f.x, f.y, f.z]))))
        return Scene(stamp_s(objects.header.stamp), tuple(seen), tuple(persons))

    def _from_frame(self, frame_id: str) -> pin.SE3:
        """level <- a robot frame perception publishes in (its `frame` parameter: torso, base_link)."""
        name = frame_id.removeprefix(self.node.prefix) or "base_link"
        self._update_frames()
        try:
            base_frame = pin.SE3(self.node.frames.transform("base_link", name))
        except (KeyError, ValueError) as exc:
            raise TaskFailed(f"perception publishes in frame {frame_id!r}, which the robot does not have") from exc
        return self._tilt() * base_frame

    def _base_link(self, pose: pin.SE3) -> pin.SE3:
        return self._tilt().inverse() * pose

    def look_at(self, point: np.ndarray) -> None:
        p = self._base_link(pin.SE3(np.eye(3), np.asarray(point, float))).translation
        msg = PointStamped()
        msg.header.stamp, msg.header.frame_id = to_time_msg(self.now()), self.node.base_frame
        msg.point.x, msg.point.y, msg.point.z = (float(v) for v in p)
        self.node.pub_gaze.publish(msg)

    def lean(self, torso: pin.SE3) -> None:
        self.node.pub_torso.publish(self._pose_msg(self._base_link(torso)))

    def _pose_msg(self, pose: pin.SE3) -> PoseStamped:
        msg = PoseStamped()
        msg.header.stamp, msg.header.frame_id = to_time_msg(self.now()), self.node.base_frame
        t, q = pose.translation, pin.Quaternion(pose.rotation)
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in t)
        msg.pose.orientation.w, msg.pose.orientation.x = float(q.w), float(q.x)
        msg.pose.orientation.y, msg.pose.orientation.z = float(q.y), float(q.z)
        return msg

    def reach(self, side, pose, tolerance_m=0.02, orientation_tolerance_rad=math.radians(5.0), timeout_s=4.0,
              max_speed_m_s=0.0) -> DdsReach:
        goal = Reach.Goal()
        goal.hand = side
        goal.target = self._pose_msg(self._base_link(pose))
        goal.position_tolerance_m, goal.orientation_tolerance_rad = float(tolerance_m), float(orientation_tolerance_rad)
        goal.timeout_s, goal.max_speed_m_s = float(timeout_s), float(max_speed_m_s)
        handle = DdsReach(self)

        def on_result(result) -> None:
            handle.done = ReachResult(REACH_OUTCOMES.get(result.outcome, REJECTED), result.distance_m, result.reason)

        def on_refused(reason: str) -> None:
            handle.done = ReachResult(REJECTED, math.inf, reason)

        def on_accepted(goal_handle) -> None:
            handle.handle = goal_handle

        self.node.send_goal(self.node.reach_client, goal, on_accepted, on_result, on_refused)
        return handle

    def hand(self, side, grasp_type, max_force_n=10.0, preshape_only=False, timeout_s=6.0) -> HandResult:
        goal = Grasp.Goal()
        goal.hand, goal.grasp_type, goal.preshape_only = side, grasp_type, bool(preshape_only)
        goal.max_force_n, goal.timeout_s = float(max_force_n), float(timeout_s)
        self.node.lost[side] = ""
        done: list[HandResult] = []
        self.node.send_goal(
            self.node.grasp_clients[side], goal, lambda h: None,
            lambda r: done.append(HandResult(r.success, r.holding, r.message)),
            lambda reason: done.append(HandResult(False, False, reason)),
        )
        end = time.monotonic() + timeout_s + 2.0 * self.node.params.server_timeout_s
        while not done:
            if time.monotonic() > end:
                return HandResult(False, False, f"hands/{side}/grasp did not answer")
            time.sleep(POLL_S)
            self._poll()
        return done[0]

    def object_lost(self, side: str) -> str:
        self._poll()
        return self.node.lost.get(side, "")

    def say(self, text: str) -> None:
        self.node.get_logger().info(f"says: {text}")


class TasksNode(Node):
    """vla/execute -> skills on the running stack."""

    PARAMS = (TasksParams,)

    def __init__(self, node_name: str = "tasks", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.params = declare_params(self, TasksParams, error=TaskError)
        self.frames: RobotFrames | None = None
        self.standing_pelvis_height_m = math.nan
        self.base_frame = "base_link"
        self.prefix = ""  # the robot's frame prefix (robot_description)
        self.safety: SafetyState | None = None
        self.lost: dict[str, str] = {}
        self.people_seen = False
        self.running: str = ""  # the instruction being carried out
        self.stood_up = False  # STANDING_UP seen since the last instruction (runner.forget_body)
        self._lock = threading.Lock()
        self._for_executor: collections.deque[Callable[[], None]] = collections.deque()
        self._executor_wake = self.create_guard_condition(self._run_for_executor)
        self._goal_wake = GoalResult.waker(self)
        self.state_in: DirectSubscription | None = None  # only while an instruction runs (500 Hz: 0.05 core idle)
        self.objects_in = DirectSubscription(self, DetectedObjectArray, "perception/objects", qos.EVENTS)
        self.people_in = DirectSubscription(self, PersonArray, "perception/people", qos.EVENTS)
        self.events_in = {s: DirectSubscription(self, String, f"hands/{s}/events", qos.EVENTS) for s in SIDES}
        self.create_subscription(String, "robot_description", self._on_description, qos.LATCHED)
        self.create_subscription(SafetyState, "safety/state", self._on_safety, qos.LATCHED)
        self.pub_gaze = self.create_publisher(PointStamped, "wbc/targets/gaze", qos.EVENTS)
        self.pub_torso = self.create_publisher(PoseStamped, "wbc/targets/torso", qos.EVENTS)
        self.reach_client = ActionClient(self, Reach, self.params.reach_action)
        self.grasp_clients = {s: ActionClient(self, Grasp, f"hands/{s}/grasp") for s in SIDES}
        self.robot = DdsRobot(self)
        self.runner = TaskRunner(self.robot, _parser(), self.params.default_timeout_s)
        self.server = ActionServer(
            self, ExecuteInstruction, self.params.action_name, execute_callback=self._execute,
            goal_callback=lambda goal: GoalResponse.ACCEPT, cancel_callback=lambda handle: CancelResponse.ACCEPT,
        )
        self.get_logger().info(f"tasks: serving {self.params.action_name} (pick, place, hand over, wave, point, look)")

    # --- inputs on the executor -----------------------------------------------------------------------
    def _on_description(self, msg: String) -> None:
        try:
            robot = RobotModel.from_urdf(msg.data)
            frames = RobotFrames(msg.data)
            self.standing_pelvis_height_m = standing_pelvis_height(frames, robot, self.params.stand_pose)
        except (ValueError, KeyError) as exc:
            self.get_logger().error(f"robot_description refused: {exc}")
            return
        self.robot.standing_pelvis_height_m = self.standing_pelvis_height_m
        self.prefix = robot.prefix
        self.base_frame = f"{robot.prefix}base_link"
        self.frames = frames

    def _on_safety(self, msg: SafetyState) -> None:
        self.safety = msg
        if msg.mode == SafetyState.STANDING_UP:
            self.stood_up = True  # the next instruction starts from a body that holds nothing

    # --- the executor runs what the worker asks ------------------------------------------------------
    def on_executor(self, call: Callable[[], None]) -> None:
        self._for_executor.append(call)
        self._executor_wake.trigger()

    def _run_for_executor(self) -> None:
        while self._for_executor:
            self._for_executor.popleft()()

    def send_goal(self, client: ActionClient, goal, on_accepted, on_result, on_refused) -> None:
        """Send from the executor; the callbacks run there too."""

        def send() -> None:
            if not client.server_is_ready():
                on_refused(f"{client._action_name} is not served: is its node running?")
                return
            future = client.send_goal_async(goal)

            def accepted(f) -> None:
                handle = f.result()
                if not handle.accepted:
                    on_refused(f"{client._action_name} refused the goal")
                    return
                on_accepted(handle)
                handle.get_result_async().add_done_callback(lambda r: on_result(r.result().result))

            future.add_done_callback(accepted)

        self.on_executor(send)

    # --- vla/execute -----------------------------------------------------------------------------------
    def _refusal(self) -> str:
        if self.running:
            return f"busy: still carrying out {self.running!r} (cancel it first)"
        if self.frames is None:
            return "no robot_description yet"
        if self.safety is None or self.safety.mode != SafetyState.ACTIVE:
            mode = self.safety.mode_name if self.safety else "unknown (no safety/state)"
            why = f": {self.safety.reason}" if self.safety and self.safety.reason else ""
            return f"the robot is not active (safety mode {mode}{why}); stand it up first"
        return ""

    async def _execute(self, goal_handle):
        text = goal_handle.request.instruction
        with self._lock:
            refusal = self._refusal()
            if not refusal:
                self.running = text
                if self.stood_up:
                    self.runner.forget_body()
                    self.stood_up = False
        if refusal:
            self.get_logger().warning(f"vla/execute {text!r} refused: {refusal}")
            goal_handle.abort()
            return ExecuteInstruction.Result(success=False, message=refusal, duration_s=0.0)
        done = GoalResult(self._goal_wake)
        threading.Thread(target=self._work, args=(goal_handle, done), name="tasks-skill", daemon=True).start()
        outcome: Outcome = await done
        if outcome.canceled and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        elif outcome.success:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        return ExecuteInstruction.Result(success=outcome.success, message=outcome.message,
                                         duration_s=float(outcome.duration_s))

    def _work(self, goal_handle, done: GoalResult) -> None:
        request = goal_handle.request
        try:
            def feedback(phase: str, progress: float) -> None:
                msg = ExecuteInstruction.Feedback(phase=phase, progress=float(progress))
                self.on_executor(lambda: goal_handle.publish_feedback(msg))

            outcome = self.runner.run(request.instruction, float(request.timeout_s), feedback,
                                      lambda: goal_handle.is_cancel_requested)
        except Exception as exc:  # noqa: BLE001 - a bug must end the goal, not leave the node busy for ever
            self.get_logger().error(f"vla/execute {request.instruction!r} failed: {traceback.format_exc()}")
            outcome = Outcome(False, f"internal error: {exc!r}", "", 0.0)
        self.get_logger().info(f"vla/execute {request.instruction!r}: {outcome.message}")
        if self.state_in is not None:
            self.state_in.destroy()
            self.state_in = None
        with self._lock:
            self.running = ""
        done.finish(outcome)


def _parser():
    from forma_face.dialogue import Dialogue, load_dialogue_config
    from forma_face.interaction_node import default_intents_path
    from forma_face.minilm import MiniLM
    from forma_tasks.instructions import InstructionParser

    return InstructionParser(Dialogue(load_dialogue_config(default_intents_path()), MiniLM()))


def main(args=None) -> None:
    run_node(TasksNode, (TaskError,), args)


if __name__ == "__main__":
    main()

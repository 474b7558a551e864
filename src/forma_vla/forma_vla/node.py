"""The vla node: a loaded policy serves vla/execute.

A goal (an instruction) runs the policy until the goal's timeout (or the node's `episode_s`), a
cancel, or a refusal. Two threads beside the executor:
- inference: for each new head-camera image, the observation (image, the joints the model reads,
  the instruction's MiniLM embedding) -> one chunk -> the executor (forma_vla.chunking);
- actions: one step per joint_states sample (at most `action_rate_hz`, on the robot's clock): the
  executor's action for now, checked (forma_vla.action_space.decode), sent as the WBC's targets
  (palms and gaze in `torso`, the torso's height and tilt in `odom`) and the hands' synergies.
Feedback every 0.5 s of robot time names the model serving (phase "learned policy <model>") and
how far the goal is. With `fallback_action` (tasks/execute), an instruction for a skill the model was
not trained for goes to the task skills, their feedback ("task skills: <phase>") and result relayed.
The plan starts from the robot's present action (forma_vla.present), so taking over never moves
the robot. A stale or corrupt observation is skipped (the plan plays on, then holds); an action the
limits refuse, or no usable observation for `starved_end_s`, ends the goal with the reason; nothing
more is sent and the WBC and the hands hold their last targets (a cancel too).
"""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pinocchio as pin
from action_msgs.msg import GoalStatus
from geometry_msgs.msg import PointStamped, PoseStamped
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from rclpy.node import Node
from sensor_msgs.msg import Image, Imu, JointState
from std_msgs.msg import String

from forma_common import qos
from forma_common.direct import DirectSubscription, InputWaiter
from forma_common.loop import InputLoop, locked
from forma_common.messages import stamp_s, to_time_msg
from forma_common.node import GoalResult, declare_params, on_robot_clock, run_node
from forma_common.params import param
from forma_common.state_cdr import JointStateReader
from forma_description import RobotModel
from forma_description.frames import RobotFrames
from forma_description.poses import available_poses
from forma_interfaces.action import ExecuteInstruction
from forma_interfaces.msg import HandCommand, SafetyState
from forma_tasks.errors import TaskError
from forma_vla.action_space import ACTION_DIM, SIDES, decode
from forma_vla.chunking import Chunk, ChunkExecutor
from forma_vla.errors import ActionError, ChunkRefused, ObservationError, VlaError
from forma_vla.instructions import policy_text
from forma_vla.io import gaze_target, hand_commands, image_rgb, palm_target, torso_target
from forma_vla.policy import Observation, StateReader
from forma_vla.present import PresentAction
from forma_vla.torch_policy import load_policy

FEEDBACK_PERIOD_S = 0.5  # [s] of robot time between feedback messages


@dataclasses.dataclass(frozen=True)
class VlaParams:
    model_path: str = param(
        "", "the policy model: .onnx (ONNX Runtime, forma_vla.policy's signature), .pt (PyTorch, forma vla "
        "train), or the name of a model forma_vla ships; empty: serve nothing", read_only=True
    )
    threads: int = param(1, "the runtime's intra-op threads", low=1, high=16, read_only=True)
    action_name: str = param(
        "vla/execute", "the action served (the deployment says which node serves vla/execute)", read_only=True
    )
    action_rate_hz: float = param(
        50.0, "actions sent per second, at most (one per joint_states sample)", unit="Hz", low=5.0, high=500.0
    )
    blend_s: float = param(0.1, "a new chunk takes over from the plan over this long", unit="s", low=0.01, high=1.0)
    max_latency_s: float = param(0.3, "chunks answering older observations are refused", unit="s", low=0.02, high=2.0)
    image_max_age_s: float = param(
        0.3, "a camera image further than this from joint_states (robot clock) is stale", unit="s", low=0.01, high=2.0
    )
    starved_end_s: float = param(
        1.0, "the goal ends when the plan ran out this long ago (no usable observation)", unit="s", low=0.1, high=10.0
    )
    serve_skills: list[str] = param(
        [""], "the skills this deployment lets the model serve (its eval.json says which it does well); the "
        "others go to fallback_action or are refused; empty = every skill it was trained for", read_only=True
    )
    fallback_action: str = param(
        "", "an instruction for a skill the model was not trained for goes to this action (tasks/execute: the "
        "task skills), its feedback and result relayed; empty: refused with the reason", read_only=True
    )
    episode_s: float = param(20.0, "a goal without a timeout runs the policy this long", unit="s", low=0.5, high=600.0)
    stand_pose: str = param("stand_balanced", "named pose whose torso height is 'standing'", choices=available_poses())


class VlaNode(Node):
    """vla/execute on a loaded policy."""

    PARAMS = (VlaParams,)

    def __init__(self, node_name: str = "vla", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.p = declare_params(self, VlaParams, error=VlaError)
        on_robot_clock(self)
        self.lock = threading.RLock()
        self.policy = load_policy(self.p.model_path, self.p.threads) if self.p.model_path else None
        # what results and the console name: the model's directory and file (models/<name>/policy.onnx)
        self.model_name = f"{self.policy.path.parent.name}/{self.policy.path.name}" if self.policy else ""
        if self.policy is not None:
            check_served_skills(self.p.serve_skills, self.policy.signature.skills, self.model_name)
        self.present: PresentAction | None = None
        self.prefix = ""
        self.safety: SafetyState | None = None
        self.robot_now = float("nan")  # the newest joint_states stamp [s]
        self.joints: JointState | None = None
        self.imu: Imu | None = None
        self.episode: _Episode | None = None
        self._goal_wake = GoalResult.waker(self)
        self.joint_states_in = DirectSubscription(
            self, JointState, "joint_states", qos.NEWEST, parse=JointStateReader().read
        )
        self.imu_in = DirectSubscription(self, Imu, "imu/data", qos.NEWEST)
        self.camera_in = DirectSubscription(self, Image, "head_camera/color/image_raw", qos.NEWEST)
        self.create_subscription(String, "robot_description", self._on_description, qos.LATCHED)
        self.create_subscription(SafetyState, "safety/state", self._on_safety, qos.LATCHED)
        self.pub_palm = {s: self.create_publisher(PoseStamped, f"wbc/targets/{s}_hand", qos.EVENTS) for s in SIDES}
        self.pub_gaze = self.create_publisher(PointStamped, "wbc/targets/gaze", qos.EVENTS)
        self.pub_torso = self.create_publisher(PoseStamped, "wbc/targets/torso", qos.EVENTS)
        self.pub_hand = {s: self.create_publisher(HandCommand, f"hands/{s}/command", qos.EVENTS) for s in SIDES}
        self.loop = InputLoop(
            self, self.joint_states_in, self._step, self.lock, min_interval_s=0.9 / self.p.action_rate_hz,
            silence_s=0.5, name="vla_actions", idle=self._idle,
        )
        self._fresh: list[GoalResult] = []  # goals waiting for the next joint_states sample
        self.server = None
        if self.policy is None:
            self.get_logger().warning("vla: no model_path: serving nothing (the tasks node may serve vla/execute)")
        else:
            self.server = ActionServer(
                self, ExecuteInstruction, self.p.action_name, execute_callback=self._execute,
                goal_callback=lambda goal: GoalResponse.ACCEPT, cancel_callback=self._on_cancel,
            )
            sig = self.policy.signature
            self.get_logger().info(
                f"vla: serving {self.p.action_name} with {self.model_name} ({self.policy.runtime}; chunks of "
                f"{sig.step_s * 1e3:.0f} ms steps, image {sig.image_size[0]}x{sig.image_size[1]}, "
                f"{len(sig.state_names)} joints)"
            )
        fallback = self.p.fallback_action
        self.fallback = ActionClient(self, ExecuteInstruction, fallback) if fallback else None
        self._forwarded = None  # the fallback's goal handle while one runs
        self._encoder = self._parser = None
        self._state_reader, self._state_reader_for = None, ()
        if self.policy is not None:
            from forma_face.minilm import MiniLM

            self._encoder = MiniLM()  # loaded now: the first goal must not wait for it
            self._warm_up()
            sig = self.policy.signature
            parse = sig.skills or sig.instruction_form == "parsed" or any(self.p.serve_skills)
            self._parser = skill_parser(self._encoder) if parse else None
        self.loop.start()

    # --- inputs on the executor ----------------------------------------------------------------------
    @locked
    def _on_description(self, msg: String) -> None:
        try:
            robot = RobotModel.from_urdf(msg.data)
            present = PresentAction.standing(robot, RobotFrames(msg.data), self.p.stand_pose)
        except (ValueError, KeyError) as exc:
            self.get_logger().error(f"robot_description refused: {exc}")
            return
        self.present, self.prefix = present, robot.prefix

    @locked
    def _on_safety(self, msg: SafetyState) -> None:
        self.safety = msg

    # --- the action loop (InputLoop: one step per joint_states sample) ---------------------------------
    def _idle(self) -> bool:
        """Between goals the action loop looks at joint_states 4 times a second, not 125."""
        return self.episode is None or self.episode.ended

    def _step(self, stamp: float | None) -> None:
        waiting, self._fresh = self._fresh, []
        for goal in waiting:
            goal.finish(stamp)
        if stamp is None:
            return
        self.joints = self.joint_states_in.latest
        self.imu = self.imu_in.take_newest() or self.imu
        self.robot_now = stamp
        ep = self.episode
        if ep is None or ep.ended:
            return
        if self.safety is None or self.safety.mode != SafetyState.ACTIVE:
            ep.end(False, f"the robot left ACTIVE ({self.safety.mode_name if self.safety else '?'}): policy stopped")
            return
        if stamp - ep.started_s > ep.duration_s:
            ep.end(True, f"ran the policy {self.model_name} for {ep.duration_s:.1f} s ({ep.timing()})")
            return
        if ep.cancel_requested():
            ep.end(False, "canceled: the robot holds its targets", canceled=True)
            return
        if ep.executor.starved(stamp) and stamp - ep.executor.times[-1] > self.p.starved_end_s:
            why = ep.last_problem or "inference too slow"
            ep.end(False, f"no usable observation for {self.p.starved_end_s:.1f} s ({why}); the robot holds")
            return
        try:
            action = decode(ep.executor.action(stamp))
        except ActionError as exc:
            ep.end(False, f"the policy asked for what is refused: {exc}; the robot holds")
            return
        self._send(action, stamp)
        ep.steps += 1
        if ep.chunk_image is not None:  # the first command from the newest chunk
            age_s, taken = ep.chunk_image
            ep.camera_to_command_ms.append(age_s * 1e3 + (time.perf_counter() - taken) * 1e3)
            ep.chunk_image = None
        if stamp - ep.feedback_s >= FEEDBACK_PERIOD_S:
            ep.feedback_s = stamp
            ep.feedback(f"learned policy {self.model_name}", (stamp - ep.started_s) / ep.duration_s)

    def _send(self, action, stamp_s_: float) -> None:
        stamp, p = to_time_msg(stamp_s_), self.prefix
        for side in SIDES:
            self.pub_palm[side].publish(palm_target(action, side, stamp, f"{p}torso"))
        self.pub_gaze.publish(gaze_target(action, stamp, f"{p}torso"))
        standing = self.present.standing_torso_height_m
        self.pub_torso.publish(torso_target(action, stamp, f"{p}odom", self._base_rotation(), standing))
        for side, msg in hand_commands(action, stamp).items():
            self.pub_hand[side].publish(msg)

    def _base_rotation(self) -> np.ndarray:
        o = self.imu.orientation
        return pin.Quaternion(o.w, o.x, o.y, o.z).toRotationMatrix()

    # --- vla/execute ---------------------------------------------------------------------------------
    def _refusal(self) -> str:
        if self.episode is not None and not self.episode.ended:
            return f"busy: still running {self.episode.instruction!r} (cancel it first)"
        if self._forwarded is not None:
            return f"busy: {self.p.fallback_action} still runs an instruction (cancel it first)"
        if self.present is None:
            return "no robot_description yet"
        if self.joints is None or self.imu is None:
            return "no joint_states or imu/data yet"
        if self.safety is None or self.safety.mode != SafetyState.ACTIVE:
            mode = self.safety.mode_name if self.safety else "unknown (no safety/state)"
            return f"the robot is not active (safety mode {mode}); stand it up first"
        return ""

    async def _execute(self, goal_handle):
        request = goal_handle.request
        untrained = self._untrained_skill(request.instruction)
        if untrained and self.fallback is not None:
            return await self._forward(goal_handle, untrained)
        # the embedding before the clock starts (~50 ms); a refusal above already has its reason
        instruction = None if untrained else self._encode(
            policy_text(self.policy.signature, request.instruction, self._parser))
        fresh = GoalResult(self._goal_wake)  # the robot as it is now: the idle loop's sample may be 0.25 s old
        with self.lock:
            self._fresh.append(fresh)
        self.loop.wake()
        await fresh
        with self.lock:
            refusal = untrained or self._refusal()
            if not refusal:
                executor = ChunkExecutor(ACTION_DIM, self.p.blend_s, self.p.max_latency_s)
                start = self.present(list(self.joints.name), list(self.joints.position), self._base_rotation())
                executor.start(self.robot_now, start)
                duration = float(request.timeout_s) if request.timeout_s > 0 else self.p.episode_s
                done = GoalResult(self._goal_wake)
                ep = self.episode = _Episode(
                    request.instruction, instruction, executor, self.robot_now, duration, done,
                    lambda: goal_handle.is_cancel_requested,
                    lambda phase, progress: goal_handle.publish_feedback(
                        ExecuteInstruction.Feedback(phase=phase, progress=float(min(max(progress, 0.0), 1.0)))),
                )
        if refusal:
            self.get_logger().warning(f"vla/execute {request.instruction!r} refused: {refusal}")
            goal_handle.abort()
            return ExecuteInstruction.Result(success=False, message=refusal, duration_s=0.0)
        self.get_logger().info(f"vla/execute {request.instruction!r}: running the policy")
        threading.Thread(target=self._infer, args=(ep,), name="vla_inference", daemon=True).start()
        success, message, canceled = await done
        if canceled and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        elif success:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        self.get_logger().info(f"vla/execute {request.instruction!r}: {message}")
        elapsed_s = float(self.robot_now - ep.started_s)
        return ExecuteInstruction.Result(success=success, message=message, duration_s=elapsed_s)

    def _on_cancel(self, _handle) -> CancelResponse:
        if self._forwarded is not None:  # a forwarded instruction: the executor serving it cancels
            self._forwarded.cancel_goal_async()
        return CancelResponse.ACCEPT

    async def _forward(self, goal_handle, why: str):
        """The instruction to fallback_action (the task skills), feedback and result relayed: the
        model was not trained for its skill (`why`)."""
        request, action = goal_handle.request, self.p.fallback_action
        if self._forwarded is not None or (self.episode is not None and not self.episode.ended):
            goal_handle.abort()
            return ExecuteInstruction.Result(success=False,
                                             message="busy: still running an instruction (cancel it first)")
        if not self.fallback.server_is_ready():
            goal_handle.abort()
            return ExecuteInstruction.Result(success=False, message=f"{why}; and nothing serves {action}")
        self.get_logger().info(f"vla/execute {request.instruction!r}: to {action} ({why})")

        def relay(feedback) -> None:
            fb = feedback.feedback
            goal_handle.publish_feedback(ExecuteInstruction.Feedback(phase=f"task skills: {fb.phase}",
                                                                     progress=fb.progress))

        handle = await self.fallback.send_goal_async(
            ExecuteInstruction.Goal(instruction=request.instruction, timeout_s=request.timeout_s),
            feedback_callback=relay)
        if not handle.accepted:
            goal_handle.abort()
            return ExecuteInstruction.Result(success=False, message=f"{action} refused the goal")
        self._forwarded = handle
        try:
            response = await handle.get_result_async()
        finally:
            self._forwarded = None
        result = response.result
        if response.status == GoalStatus.STATUS_CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        elif result.success:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        message = f"served by the task skills ({action}): {result.message}"
        return ExecuteInstruction.Result(success=result.success, message=message, duration_s=result.duration_s)

    def _infer(self, ep: _Episode) -> None:
        """Inference thread: one chunk per new camera image while the episode runs."""
        try:
            names = self.policy.signature.state_names
            waiter = InputWaiter(self, [self.camera_in])
            try:
                while not ep.ended:
                    if not waiter.wait(0.2):
                        continue
                    msg = self.camera_in.take_newest()
                    if msg is None:
                        continue
                    taken = time.perf_counter()
                    with self.lock:
                        joints, now = self.joints, self.robot_now
                    image_s = stamp_s(msg.header.stamp)
                    try:
                        obs = self._observation(msg, image_s, joints, now, names, ep.embedding)
                    except ObservationError as exc:  # skipped: the plan plays on, then holds
                        ep.last_problem = str(exc)
                        ep.observations_refused += 1
                        self.get_logger().warning(f"observation refused: {exc}", throttle_duration_sec=1.0)
                        continue
                    t0 = time.perf_counter()
                    actions = self.policy.infer(obs)
                    ep.infer_ms.append((time.perf_counter() - t0) * 1e3)
                    with self.lock:
                        if not ep.ended:
                            try:
                                chunk = Chunk(image_s, self.policy.signature.step_s, actions)
                                ep.executor.submit(chunk, max(self.robot_now, image_s))
                                ep.chunk_image = (max(now - image_s, 0.0), taken)
                            except ChunkRefused as exc:
                                self.get_logger().warning(f"chunk refused: {exc}", throttle_duration_sec=1.0)
            finally:
                waiter.destroy()
        except VlaError as exc:
            with self.lock:
                ep.end(False, f"{exc}; the robot holds")
        except Exception as exc:  # noqa: BLE001 - a bug must end the goal, not leave the node busy
            with self.lock:
                ep.end(False, f"internal error: {exc!r}; the robot holds")

    def _observation(self, msg: Image, image_s: float, joints: JointState, now: float, names, embedding):
        """The observation for one camera image; ObservationError if it must not reach the policy."""
        if abs(now - image_s) > self.p.image_max_age_s:
            raise ObservationError(
                f"camera image {now - image_s:+.3f} s from joint_states (limit {self.p.image_max_age_s} s)"
            )
        if self._state_reader is None or self._state_reader_for != tuple(joints.name):
            self._state_reader = StateReader(names, list(joints.name))  # ObservationError if it lacks one
            self._state_reader_for = tuple(joints.name)
        state = self._state_reader(joints.position, joints.velocity if len(joints.velocity) else None)
        return Observation(image_s, image_rgb(msg), state, embedding)

    def _untrained_skill(self, text: str) -> str:
        """Why the model cannot serve this instruction ('' if it can, or it does not say what it was
        trained for): the skill the tasks' parser reads in it is not one of the model's."""
        if self._parser is None:
            return ""
        skills = self.policy.signature.skills
        try:
            skill = self._parser.parse(text).skill
        except TaskError as exc:
            return f"{exc} (the policy {self.model_name} knows {', '.join(skills) or 'what it was trained on'})"
        if skills and skill not in skills:
            return (f"the policy {self.model_name} was trained for {', '.join(skills)}; "
                    f"{text!r} asks to {skill}: not done, the robot holds")
        served = [k for k in self.p.serve_skills if k]
        if served and skill not in served:
            return (f"the policy {self.model_name} serves {', '.join(served)} here (serve_skills); "
                    f"{text!r} asks to {skill}: not done, the robot holds")
        return ""

    def _warm_up(self) -> None:
        """One inference on a blank observation: a runtime's first run allocates and plans (measured:
        a first chunk 0.85 s late on a loaded 2-core machine, refused as stale)."""
        sig = self.policy.signature
        width, height = sig.image_size
        blank = Observation(0.0, np.zeros((height, width, 3), np.uint8), sig.state_norm.mean.copy(),
                            self._encode("wave"))
        self.policy.infer(blank)

    def _encode(self, text: str) -> np.ndarray:
        return self._encoder.encode([text])[0].astype(float)

    def destroy_node(self) -> None:
        with self.lock:
            if self.episode is not None:
                self.episode.end(False, "the vla node stopped")
        self.loop.stop()
        super().destroy_node()


class _Episode:
    """One goal's run of the policy."""

    def __init__(self, instruction, embedding, executor, started_s, duration_s, done: GoalResult, cancel_requested,
                 feedback) -> None:
        self.instruction = instruction
        self.embedding = embedding
        self.executor = executor
        self.started_s = started_s
        self.duration_s = duration_s
        self.done = done
        self.cancel_requested = cancel_requested
        self.feedback = feedback  # (phase, progress 0..1): which model serves, how far the goal is
        self.feedback_s = float("-inf")  # robot time of the last feedback
        self.ended = False
        self.steps = 0
        self.infer_ms: list[float] = []
        # camera to command: the image's age on the robot's clock when taken (render, DDS; a remote
        # policy's network hop) plus the node's time from taking it to the first command of its chunk
        self.camera_to_command_ms: list[float] = []
        self.chunk_image: tuple[float, float] | None = None  # (age [s], perf_counter when taken)
        self.observations_refused = 0
        self.last_problem = ""  # why the last observation was refused

    def timing(self) -> str:
        """What the results say of speed: chunks, inference and camera-to-command times."""
        if not self.infer_ms:
            return "no chunk"
        c2c = self.camera_to_command_ms or [float("nan")]
        return (f"{len(self.infer_ms)} chunks, inference p50 {np.percentile(self.infer_ms, 50):.1f} ms, "
                f"camera to command p50 {np.percentile(c2c, 50):.0f} ms, p99 {np.percentile(c2c, 99):.0f} ms")

    def end(self, success: bool, message: str, canceled: bool = False) -> None:
        if not self.ended:
            self.ended = True
            self.done.finish((success, message, canceled))


def check_served_skills(serve_skills: list[str], trained: tuple[str, ...] | list[str], model: str) -> None:
    """At start, not at the first goal: serve_skills names only skills the task parser reads and,
    when the model says what it was trained for, skills it was trained for. VlaError names it."""
    from forma_tasks.instructions import SKILLS

    for skill in (s for s in serve_skills if s):
        if skill not in SKILLS:
            raise VlaError(f"parameter serve_skills: {skill!r} is not a skill (skills: {', '.join(SKILLS)})")
        if trained and skill not in trained:
            raise VlaError(
                f"parameter serve_skills: {skill!r}: the model {model} was trained for {', '.join(trained)} only"
            )


def skill_parser(encoder):
    """forma_tasks' instruction parser on the dialogue's intents, sharing the node's encoder."""
    from forma_face.dialogue import Dialogue, load_dialogue_config
    from forma_face.interaction_node import default_intents_path
    from forma_tasks.instructions import InstructionParser

    return InstructionParser(Dialogue(load_dialogue_config(default_intents_path()), encoder))


def main(args=None) -> None:
    run_node(VlaNode, (VlaError,), args)

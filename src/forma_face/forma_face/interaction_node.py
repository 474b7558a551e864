"""The interaction node: words in, speech, faces and tasks out.

An utterance (interaction/utterance, or a speech-recognition backend) is matched to an intent
(MiniLM embeddings, offline), its slots filled from the words and from what perception sees
(perception/objects), and answered: the reply on interaction/reply, spoken with espeak-ng (audio
to the speaker, visemes to the face on face/visemes), an expression on face/expression, and for
task requests vla/execute goals, one after the other ("take the cup and give it to me": the hand-over
starts when the pick-up succeeded; a failure or cancel drops the rest). "stop" cancels the running
tasks; a negated request ("don't pick up the cup") cancels only the tasks it names. A request the
dialogue is not sure of is asked back and runs on "yes". An utterance no intent matches gets a
polite fallback and a confused face, or, when llm.url is set, an answer from an external
OpenAI-compatible LLM, whose proposed task is only ever asked back.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable

from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.duration import Duration
from rclpy.node import Node
from std_msgs.msg import Header, String

from forma_common.node import declare_params, run_node
from forma_common.params import param
from forma_face.asr import make_speech_input
from forma_face.dialogue import Dialogue, Response, Task, load_dialogue_config, spoken
from forma_face.errors import FaceError
from forma_face.llm import speech_and_offer
from forma_face.minilm import MiniLM
from forma_face.speech import Espeak, Speech, VisemeTrack
from forma_interfaces.action import ExecuteInstruction
from forma_interfaces.msg import DetectedObjectArray, Expression, Visemes

AUDIO_OUTPUTS = ("auto", "aplay", "none")


def default_intents_path() -> str:
    from forma_description.paths import share_dir

    return str(share_dir("forma_face") / "intents.yaml")


@dataclasses.dataclass(frozen=True)
class InteractionParams:
    """Intents, voice, audio and expressions of the interaction."""

    intents_file: str = param("", "intents YAML; empty = the shipped config/interaction/intents.yaml")
    voice: str = param("en", "espeak-ng voice")
    rate_wpm: int = param(165, "speaking rate", unit="words per minute")
    audio_output: str = param(
        "auto", "audio out: auto = aplay when a sound card exists, aplay = always, none = silent", choices=AUDIO_OUTPUTS
    )
    audio_latency_s: float = param(0.15, "from publishing the visemes to the first sample being heard", unit="s")
    idle_expression: str = param("neutral", "face shown again after a reply")
    expression_hold_s: float = param(3.0, "how long a reply's expression stays after the speech ends", unit="s")
    execute_timeout_s: float = param(0.0, "vla/execute goal timeout_s (0 = the executor's default)", unit="s")


@dataclasses.dataclass(frozen=True)
class AsrParams:
    """Speech recognition (parameters asr.*)."""

    backend: str = param("none", "speech recognition input besides the topic: none | fifo | an entry point")
    fifo_path: str = param("/tmp/forma_asr", "named pipe of the fifo backend, one utterance per line")


@dataclasses.dataclass(frozen=True)
class LlmParams:
    """Open chat with an external LLM (parameters llm.*)."""

    url: str = param("", "OpenAI-compatible endpoint for open chat; empty = off")
    model: str = param("", "model name sent to the endpoint")
    timeout_s: float = param(8.0, "give up on the LLM after this long", unit="s")
    api_key_env: str = param("FORMA_LLM_API_KEY", "environment variable holding the API key, if any")


class InteractionNode(Node):
    """Dialogue: intent, reply, speech, expression, task."""

    PARAMS = ((InteractionParams, ""), (AsrParams, "asr."), (LlmParams, "llm."))

    def __init__(self, node_name: str = "interaction", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        p = declare_params(self, InteractionParams, error=FaceError)
        asr = declare_params(self, AsrParams, prefix="asr.", error=FaceError)
        llm = declare_params(self, LlmParams, prefix="llm.", error=FaceError)
        try:
            intents = load_dialogue_config(p.intents_file or default_intents_path())
        except FaceError as exc:
            raise FaceError(f"parameter intents_file={p.intents_file!r}: {exc}") from None
        self.dialogue = Dialogue(intents, MiniLM())
        self.tts = Espeak(p.voice, p.rate_wpm)
        self.audio_player = self._audio_player(p.audio_output)
        self.audio_latency = p.audio_latency_s
        self.idle_expression = p.idle_expression
        self.expression_hold = p.expression_hold_s
        self.execute_timeout = p.execute_timeout_s
        self.llm = None
        if llm.url:
            from forma_face.llm import ChatBackend

            self.llm = ChatBackend(llm.url, llm.model, llm.timeout_s, llm.api_key_env)
        self.lock = threading.Lock()
        self.playback: subprocess.Popen | None = None
        self.goals: list[tuple[object, Task]] = []  # (ClientGoalHandle, its task) of running tasks
        self.sending: list[tuple[object, Task]] = []  # (future, task) of goals sent, not yet accepted or rejected
        self.cancel_on_accept: set = set()
        self.queues: list[list[Task]] = []  # the tasks still to come of each running sequence
        self.idle_timer = None

        self.reply_pub = self.create_publisher(String, "interaction/reply", 10)
        self.expression_pub = self.create_publisher(Expression, "face/expression", 10)
        self.visemes_pub = self.create_publisher(Visemes, "face/visemes", 10)
        self.execute = ActionClient(self, ExecuteInstruction, "vla/execute")
        self.create_subscription(String, "interaction/utterance", lambda m: self.hear(m.data), 10)
        self.create_subscription(DetectedObjectArray, "perception/objects", self._on_objects, 5)
        self._for_executor: deque[Callable[[], None]] = deque()  # from the ASR and LLM threads
        self._executor_wake = self.create_guard_condition(self._run_for_executor)
        self.speech_input = make_speech_input(asr.backend, self._asr_options(asr))
        if self.speech_input is not None:
            self.speech_input.start(self._on_asr_utterance)
        self.get_logger().info(
            f"interaction: {len(self.dialogue.config.intents)} intents, voice {p.voice!r}, audio "
            f"{'aplay' if self.audio_player else 'off'}, asr {asr.backend}, llm {llm.url or 'off'}"
        )

    @staticmethod
    def _asr_options(asr: AsrParams) -> dict[str, str]:
        return {"path": asr.fifo_path} if asr.backend == "fifo" else {}

    def _audio_player(self, output: str) -> str | None:
        aplay = shutil.which("aplay")
        if output == "aplay" and aplay is None:
            raise FaceError("parameter audio_output='aplay': aplay not found (apt install alsa-utils)")
        if output == "auto":
            has_card = _sound_card_present()
            return aplay if aplay and has_card else None
        return aplay if output == "aplay" else None

    # --- input ------------------------------------------------------------------------------------
    def _on_objects(self, msg: DetectedObjectArray) -> None:
        self.dialogue.learn_objects((o.label for o in msg.objects), (o.color for o in msg.objects))

    def _on_executor(self, call: Callable[[], None]) -> None:
        """Run `call` on the node's executor. The speech-recognition and LLM threads hand their work
        here: rclpy's action client files a goal's future only after sending it, so a goal sent
        from another thread can lose its reply to the executor (the task would never start as far
        as this node knew), and timers are created and destroyed by the executor's thread only."""
        self._for_executor.append(call)
        self._executor_wake.trigger()

    def _run_for_executor(self) -> None:
        while self._for_executor:
            self._for_executor.popleft()()

    def _on_asr_utterance(self, utterance: str) -> None:
        self._on_executor(lambda: self.hear(utterance))

    def hear(self, utterance: str) -> None:
        """Handle one utterance (on the executor: a topic message or one from speech recognition)."""
        with self.lock:
            try:
                response = self.dialogue.respond(utterance)
            except FaceError as exc:
                self.get_logger().error(f"utterance refused: {exc}")
                return
            self.get_logger().info(f"heard {utterance[:80]!r} -> {response.intent} ({response.score:.2f})")
            if response.intent == "unknown" and self.llm is not None:
                self._show(Expression(expression="thinking", confidence=1.0))
                threading.Thread(target=self._ask_llm, args=(utterance,), daemon=True).start()
                return
            self._answer(response)

    def _answer(self, response: Response) -> None:
        if response.cancel:
            self._cancel_tasks(response.cancel_matching, response.cancel_object)
        if response.tasks and not self.execute.server_is_ready():
            self.say("I can't do that right now: no task executor is running.", "sad")
            self.get_logger().error("vla/execute is not available: start the VLA node to run tasks")
            return
        self.say(response.reply, response.expression)
        if response.tasks:
            queue = list(response.tasks)
            self.queues.append(queue)
            self._send_next(queue)

    def _ask_llm(self, utterance: str) -> None:
        """On its own thread (the endpoint may take seconds); the answer is spoken by the executor."""
        try:
            text, expression = self.llm.reply(utterance), "speaking"
        except FaceError as exc:
            self.get_logger().error(f"open chat failed, using the fallback: {exc}")
            text, expression = self.dialogue.config.fallback_reply, self.dialogue.config.fallback_expression
            self._on_executor(lambda: self._say_locked(text, expression))
            return
        self._on_executor(lambda: self._llm_answer(text, expression))

    def _llm_answer(self, text: str, expression: str) -> None:
        """The LLM's answer spoken; a task it proposes is only asked back (it runs on "yes")."""
        with self.lock:
            speech, offer = speech_and_offer(text, self.dialogue)
            if offer is not None:
                self.get_logger().info(f"open chat proposes {offer.proposal[0].instruction!r}: asked back")
            self.say(speech or self.dialogue.config.fallback_reply, expression)

    def _say_locked(self, text: str, expression: str) -> None:
        with self.lock:
            self.say(text, expression)

    # --- output -----------------------------------------------------------------------------------
    def _show(self, expression: Expression) -> None:
        expression.header.stamp = self.get_clock().now().to_msg()
        self.expression_pub.publish(expression)

    def say(self, text: str, expression: str) -> None:
        """Publish the reply, show the expression, speak with lip sync, then go back to idle."""
        self.reply_pub.publish(String(data=text))
        self._show(Expression(expression=expression, confidence=1.0))
        try:
            speech = self.tts.synthesize(text)
        except FaceError as exc:
            self.get_logger().error(f"cannot speak: {exc}")
            return
        track = VisemeTrack.from_speech(speech)
        start = self.get_clock().now() + Duration(seconds=self.audio_latency)
        self.visemes_pub.publish(
            Visemes(
                header=Header(stamp=start.to_msg()),
                text=text,
                visemes=list(track.visemes),
                start_s=list(track.start_s),
                duration_s=track.duration_s,
            )
        )
        self._play(speech)
        if self.idle_timer is not None:
            self.destroy_timer(self.idle_timer)
        self.idle_timer = self.create_timer(self.audio_latency + speech.duration_s + self.expression_hold, self._idle)

    def _idle(self) -> None:
        self.destroy_timer(self.idle_timer)
        self.idle_timer = None
        self._show(Expression(expression=self.idle_expression, confidence=1.0))

    def _play(self, speech: Speech) -> None:
        if self.audio_player is None:
            return
        self._stop_playback()  # a new reply interrupts the old one
        try:
            self.playback = subprocess.Popen(
                [self.audio_player, "-q", "-t", "raw", "-f", "S16_LE", "-c", "1", "-r", str(speech.sample_rate), "-"],
                stdin=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            self.get_logger().error(f"cannot play audio with {self.audio_player}: {exc}")
            return
        threading.Thread(target=_feed, args=(self.playback, speech.audio.tobytes()), daemon=True).start()

    def _stop_playback(self) -> None:
        if self.playback is not None and self.playback.poll() is None:
            self.playback.terminate()
            self.playback.wait(timeout=2.0)
        self.playback = None

    # --- tasks --------------------------------------------------------------------------------------
    def _send_next(self, queue: list[Task]) -> None:
        """Send the first task of a sequence; the rest follow one by one on success."""
        if not queue:
            self.queues.remove(queue)
            return
        task = queue.pop(0)
        goal = ExecuteInstruction.Goal(instruction=task.instruction, timeout_s=self.execute_timeout)
        sending = self.execute.send_goal_async(goal)
        self.sending.append((sending, task))
        sending.add_done_callback(lambda f: self._on_goal_response(task, queue, f))

    def _drop(self, queue: list[Task]) -> None:
        queue.clear()
        if queue in self.queues:
            self.queues.remove(queue)

    def _on_goal_response(self, task: Task, queue: list[Task], future) -> None:
        self.sending = [(f, t) for f, t in self.sending if f is not future]
        handle = future.result()
        if handle is None or not handle.accepted:
            self._drop(queue)
            with self.lock:
                self.say(f"I can't {spoken(task.instruction)} right now.", "sad")
            return
        if future in self.cancel_on_accept:  # cancelled while the goal was on its way
            self.cancel_on_accept.discard(future)
            self._drop(queue)
            handle.cancel_goal_async()
            return
        self.goals.append((handle, task))
        handle.get_result_async().add_done_callback(lambda f: self._on_result(handle, task, queue, f))

    def _on_result(self, handle, task: Task, queue: list[Task], future) -> None:
        self.goals = [(h, t) for h, t in self.goals if h is not handle]
        wrapped = future.result()
        with self.lock:
            if wrapped is None or wrapped.status == GoalStatus.STATUS_CANCELED:  # the cancel already answered
                self._drop(queue)
                return
            if not wrapped.result.success:
                self._drop(queue)
                why = wrapped.result.message or "it did not work"
                self.say(f"I couldn't {spoken(task.instruction)}: {why}.", "sad")
            elif queue:
                self._send_next(queue)  # the next step of the request
            else:
                self._drop(queue)
                self.say("Done.", "happy")

    def _cancel_tasks(self, intent: str | None = None, object_class: str | None = None) -> None:
        """Cancel the running, sent and queued tasks of `intent` about `object_class` (None: any)."""

        def matches(task: Task) -> bool:
            return (intent is None or task.intent == intent) and (object_class is None or task.object == object_class)

        self._stop_playback()
        self.cancel_on_accept.update(f for f, t in self.sending if matches(t))
        for handle, task in list(self.goals):
            if matches(task):
                handle.cancel_goal_async()
        for queue in self.queues:
            if intent is None and object_class is None:
                queue.clear()
            else:
                queue[:] = [t for t in queue if not matches(t)]

    def destroy_node(self) -> None:
        if self.speech_input is not None:
            self.speech_input.stop()
        self._stop_playback()
        super().destroy_node()


def _feed(process: subprocess.Popen, data: bytes) -> None:
    try:
        process.stdin.write(data)
        process.stdin.close()
    except (BrokenPipeError, ValueError, OSError):
        pass  # playback was interrupted


def _sound_card_present() -> bool:
    try:
        with open("/proc/asound/cards") as cards:
            return "no soundcards" not in cards.read()
    except OSError:
        return False


def main(args=None) -> None:
    """Run the interaction node alone: `ros2 run forma_face interaction_node`."""
    run_node(InteractionNode, (FaceError,), args)

"""The face and interaction nodes as deployed (`forma launch`, one process, real DDS), with the
face on an SDL2 window (dummy video driver) and a test action server standing in for the VLA
node on vla/execute: a greeting is answered with speech visemes and a happy face; a task request
becomes a vla/execute goal and "stop" cancels it; a two-step request runs its steps in order; a
negated request cancels only the task it names; speech recognition through the fifo backend
works like the topic; the eyes turn toward a person; bad input is refused while the face keeps
running; shutdown is clean. Open chat goes to a local OpenAI-compatible endpoint
(tests/chat_server.py): an unknown request is answered by it, or, when it fails, by the polite
fallback; a task it proposes is only asked back and runs on "yes"."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import String

from forma_face.face_node import default_themes_path
from forma_face.renderer import load_themes
from forma_interfaces.msg import Expression, Person, PersonArray, Visemes
from tests.chat_server import ChatServer
from tests.support.deployments import node, process, write_deployment
from tests.support.ros import LaunchedDeployment, RosProbe, VlaStandIn

pytestmark = pytest.mark.integration
WIDTH, HEIGHT = 640, 240


@pytest.fixture(scope="module")
def chat():
    with ChatServer(reply="Paris is the capital of France.") as server:
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory, chat, module_domain_id):
    tmp = tmp_path_factory.mktemp("face")
    fifo = tmp / "asr"
    face = node("face", width_px=WIDTH, height_px=HEIGHT, idle=False, image_rate_hz=20.0, display="window")
    interaction = node(
        "interaction",
        audio_output="none",
        expression_hold_s=60.0,
        **{
            "asr.backend": "fifo",
            "asr.fifo_path": str(fifo),
            "llm.url": chat.url,
            "llm.timeout_s": 10.0,
        },
    )
    path = write_deployment(tmp, "face_test", [process("face", face, interaction)], use_sim_time=None)
    saved = os.environ.get("SDL_VIDEODRIVER")
    os.environ["SDL_VIDEODRIVER"] = "dummy"  # the real SDL2 window path, drawn off-screen
    try:
        launched = LaunchedDeployment(path, module_domain_id, tmp / "logs")
    finally:
        if saved is None:
            del os.environ["SDL_VIDEODRIVER"]
        else:
            os.environ["SDL_VIDEODRIVER"] = saved
    with launched, RosProbe(module_domain_id, name="face_probe") as probe:
        vla = VlaStandIn(module_domain_id)
        try:
            stack = Stack(probe, launched, vla, fifo, chat)
            probe.wait_for(lambda: stack.utterances.get_subscription_count() > 0, 60, "the interaction node")
            probe.wait_for(lambda: probe.latest("face/current_expression") is not None, 30, "the face node")
            yield stack
        finally:
            vla.close()
    assert launched.exit_code == 0, launched.output[-2000:]
    assert launched.leftovers() == []


class Stack:
    def __init__(self, probe: RosProbe, launched: LaunchedDeployment, vla: VlaStandIn, fifo, chat: ChatServer):
        self.probe, self.launched, self.vla, self.fifo, self.chat = probe, launched, vla, fifo, chat
        self.replies = probe.collect(String, "interaction/reply")
        self.visemes = probe.collect(Visemes, "face/visemes")
        self.current = probe.collect(Expression, "face/current_expression", latched=True)
        self.images = probe.collect(Image, "face/image", depth=2, keep=2)
        self.utterances = probe.node.create_publisher(String, "interaction/utterance", 10)
        self.expressions = probe.node.create_publisher(Expression, "face/expression", 10)
        self.people = probe.node.create_publisher(PersonArray, "perception/people", 10)

    def say(self, text: str, replies: int = 1, timeout_s: float = 30.0) -> list[str]:
        before = len(self.replies)
        self.probe.wait_for(lambda: self.utterances.get_subscription_count() > 0, 60, "the interaction node")
        self.utterances.publish(String(data=text))
        self.probe.wait_for(lambda: len(self.replies) >= before + replies, timeout_s, f"a reply to {text!r}")
        return [m.data for m in self.replies[before:]]

    def ask_task(self, text: str) -> list[str]:
        """Say a task request; while the interaction node has not yet discovered vla/execute it
        answers that no executor runs, so try again (discovery takes a few seconds)."""
        for _ in range(20):
            replies = self.say(text)
            if "no task executor" not in replies[0]:
                return replies
            time.sleep(1.0)
        raise AssertionError("the interaction node never found vla/execute")

    def shown(self) -> str:
        return self.current[-1].expression

    def frame(self) -> np.ndarray:
        """A face/image frame rendered after this call."""
        self.probe.wait_for(lambda: len(self.images) > 0, 30, "face/image")
        before = self.images[-1]
        self.probe.wait_for(lambda: self.images[-1] is not before, 10, "a fresh frame")
        msg = self.images[-1]
        return np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3)


def test_a_greeting_gets_speech_lip_sync_and_a_happy_face(stack):
    replies = stack.say("hello there")
    assert replies[0].startswith("Hello")
    stack.probe.wait_for(lambda: stack.shown() == "happy", 10, "a happy face")
    stack.probe.wait_for(lambda: len(stack.visemes) > 0, 10, "visemes")
    track = stack.visemes[-1]
    assert track.text == replies[0] and track.duration_s > 0.5
    assert len(track.visemes) == len(track.start_s) > 5
    assert "open" in track.visemes or "wide" in track.visemes
    frame = stack.frame()
    assert frame.shape == (HEIGHT, WIDTH, 3)
    assert stack.images[-1].encoding == "rgb8"


def test_a_task_request_becomes_a_vla_goal(stack):
    replies = stack.ask_task("could you pick up the red cup")
    assert replies[0] == "Okay, I'll pick up the red cup."
    stack.probe.wait_for(lambda: "pick up the red cup" in stack.vla.goals, 20, "the vla/execute goal")
    stack.probe.wait_for(lambda: stack.replies[-1].data == "Done.", 20, "the task's outcome")


def test_stop_cancels_the_running_task(stack):
    stack.ask_task("please grab the blue box")
    stack.probe.wait_for(lambda: "pick up the blue box" in stack.vla.goals, 20, "the long task")
    assert stack.say("stop")[0] == "Stopping."
    stack.probe.wait_for(lambda: "pick up the blue box" in stack.vla.cancelled, 20, "the cancellation")


def test_a_two_step_request_runs_its_steps_one_after_the_other(stack):
    replies = stack.ask_task("pick up the green cup and hand it to me")
    assert replies[0] == "Okay, I'll pick up the green cup, then hand it to you."
    stack.probe.wait_for(lambda: "hand the green cup to me" in stack.vla.goals, 20, "the second step")
    goals = stack.vla.goals
    assert goals.index("pick up the green cup") < goals.index("hand the green cup to me")
    stack.probe.wait_for(lambda: stack.replies[-1].data == "Done.", 20, "the outcome of both")


def test_a_negated_request_starts_nothing_and_cancels_only_the_task_it_names(stack):
    stack.ask_task("please grab the yellow box")  # the stand-in runs a box task until it is cancelled
    stack.probe.wait_for(lambda: "pick up the yellow box" in stack.vla.goals, 20, "the long task")
    goals = len(stack.vla.goals)
    assert stack.say("don't wave")[0] == "Okay, I won't wave."
    time.sleep(1.0)
    assert "pick up the yellow box" not in stack.vla.cancelled and len(stack.vla.goals) == goals
    assert stack.say("do not pick up the yellow box")[0] == "Okay, I won't pick up the yellow box."
    stack.probe.wait_for(lambda: "pick up the yellow box" in stack.vla.cancelled, 20, "the cancellation")
    assert len(stack.vla.goals) == goals


def test_a_task_open_chat_proposes_is_only_asked_back(stack):
    stack.chat.status, stack.chat.reply = 200, "Happy to.\nTASK: point at the red ball"
    try:
        goals = len(stack.vla.goals)
        assert stack.say("tell me a fun fact about the red ball") == ["Happy to. Should I point at the red ball?"]
        time.sleep(1.0)
        assert len(stack.vla.goals) == goals  # nothing moved on the LLM's word
        assert stack.say("yes")[0] == "That one."
        stack.probe.wait_for(lambda: "point at the red ball" in stack.vla.goals, 20, "the goal after yes")
        stack.probe.wait_for(lambda: stack.replies[-1].data == "Done.", 20, "its outcome")
    finally:
        stack.chat.reply = "Paris is the capital of France."


def test_speech_recognition_fifo_works_like_the_topic(stack):
    before = len(stack.replies)
    fd = os.open(stack.fifo, os.O_WRONLY)
    os.write(fd, b"thank you so much\n")
    os.close(fd)
    stack.probe.wait_for(lambda: len(stack.replies) > before, 20, "a reply to the recognised speech")
    assert stack.replies[before].data == "You're welcome."


def test_an_unknown_request_is_answered_by_open_chat_with_a_thinking_then_speaking_face(stack):
    stack.chat.status = 200
    asked = len(stack.chat.requests)
    assert stack.say("what is the capital of france") == ["Paris is the capital of France."]
    assert stack.chat.requests[asked][2]["messages"][-1]["content"] == "what is the capital of france"
    stack.probe.wait_for(lambda: stack.shown() == "speaking", 10, "a speaking face")
    assert "thinking" in [m.expression for m in stack.current]  # while the endpoint answered


def test_an_unknown_request_gets_the_fallback_and_a_confused_face_when_open_chat_fails(stack):
    stack.chat.status = 500
    try:
        assert stack.say("what is the tallest mountain")[0].startswith("Sorry")
        stack.probe.wait_for(lambda: stack.shown() == "confused", 10, "a confused face")
    finally:
        stack.chat.status = 200


def pupil_x(frame: np.ndarray) -> float:
    pupil_colour = np.array(load_themes(default_themes_path())["default"].colors["pupil"], np.uint8)
    mask = np.all(frame == pupil_colour, axis=-1)
    mask[:, WIDTH // 2 :] = False
    return float(np.nonzero(mask)[1].mean())


def test_the_eyes_turn_toward_a_person(stack):
    def show_person(x_m: float) -> float:
        msg = PersonArray()
        msg.header.frame_id = "head_camera_color_optical_frame"
        msg.people = [Person(id="p1", score=0.9, face_detected=True)]
        msg.people[0].face_position_m.x, msg.people[0].face_position_m.z = x_m, 2.0
        for _ in range(10):  # perception publishes at the camera rate
            stack.people.publish(msg)
            time.sleep(0.05)
        stack.frame()
        return pupil_x(stack.frame())

    on_camera_right, on_camera_left = show_person(1.2), show_person(-1.2)
    # the face turns to the person: camera-right is the face's own left, image-left as seen
    assert on_camera_left - on_camera_right > 10


def test_bad_input_is_refused_and_the_face_keeps_running(stack):
    stack.expressions.publish(Expression(expression="sad", confidence=1.0))
    stack.probe.wait_for(lambda: stack.shown() == "sad", 10, "the sad face")
    count = len(stack.current)
    stack.expressions.publish(Expression(expression="grumpy", confidence=1.0))
    stack.expressions.publish(Expression(expression="happy", valence=math.nan, confidence=1.0))
    for text in ("", "blah " * 400):
        stack.utterances.publish(String(data=text))
    replies_before = len(stack.replies)
    assert stack.say("how are you")[0].startswith("I'm doing well")  # still answering
    assert len(stack.replies) == replies_before + 1  # nothing for the bad utterances
    assert all(m.expression != "grumpy" for m in stack.current[count:])
    stack.frame()  # and still drawing
    # the refusals reach the output through the nodes' stderr and the launcher, not DDS: wait for them
    refusals = ("unknown expression 'grumpy'", "valence is nan", "the utterance is empty", "longer than 500")
    stack.probe.wait_for(lambda: all(t in stack.launched.output for t in refusals), 30, f"{refusals} in the log")


def test_face_image_goes_out_at_the_size_its_viewer_shows(domain_id):
    """image_width_px: face/image is rendered at that width (the panel's proportions), not the
    panel's 1280 px and scaled down by the viewer."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    from forma_common import qos
    from forma_face.face_node import FaceNode

    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    face = FaceNode(context=context, parameter_overrides=[Parameter("image_width_px", value=320)])
    viewer = Node("face_viewer", context=context)
    images: list[Image] = []
    viewer.create_subscription(Image, "face/image", images.append, qos.SENSORS)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(face)
    executor.add_node(viewer)
    try:
        end = time.monotonic() + 20.0
        while not images and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
        assert images, "no face/image in 20 s"
        assert (images[-1].width, images[-1].height, images[-1].encoding) == (320, 120, "rgb8")
        assert len(images[-1].data) == 320 * 120 * 3
    finally:
        executor.shutdown()
        face.destroy_node()
        viewer.destroy_node()
        rclpy.shutdown(context=context)

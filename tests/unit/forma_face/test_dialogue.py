"""Intent recognition on a frozen held-out set (tests/unit/data/intent_paraphrases.yaml, written
independently of config/interaction/intents.yaml and never used to build or tune it), slots and
instructions, the polite fallback, the MiniLM encoder itself, bad input and broken configs, the
optional LLM backend (against a local HTTP server speaking the OpenAI chat API) and the fifo
speech-recognition input."""

from __future__ import annotations

import os
import pathlib
import time

import numpy as np
import pytest
import yaml

from forma_face.asr import FifoInput, make_speech_input
from forma_face.dialogue import Dialogue, load_dialogue_config, spoken
from forma_face.errors import FaceError
from forma_face.interaction_node import default_intents_path
from forma_face.llm import ChatBackend
from forma_face.minilm import MiniLM
from tests.chat_server import ChatServer

HELD_OUT = pathlib.Path(__file__).parents[1] / "data" / "intent_paraphrases.yaml"


@pytest.fixture(scope="module")
def encoder():
    return MiniLM()


@pytest.fixture(scope="module")
def dialogue(encoder):
    return Dialogue(load_dialogue_config(default_intents_path()), encoder)


def test_minilm_matches_sentence_transformers_semantics(encoder):
    """Unit vectors of 384; paraphrases land close, unrelated sentences far (all-MiniLM-L6-v2 gives
    0.755 for the first pair with sentence-transformers)."""
    v = encoder.encode(["A man is eating food.", "A man is eating a piece of bread.", "The stock market fell today."])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert abs(float(v[0] @ v[1]) - 0.755) < 0.01
    assert float(v[0] @ v[2]) < 0.2


def test_intent_accuracy_on_held_out_paraphrases(dialogue):
    data = yaml.safe_load(HELD_OUT.read_text())
    examples = {e.lower() for i in dialogue.config.intents for e in i.examples}
    total = correct = 0
    misses = []
    for intent, phrases in data["paraphrases"].items():
        for phrase in phrases:
            if phrase.lower() in examples:
                continue  # a stock phrase ("come here") both sides wrote: it says nothing about generalising
            got, score = dialogue.classify(phrase)
            total += 1
            correct += got == intent
            if got != intent:
                misses.append(f"{phrase!r}: {intent} -> {got} ({score:.2f})")
    assert total >= 80
    assert correct / total >= 0.90, f"{correct}/{total}; misses:\n" + "\n".join(misses)


def test_out_of_domain_requests_come_back_unknown_with_a_polite_fallback(dialogue):
    data = yaml.safe_load(HELD_OUT.read_text())
    for phrase in data["out_of_domain"]:
        response = dialogue.respond(phrase)
        assert response.intent == "unknown", f"{phrase!r} taken as {response.intent} ({response.score:.2f})"
        assert response.instruction is None
        assert response.expression in ("confused", "thinking")
        assert "sorry" in response.reply.lower()


@pytest.mark.parametrize(
    "utterance,instruction",
    [
        ("could you pick up the red cup", "pick up the red cup"),
        ("grab the blue mug please", "pick up the blue cup"),
        ("hand me the green ball", "hand the green ball to me"),
        ("look at me", "look at me"),  # the executor is told "me" (the speaker); the reply says "you"
        ("can you pick up the blue cup", "pick up the blue cup"),  # "can" asks; it is not the can
        ("can I have the orange can", "hand the orange can to me"),
    ],
)
def test_task_requests_become_instructions(dialogue, utterance, instruction):
    response = dialogue.respond(utterance)
    assert response.instruction == instruction
    assert spoken(instruction) in response.reply  # "hand the green ball to you"
    assert " to me" not in response.reply and "at me" not in response.reply


def test_a_task_without_an_object_asks_which(dialogue):
    dialogue.reset()  # nothing said before that "it" could be
    response = dialogue.respond("pick it up")
    assert response.intent == "pick_up" and response.instruction is None
    assert response.reply.startswith("Which object") and response.expression == "confused"


def test_objects_and_colours_perception_reports_become_words(encoder):
    dialogue = Dialogue(load_dialogue_config(default_intents_path()), encoder)
    assert "object" not in dialogue.slots("pick up the teal banana")
    dialogue.learn_objects(["banana", "", "a/b"], ["teal"])
    assert dialogue.slots("pick up the teal banana") == {"color": "teal", "object": "banana"}
    assert dialogue.respond("pick up the teal banana").instruction == "pick up the teal banana"


def test_stop_cancels(dialogue):
    response = dialogue.respond("stop what you are doing right now")
    assert response.intent == "stop" and response.cancel


@pytest.mark.parametrize(
    "utterance,message", [("", "empty"), ("   \n ", "empty"), ("x" * 501, "longer than"), (None, "must be text")]
)
def test_bad_utterances_are_refused(dialogue, utterance, message):
    with pytest.raises(FaceError, match=message):
        dialogue.respond(utterance)


def test_broken_intent_configs_are_refused(tmp_path):
    good = yaml.safe_load(pathlib.Path(default_intents_path()).read_text())
    cases = {
        "is not an expression": lambda c: c["intents"]["greet"].update(expression="smug"),
        "unknown key": lambda c: c["intents"]["greet"].update(examplez=["hi"]),
        "at least one": lambda c: c["intents"]["greet"].update(examples=[]),
        "outside": lambda c: c.update(threshold=1.5),
        "confirm_below 0.3 outside": lambda c: c.update(confirm_below=0.3),
        "missing or malformed": lambda c: c.pop("fallback"),
    }
    for message, breaks in cases.items():
        config = yaml.safe_load(yaml.safe_dump(good))
        breaks(config)
        path = tmp_path / "intents.yaml"
        path.write_text(yaml.safe_dump(config))
        with pytest.raises(FaceError, match=message):
            load_dialogue_config(path)
    (tmp_path / "broken.yaml").write_text("intents: [unclosed")
    with pytest.raises(FaceError, match="cannot read"):
        load_dialogue_config(tmp_path / "broken.yaml")


# --- the optional LLM -----------------------------------------------------------------------------
@pytest.fixture
def chat_server():
    with ChatServer() as server:
        yield server


def test_llm_backend_speaks_the_openai_chat_api(chat_server, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "secret")
    llm = ChatBackend(chat_server.url, model="local", api_key_env="TEST_KEY")
    assert llm.reply("what is your favourite food?") == chat_server.reply
    path, headers, body = chat_server.requests[-1]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer secret"
    assert body["model"] == "local"
    assert body["messages"][0]["role"] == "system" and body["messages"][-1]["content"] == "what is your favourite food?"
    llm.reply("and to drink?")  # the conversation so far goes along
    assert [m["content"] for m in chat_server.requests[-1][2]["messages"][1:3]] == [
        "what is your favourite food?",
        chat_server.reply,
    ]


def test_llm_failures_are_clear_errors(chat_server):
    chat_server.status = 500
    with pytest.raises(FaceError, match="HTTP 500"):
        ChatBackend(chat_server.url).reply("hi")
    with pytest.raises(FaceError, match="unreachable"):
        ChatBackend("http://127.0.0.1:9", timeout_s=2.0).reply("hi")
    with pytest.raises(FaceError, match="must start with http"):
        ChatBackend("ftp://example")


# --- speech-recognition input ---------------------------------------------------------------------
def test_fifo_speech_input_delivers_each_line(tmp_path):
    heard: list[str] = []
    source = make_speech_input("fifo", {"path": str(tmp_path / "asr")})
    assert isinstance(source, FifoInput)
    source.start(heard.append)
    try:
        for text in ("hello robot\n", "pick up the red cup\n\n", "partial ", "line\n"):
            fd = os.open(tmp_path / "asr", os.O_WRONLY)  # one external writer after another
            os.write(fd, text.encode())
            os.close(fd)
        deadline = time.monotonic() + 10
        while len(heard) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        source.stop()
    assert heard == ["hello robot", "pick up the red cup", "partial line"]


def test_unknown_speech_backends_and_bad_paths_are_refused(tmp_path):
    assert make_speech_input("none", {}) is None
    with pytest.raises(FaceError, match="unknown asr backend 'whisperz'"):
        make_speech_input("whisperz", {})
    (tmp_path / "file").write_text("")
    with pytest.raises(FaceError, match="not a named pipe"):
        make_speech_input("fifo", {"path": str(tmp_path / "file")})
    with pytest.raises(FaceError, match="bad options"):
        make_speech_input("fifo", {"device": "hw:0"})

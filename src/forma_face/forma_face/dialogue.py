"""From an utterance to what the robot says, shows and does: intent by MiniLM nearest examples,
slots (colour, object) by word match against config and perception's labels, a reply, an
expression, and for task intents the instruction for vla/execute. Pure (no ROS)."""

from __future__ import annotations

import dataclasses
import pathlib
import re
from collections.abc import Iterable, Mapping

import numpy as np
import yaml

from forma_face.errors import FaceError
from forma_face.expressions import EXPRESSIONS

MAX_UTTERANCE_CHARS = 500

SUBJECT_PRONOUNS = frozenset({"you", "i", "we", "they", "he", "she"})  # after a verb that asks


@dataclasses.dataclass(frozen=True)
class Intent:
    name: str
    examples: tuple[str, ...]
    reply: str
    expression: str
    task: str | None = None
    needs_object: bool = False
    cancel: bool = False


@dataclasses.dataclass(frozen=True)
class Response:
    intent: str  # "unknown" when nothing matched
    score: float  # best cosine similarity
    reply: str
    expression: str
    instruction: str | None = None  # for vla/execute
    cancel: bool = False
    slots: Mapping[str, str] = dataclasses.field(default_factory=dict)


def normalized_utterance(utterance) -> str:
    """The utterance with its whitespace collapsed; FaceError if it is not text, empty or too long."""
    if not isinstance(utterance, str):
        raise FaceError("an utterance must be text")
    text = " ".join(utterance.split())
    if not text:
        raise FaceError("the utterance is empty")
    if len(text) > MAX_UTTERANCE_CHARS:
        raise FaceError(f"utterance of {len(text)} characters is longer than {MAX_UTTERANCE_CHARS}")
    return text


@dataclasses.dataclass(frozen=True)
class DialogueConfig:
    intents: tuple[Intent, ...]
    threshold: float
    fallback_reply: str
    fallback_expression: str
    colors: tuple[str, ...]
    objects: Mapping[str, str]
    robot_names: tuple[str, ...] = ()


def load_dialogue_config(path: str | pathlib.Path) -> DialogueConfig:
    path = pathlib.Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FaceError(f"{path}: cannot read: {exc}") from exc
    try:
        intents = []
        for name, e in raw["intents"].items():
            unknown = set(e) - {"examples", "reply", "expression", "task", "needs_object", "cancel"}
            if unknown:
                raise FaceError(f"intents.{name}: unknown key(s) {', '.join(sorted(unknown))}")
            if e["expression"] not in EXPRESSIONS:
                raise FaceError(f"intents.{name}.expression: {e['expression']!r} is not an expression")
            if not e["examples"]:
                raise FaceError(f"intents.{name}.examples: at least one is needed")
            intents.append(
                Intent(
                    str(name),
                    tuple(map(str, e["examples"])),
                    str(e["reply"]),
                    str(e["expression"]),
                    e.get("task"),
                    bool(e.get("needs_object", False)),
                    bool(e.get("cancel", False)),
                )
            )
        threshold = float(raw["threshold"])
        if not 0.0 < threshold < 1.0:
            raise FaceError(f"threshold {threshold} outside (0, 1)")
        return DialogueConfig(
            tuple(intents),
            threshold,
            str(raw["fallback"]["reply"]),
            str(raw["fallback"]["expression"]),
            tuple(raw["colors"]),
            dict(raw["objects"]),
            tuple(str(n).lower() for n in raw.get("robot_names", ())),
        )
    except (KeyError, TypeError) as exc:
        raise FaceError(f"{path}: missing or malformed field {exc}") from exc


class Dialogue:
    """Intent classification + slot filling + replies."""

    def __init__(self, config: DialogueConfig, encoder) -> None:
        self.config = config
        self.encoder = encoder
        self.labels: list[str] = []
        texts: list[str] = []
        self.extra_objects: dict[str, str] = {}
        self.extra_colors: set[str] = set()
        for intent in config.intents:
            for example in intent.examples:
                self.labels.append(intent.name)
                texts.append(self.masked(example))
        self.example_vectors = encoder.encode(texts)
        self.by_name = {i.name: i for i in config.intents}

    def learn_objects(self, labels: Iterable[str], colors: Iterable[str] = ()) -> None:
        """Object labels and colour names perception reports become words the robot understands."""
        for label in labels:
            label = label.strip().lower()
            if label.isalpha() and label not in self.config.objects:
                self.extra_objects[label] = label
        for color in colors:
            color = color.strip().lower()
            if color.isalpha() and color not in self.config.colors:
                self.extra_colors.add(color)

    def masked(self, text: str) -> str:
        """The words that carry the intent: colours and the robot's name dropped, object names
        replaced by "thing", so "take the red bottle" and "take the blue box, Forma" embed alike
        and the verb decides."""
        out = []
        for w in re.findall(r"[a-z']+", text.lower()):
            singular = w[:-1] if w.endswith("s") and len(w) > 3 else w
            if w in self.config.colors or w in self.extra_colors or w in self.config.robot_names:
                continue
            known = self.config.objects.keys() | self.extra_objects.keys()
            out.append("thing" if w in known or singular in known else w)
        return " ".join(out)

    def classify(self, utterance: str) -> tuple[str, float]:
        v = self.encoder.encode([self.masked(utterance)])[0]
        scores = self.example_vectors @ v
        best = int(np.argmax(scores))
        score = float(scores[best])
        if score < self.config.threshold:
            return "unknown", score
        return self.labels[best], score

    def slots(self, utterance: str) -> dict[str, str]:
        words = re.findall(r"[a-z]+", utterance.lower())
        found: dict[str, str] = {}
        vocabulary = {**self.config.objects, **self.extra_objects}
        for i, w in enumerate(words):
            singular = w[:-1] if w.endswith("s") and len(w) > 3 else w
            if "color" not in found and (w in self.config.colors or w in self.extra_colors):
                found["color"] = w
            if i + 1 < len(words) and words[i + 1] in SUBJECT_PRONOUNS:
                continue  # "can you ...", "can I ...": the verb, not the object
            if "object" not in found and (w in vocabulary or singular in vocabulary):
                found["object"] = vocabulary.get(w, vocabulary.get(singular))
        if "object" not in found and re.search(r"\b(me|myself)\b", utterance.lower()):
            found["person"] = "me"
        return found

    def respond(self, utterance: str) -> Response:
        text = normalized_utterance(utterance)
        name, score = self.classify(text)
        if name == "unknown":
            return Response("unknown", score, self.config.fallback_reply, self.config.fallback_expression)
        intent = self.by_name[name]
        slots = self.slots(text)
        if "object" in slots:
            described = " ".join(x for x in ("the", slots.get("color"), slots["object"]) if x)
        else:
            described = "you" if slots.get("person") else "it"
        if intent.task is None:
            return Response(name, score, intent.reply, intent.expression, cancel=intent.cancel, slots=slots)
        if intent.needs_object and "object" not in slots:
            verb = intent.task.split("{")[0].strip() or name
            return Response(name, score, f"Which object should I {verb}?", "confused", slots=slots)
        instruction = intent.task.format(object=described)
        reply = intent.reply.format(instruction=instruction, object=described)
        return Response(name, score, reply, intent.expression, instruction=instruction, slots=slots)

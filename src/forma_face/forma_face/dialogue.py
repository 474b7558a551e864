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
from forma_face.understanding import (
    Lexicon,
    Request,
    Understanding,
    clean,
    find_slots,
    is_modal,
    request_of,
    text_of,
    understand,
)

MAX_UTTERANCE_CHARS = 500

YES = re.compile(
    r"^(yes|yeah|yep|yup|sure|ok|okay|alright|all right|please do|please|go ahead|do it|of course|correct|right)"
    r"( please| thanks| thank you| do it| go ahead| go for it)?$"
)
NO = re.compile(r"^(no|nope|nah|no thanks|no thank you|don't|do not|not now|never mind|no don't)( please| thanks)?$")
DRINKS = ("cup", "bottle", "can")  # what a thirsty person is offered, in this order
PERSONS_SPOKEN = {"me": "you", "my": "your", "myself": "yourself"}  # the instruction's "me" is the listener


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
class Task:
    """One vla/execute instruction and what it is about."""

    intent: str
    instruction: str  # "pick up the red cup", "hand the red cup to me"
    object: str | None = None  # the object's class
    color: str | None = None


@dataclasses.dataclass(frozen=True)
class Response:
    intent: str  # "unknown" when nothing matched
    score: float  # best cosine similarity
    reply: str
    expression: str
    instruction: str | None = None  # for vla/execute: the first of `tasks`
    cancel: bool = False  # cancel running tasks: all, or those matching cancel_matching/cancel_object
    slots: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tasks: tuple[Task, ...] = ()  # to run now, one after the other (the next on success of the previous)
    proposal: tuple[Task, ...] = ()  # asked back ("Should I …?"): they run only on a following "yes"
    cancel_matching: str | None = None  # intent of the running tasks to cancel (None: all)
    cancel_object: str | None = None  # … and only those about this object class (None: any)
    negated: bool = False  # the request was negated or to leave something alone: nothing starts

    @property
    def instructions(self) -> tuple[str, ...]:
        return tuple(t.instruction for t in self.tasks)


def spoken(instruction: str) -> str:
    """The instruction said back to the person: "hand it to me" -> "hand it to you"."""
    return " ".join(PERSONS_SPOKEN.get(w, w) for w in instruction.split())


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
    confirm_below: float = 0.62  # a task whose similarity is below this is asked back, not started
    confirm_margin: float = 0.05  # … or whose next-best task intent is this close


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
        confirm_below = float(raw.get("confirm_below", max(threshold, 0.62)))
        if not threshold <= confirm_below <= 1.0:
            raise FaceError(f"confirm_below {confirm_below} outside [threshold {threshold}, 1]")
        confirm_margin = float(raw.get("confirm_margin", 0.05))
        if not 0.0 <= confirm_margin < 1.0:
            raise FaceError(f"confirm_margin {confirm_margin} outside [0, 1)")
        return DialogueConfig(
            tuple(intents),
            threshold,
            str(raw["fallback"]["reply"]),
            str(raw["fallback"]["expression"]),
            tuple(raw["colors"]),
            dict(raw["objects"]),
            tuple(str(n).lower() for n in raw.get("robot_names", ())),
            confirm_below,
            confirm_margin,
        )
    except (KeyError, TypeError) as exc:
        raise FaceError(f"{path}: missing or malformed field {exc}") from exc


class Dialogue:
    """Intent classification + slot filling + replies, with what was asked back and done last
    (one dialogue per person talking to the robot)."""

    def __init__(self, config: DialogueConfig, encoder) -> None:
        self.config = config
        self.encoder = encoder
        self.labels: list[str] = []
        self.extra_objects: dict[str, str] = {}
        self.extra_colors: set[str] = set()
        self.english = frozenset(getattr(encoder, "words", ()))  # real words spelling leaves alone
        self.by_name = {i.name: i for i in config.intents}
        self._build_lexicon()
        texts: list[str] = []
        for intent in config.intents:
            for example in intent.examples:
                self.labels.append(intent.name)
                texts.append(self.masked(example))
        self.example_vectors = encoder.encode(texts)
        self.pending: tuple[Task, ...] = ()  # proposed, waiting for "yes"
        self.last: tuple[Task, ...] = ()  # last started or proposed: what "not that one" corrects

    def _build_lexicon(self) -> None:
        self.lexicon = Lexicon.build(
            (e for i in self.config.intents for e in i.examples),
            (e for i in self.config.intents if i.task for e in i.examples),
            {**self.config.objects, **self.extra_objects},
            (*self.config.colors, *self.extra_colors),
            self.config.robot_names,
            self.english,
        )

    def learn_objects(self, labels: Iterable[str], colors: Iterable[str] = ()) -> None:
        """Object labels and colour names perception reports become words the robot understands."""
        before = (len(self.extra_objects), len(self.extra_colors))
        for label in labels:
            label = label.strip().lower()
            if label.isalpha() and label not in self.config.objects:
                self.extra_objects[label] = label
        for color in colors:
            color = color.strip().lower()
            if color.isalpha() and color not in self.config.colors:
                self.extra_colors.add(color)
        if (len(self.extra_objects), len(self.extra_colors)) != before:
            self._build_lexicon()

    def reset(self) -> None:
        """Forget what was asked back and done (a new person, a test case)."""
        self.pending, self.last = (), ()

    def masked(self, text: str) -> str:
        """The words that carry the intent: colours and the robot's name dropped, object names
        replaced by "thing", so "take the red bottle" and "take the blue box, Forma" embed alike
        and the verb decides. A modal ("can you") stays a modal."""
        out = []
        words = re.findall(r"[a-z']+", text.lower())
        known = self.lexicon.objects
        for i, w in enumerate(words):
            singular = w[:-1] if w.endswith("s") and len(w) > 3 else w
            if w in self.lexicon.colors or w in self.config.robot_names:
                continue
            is_object = (w in known or singular in known) and not is_modal(words, i, self.lexicon)
            out.append("thing" if is_object else w)
        return " ".join(out)

    def rank(self, text: str) -> tuple[str, float, float]:
        """(intent or "unknown", best similarity, its margin over the best other intent) of text
        already cleaned."""
        v = self.encoder.encode([self.masked(text)])[0]
        scores = self.example_vectors @ v
        best = int(np.argmax(scores))
        score = float(scores[best])
        others = [float(s) for s, label in zip(scores, self.labels, strict=True) if label != self.labels[best]]
        margin = score - max(others, default=-1.0)
        if score < self.config.threshold:
            return "unknown", score, margin
        return self.labels[best], score, margin

    def classify(self, utterance: str) -> tuple[str, float]:
        """(intent or "unknown", similarity) of the utterance with disfluencies and misspellings out."""
        name, score, _ = self.rank(text_of(clean(utterance, self.lexicon)[0]))
        return name, score

    def slots(self, utterance: str) -> dict[str, str]:
        words = re.findall(r"[a-z]+", utterance.lower())
        found: dict[str, str] = {}
        obj, color = find_slots(words, self.lexicon)
        if color:
            found["color"] = color
        if obj:
            found["object"] = obj
        if "object" not in found and re.search(r"\b(me|myself)\b", utterance.lower()):
            found["person"] = "me"
        return found

    # --- from an utterance to a response ---------------------------------------------------------
    def task(self, intent: Intent, request: Request) -> Task:
        """The instruction for vla/execute ("pick up the red cup", "look at me", "hand it to me")."""
        if request.object:
            described = " ".join(x for x in ("the", request.color, request.object) if x)
        else:
            described = "me" if request.person and "to me" not in intent.task else "it"
        return Task(intent.name, intent.task.format(object=described), request.object, request.color)

    def _said(self, tasks: tuple[Task, ...]) -> str:
        """The tasks as the robot says them: "pick up the red cup, then hand it to you"."""
        parts = []
        for i, t in enumerate(tasks):
            text = t.instruction
            if i and t.object and t.object == tasks[i - 1].object and t.color == tasks[i - 1].color:
                described = " ".join(x for x in ("the", t.color, t.object) if x)
                text = text.replace(described, "it")
            parts.append(spoken(text))
        return ", then ".join(parts)

    def _act(self, tasks: tuple[Task, ...], score: float, **extra) -> Response:
        self.last = tasks
        first = self.by_name[tasks[0].intent]
        if len(tasks) == 1:
            reply = first.reply.format(instruction=self._said(tasks), object=self._described(tasks[0]))
        else:
            reply = f"Okay, I'll {self._said(tasks)}."
        slots = {k: v for k, v in (("object", tasks[0].object), ("color", tasks[0].color)) if v}
        return Response(
            first.name, score, reply, first.expression, tasks[0].instruction, slots=slots, tasks=tasks, **extra
        )

    @staticmethod
    def _described(task: Task) -> str:
        if task.object:
            return " ".join(x for x in ("the", task.color, task.object) if x)
        return "you" if task.instruction.endswith(" me") else "it"

    def _ask(self, tasks: tuple[Task, ...], score: float, lead: str = "") -> Response:
        self.pending = self.last = tasks
        slots = {k: v for k, v in (("object", tasks[0].object), ("color", tasks[0].color)) if v}
        reply = f"{lead}Should I {self._said(tasks)}?"
        return Response(tasks[0].intent, score, reply, "listening", slots=slots, proposal=tasks)

    def offer(self, text: str) -> Response | None:
        """What `text` (an LLM's proposed task) would do, only ever asked back: the proposal is
        stored and runs on "yes"; None when it is no affirmative task request."""
        response = self.respond(text)
        tasks = response.tasks or response.proposal
        if not tasks:
            self.pending = ()
            return None
        return self._ask(tasks, response.score)

    def respond(self, utterance: str) -> Response:
        """The answer to one utterance. Tasks start only on an affirmative request that is clear
        (similar enough to one intent and no other): anything less is asked back and waits for
        "yes". Negated and leave-alone requests never start a task; they cancel what they name."""
        text = normalized_utterance(utterance)
        u = understand(text, self.lexicon)
        pending, self.pending = self.pending, ()
        if pending:
            answer = re.sub(r"[^a-z' ]", "", u.cleaned).strip()
            answer = " ".join(w for w in answer.split() if w not in self.config.robot_names)
            if YES.match(answer):
                return self._act(pending, 1.0)
            if NO.match(answer):
                return Response("decline", 1.0, "Okay, I won't.", "neutral")
        if u.leave_alone is not None:
            thing = self._described(Task("", "", u.leave_alone.object, u.leave_alone.color))
            return Response(
                "leave_alone", 1.0, f"Okay, I'll leave {thing} alone.", "neutral",
                cancel=u.leave_alone.object is not None, cancel_matching=None, cancel_object=u.leave_alone.object,
                negated=True,
            )  # fmt: skip
        if u.negated is not None:
            return self._refuse_negated(u.negated)
        if u.indirect is not None:
            return self._offer_indirect(u.indirect)
        if u.context_only:
            return self._correct_last(u.requests[0] if u.requests else Request(""))
        return self._requests(u)

    def _refuse_negated(self, negated: Request) -> Response:
        name, score, _ = self.rank(negated.text)
        intent = self.by_name.get(name)
        if intent is None or intent.task is None:
            return Response(name, score, "Okay, I won't.", "neutral", negated=True)
        said = spoken(self.task(intent, negated).instruction)
        self.last = tuple(t for t in self.last if t.intent != name)
        return Response(
            name, score, f"Okay, I won't {said}.", "neutral", cancel=True, cancel_matching=name,
            cancel_object=negated.object, negated=True,
        )  # fmt: skip

    def _offer_indirect(self, indirect) -> Response:
        known = set(self.lexicon.objects.values())
        obj, color, lead = indirect.object, indirect.color, ""
        if indirect.kind == "drink":
            if obj not in DRINKS:
                obj, color = next((d for d in DRINKS if d in known), "cup"), None
            lead = "Would you like something to drink? "
        intent = self.by_name["look_at" if indirect.kind == "where" else "give"]
        return self._ask((self.task(intent, Request("", obj, color)),), 1.0, lead)

    def _correct_last(self, request: Request) -> Response:
        if not self.last:
            return Response("correction", 0.0, "Which one do you mean, and what should I do with it?", "confused")
        old = self.last[0]
        new = Request("", request.object or old.object, request.color)  # "the blue one": the cup, blue
        task = self.task(self.by_name[old.intent], new)
        return self._act((task,), 1.0, cancel=True, cancel_matching=old.intent, cancel_object=old.object)

    def ranked_requests(self, u: Understanding) -> list[tuple[Request, str, float, float]]:
        """Each request with its (intent, similarity, margin). Steps that are not each a task with
        what it needs ("lift your hand and wave it around") are one request after all."""
        ranked = [(r, *self.rank(r.text)) for r in u.requests]
        if len(ranked) > 1:
            for request, name, _, _ in ranked:
                intent = self.by_name.get(name)
                if intent is None or intent.task is None or intent.needs_object and request.object is None:
                    ranked = []
                    break
        if not ranked:
            ranked = [(request_of(u.cleaned.split(), self.lexicon), *self.rank(u.cleaned))]
        return ranked

    def _requests(self, u: Understanding) -> Response:
        ranked = self.ranked_requests(u)
        request, name, score, _ = ranked[0]
        if name == "unknown":
            return Response("unknown", score, self.config.fallback_reply, self.config.fallback_expression)
        intent = self.by_name[name]
        if intent.task is None:
            slots = self.slots(u.cleaned)
            return Response(name, score, intent.reply, intent.expression, cancel=intent.cancel, slots=slots)
        tasks = []
        from_context = False
        for request, name, score, _ in ranked:
            intent = self.by_name[name]
            if request.object is None and self.last and self.last[-1].object and " it" in f" {request.text} ":
                last = self.last[-1]  # "pick up the cup" … "now give it to me": the cup? (asked back)
                request = dataclasses.replace(request, object=last.object, color=last.color)
                from_context = True
            if intent.needs_object and request.object is None:
                verb = intent.task.split("{")[0].strip() or name
                return Response(name, score, f"Which object should I {verb}?", "confused", slots=self.slots(u.cleaned))
            tasks.append(self.task(intent, request))
        tasks = tuple(tasks)
        confident = not from_context and all(
            s >= self.config.confirm_below and m >= self.config.confirm_margin for _, _, s, m in ranked
        )
        score = min(s for _, _, s, _ in ranked)
        extra = {}
        if u.correction and self.last and u.cleaned.startswith(("no", "not")):
            extra = {"cancel": True, "cancel_matching": self.last[0].intent, "cancel_object": self.last[0].object}
        if not confident:
            return self._ask(tasks, score)
        return self._act(tasks, score, **extra)

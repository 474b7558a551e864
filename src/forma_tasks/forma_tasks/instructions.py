"""From an instruction ("pick up the red cup", "could you grab the blue ball") to a skill and its
arguments, with the interaction's own understanding: the MiniLM nearest-example intent and the slot
grammar of forma_face.dialogue, on the same intents file, so every paraphrase the dialogue
understands the tasks understand too; forma_face.understanding first takes out disfluencies and
misspellings, reads "can you" as a modal and applies corrections ("the red cup, no, the blue cup"),
and negated requests ("don't pick up the cup") are refused. Pure (no ROS)."""

from __future__ import annotations

import dataclasses
import re

from forma_face.dialogue import Dialogue, normalized_utterance
from forma_face.errors import FaceError
from forma_face.understanding import understand
from forma_tasks.errors import TaskError

# intent (config/interaction/intents.yaml) -> skill
SKILL_OF_INTENT = {
    "pick_up": "pick",
    "put_down": "place",
    "give": "hand_over",
    "look_at": "look",
    "wave": "wave",
    "point_at": "point",
}
SKILLS = tuple(SKILL_OF_INTENT.values())
NOT_SERVED = {"come_here": "walking is not available yet: the robot cannot come to you"}
NEEDS_OBJECT = {"pick", "point"}  # "put it down", "give it to me", "look at me" need none


@dataclasses.dataclass(frozen=True)
class ObjectQuery:
    """What the instruction says of the object: its class and colour (either may be unknown)."""

    label: str | None = None
    color: str | None = None

    def describe(self) -> str:
        words = [w for w in (self.color, self.label) if w]
        return "the " + " ".join(words) if self.label else ("the " + self.color + " one" if self.color else "it")


@dataclasses.dataclass(frozen=True)
class Instruction:
    text: str
    skill: str
    object: ObjectQuery | None  # None: the instruction names no object ("put it down")
    person: bool  # the instruction is about the speaker ("look at me", "hand it to me")
    intent_score: float


class InstructionParser:
    """parse(text) -> Instruction, or TaskError with the reason it cannot be served."""

    def __init__(self, dialogue: Dialogue) -> None:
        self.dialogue = dialogue

    def learn(self, labels, colors=()) -> None:
        """Object classes and colours perception reports become words the parser knows."""
        self.dialogue.learn_objects(labels, colors)

    def known_objects(self) -> list[str]:
        vocabulary = {**self.dialogue.config.objects, **self.dialogue.extra_objects}
        return sorted(set(vocabulary.values()))

    def parse(self, text: str) -> Instruction:
        try:
            text = normalized_utterance(text)
        except FaceError as exc:
            raise TaskError(f"instruction refused: {exc}") from None
        understood = understand(text, self.dialogue.lexicon)
        if understood.negated is not None or understood.leave_alone is not None:
            raise TaskError(f"{text!r} is a negated request: nothing to do")
        if understood.context_only:
            raise TaskError(f"{text!r} only corrects an earlier request: say the whole instruction")
        if understood.indirect is not None:
            raise TaskError(f"{text!r} says what you need, not what I should do: say the instruction")
        ranked = self.dialogue.ranked_requests(understood)
        if len(ranked) > 1:
            raise TaskError(f"{text!r} asks for {len(ranked)} tasks: give one instruction at a time")
        request, intent, score, _ = ranked[0]
        words = request.text
        if intent in NOT_SERVED:
            raise TaskError(f"{NOT_SERVED[intent]} ({text!r})")
        if intent not in SKILL_OF_INTENT:
            what = "nothing I understand" if intent == "unknown" else f"{intent.replace('_', ' ')}, not a task"
            raise TaskError(
                f"{text!r} is {what}; I can: pick up, put down, hand over, point at, look at an object, wave"
            )
        skill = SKILL_OF_INTENT[intent]
        query = None
        if request.object or request.color:
            query = ObjectQuery(request.object, request.color)
        if skill in NEEDS_OBJECT and (query is None or query.label is None):
            raise TaskError(f"which object? {text!r} names none I know (I know: {', '.join(self.known_objects())})")
        mentions_me = bool(re.search(r"\b(me|myself|us)\b", words))
        person = mentions_me and (skill == "hand_over" or (skill == "look" and query is None))
        return Instruction(text, skill, query, person, score)

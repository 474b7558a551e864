"""Acceptance of the understanding on its frozen held-out set (tests/unit/data/understanding_heldout.yaml,
written before the code and never used to build it): per class at least 90 % right, and no negated or
leave-alone request ever yields a task, started or proposed. The plain paraphrases keep their score
in test_dialogue.py; here also the cost of the understanding step."""

from __future__ import annotations

import pathlib
import time

import numpy as np
import pytest
import yaml

from forma_face.dialogue import Dialogue, Response, load_dialogue_config
from forma_face.interaction_node import default_intents_path
from forma_face.minilm import MiniLM
from forma_face.understanding import understand
from forma_tasks.instructions import SKILL_OF_INTENT

HELD_OUT = pathlib.Path(__file__).parents[1] / "data" / "understanding_heldout.yaml"
CASES = yaml.safe_load(HELD_OUT.read_text())["classes"]


@pytest.fixture(scope="module")
def dialogue():
    return Dialogue(load_dialogue_config(default_intents_path()), MiniLM())


def _matches(tasks, expected) -> bool:
    if len(tasks) != len(expected):
        return False
    for task, want in zip(tasks, expected, strict=True):
        if SKILL_OF_INTENT.get(task.intent) != want["skill"]:
            return False
        for field in ("object", "color"):
            if field in want:
                allowed = want[field] if isinstance(want[field], list) else [want[field]]
                if getattr(task, field) not in allowed:
                    return False
    return True


def judge(response: Response, case: dict) -> bool:
    expect = case["expect"]
    if "cancel" in case and (
        not response.cancel or SKILL_OF_INTENT.get(response.cancel_matching or "") != case["cancel"]
    ):
        return False
    if expect == "none":
        return not response.tasks and not response.proposal
    if expect == "ask":
        return not response.tasks and not response.proposal and response.reply.endswith("?")
    if "intent" in expect:
        return response.intent == expect["intent"] and not response.tasks
    if "do" in expect:
        return not response.proposal and _matches(response.tasks, expect["do"])
    return not response.tasks and _matches(response.proposal, expect["ask"])


def respond(dialogue: Dialogue, case: dict) -> Response:
    dialogue.reset()
    if "after" in case:
        dialogue.respond(case["after"])
    return dialogue.respond(case["text"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_class_of_the_held_out_set_is_understood(dialogue, name):
    cases = CASES[name]
    wrong = []
    for case in cases:
        response = respond(dialogue, case)
        if not judge(response, case):
            got = [t.instruction for t in response.tasks] or [f"ask: {t.instruction}" for t in response.proposal]
            wrong.append(f"{case['text']!r}: {response.intent} {got} {response.reply!r}")
    assert len(cases) >= 10
    assert (len(cases) - len(wrong)) / len(cases) >= 0.9, f"{name}: {len(wrong)} of {len(cases)} wrong:\n" + "\n".join(
        wrong
    )


def test_no_negated_or_leave_alone_request_ever_yields_a_task(dialogue):
    for case in CASES["negation"] + CASES["leave_alone"]:
        response = respond(dialogue, case)
        assert not response.tasks and not response.proposal and response.instruction is None, case["text"]
        assert response.negated, case["text"]


def test_the_understanding_step_costs_little(dialogue):
    """The understanding step beside the embedding (classify ≈ 9 ms p50 on the 2-core machine, all
    of it MiniLM): well under a millisecond. Generous bounds, measured interleaved, because the
    machine is shared with real-time work."""
    texts = [case["text"] for cases in CASES.values() for case in cases]
    understand_s, classify_s = [], []
    for text in texts:
        t0 = time.perf_counter()
        understand(text, dialogue.lexicon)
        t1 = time.perf_counter()
        dialogue.classify(text)
        understand_s.append(t1 - t0)
        classify_s.append(time.perf_counter() - t1)
    p50_understand, p50_classify = float(np.median(understand_s)), float(np.median(classify_s))
    assert p50_understand < 0.003, f"understand p50 {p50_understand * 1e3:.2f} ms"
    assert p50_understand < 0.25 * p50_classify, f"{p50_understand * 1e3:.2f} ms vs {p50_classify * 1e3:.1f} ms"

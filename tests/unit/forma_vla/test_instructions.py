"""What a policy is told: a model trained on parsed instructions hears every phrasing of one request
as the one sentence it learned on (held-out phrasings included), a model trained on words hears the
words, and an instruction the parser cannot read is refused with the parser's reason."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from forma_tasks.errors import TaskError
from forma_tasks.tabletop import parser
from forma_vla.dataset import DatasetError
from forma_vla.instructions import policy_text
from forma_vla.policy import Normalizer, PolicySignature
from forma_vla.train import taught

SIGNATURE = PolicySignature(0.1, (80, 60), ("neck_pitch",), Normalizer(np.zeros(1), np.ones(1)),
                            Normalizer(np.zeros(33), np.ones(33)), skills=("pick", "point", "wave"),
                            instruction_form="parsed")


@pytest.mark.parametrize(("words", "told"), [
    ("say hello with your hand", "wave"),
    ("give me a wave", "wave"),
    ("use your index finger on the green mug", "point at the green cup"),
    ("would you point toward the red mug", "point at the red cup"),
    ("could you grab the blue mug for me", "pick up the blue cup"),
    ("pick the yellow cup up for me", "pick up the yellow cup"),
    ("point at the orange ball", "point at the orange ball"),
])
def test_a_parsed_model_hears_every_phrasing_as_one_sentence(words, told):
    assert policy_text(SIGNATURE, words, parser()) == told


def test_a_model_trained_on_words_hears_the_words():
    words = dataclasses.replace(SIGNATURE, instruction_form="text")
    assert policy_text(words, "say hello with your hand", parser()) == "say hello with your hand"
    assert PolicySignature.from_json(words.to_json(), "m").instruction_form == "text"
    assert PolicySignature.from_json(SIGNATURE.to_json(), "m").instruction_form == "parsed"


def test_what_the_parser_cannot_read_is_refused_with_its_reason():
    with pytest.raises(TaskError, match="nothing I understand"):
        policy_text(SIGNATURE, "fly to the moon", parser())
    with pytest.raises(DatasetError, match="'fly to the moon': the parser cannot read it"):
        taught(["wave", "fly to the moon"], "parsed")
    assert taught(["wave hello", "grab the red mug"], "parsed") == ["wave", "pick up the red cup"]

"""The demonstrations' looks and words: every colour word names exactly one object in a scene, the
one perception names that colour (so the expert, the instruction and the judge agree), held-out
cup colours never reach training, and every instruction names an object the scene has."""

from __future__ import annotations

import numpy as np

from forma_perception.objects import colour_name
from forma_vla.appearance import ALL_COLOURS, CUPS, TRAIN_CUP_COLOURS, draw
from forma_vla.collect import PARAPHRASES, assign


def test_each_object_wears_its_own_colour_as_perception_names_it():
    for seed in range(60):
        looks = draw(seed)
        assert sorted(looks.object_colour.values()) == sorted(ALL_COLOURS), seed
        assert set(looks.cup_colour.values()) <= set(TRAIN_CUP_COLOURS)
        for body, word in looks.object_colour.items():
            rgb = (np.asarray(looks.object_rgb[body]) * 255.0).astype(np.uint8)[None]
            assert colour_name(rgb) == word, (seed, body, looks.object_rgb[body])


def test_held_out_cup_colours_are_seen_on_other_objects_only():
    seen_on_others = set()
    for seed in range(60):
        looks = draw(seed)
        seen_on_others |= {c for b, c in looks.object_colour.items() if b not in CUPS}
    assert {"green", "yellow"} <= seen_on_others


def test_instructions_name_an_object_of_the_scene_by_its_colour():
    skills = set()
    for seed in range(80):
        a = assign(seed)
        skills.add(a.skill)
        assert any(a.text == t or ("{o}" in t and a.text.startswith(t.split("{o}")[0])) for t in PARAPHRASES[a.skill])
        if a.skill == "wave":
            assert a.slots == {}
            continue
        named = [b for b, c in a.appearance.object_colour.items()
                 if c == a.slots["color"] and b.rsplit("_", 1)[1] == a.slots["object"]]
        assert len(named) == 1, (seed, a.text)
        assert a.skill != "pick" or named[0] in CUPS
    assert skills == {"pick", "point", "wave"}

"""What `forma vla collect / eval` are given and cannot use is refused with the reason before any
episode runs: seeds, image sizes, skills, colours, instruction files."""

from __future__ import annotations

import pytest

from forma_vla.appearance import draw
from forma_vla.collect import parse_image_size, parse_seeds
from forma_vla.evaluate import load_instructions


def test_seeds_and_image_sizes_are_checked():
    assert parse_seeds("3-5") == range(3, 6) and parse_seeds("7") == range(7, 8)
    for bad in ("a-b", "5-3", ""):
        with pytest.raises(ValueError, match="seeds"):
            parse_seeds(bad)
    assert parse_image_size("80x60") == (80, 60)
    for bad in ("80", "80x", "0x60", "80x60x3", "nanxnan"):
        with pytest.raises(ValueError, match="image size"):
            parse_image_size(bad)


def test_unknown_cup_colours_are_refused():
    with pytest.raises(ValueError, match="cup colours"):
        draw(0, ("red", "teal"))
    with pytest.raises(ValueError, match="at least 2"):
        draw(0, ("red",))


@pytest.mark.parametrize(
    "text, reason",
    [
        ("pick: ['grab the {o}']\nfly: [fly away]\n", "skill 'fly'"),
        ("pick: []\n", "non-empty list"),
        ("point: [point at it]\n", "names the object"),
        ("- just a list\n", "a mapping"),
        ("pick: [unclosed\n", "instructions"),
    ],
)
def test_broken_instruction_files_are_refused(tmp_path, text, reason):
    path = tmp_path / "instructions.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=reason):
        load_instructions(path)
    with pytest.raises(ValueError, match="instructions"):
        load_instructions(tmp_path / "missing.yaml")

"""The parameter kit (forma_common.params): refusals name the parameter and say what it may be;
a whole number is a number; the description shows unit, range and choices."""

from __future__ import annotations

import dataclasses

import pytest

from forma_common.params import ParameterError, check, declared, param


@dataclasses.dataclass(frozen=True)
class Example:
    rate_hz: float = param(10.0, "a rate", unit="Hz", low=1.0, high=100.0)
    mode: str = param("a", "a mode", choices=("a", "b"))
    count: int = param(3, "a count", low=0)
    names: list[str] = param(["x"], "names", choices=("x", "y"))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"rate_hz": 0.5}, r"rate_hz=0.5 outside 1..100 Hz"),
        ({"rate_hz": float("nan")}, r"rate_hz=nan: must be a finite number"),
        ({"mode": "c"}, r"mode='c': valid values are a, b"),
        ({"count": 1.5}, r"count=1.5: int values are needed"),
        ({"count": -1}, r"count=-1 outside 0..inf"),
        ({"names": ["x", "z"]}, r"names=\['x', 'z'\]: valid values are x, y"),
        ({"rate_hz": True}, r"rate_hz=True: float values are needed"),
    ],
)
def test_the_kit_refuses_naming_the_parameter(fields, reason):
    with pytest.raises(ParameterError, match=reason):
        check(dataclasses.replace(Example(), **fields))


def test_a_whole_number_is_a_number_and_the_text_shows_unit_range_and_choices():
    check(dataclasses.replace(Example(), rate_hz=5))
    specs = {d.name: d.spec for d in declared(Example)}
    assert specs["rate_hz"].text() == "a rate [Hz] (range 1..100)"
    assert specs["mode"].text() == "a mode (one of: a, b)"
    assert specs["count"].text() == "a count (range 0..inf)"

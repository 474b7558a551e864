"""Node parameters declared once, as a dataclass whose fields carry type, unit, range, default,
description and read-only (in the spirit of generate_parameter_library's schemas). The same class
is the validated config the node's core takes, the ROS ParameterDescriptors (forma_common.node),
and the documentation in config/params/forma.yaml (forma_bringup.params_doc). Pure Python: core
modules import it without rclpy.

    @dataclasses.dataclass(frozen=True)
    class HandsParams:
        rate_hz: float = param(100.0, "command rate per hand", unit="Hz", low=10.0, high=500.0)
        sides: list[str] = param(["left", "right"], "hands to drive", choices=("left", "right"))

`check(config)` refuses a value of the wrong type, outside its range or not among its choices,
naming the parameter and what it may be.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

META_KEY = "forma_param"


class ParameterError(ValueError):
    """A parameter value the node cannot run with; the message names it and the valid values."""


@dataclasses.dataclass(frozen=True)
class Spec:
    """What a parameter is, besides its default."""

    description: str
    unit: str = ""  # e.g. "Hz", "m", "rad/s"; "" = none
    low: float | None = None  # inclusive range of a number (or of each item of a list)
    high: float | None = None
    choices: tuple | None = None  # the valid values (or items of a list)
    read_only: bool = True  # read once at start; False = the node applies a change live

    def text(self) -> str:
        """The description as `ros2 param describe` shows it: with the unit and the range."""
        out = self.description
        if self.unit:
            out += f" [{self.unit}]"
        if self.low is not None or self.high is not None:
            low = "-inf" if self.low is None else f"{self.low:g}"
            high = "inf" if self.high is None else f"{self.high:g}"
            out += f" (range {low}..{high})"
        if self.choices:
            out += f" (one of: {', '.join(map(str, self.choices))})"
        return out


def param(
    default: Any,
    description: str,
    *,
    unit: str = "",
    low: float | None = None,
    high: float | None = None,
    choices: tuple | None = None,
    read_only: bool = True,
) -> Any:
    """A dataclass field that is also a node parameter."""
    spec = Spec(description, unit, low, high, tuple(choices) if choices is not None else None, read_only)
    metadata = {META_KEY: spec}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda d=default: copy.deepcopy(d), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class Declared:
    """One parameter of a params class: its name, default, spec and Python type."""

    name: str
    default: Any
    spec: Spec
    kind: type  # bool, int, float, str, or list (of str / float / int)
    item_kind: type | None = None  # a list's item type


def declared(cls) -> list[Declared]:
    """The parameters of a params dataclass, in field order."""
    out = []
    for field in dataclasses.fields(cls):
        spec = field.metadata.get(META_KEY)
        if spec is None:
            continue
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        kind, item = _kind(default, field.name)
        out.append(Declared(field.name, default, spec, kind, item))
    return out


def _kind(default: Any, name: str) -> tuple[type, type | None]:
    for kind in (bool, int, float, str):
        if type(default) is kind:
            return kind, None
    if isinstance(default, list):
        items = {type(v) for v in default}
        if len(items) > 1:
            raise ParameterError(f"parameter {name}: a list default must hold one type, got {sorted(map(str, items))}")
        return list, (items.pop() if items else str)
    raise ParameterError(f"parameter {name}: default {default!r} is not a bool, int, float, str or list")


def check(config, error: type[Exception] = ParameterError) -> None:
    """Refuse any field of `config` (a params dataclass instance) its spec does not allow, with
    `error` (a core's own configuration error, from its __post_init__)."""
    try:
        _check(config)
    except ParameterError as exc:
        if error is ParameterError:
            raise
        raise error(str(exc)) from None


def _check(config) -> None:
    for d in declared(type(config)):
        value = getattr(config, d.name)
        values = value if d.kind is list else [value]
        if d.kind is list and not isinstance(value, (list, tuple)):
            raise ParameterError(f"parameter {d.name}={value!r}: a list is needed")
        wanted = d.item_kind if d.kind is list else d.kind
        for v in values:
            ok = isinstance(v, wanted) and not (wanted is not bool and isinstance(v, bool))
            if wanted is float and isinstance(v, int) and not isinstance(v, bool):
                ok = True  # an integer where a number is needed is fine
            if not ok:
                raise ParameterError(f"parameter {d.name}={value!r}: {wanted.__name__} values are needed")
            if wanted in (int, float) and not math.isfinite(v):
                raise ParameterError(f"parameter {d.name}={value!r}: must be a finite number")
            why = refusal(d.spec, v)
            if why:
                raise ParameterError(f"parameter {d.name}={value!r}{why}")


def refusal(spec: Spec, value) -> str:
    """Why one value (a number, or a list's item) is outside `spec` ("" = it is not): the text that
    follows "parameter NAME=VALUE" in every refusal."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and ((spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high)):
        unit = f" {spec.unit}" if spec.unit else ""
        return f" outside {_bound(spec.low, '-inf')}..{_bound(spec.high, 'inf')}{unit}"
    if spec.choices is not None and value not in spec.choices:
        return f": valid values are {', '.join(map(str, spec.choices))}"
    return ""


def _bound(value: float | None, unbounded: str) -> str:
    return unbounded if value is None else f"{value:g}"

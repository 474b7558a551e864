"""Hypothesis strategies for any ROS message, service request or action goal, built from the type's
own introspection (rosidl: `get_fields_and_field_types()` and `SLOT_TYPES`), for fuzzing the
stack's inputs over DDS (tests/system/test_fuzz_sim.py, tests/bench/fuzz_bench.py).

Every field gets values a careless or hostile publisher could send, mixed with ordinary ones so
that some messages pass the first checks and reach deeper code:
- floats: NaN, +-inf, the type's extremes, -0.0, subnormals, then ordinary values;
- integers: the field type's minimum and maximum, 0, +-1, then anything in range;
- sequences: empty, ordinary, the robot's joint count, thousands of elements (one bad value
  buried in them); parallel sequences of one message (JointState's name / position / velocity /
  effort) drawn either with one shared length or each its own (mismatched);
- strings: empty, huge (64 KiB), non-ASCII, control characters; fields that name joints draw
  real joint names (from the robot description) mixed with unknown ones; `frame_id` draws the
  robot's frames mixed with wrong ones;
- stamps (builtin_interfaces/Time): zero, far past (stale), far future, nanosec past 1e9, and
  now (from a clock the caller gives: the robot's time) so that some commands are current.

Fixed-size arrays keep their size (rclpy refuses another at construction, so no publisher can
send one); bounded sequences and strings stay within their bound for the same reason.

Pure: no node, no DDS. `generate()` draws examples through hypothesis' own engine (seeded,
no shrinking, no database) for callers that publish them.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from rosidl_parser import definition as idl

# --- value classes -----------------------------------------------------------------------------

FLOAT64_MAX = 1.7976931348623157e308
FLOAT32_MAX = 3.4028234663852886e38
NON_FINITE = (math.nan, math.inf, -math.inf)
SPECIAL_FLOAT64 = (*NON_FINITE, FLOAT64_MAX, -FLOAT64_MAX, 5e-324, -0.0, 0.0, 1e300, -1e300)
SPECIAL_FLOAT32 = (*NON_FINITE, FLOAT32_MAX, -FLOAT32_MAX, 1.401298464324817e-45, -0.0, 0.0, 1e30, -1e30)

INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "int8": (-(2**7), 2**7 - 1),
    "uint8": (0, 2**8 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
    "short": (-(2**15), 2**15 - 1),
    "unsigned short": (0, 2**16 - 1),
    "long": (-(2**31), 2**31 - 1),
    "unsigned long": (0, 2**32 - 1),
    "long long": (-(2**63), 2**63 - 1),
    "unsigned long long": (0, 2**64 - 1),
}

HUGE_STRING_CHARS = 65536  # a string far past any name or instruction the stack expects
OVERSIZED_MIN, OVERSIZED_MAX = 1000, 5000  # elements of an oversized sequence
UNICODE_SAMPLES = ("ñandú", "左手", "🤖💥", "\u202eeman_tfel", "a\tb\nc", "\x00hidden", "\ufeffleft_knee", "e\u0301")
UNKNOWN_NAMES = ("", "knee", "left_knee ", "LEFT_KNEE", "left_knee\x00", "left_tentacle", "joint_999", "*",
                 "../left_knee")
ROBOT_FRAMES = ("odom", "base_link", "torso", "head", "left_hand", "right_hand", "left_sole", "right_sole",
                "head_camera_color_optical_frame", "imu_link")
WRONG_FRAMES = ("", "map", "world", "/odom", "odom ", "left_hand_tip", "camera", "base_link\x00", "🤖")
NAME_FIELDS = ("name", "names", "joint_name", "joint_names", "joints", "hand", "group", "groups", "body")

# stamps relative to `now` [s]; far past is older than any stale limit, far future newer than any skew
STALE_S = -86400.0 * 365
FUTURE_S = 3600.0


@dataclass(frozen=True)
class FuzzContext:
    """What the fuzzer knows of the robot under test.

    joint_names: the robot's joints (its description), mixed with unknown names in name fields;
    frames: the frames the stack uses, mixed with wrong ones in frame_id fields;
    now_s: the robot's clock [s] when a message is drawn (stamps near now pass the stamp checks),
    None to stamp "now" as 0 (then every stamp is stale or future to a running robot);
    oversized: (min, max) elements of an oversized sequence."""

    joint_names: tuple[str, ...] = ()
    frames: tuple[str, ...] = ROBOT_FRAMES
    now_s: Callable[[], float] | None = None
    oversized: tuple[int, int] = (OVERSIZED_MIN, OVERSIZED_MAX)
    extra_names: tuple[str, ...] = field(default_factory=tuple)  # e.g. group or body names a service takes
    huge_strings: bool = True  # strings up to 64 KiB (off inside sequences of messages)


def message_class(namespaced: idl.NamespacedType):
    """The Python class of a rosidl NamespacedType (['std_msgs', 'msg'], 'Header'; an action's
    own ['forma_interfaces', 'action'], 'Reach_Goal')."""
    return python_class(".".join(namespaced.namespaces), namespaced.name)


def python_class(module_name: str, name: str):
    """`name` from the generated module `module_name` ('forma_interfaces.action'), including the
    classes it does not export (an action's 'Reach_Goal', 'Reach_SendGoal', 'Reach_GetResult'
    live in its '_reach' submodule)."""
    module = importlib.import_module(module_name)
    if hasattr(module, name):
        return getattr(module, name)
    base = name.split("_")[0]
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", base).lower()
    return getattr(importlib.import_module(f"{module_name}._{snake}"), name)


def field_types(msg_type) -> list[tuple[str, object]]:
    """(attribute name, rosidl type) of each field, in declaration order."""
    return list(zip(msg_type.get_fields_and_field_types(), msg_type.SLOT_TYPES, strict=True))


def float_values(typename: str) -> st.SearchStrategy[float]:
    width = 32 if typename == "float" else 64
    specials = SPECIAL_FLOAT32 if width == 32 else SPECIAL_FLOAT64
    return st.one_of(
        st.sampled_from(specials),
        st.floats(width=width, allow_nan=True, allow_infinity=True),
        st.floats(-10.0, 10.0, width=width),
    )


def integer_values(typename: str) -> st.SearchStrategy[int]:
    lo, hi = INTEGER_RANGES[typename]
    edges = sorted({lo, hi, 0, min(max(1, lo), hi), max(min(-1, hi), lo), hi // 2 + 1})
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


def text_values(max_size: int | None = None, names: Iterable[str] = (), huge: bool = True) -> st.SearchStrategy[str]:
    """Any string: empty, short, non-ASCII and control characters, and (huge) up to 64 KiB."""
    options = [st.just(""), st.text(max_size=24 if max_size is None else min(24, max_size)),
               st.sampled_from(UNICODE_SAMPLES)]
    if huge:
        sizes = [256, 4096, HUGE_STRING_CHARS] if max_size is None else [max_size]
        options.append(st.sampled_from(sizes).map(lambda n: "x" * n))
    names = tuple(names)
    if names:
        options.append(st.sampled_from(names))
    strategy = st.one_of(*options)
    if max_size is not None:
        strategy = strategy.map(lambda s: s[:max_size])
    return strategy


def name_values(ctx: FuzzContext, max_size: int | None = None, huge: bool = True) -> st.SearchStrategy[str]:
    """A joint (or group) name: real ones mixed with unknown, empty, huge and unicode ones."""
    real = ctx.joint_names + ctx.extra_names
    options = [st.sampled_from(UNKNOWN_NAMES), text_values(max_size, huge=huge)]
    if real:
        options = [st.sampled_from(real)] * 3 + options  # mostly real: unknown ones hide among them
    strategy = st.one_of(*options)
    return strategy if max_size is None else strategy.map(lambda s: s[:max_size])


def frame_values(ctx: FuzzContext) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(ctx.frames), st.sampled_from(ctx.frames), st.sampled_from(WRONG_FRAMES),
                     text_values())


def stamp_values(ctx: FuzzContext) -> st.SearchStrategy:
    """builtin_interfaces/Time: now (robot clock), zero, far past, far future, jitter, invalid nanosec."""
    from builtin_interfaces.msg import Time

    def at(offset_s: float) -> Time:
        now = ctx.now_s() if ctx.now_s is not None else 0.0
        t = max(0.0, now + offset_s)
        sec = min(int(t), 2**31 - 1)
        return Time(sec=sec, nanosec=int((t - int(t)) * 1e9) % 1_000_000_000)

    return st.one_of(
        st.just(0.0).map(at),  # now
        st.floats(-0.05, 0.05).map(at),  # current, with a little jitter either way
        st.just(Time()),  # zero
        st.just(STALE_S).map(at),  # far past
        st.floats(-30.0, -1.0).map(at),  # stale by seconds
        st.just(FUTURE_S).map(at),  # future
        st.builds(Time, sec=st.sampled_from([2**31 - 1, -(2**31), -1]), nanosec=st.just(0)),
        st.builds(Time, sec=st.just(1), nanosec=st.sampled_from([1_000_000_000, 2**32 - 1])),  # nanosec >= 1e9
    )


def _is_name_field(name: str) -> bool:
    return name in NAME_FIELDS or name.endswith("_name") or name.endswith("_names")


_elements: dict[tuple, tuple[object, st.SearchStrategy]] = {}


def element_strategy(slot, ctx: FuzzContext, field_name: str = "", huge: bool = True) -> st.SearchStrategy:
    """One value of a non-sequence rosidl type (basic, string or nested message); huge: strings
    up to 64 KiB (not for a sequence's elements: thousands of those would be hundreds of MB).
    Built once per field: hypothesis validates a new strategy object on its first draw."""
    huge = huge and ctx.huge_strings
    key = (id(slot), ctx, field_name, huge)
    if key not in _elements:
        _elements[key] = (slot, _element_strategy(slot, ctx, field_name, huge))  # (slot kept: its id stays its)
    return _elements[key][1]


def _element_strategy(slot, ctx: FuzzContext, field_name: str, huge: bool) -> st.SearchStrategy:
    if isinstance(slot, idl.BasicType):
        t = slot.typename
        if t in ("float", "double", "long double"):
            return float_values("float" if t == "float" else "double")
        if t == "boolean":
            return st.booleans()
        if t in ("octet",):
            return st.binary(min_size=1, max_size=1)
        if t in ("char",):
            return st.sampled_from(["\x00", "a", "\x7f", "\xff"])  # rclpy's char: one character (<= 255)
        if t in ("wchar",):
            return st.sampled_from(["\x00", "a", "\uffff", "左"])
        return integer_values(t)
    if isinstance(slot, idl.AbstractGenericString):
        bound = getattr(slot, "maximum_size", None)
        if field_name == "frame_id":
            return frame_values(ctx).map(lambda s: s if bound is None else s[:bound])
        if _is_name_field(field_name):
            return name_values(ctx, bound, huge)
        return text_values(bound, ctx.joint_names[:3], huge)
    if isinstance(slot, idl.NamespacedType):
        if (slot.namespaces, slot.name) == (["builtin_interfaces", "msg"], "Time"):
            return stamp_values(ctx)
        # a message inside a sequence: its own sequences oversized by hundreds, not thousands (a
        # DiagnosticArray of 100 statuses of 5000 values each was 120 MB)
        inner = ctx if huge else dataclasses.replace(ctx, oversized=(100, 200), huge_strings=False)
        return message_strategy(message_class(slot), inner)
    raise TypeError(f"no strategy for rosidl type {slot!r} (field {field_name!r})")


NESTED_SEQUENCE_MAX = 100  # elements of a sequence of messages (each may hold sequences itself)
SEEDS = st.integers(0, 2**32 - 1)
COIN = st.booleans()
FEW = st.integers(0, 2)


def _length_strategy(ctx: FuzzContext, bound: int | None) -> st.SearchStrategy[int]:
    lengths = [st.just(0), st.integers(1, 8), st.integers(9, 100)]
    if ctx.joint_names:
        lengths.append(st.just(len(ctx.joint_names)))
    lo, hi = ctx.oversized
    lengths.append(st.integers(lo, hi))
    strategy = st.one_of(*lengths)
    return strategy if bound is None else strategy.map(lambda n: min(n, bound))


_pools: dict[int, tuple[st.SearchStrategy, st.SearchStrategy]] = {}


def _pool_strategy(element: st.SearchStrategy) -> st.SearchStrategy:
    if id(element) not in _pools:
        _pools[id(element)] = (element, st.lists(element, min_size=1, max_size=4))
    return _pools[id(element)][1]


def _sequence(draw, slot, ctx: FuzzContext, name: str, length: int):
    """`length` values of a sequence's element type: a few values drawn by hypothesis, spread over
    the sequence by a generator it seeds (drawing thousands one by one would take it seconds a
    message), ordinary values in between, and a few drawn values at drawn places."""
    vt = slot.value_type
    rng = random.Random(draw(SEEDS))
    element = element_strategy(vt, ctx, name, huge=False)
    is_float = isinstance(vt, idl.BasicType) and vt.typename in ("float", "double", "long double")
    if isinstance(vt, idl.NamespacedType):
        length = min(length, NESTED_SEQUENCE_MAX)
    real = ctx.joint_names + ctx.extra_names
    if is_float and draw(COIN):
        # ordinary [rad], [rad/s], [N m]: within every joint's limits, so that a command with the
        # right names, lengths and stamp passes the hardware's gate and moves the robot
        values = [0.08 * r - 0.04 for r in (rng.random() for _ in range(length))]
    elif isinstance(vt, idl.AbstractGenericString) and _is_name_field(name) and real and length <= len(real) \
            and draw(COIN):
        values = rng.sample(real, length)  # distinct real names, as a valid command has
    else:
        pool = draw(_pool_strategy(element))
        values = rng.choices(pool, k=length)
    if length:
        for _ in range(draw(FEW)):
            values[rng.randrange(length)] = draw(element)
    if isinstance(vt, idl.BasicType) and vt.typename == "octet":
        return b"".join(values)
    return values


_cache: dict[tuple[type, FuzzContext], st.SearchStrategy] = {}


def message_strategy(msg_type, ctx: FuzzContext | None = None) -> st.SearchStrategy:
    """Instances of `msg_type` (a message class: a topic's type, `Srv.Request`, `Action.Goal`)."""
    ctx = ctx or FuzzContext()
    key = (msg_type, ctx)
    if key not in _cache:
        _cache[key] = _build(msg_type, ctx)
    return _cache[key]


def _build(msg_type, ctx: FuzzContext) -> st.SearchStrategy:
    fields = field_types(msg_type)
    bounds = {s.maximum_size if isinstance(s, idl.BoundedSequence) else None for _, s in fields}
    lengths = {b: _length_strategy(ctx, b) for b in bounds}
    shared_length = st.one_of(st.none(), lengths[None] if None in lengths else _length_strategy(ctx, None))

    @st.composite
    def draw_message(draw):
        msg = msg_type()
        # parallel sequences share one length in "matched" messages, each draws its own otherwise
        shared = draw(shared_length)
        for name, slot in fields:
            if isinstance(slot, idl.Array):
                value = _sequence(draw, slot, ctx, name, slot.size)
            elif isinstance(slot, idl.AbstractSequence):
                bound = slot.maximum_size if isinstance(slot, idl.BoundedSequence) else None
                length = draw(lengths[bound]) if shared is None else shared
                length = length if bound is None else min(length, bound)
                value = _sequence(draw, slot, ctx, name, length)
            else:
                value = draw(element_strategy(slot, ctx, name))
            setattr(msg, name, value)
        return msg

    return draw_message()


def request_strategy(srv_type, ctx: FuzzContext | None = None) -> st.SearchStrategy:
    return message_strategy(srv_type.Request, ctx)


def goal_strategy(action_type, ctx: FuzzContext | None = None) -> st.SearchStrategy:
    return message_strategy(action_type.Goal, ctx)


def interface_class(type_name: str):
    """The Python class of a graph type name: 'pkg/msg/Name', 'pkg/srv/Name', 'pkg/action/Name'
    and an action's own services and messages ('pkg/action/Name_SendGoal', ..._GetResult)."""
    package, kind, name = type_name.split("/")
    return python_class(f"{package}.{kind}", name)


def generate(strategy: st.SearchStrategy, n: int, seed: int, on_example: Callable[[object], None]) -> int:
    """Draw `n` examples of `strategy` with hypothesis' engine (seeded, generate phase only, no
    example database) and hand each to `on_example`; returns how many were drawn. An exception
    in on_example propagates (hypothesis then reports it as a failure)."""
    count = 0

    @hypothesis_seed(seed)
    @settings(max_examples=n, phases=[Phase.generate], database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(example):
        nonlocal count
        count += 1
        on_example(example)

    run()
    return count


# --- checking what reaches the actuators ------------------------------------------------------


def non_finite_values(msg) -> int:
    """How many float values in a JointState-like message (position, velocity, effort) are NaN or inf."""
    return sum(1 for f in ("position", "velocity", "effort") for v in getattr(msg, f, ()) if not math.isfinite(v))

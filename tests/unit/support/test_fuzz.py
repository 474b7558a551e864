"""The fuzzer's strategies (tests/support/fuzz.py): every message, service request and action goal
the stack takes can be generated from its type alone and always constructs and serializes; the
value classes the fuzzing is meant to cover (NaN/inf, extremes, empty/oversized/mismatched
arrays, unknown names, wrong frames, stale/zero/future stamps) really come up within a few
hundred examples."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rclpy.serialization import deserialize_message, serialize_message

from tests.support import fuzz

CTX_NOW_S = 5000.0
JOINTS = tuple(f"left_joint_{i}" for i in range(40)) + tuple(f"right_joint_{i}" for i in range(42))
CTX = fuzz.FuzzContext(joint_names=JOINTS, now_s=lambda: CTX_NOW_S)

TYPES = [
    "sensor_msgs/msg/JointState", "sensor_msgs/msg/Imu", "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo",
    "geometry_msgs/msg/PoseStamped", "geometry_msgs/msg/PointStamped", "geometry_msgs/msg/TwistStamped",
    "geometry_msgs/msg/WrenchStamped", "geometry_msgs/msg/PoseWithCovarianceStamped", "std_msgs/msg/String",
    "std_msgs/msg/Bool", "std_msgs/msg/Char", "std_msgs/msg/Byte", "rosgraph_msgs/msg/Clock",
    "diagnostic_msgs/msg/DiagnosticArray", "unique_identifier_msgs/msg/UUID",
    "rcl_interfaces/msg/ParameterDescriptor",  # bounded sequences (<= 1 range)
    "rmw_dds_common/msg/NodeEntitiesInfo",  # bounded strings (<= 256)
    "forma_interfaces/msg/HandCommand", "forma_interfaces/msg/RobotState", "forma_interfaces/msg/SafetyState",
    "forma_interfaces/msg/HardwareState", "forma_interfaces/msg/Expression", "forma_interfaces/msg/Visemes",
    "forma_interfaces/msg/PersonArray", "forma_interfaces/msg/DetectedObjectArray",
    "forma_interfaces/msg/FingertipTouch", "forma_interfaces/msg/WbcStatus",
]
SERVICES = [
    "forma_interfaces/srv/ApplyWrench", "forma_interfaces/srv/EStop", "forma_interfaces/srv/SetActuatorMode",
    "forma_interfaces/srv/SetOperatingMode", "forma_interfaces/srv/StepSimulation", "std_srvs/srv/Trigger",
    "rcl_interfaces/srv/SetParameters", "rcl_interfaces/srv/GetParameters", "rcl_interfaces/srv/DescribeParameters",
    "action_msgs/srv/CancelGoal", "type_description_interfaces/srv/GetTypeDescription",
]
ACTIONS = [
    "forma_interfaces/action/Reach", "forma_interfaces/action/WalkTo", "forma_interfaces/action/Grasp",
    "forma_interfaces/action/ExecuteInstruction",
]


def _message_types() -> list:
    types = [fuzz.interface_class(t) for t in TYPES]
    types += [fuzz.interface_class(s).Request for s in SERVICES]
    types += [fuzz.interface_class(a).Goal for a in ACTIONS]
    return types


@pytest.mark.parametrize("msg_type", _message_types(), ids=lambda t: f"{t.__module__}.{t.__name__}")
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_generated_messages_construct_and_serialize(msg_type, data):
    msg = data.draw(fuzz.message_strategy(msg_type, CTX))
    assert type(msg) is msg_type
    back = deserialize_message(serialize_message(msg), msg_type)
    assert type(back) is msg_type
    for name, slot in fuzz.field_types(msg_type):  # fixed arrays keep their size, bounded ones their bound
        value = getattr(back, name)
        if isinstance(slot, fuzz.idl.Array):
            assert len(value) == slot.size, name
        if isinstance(slot, fuzz.idl.BoundedSequence | fuzz.idl.BoundedString):
            assert len(value) <= slot.maximum_size, name


def _examples(msg_type, n: int, seed: int = 0, ctx: fuzz.FuzzContext = CTX) -> list:
    out: list = []
    assert fuzz.generate(fuzz.message_strategy(msg_type, ctx), n, seed, out.append) == n
    return out


def _stamp_s(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def test_joint_commands_cover_every_value_class():
    from sensor_msgs.msg import JointState

    msgs = _examples(JointState, 300)
    floats = [v for m in msgs for f in ("position", "velocity", "effort") for v in getattr(m, f)]
    names = [n for m in msgs for n in m.name]
    classes = {
        "NaN": any(math.isnan(v) for v in floats),
        "+inf": any(v == math.inf for v in floats),
        "-inf": any(v == -math.inf for v in floats),
        "float64 max": any(abs(v) == fuzz.FLOAT64_MAX for v in floats),
        "empty names": any(len(m.name) == 0 for m in msgs),
        "oversized (>= 1000)": any(len(m.name) >= 1000 or len(m.position) >= 1000 for m in msgs),
        "name/position lengths differ": any(len(m.name) != len(m.position) and m.position for m in msgs),
        "all 82 distinct real joints, one value each": any(
            len(set(m.name)) == 82 and set(m.name) <= set(JOINTS) and len(m.position) == 82 for m in msgs
        ),
        "real joint names": any(n in JOINTS for n in names),
        "unknown joint names": any(n not in JOINTS for n in names),
        "non-ASCII names": any(not n.isascii() for n in names),
        "huge frame_id (>= 4 KiB)": any(len(m.header.frame_id) >= 4096 for m in msgs),
        "wrong frame_id": any(m.header.frame_id not in fuzz.ROBOT_FRAMES for m in msgs),
        "robot frame_id": any(m.header.frame_id in fuzz.ROBOT_FRAMES for m in msgs),
        "zero stamp": any(m.header.stamp.sec == 0 and m.header.stamp.nanosec == 0 for m in msgs),
        "stale stamp (> 1 day old)": any(0 < _stamp_s(m) < CTX_NOW_S - 86400 for m in msgs)
        or any(m.header.stamp.sec < 0 for m in msgs),
        "future stamp (> 1 min)": any(_stamp_s(m) > CTX_NOW_S + 60 for m in msgs),
        "current stamp": any(abs(_stamp_s(m) - CTX_NOW_S) < 1.0 for m in msgs),
        "nanosec >= 1e9": any(m.header.stamp.nanosec >= 1_000_000_000 for m in msgs),
    }
    missing = [k for k, seen in classes.items() if not seen]
    assert not missing, f"never generated in 300 JointStates: {missing}"


def test_integer_and_float32_fields_reach_their_extremes():
    from forma_interfaces.msg import HandCommand, HardwareState
    from forma_interfaces.srv import StepSimulation

    periods = {r.periods for r in _examples(StepSimulation.Request, 200)}
    assert {0, 2**32 - 1} <= periods
    rejected = {m.commands_rejected for m in _examples(HardwareState, 200)}
    assert 2**64 - 1 in rejected
    closures = [m.closure for m in _examples(HandCommand, 200)]
    assert any(math.isnan(c) for c in closures) and math.inf in closures and -math.inf in closures
    assert any(abs(c) == pytest.approx(fuzz.FLOAT32_MAX, rel=1e-6) for c in closures)


def test_strings_cover_empty_huge_and_unicode():
    from std_msgs.msg import String

    texts = [m.data for m in _examples(String, 200)]
    assert "" in texts
    assert any(len(t) == fuzz.HUGE_STRING_CHARS for t in texts)
    assert any(not t.isascii() for t in texts)


def test_stamps_are_relative_to_the_callers_clock():
    from geometry_msgs.msg import PoseStamped

    now = {"t": 1.0e6}
    ctx = fuzz.FuzzContext(joint_names=JOINTS, now_s=lambda: now["t"])
    stamps = [_stamp_s(m) for m in _examples(PoseStamped, 200, ctx=ctx)]
    assert any(abs(s - 1.0e6) < 0.1 for s in stamps)
    now["t"] = 2.0e6  # the same strategy, later: "now" follows the clock
    stamps = [_stamp_s(m) for m in _examples(PoseStamped, 200, seed=1, ctx=ctx)]
    assert any(abs(s - 2.0e6) < 0.1 for s in stamps) and not any(abs(s - 1.0e6) < 0.1 for s in stamps)


def test_generation_is_reproducible_from_its_seed():
    from sensor_msgs.msg import JointState

    # (repr, not the serialized bytes: CDR padding carries whatever memory held; NaN != NaN)
    a = [repr(m) for m in _examples(JointState, 30, seed=7)]
    b = [repr(m) for m in _examples(JointState, 30, seed=7)]
    c = [repr(m) for m in _examples(JointState, 30, seed=8)]
    assert a == b and a != c


def test_non_finite_values_are_counted():
    from sensor_msgs.msg import JointState

    msg = JointState(name=["a", "b"], position=[0.0, math.nan], velocity=[math.inf, 1.0], effort=[])
    assert fuzz.non_finite_values(msg) == 2
    assert fuzz.non_finite_values(JointState(name=["a"], position=[0.1])) == 0

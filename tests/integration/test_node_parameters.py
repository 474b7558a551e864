"""Nodes refuse bad parameters at start with a message naming the parameter, instead of running
with nonsense: the recorder, the perception node and the stand (in-process, real rclpy)."""

from __future__ import annotations

import math

import pytest
import rclpy
from rclpy.context import Context
from rclpy.parameter import Parameter

from forma_control.stand.node import StandNode
from forma_description import DescriptionError
from forma_perception.errors import PerceptionError
from forma_perception.node import PerceptionNode
from forma_record.errors import RecordError
from forma_record.node import RecorderNode
from forma_record.replay import Replayer

pytestmark = pytest.mark.integration


@pytest.fixture
def context(domain_id):
    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    yield ctx
    rclpy.shutdown(context=ctx)


def make(node_class, context, **parameters):
    overrides = [Parameter(k, value=v) for k, v in parameters.items()]
    node = node_class(context=context, parameter_overrides=overrides)
    node.destroy_node()


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"name": "sub/dir"}, "must be a file name"),
        ({"exclude": ["(unclosed"]}, "bad regular expression"),
        ({"flush_period_s": 5.0}, "flush_period_s=5.0 outside 0.01..1"),
    ],
)
def test_recorder_refuses(context, tmp_path, parameters, reason):
    with pytest.raises(RecordError, match=reason):
        make(RecorderNode, context, output_dir=str(tmp_path), **parameters)


def test_replay_refuses_a_non_positive_rate_or_wait(context, tmp_path):
    node = rclpy.create_node("replay_params", context=context)
    try:
        with pytest.raises(RecordError, match="rate 0 must be > 0"):
            Replayer(node, [tmp_path / "any.mcap"], 0, False, [])
        for wait_s in (-1.0, math.nan):
            with pytest.raises(RecordError, match="wait for subscribers .* must be >= 0"):
                Replayer(node, [tmp_path / "any.mcap"], 1.0, False, []).run(wait_s)
    finally:
        node.destroy_node()


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"detector": "yolo"}, "detector='yolo': valid values are geometric, onnx"),
        ({"max_rate_hz": 0.0}, "max_rate_hz=0.0 outside 0.01..inf Hz"),
        ({"sync_tolerance_s": 1.0}, "sync_tolerance_s=1.0 outside 0..0.1"),
        (
            {"detector": "onnx", "onnx_model": "/nonexistent.onnx", "onnx_labels": ["cup"]},
            "onnx_model='/nonexistent.onnx': .*does not exist",
        ),
    ],
)
def test_perception_refuses(context, parameters, reason):
    with pytest.raises(PerceptionError, match=reason):
        make(PerceptionNode, context, **parameters)


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"recover_timeouts_per_min": -1}, "parameter recover_timeouts_per_min=-1 outside 0..60"),
        ({"rate_hz": 0.5}, "parameter rate_hz=0.5 outside 1..1000 Hz"),
        ({"pose": "handstand"}, "parameter pose='handstand': valid values are stand, "),
    ],
)
def test_stand_refuses(context, parameters, reason):
    with pytest.raises(DescriptionError, match=reason):
        make(StandNode, context, **parameters)


@pytest.mark.parametrize(
    ("serve_skills", "reason"),
    [
        (["dance"], "serve_skills: 'dance' is not a skill"),
        (["wave", "look"], "serve_skills: .look.: the model forma_tabletop/policy.onnx was trained for pick, point"),
    ],
)
def test_vla_refuses_to_serve_a_skill_its_model_was_not_trained_for(context, serve_skills, reason):
    """At start, before the first goal (the shipped model, trained for pick, point and wave)."""
    from forma_vla.errors import VlaError
    from forma_vla.node import VlaNode

    with pytest.raises(VlaError, match=reason):
        make(VlaNode, context, model_path="forma_tabletop", serve_skills=serve_skills)


def test_a_parameter_request_rclpy_cannot_read_is_refused_and_the_node_keeps_serving(domain_id):
    """Found by fuzzing (tests/system/test_fuzz_sim.py): a set_parameters request with a type code
    outside rcl_interfaces/ParameterType made rclpy's parameter service raise out of the executor
    and stopped the process (the console exited with 1). Over DDS: refused with the reason, the
    parameters it can read still applied, the node answering on."""
    import threading

    from rcl_interfaces.msg import Parameter as ParameterMsg
    from rcl_interfaces.msg import ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters, SetParametersAtomically
    from rclpy.executors import SingleThreadedExecutor

    from forma_common.node import refuse_malformed_parameter_requests
    from tests.support.ros import RosProbe

    served, served_ctx = None, Context()
    rclpy.init(context=served_ctx, domain_id=domain_id)
    try:
        served = rclpy.create_node("served", context=served_ctx)
        served.declare_parameter("gain", 1.0)
        refuse_malformed_parameter_requests(served)
        executor = SingleThreadedExecutor(context=served_ctx)
        executor.add_node(served)
        crashed: list[Exception] = []

        def spin():
            try:
                while served_ctx.ok():
                    executor.spin_once(timeout_sec=0.05)
            except Exception as exc:  # noqa: BLE001 - what the process host would die of
                crashed.append(exc)

        thread = threading.Thread(target=spin, daemon=True)
        thread.start()
        bad = ParameterMsg(name="gain", value=ParameterValue(type=255, double_value=2.0))
        good = ParameterMsg(name="gain", value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=3.0))
        with RosProbe(domain_id, name="param_client") as probe:
            reply = probe.call(SetParameters, "/served/set_parameters", SetParameters.Request(parameters=[bad, good]))
            assert [r.successful for r in reply.results] == [False, True]
            assert "255 is not a valid Parameter.Type" in reply.results[0].reason
            assert served.get_parameter("gain").value == 3.0
            atomic = probe.call(
                SetParametersAtomically, "/served/set_parameters_atomically",
                SetParametersAtomically.Request(parameters=[good, bad]),
            )
            assert not atomic.result.successful and "'gain' refused" in atomic.result.reason
        assert not crashed, crashed
    finally:
        if served is not None:
            served.destroy_node()
        rclpy.shutdown(context=served_ctx)

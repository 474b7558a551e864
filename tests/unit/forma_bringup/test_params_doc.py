"""Every node declares its parameters from one schema (forma_common.params): config/params/forma.yaml
is exactly what the schemas write, and every numeric parameter with a range carries it in its ROS
descriptor, with units and ranges in the description `ros2 param describe` shows."""

from __future__ import annotations

import pathlib

import yaml

from forma_bringup.params_doc import param_groups, render
from forma_bringup.registry import available_nodes, load_node_class
from forma_common.node import descriptor
from forma_common.params import check, declared

REPO = pathlib.Path(__file__).resolve().parents[3]


def test_the_params_file_is_what_the_schemas_write():
    assert (REPO / "config" / "params" / "forma.yaml").read_text() == render(), (
        "config/params/forma.yaml is stale: python -m forma_bringup.params_doc > config/params/forma.yaml"
    )


def test_every_node_has_a_schema_and_every_parameter_a_full_descriptor():
    for name in available_nodes():
        groups = param_groups(load_node_class(name))
        assert groups, f"node {name} declares no PARAMS"
        for cls, _prefix in groups:
            for d in declared(cls):
                desc = descriptor(d)
                assert d.spec.description and desc.description.startswith(d.spec.description), (name, d.name)
                if d.spec.unit:
                    assert f"[{d.spec.unit}]" in desc.description, (name, d.name)
                if d.spec.low is not None or d.spec.high is not None:
                    assert "(range " in desc.description, (name, d.name)
                    number = d.item_kind if d.kind is list else d.kind
                    ranges = desc.floating_point_range if number is float else desc.integer_range
                    assert len(ranges) == 1, f"{name}.{d.name}: the range must be in the descriptor"
                assert desc.read_only == d.spec.read_only
            check(cls())  # the defaults themselves pass the checks


def test_rcl_parses_the_params_file():
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context, args=["--ros-args", "--params-file", str(REPO / "config" / "params" / "forma.yaml")])
    rclpy.shutdown(context=context)
    assert yaml.safe_load((REPO / "config" / "params" / "forma.yaml").read_text())["wbc"]["ros__parameters"]

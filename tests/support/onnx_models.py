"""Small ONNX models the tests make themselves (no model is downloaded here)."""

from __future__ import annotations

import numpy as np


def make_detector_model(path, boxes, scores, labels, output_names=("boxes", "scores", "labels")) -> None:
    """A small ONNX detector made here: it reads the image (its outputs depend on it through a
    zero-weighted mean, so ONNX Runtime must run the input) and answers the given boxes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 120, 160])
    consts = [
        numpy_helper.from_array(np.asarray(boxes, np.float32), "const_boxes"),
        numpy_helper.from_array(np.asarray(scores, np.float32), "const_scores"),
        numpy_helper.from_array(np.asarray(labels, np.int64), "labels_value"),
        numpy_helper.from_array(np.zeros((), np.float32), "zero"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["const_boxes", "nothing"], [output_names[0]]),
        helper.make_node("Add", ["const_scores", "nothing"], [output_names[1]]),
        helper.make_node("Identity", ["labels_value"], [output_names[2]]),
    ]
    outputs = [
        helper.make_tensor_value_info(output_names[0], TensorProto.FLOAT, [None, 4]),
        helper.make_tensor_value_info(output_names[1], TensorProto.FLOAT, [None]),
        helper.make_tensor_value_info(output_names[2], TensorProto.INT64, [None]),
    ]
    graph = helper.make_graph(nodes, "detector", [image], outputs, initializer=consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def make_policy_model(
    path,
    signature_json: str | None,
    weights: np.ndarray,
    bias: np.ndarray,
    horizon: int,
    image_hw: tuple[int, int],
    state_dim: int,
    action_dim: int = 33,
    instruction_dim: int = 384,
) -> None:
    """A small ONNX policy made here, linear in what it reads so a test can compute its answer:
    actions = reshape([mean RGB of the image, state, instruction] @ weights + bias, (1, T, A)).
    signature_json: the `forma.policy` metadata (None: left out)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    h, w = image_hw
    inputs = [
        helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, h, w]),
        helper.make_tensor_value_info("state", TensorProto.FLOAT, [1, state_dim]),
        helper.make_tensor_value_info("instruction", TensorProto.FLOAT, [1, instruction_dim]),
    ]
    consts = [
        numpy_helper.from_array(np.asarray(weights, np.float32), "weights"),
        numpy_helper.from_array(np.asarray(bias, np.float32), "bias"),
        numpy_helper.from_array(np.array([1, horizon, action_dim], np.int64), "chunk_shape"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["rgb4"], axes=[2, 3], keepdims=0),
        helper.make_node("Concat", ["rgb4", "state", "instruction"], ["features"], axis=1),
        helper.make_node("MatMul", ["features", "weights"], ["flat0"]),
        helper.make_node("Add", ["flat0", "bias"], ["flat"]),
        helper.make_node("Reshape", ["flat", "chunk_shape"], ["actions"]),
    ]
    outputs = [helper.make_tensor_value_info("actions", TensorProto.FLOAT, [1, horizon, action_dim])]
    graph = helper.make_graph(nodes, "policy", inputs, outputs, initializer=consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if signature_json is not None:
        helper.set_model_props(model, {"forma.policy": signature_json})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))

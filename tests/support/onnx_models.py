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

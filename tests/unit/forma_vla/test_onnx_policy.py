"""A policy exported to ONNX with forma_vla's signature: the runtime feeds it the resized image,
the normalised state and the instruction embedding, and returns its chunk in the action space's
units (the model's own normalisation undone); a model whose signature or inputs do not match, and
an observation that must not reach a policy, are refused with the reason."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forma_vla.action_space import ACTION_DIM
from forma_vla.errors import ObservationError, PolicyLoadError
from forma_vla.policy import INSTRUCTION_DIM, Normalizer, Observation, OnnxPolicy, PolicySignature
from tests.support.onnx_models import make_policy_model

STATE_NAMES = ("left_shoulder_pitch", "left_elbow", "right_shoulder_pitch", "right_elbow")
HORIZON, W, H = 8, 32, 24


def _signature(rng) -> PolicySignature:
    return PolicySignature(
        step_s=0.05,
        image_size=(W, H),
        state_names=STATE_NAMES,
        state_norm=Normalizer(rng.normal(size=4), rng.uniform(0.5, 2.0, 4)),
        action_norm=Normalizer(rng.normal(size=ACTION_DIM), rng.uniform(0.1, 1.0, ACTION_DIM)),
    )


def _model(tmp_path, rng, signature_json="default", **overrides):
    sig = _signature(rng)
    n_in = 3 + len(STATE_NAMES) + INSTRUCTION_DIM
    weights = rng.normal(0, 0.1, (n_in, HORIZON * ACTION_DIM))
    bias = rng.normal(0, 0.1, HORIZON * ACTION_DIM)
    path = tmp_path / "policy.onnx"
    args = {"horizon": HORIZON, "image_hw": (H, W), "state_dim": len(STATE_NAMES)} | overrides
    make_policy_model(path, sig.to_json() if signature_json == "default" else signature_json, weights, bias, **args)
    return path, sig, weights, bias


def _observation(rng, image_shape=(48, 64, 3)) -> Observation:
    return Observation(
        stamp_s=1.0,
        image_rgb=rng.integers(0, 256, image_shape, dtype=np.uint8),
        state=rng.normal(size=len(STATE_NAMES)),
        instruction=rng.normal(size=INSTRUCTION_DIM),
    )


def test_the_runtime_feeds_the_model_and_undoes_its_normalisation(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    path, sig, weights, bias = _model(tmp_path, rng)
    policy = OnnxPolicy(path)
    assert policy.signature.state_names == STATE_NAMES and policy.signature.step_s == 0.05
    obs = _observation(rng)
    chunk = policy.infer(obs)
    # what the model computes, by hand: the image resized to 32x24 in 0..1, the state normalised
    small = cv2.resize(obs.image_rgb, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    features = np.concatenate([small.mean(axis=(0, 1)), sig.state_norm.normalize(obs.state), obs.instruction])
    expected = sig.action_norm.denormalize((features @ weights + bias).reshape(HORIZON, ACTION_DIM))
    assert chunk.shape == (HORIZON, ACTION_DIM)
    np.testing.assert_allclose(chunk, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("signature_json", "overrides", "reason"),
    [
        (None, {}, "no 'forma.policy'"),
        ("{not json", {}, "not JSON"),
        (json.dumps({"format": 2}), {}, "signature format 2"),
        ("wrong_actions", {}, "not forma_vla's 33"),
        ("odd_form", {}, "'instruction_form' 'spoken'"),
        ("default", {"state_dim": 5}, "input 'state' has shape"),
        ("default", {"image_hw": (24, 30)}, "input 'image' has shape"),
    ],
)
def test_a_model_that_does_not_match_its_signature_is_refused(tmp_path, signature_json, overrides, reason):
    rng = np.random.default_rng(1)
    if signature_json == "wrong_actions":
        d = json.loads(_signature(rng).to_json())
        d["action_names"][3] = "left_palm_qw"
        signature_json = json.dumps(d)
    if signature_json == "odd_form":
        signature_json = json.dumps(json.loads(_signature(rng).to_json()) | {"instruction_form": "spoken"})
    if overrides.get("state_dim") == 5:
        overrides["state_dim"] = 5  # the model reads 5 numbers, the signature names 4 joints
    with pytest.raises(PolicyLoadError, match=reason):
        n_in = 3 + overrides.get("state_dim", 4) + INSTRUCTION_DIM
        path = tmp_path / "policy.onnx"
        args = {"horizon": HORIZON, "image_hw": (H, W), "state_dim": 4} | overrides
        sig = _signature(rng).to_json() if signature_json == "default" else signature_json
        make_policy_model(path, sig, np.zeros((n_in, HORIZON * ACTION_DIM)), np.zeros(HORIZON * ACTION_DIM), **args)
        OnnxPolicy(path)


def test_a_missing_or_unreadable_file_is_refused(tmp_path):
    with pytest.raises(PolicyLoadError, match="no such model file"):
        OnnxPolicy(tmp_path / "absent.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(PolicyLoadError, match="cannot load"):
        OnnxPolicy(tmp_path / "junk.onnx")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda o: Observation(o.stamp_s, o.image_rgb.astype(np.float32), o.state, o.instruction), "RGB uint8"),
        (lambda o: Observation(o.stamp_s, o.image_rgb[:, :, :2], o.state, o.instruction), "RGB uint8"),
        (lambda o: Observation(o.stamp_s, o.image_rgb, o.state * np.nan, o.instruction), "finite joint positions"),
        (lambda o: Observation(o.stamp_s, o.image_rgb, o.state[:3], o.instruction), "4 finite joint"),
        (lambda o: Observation(o.stamp_s, o.image_rgb, o.state, o.instruction[:10]), "instruction embedding"),
    ],
)
def test_an_observation_that_must_not_reach_the_policy_is_refused(tmp_path, change, reason):
    rng = np.random.default_rng(2)
    path, *_ = _model(tmp_path, rng)
    with pytest.raises(ObservationError, match=reason):
        OnnxPolicy(path).infer(change(_observation(rng)))

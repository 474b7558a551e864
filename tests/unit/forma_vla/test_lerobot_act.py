"""LeRobot ACT checkpoints run without lerobot: a tiny ACT written here in lerobot's layouts (<= 0.3:
stats as buffers in model.safetensors; >= 0.4: processor JSON and stats files; the oldest, with
input_shapes) loads, answers the same chunk in every layout, and that chunk is what an independent
re-computation from the raw weights and the ACT forward pass gives; a checkpoint that cannot serve
Forma (not 33 actions, a weight missing or of the wrong shape, no forma.json) is refused with the reason."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from forma_vla.action_space import ACTION_DIM
from forma_vla.errors import PolicyLoadError
from forma_vla.lerobot_act import LeRobotActPolicy, image_position_embedding
from forma_vla.policy import INSTRUCTION_DIM, Observation

D, HEADS, FF, LATENT, CHUNK, ACTION_STEPS = 32, 2, 64, 8, 4, 3
IMAGE_CHW = (3, 64, 96)  # layer4: a 2 x 3 feature map
CAMERA = "observation.images.head"
STATE_NAMES = ("left_shoulder_pitch", "left_elbow", "right_shoulder_pitch", "right_elbow", "neck_yaw")
S = len(STATE_NAMES)
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


# --- a tiny ACT, written as lerobot writes it ------------------------------------------------------------
def _config(action_dim: int = ACTION_DIM, action_mode: str = "MEAN_STD") -> dict:
    """config.json as lerobot 0.2..0.6 dumps ACTConfig."""
    return {
        "type": "act", "n_obs_steps": 1, "normalization_mapping": {"VISUAL": "MEAN_STD", "STATE": "MEAN_STD",
                                                                    "ACTION": action_mode},
        "input_features": {"observation.state": {"type": "STATE", "shape": [S]},
                           CAMERA: {"type": "VISUAL", "shape": list(IMAGE_CHW)}},
        "output_features": {"action": {"type": "ACTION", "shape": [action_dim]}},
        "device": "cpu", "use_amp": False, "chunk_size": CHUNK, "n_action_steps": ACTION_STEPS,
        "vision_backbone": "resnet18", "pretrained_backbone_weights": "ResNet18_Weights.IMAGENET1K_V1",
        "replace_final_stride_with_dilation": False, "pre_norm": False, "dim_model": D, "n_heads": HEADS,
        "dim_feedforward": FF, "feedforward_activation": "relu", "n_encoder_layers": 1, "n_decoder_layers": 1,
        "use_vae": True, "latent_dim": LATENT, "n_vae_encoder_layers": 1, "temporal_ensemble_coeff": None,
        "dropout": 0.1, "kl_weight": 10.0, "optimizer_lr": 1e-5, "optimizer_weight_decay": 1e-4,
        "optimizer_lr_backbone": 1e-5,
    }


def _shapes(action_dim: int) -> dict[str, tuple[int, ...]]:
    """Every `model.*` key of lerobot's ACT (ResNet-18, one encoder, decoder and VAE-encoder layer)."""
    shapes: dict[str, tuple[int, ...]] = {}

    def bn(prefix, n):
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"model.backbone.{prefix}.{name}"] = (n,)

    shapes["model.backbone.conv1.weight"] = (64, 3, 7, 7)
    bn("bn1", 64)
    c_in = 64
    for i, width in enumerate((64, 128, 256, 512), start=1):
        for b in range(2):
            p, cin = f"layer{i}.{b}", c_in if b == 0 else width
            shapes[f"model.backbone.{p}.conv1.weight"] = (width, cin, 3, 3)
            bn(f"{p}.bn1", width)
            shapes[f"model.backbone.{p}.conv2.weight"] = (width, width, 3, 3)
            bn(f"{p}.bn2", width)
            if b == 0 and i > 1:
                shapes[f"model.backbone.{p}.downsample.0.weight"] = (width, cin, 1, 1)
                bn(f"{p}.downsample.1", width)
        c_in = width

    def attention(p):
        shapes.update({f"{p}.in_proj_weight": (3 * D, D), f"{p}.in_proj_bias": (3 * D,),
                       f"{p}.out_proj.weight": (D, D), f"{p}.out_proj.bias": (D,)})

    def linear(p, n_out, n_in):
        shapes.update({f"{p}.weight": (n_out, n_in), f"{p}.bias": (n_out,)})

    def norm(p):
        shapes.update({f"{p}.weight": (D,), f"{p}.bias": (D,)})

    for stack in ("encoder", "vae_encoder"):
        p = f"model.{stack}.layers.0"
        attention(f"{p}.self_attn")
        linear(f"{p}.linear1", FF, D)
        linear(f"{p}.linear2", D, FF)
        norm(f"{p}.norm1")
        norm(f"{p}.norm2")
    p = "model.decoder.layers.0"
    attention(f"{p}.self_attn")
    attention(f"{p}.multihead_attn")
    linear(f"{p}.linear1", FF, D)
    linear(f"{p}.linear2", D, FF)
    for k in (1, 2, 3):
        norm(f"{p}.norm{k}")
    norm("model.decoder.norm")
    linear("model.encoder_robot_state_input_proj", D, S)
    linear("model.encoder_latent_input_proj", D, LATENT)
    shapes["model.encoder_img_feat_input_proj.weight"] = (D, 512, 1, 1)
    shapes["model.encoder_img_feat_input_proj.bias"] = (D,)
    shapes["model.encoder_1d_feature_pos_embed.weight"] = (2, D)
    shapes["model.decoder_pos_embed.weight"] = (CHUNK, D)
    linear("model.action_head", action_dim, D)
    # the VAE encoder (training only)
    shapes["model.vae_encoder_cls_embed.weight"] = (1, D)
    linear("model.vae_encoder_robot_state_input_proj", D, S)
    linear("model.vae_encoder_action_input_proj", D, action_dim)
    linear("model.vae_encoder_latent_output_proj", 2 * LATENT, D)
    shapes["model.vae_encoder_pos_enc"] = (1, CHUNK + 2, D)
    return shapes


def _weights(action_dim: int = ACTION_DIM, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights of a sensible scale (He for convolutions, 1/sqrt(fan_in) for linears)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in _shapes(action_dim).items():
        if key.endswith("running_var"):
            t = 1.0 + torch.rand(shape, generator=g)
        elif key.endswith("running_mean") or (".bn" in key or "downsample.1" in key) and key.endswith("bias"):
            t = 0.1 * torch.randn(shape, generator=g)
        elif ".bn" in key or "downsample.1" in key:  # batch-norm weights
            t = 0.3 + 0.4 * torch.rand(shape, generator=g)
        elif ".norm" in key:  # LayerNorms
            t = (1.0 if key.endswith("weight") else 0.0) + 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 4:
            t = torch.randn(shape, generator=g) * math.sqrt(2.0 / (shape[1] * shape[2] * shape[3]))
        elif len(shape) >= 2 and key.endswith("weight") and "embed" not in key:
            t = torch.randn(shape, generator=g) / math.sqrt(shape[-1])
        else:
            t = 0.5 * torch.randn(shape, generator=g)
        out[key] = t.float().contiguous()
    return out


def _stats(action_dim: int = ACTION_DIM, seed: int = 1) -> dict[str, dict[str, torch.Tensor]]:
    """Dataset stats as lerobot keeps them: every feature, every stat; images ImageNet's (3, 1, 1)."""
    g = torch.Generator().manual_seed(seed)

    def vector(n):
        mean, std = torch.randn(n, generator=g), 0.1 + torch.rand(n, generator=g)
        return {"mean": mean, "std": std, "min": mean - 2 * std, "max": mean + 3 * std,
                "count": torch.tensor([1000])}

    image = {"mean": torch.tensor(IMAGENET[0]).reshape(3, 1, 1), "std": torch.tensor(IMAGENET[1]).reshape(3, 1, 1),
             "min": torch.zeros(3, 1, 1), "max": torch.ones(3, 1, 1), "count": torch.tensor([1000])}
    return {"observation.state": vector(S), CAMERA: image, "action": vector(action_dim),
            "timestamp": {"mean": torch.tensor([5.0]), "std": torch.tensor([3.0])}}


def _write_sidecar(d, names=STATE_NAMES):
    (d / "forma.json").write_text(json.dumps({"state_names": list(names), "step_s": 0.1}))


def write_v03(d, weights, stats, config, sidecar=True):
    """lerobot <= 0.3: the stats are buffers of normalize_inputs / normalize_targets / unnormalize_outputs."""
    d.mkdir(parents=True, exist_ok=True)
    tensors = dict(weights)
    mapping = config["normalization_mapping"]
    for module, features in (("normalize_inputs", config["input_features"]),
                             ("normalize_targets", config["output_features"]),
                             ("unnormalize_outputs", config["output_features"])):
        for key, feature in features.items():
            mode = mapping[feature["type"]]
            names = {"MEAN_STD": ("mean", "std"), "MIN_MAX": ("min", "max")}.get(mode, ())
            for name in names:
                tensors[f"{module}.buffer_{key.replace('.', '_')}.{name}"] = stats[key][name].float().clone()
    save_file(tensors, str(d / "model.safetensors"))
    (d / "config.json").write_text(json.dumps(config, indent=4))
    if sidecar:
        _write_sidecar(d)
    return d


def write_v04(d, weights, stats, config):
    """lerobot >= 0.4: model.* only in model.safetensors; the stats in the processors' state files."""
    d.mkdir(parents=True, exist_ok=True)
    save_file(dict(weights), str(d / "model.safetensors"))
    (d / "config.json").write_text(json.dumps(config, indent=4))
    flat = {f"{key}.{name}": t for key, sub in stats.items() for name, t in sub.items()}
    features = {**config["input_features"], **config["output_features"]}
    device = {"registry_name": "device_processor", "config": {"device": "cpu", "float_dtype": None}}
    pre_state, post_state = ("policy_preprocessor_step_3_normalizer_processor.safetensors",
                             "policy_postprocessor_step_0_unnormalizer_processor.safetensors")
    pre = {"name": "policy_preprocessor", "steps": [
        {"registry_name": "rename_observations_processor", "config": {"rename_map": {}}},
        {"registry_name": "to_batch_processor", "config": {}},
        device,
        {"registry_name": "normalizer_processor", "state_file": pre_state,
         "config": {"eps": 1e-8, "features": features, "norm_map": config["normalization_mapping"]}}]}
    post = {"name": "policy_postprocessor", "steps": [
        {"registry_name": "unnormalizer_processor", "state_file": post_state,
         "config": {"eps": 1e-8, "features": config["output_features"], "norm_map": config["normalization_mapping"]}},
        device]}
    (d / "policy_preprocessor.json").write_text(json.dumps(pre, indent=2))
    (d / "policy_postprocessor.json").write_text(json.dumps(post, indent=2))
    save_file(flat, str(d / pre_state))
    save_file(flat, str(d / post_state))
    _write_sidecar(d)
    return d


def write_oldest(d, weights, stats):
    """lerobot before 2025 (and before July 2024's rename of the 1-D position embedding)."""
    renamed = {("model.encoder_robot_and_latent_pos_embed.weight" if k == "model.encoder_1d_feature_pos_embed.weight"
                else k): v for k, v in weights.items()}
    config = {k: v for k, v in _config().items() if k not in ("type", "input_features", "output_features",
                                                               "normalization_mapping", "device", "use_amp")}
    config |= {"input_shapes": {CAMERA: list(IMAGE_CHW), "observation.state": [S]},
               "output_shapes": {"action": [ACTION_DIM]},
               "input_normalization_modes": {CAMERA: "mean_std", "observation.state": "mean_std"},
               "output_normalization_modes": {"action": "mean_std"}}
    write_v03(d, renamed, stats, _config())  # the same buffers
    (d / "config.json").write_text(json.dumps(config))
    return d


@pytest.fixture(scope="module")
def tiny():
    return _weights(), _stats()


@pytest.fixture(scope="module")
def v03_dir(tiny, tmp_path_factory):
    return write_v03(tmp_path_factory.mktemp("act") / "v03", *tiny, _config())


def _observation(seed: int = 0) -> Observation:
    rng = np.random.default_rng(seed)
    return Observation(stamp_s=1.0, image_rgb=rng.integers(0, 256, (120, 160, 3), dtype=np.uint8),
                       state=rng.normal(0, 0.5, S), instruction=rng.normal(size=INSTRUCTION_DIM))


# --- an independent re-computation: ACT's forward pass from the raw weights, in float64 ------------------------
def _reference_chunk(w, stats, obs, action_mode="MEAN_STD"):
    import cv2

    w = {k: v.double() for k, v in w.items()}
    f = torch.nn.functional

    def bn(x, p):
        scale = w[f"{p}.weight"] / torch.sqrt(w[f"{p}.running_var"] + 1e-5)
        return (x - w[f"{p}.running_mean"][:, None, None]) * scale[:, None, None] + w[f"{p}.bias"][:, None, None]

    def layer_norm(x, p):
        mu, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-5) * w[f"{p}.weight"] + w[f"{p}.bias"]

    def attend(q, k, v, p):  # (L, D) each, one batch element
        wq, wk, wv = w[f"{p}.in_proj_weight"].chunk(3)
        bq, bk, bv = w[f"{p}.in_proj_bias"].chunk(3)
        heads = [(x @ m.T + b).reshape(len(x), HEADS, D // HEADS).transpose(0, 1)
                 for x, m, b in ((q, wq, bq), (k, wk, bk), (v, wv, bv))]
        scores = heads[0] @ heads[1].transpose(1, 2) / math.sqrt(D // HEADS)
        out = (torch.softmax(scores, -1) @ heads[2]).transpose(0, 1).reshape(len(q), D)
        return out @ w[f"{p}.out_proj.weight"].T + w[f"{p}.out_proj.bias"]

    def linear(x, p):
        return x @ w[f"{p}.weight"].T + w[f"{p}.bias"]

    def ffn(x, p):
        return linear(torch.relu(linear(x, f"{p}.linear1")), f"{p}.linear2")

    b = "model.backbone"
    image = cv2.resize(obs.image_rgb, (IMAGE_CHW[2], IMAGE_CHW[1]), interpolation=cv2.INTER_AREA) / 255.0
    mean, std = (np.array(v)[:, None, None] for v in IMAGENET)
    x = torch.from_numpy((image.transpose(2, 0, 1) - mean) / (std + 1e-8))[None]
    x = f.max_pool2d(torch.relu(bn(f.conv2d(x, w[f"{b}.conv1.weight"], stride=2, padding=3), f"{b}.bn1")), 3, 2, 1)
    for i in range(1, 5):
        for k in range(2):
            p, stride = f"{b}.layer{i}.{k}", 2 if i > 1 and k == 0 else 1
            y = torch.relu(bn(f.conv2d(x, w[f"{p}.conv1.weight"], stride=stride, padding=1), f"{p}.bn1"))
            y = bn(f.conv2d(y, w[f"{p}.conv2.weight"], padding=1), f"{p}.bn2")
            skip = bn(f.conv2d(x, w[f"{p}.downsample.0.weight"], stride=2), f"{p}.downsample.1") if stride == 2 else x
            x = torch.relu(y + skip)
    _, _, h, wd = x.shape
    features = f.conv2d(x, w["model.encoder_img_feat_input_proj.weight"], w["model.encoder_img_feat_input_proj.bias"])
    image_tokens = features[0].reshape(D, h * wd).T  # row by row

    # the 2D sine embedding, one entry at a time
    half = D // 2
    pos_image = torch.zeros(h * wd, D, dtype=torch.float64)
    for r in range(h):
        for c in range(wd):
            for ch in range(half):
                wavelength = 10000 ** (2 * (ch // 2) / half)
                for offset, coord, n in ((0, r + 1, h), (half, c + 1, wd)):
                    angle = coord / (n + 1e-6) * 2 * math.pi / wavelength
                    pos_image[r * wd + c, offset + ch] = math.sin(angle) if ch % 2 == 0 else math.cos(angle)

    s = stats["observation.state"]
    state = (torch.from_numpy(obs.state) - s["mean"].double()) / (s["std"].double() + 1e-8)
    tokens = torch.cat([w["model.encoder_latent_input_proj.bias"][None],  # a zero latent: the bias
                        linear(state[None], "model.encoder_robot_state_input_proj"), image_tokens])
    pos = torch.cat([w["model.encoder_1d_feature_pos_embed.weight"], pos_image])
    p = "model.encoder.layers.0"
    x = layer_norm(tokens + attend(tokens + pos, tokens + pos, tokens, f"{p}.self_attn"), f"{p}.norm1")
    memory = layer_norm(x + ffn(x, p), f"{p}.norm2")
    p, dpos = "model.decoder.layers.0", w["model.decoder_pos_embed.weight"]
    y = torch.zeros(CHUNK, D, dtype=torch.float64)
    y = layer_norm(y + attend(y + dpos, y + dpos, y, f"{p}.self_attn"), f"{p}.norm1")
    y = layer_norm(y + attend(y + dpos, memory + pos, memory, f"{p}.multihead_attn"), f"{p}.norm2")
    y = layer_norm(y + ffn(y, p), f"{p}.norm3")
    y = layer_norm(y, "model.decoder.norm")
    normalized = linear(y, "model.action_head").numpy()
    a = {k: v.double().numpy() for k, v in stats["action"].items()}
    if action_mode == "MIN_MAX":
        return (normalized + 1) / 2 * (a["max"] - a["min"]) + a["min"]
    return normalized * a["std"] + a["mean"]


# --- the tests ---------------------------------------------------------------------------------------------------
def test_the_signature_says_what_the_node_feeds_and_reads(v03_dir):
    policy = LeRobotActPolicy(v03_dir)
    sig = policy.signature
    assert policy.runtime == "lerobot-act" and policy.path == v03_dir
    assert sig.state_names == STATE_NAMES and sig.step_s == 0.1 and sig.image_size == (96, 64)
    np.testing.assert_array_equal(sig.state_norm.normalize(np.arange(S, dtype=float)), np.arange(S))
    np.testing.assert_array_equal(sig.action_norm.denormalize(np.ones(ACTION_DIM)), np.ones(ACTION_DIM))
    assert policy.infer(_observation()).shape == (ACTION_STEPS, ACTION_DIM)  # what lerobot plays of a chunk
    from forma_vla.torch_policy import load_policy

    assert load_policy(v03_dir).runtime == "lerobot-act"  # what the vla node's model_path does with a directory


def test_every_layout_answers_the_same_chunk(tiny, v03_dir, tmp_path):
    obs = _observation()
    chunk = LeRobotActPolicy(v03_dir).infer(obs)
    for other in (write_v04(tmp_path / "v04", *tiny, _config()), write_oldest(tmp_path / "oldest", *tiny)):
        np.testing.assert_array_equal(LeRobotActPolicy(other).infer(obs), chunk)


@pytest.mark.parametrize("action_mode", ["MEAN_STD", "MIN_MAX"])
@pytest.mark.parametrize("layout", ["v03", "v04"])
def test_the_chunk_is_acts_forward_pass_unnormalised(tiny, tmp_path, layout, action_mode):
    weights, stats = tiny
    write = write_v03 if layout == "v03" else write_v04
    policy = LeRobotActPolicy(write(tmp_path / layout, weights, stats, _config(action_mode=action_mode)))
    for seed in (0, 1):
        obs = _observation(seed)
        expected = _reference_chunk(weights, stats, obs, action_mode)[:ACTION_STEPS]
        np.testing.assert_allclose(policy.infer(obs), expected, rtol=1e-4, atol=1e-4)


def test_the_chunk_follows_the_state_and_the_image(v03_dir):
    policy = LeRobotActPolicy(v03_dir)
    obs = _observation(0)
    chunk = policy.infer(obs)
    other_state = Observation(obs.stamp_s, obs.image_rgb, obs.state + 0.5, obs.instruction)
    other_image = Observation(obs.stamp_s, 255 - obs.image_rgb, obs.state, obs.instruction)
    other_words = Observation(obs.stamp_s, obs.image_rgb, obs.state, -obs.instruction)
    assert np.abs(policy.infer(other_state) - chunk).max() > 1e-3
    assert np.abs(policy.infer(other_image) - chunk).max() > 1e-3
    np.testing.assert_array_equal(policy.infer(other_words), chunk)  # ACT reads no instruction


def test_the_image_embedding_is_acts_sine_grid():
    pos = image_position_embedding(2, 3, 8)[0]  # (8, 2, 3): rows in channels 0..3, columns in 4..7
    assert pos.shape == (8, 2, 3)
    np.testing.assert_allclose(pos[0, 1, 0], math.sin(2 / (2 + 1e-6) * 2 * math.pi), atol=1e-6)
    np.testing.assert_allclose(pos[1, 0, 2], math.cos(1 / (2 + 1e-6) * 2 * math.pi), atol=1e-6)
    np.testing.assert_allclose(pos[6, 0, 2], math.sin(3 / (3 + 1e-6) * 2 * math.pi / 100), atol=1e-6)
    np.testing.assert_allclose(pos[4, 1, 1], math.sin(2 / (3 + 1e-6) * 2 * math.pi), atol=1e-6)


def _drop(key):
    def edit(weights, config):
        del weights[key]
    return edit


def _reshape(key, shape):
    def edit(weights, config):
        weights[key] = torch.zeros(shape)
    return edit


def _no_sidecar(d):
    (d / "forma.json").unlink()


@pytest.mark.parametrize(
    ("action_dim", "edit", "after", "reasons"),
    [
        (7, None, None, ["config.json", "action has shape [7]", "33"]),
        (ACTION_DIM, _drop("model.decoder.layers.0.multihead_attn.in_proj_weight"), None,
         ["model.safetensors", "no model.decoder.layers.0.multihead_attn.in_proj_weight", "[96, 32]"]),
        (ACTION_DIM, _reshape("model.encoder_robot_state_input_proj.weight", (D, S + 1)), None,
         ["model.safetensors", "model.encoder_robot_state_input_proj.weight", "[32, 6]", "[32, 5]"]),
        (ACTION_DIM, _reshape("model.encoder.layers.1.linear1.weight", (FF, D)), None,
         ["model.safetensors", "model.encoder.layers.1.linear1.weight", "no place"]),
        (ACTION_DIM, None, _no_sidecar, ["forma.json", "no such file", "state_names", "step_s"]),
    ],
)
def test_a_checkpoint_that_cannot_serve_forma_is_refused(tiny, tmp_path, action_dim, edit, after, reasons):
    weights = dict(tiny[0]) if action_dim == ACTION_DIM else _weights(action_dim)
    stats = tiny[1] if action_dim == ACTION_DIM else _stats(action_dim)
    config = _config(action_dim)
    if edit:
        edit(weights, config)
    d = write_v03(tmp_path / "act", weights, stats, config)
    if after:
        after(d)
    with pytest.raises(PolicyLoadError) as exc:
        LeRobotActPolicy(d)
    for reason in reasons:
        assert reason in str(exc.value)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "diffusion"}, "a 'diffusion' policy"),
        ({"input_features": {**_config()["input_features"], "observation.images.wrist": {
            "type": "VISUAL", "shape": list(IMAGE_CHW)}}}, "reads 2 cameras"),
        ({"input_features": {**_config()["input_features"], "observation.environment_state": {
            "type": "ENV", "shape": [4]}}}, "environment state"),
        ({"replace_final_stride_with_dilation": True}, "dilated"),
        ({"n_heads": 0}, "'n_heads' is 0"),
    ],
)
def test_a_config_this_runtime_cannot_run_is_refused(tmp_path, change, reason):
    (tmp_path / "config.json").write_text(json.dumps(_config() | change))
    _write_sidecar(tmp_path)
    with pytest.raises(PolicyLoadError, match=reason):
        LeRobotActPolicy(tmp_path)


def test_missing_or_unusable_stats_are_refused(tiny, tmp_path):
    weights, stats = tiny
    d = write_v04(tmp_path / "act", weights, stats, _config())
    bad = {f"{k}.{n}": t for k, sub in stats.items() for n, t in sub.items() if f"{k}.{n}" != "action.std"}
    save_file(bad, str(d / "policy_postprocessor_step_0_unnormalizer_processor.safetensors"))
    with pytest.raises(PolicyLoadError, match=r"unnormalizer_processor.safetensors: action.std missing"):
        LeRobotActPolicy(d)
    d = write_v03(tmp_path / "v03", weights, {**stats, "observation.state": {
        "mean": torch.full((S,), math.inf), "std": torch.ones(S)}}, _config())
    with pytest.raises(PolicyLoadError, match=r"buffer_observation_state.mean is not finite"):
        LeRobotActPolicy(d)


def test_a_sidecar_that_does_not_fit_the_state_is_refused(v03_dir, tmp_path):
    d = tmp_path / "act"
    d.mkdir()
    for name in ("config.json", "model.safetensors"):
        (d / name).symlink_to(v03_dir / name)
    _write_sidecar(d, STATE_NAMES[:-1])
    with pytest.raises(PolicyLoadError, match=r"4 state_names; the checkpoint's observation.state has 5"):
        LeRobotActPolicy(d)

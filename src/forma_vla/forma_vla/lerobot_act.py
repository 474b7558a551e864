"""LeRobot ACT checkpoints (Action Chunking Transformer, Zhao et al. 2023) run by plain torch on the
CPU, behind forma_vla's policy interface (the same as forma_vla.policy.OnnxPolicy's), so that a
policy trained with lerobot on Forma's dataset runs without lerobot installed.

A checkpoint is the directory lerobot saves (`pretrained_model/`):

| file | what |
|---|---|
| config.json | the ACT config: `"type": "act"` (lerobot >= 0.2), or the oldest dump with `input_shapes` |
| model.safetensors | the weights `model.*`; up to lerobot 0.3 also the normalisation stats (buffers |
|                   | `normalize_inputs.buffer_observation_state.mean`, `unnormalize_outputs.buffer_action.std`, ...) |
| policy_preprocessor.json, policy_postprocessor.json | lerobot >= 0.4: the stats live in the files their |
|                                                     | normalizer_processor / unnormalizer_processor steps name |
| forma.json | Forma's sidecar, written by hand: `{"state_names": [...], "step_s": 0.1, "skills": [...]}` |

forma.json says what a LeRobot checkpoint does not store: which joints `observation.state` holds,
in order (Forma reads them by name), and the time between the chunk's actions (1 / the dataset's
fps); `skills` is optional (forma_vla.policy). The checkpoint's `action` must be Forma's 33
(forma_vla.action_space) and its one camera is fed the head camera's RGB image, resized (area) to
the configured size. ACT is not language-conditioned: the observation's instruction embedding is
ignored. Normalisation is done here with lerobot's formulas and epsilons, so the signature's
normalizers are the identity.

Inference is ACT's eval forward pass: a zero latent (the VAE encoder's weights are not needed),
tokens [latent, state, image features] through the transformer encoder, the decoder's zero queries
cross-attending to them, the action head. The chunk answered is what lerobot plays from one
inference: the first `n_action_steps` actions, or the whole chunk when the checkpoint asks for
temporal ensembling (which then needs every action of it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib

import numpy as np
import torch
from torch import nn

from forma_vla.action_space import ACTION_DIM
from forma_vla.errors import PolicyLoadError
from forma_vla.policy import Normalizer, Observation, PolicySignature, check_observation, image_input

SIDECAR = "forma.json"
STATE_KEY = "observation.state"
ACTION_KEY = "action"
BN_EPS = 1e-5  # torchvision's FrozenBatchNorm2d
NORM_EPS = 1e-8  # lerobot's normalisation epsilon (the processor's `eps` when it says another)
BACKBONE_BLOCKS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}  # BasicBlock ResNets: 512 channels out
BACKBONE_CHANNELS = 512
DEFAULT_NORMALIZATION = {"VISUAL": "MEAN_STD", "STATE": "MEAN_STD", "ACTION": "MEAN_STD"}
STAT_NAMES = {"MEAN_STD": ("mean", "std"), "MIN_MAX": ("min", "max"), "QUANTILES": ("q01", "q99"),
              "QUANTILE10": ("q10", "q90")}
OLD_1D_POS_KEY = "model.encoder_robot_and_latent_pos_embed.weight"  # its name before July 2024
NEW_1D_POS_KEY = "model.encoder_1d_feature_pos_embed.weight"


# --- the checkpoint's config -------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ActConfig:
    """What inference needs from config.json (defaults: lerobot's ACTConfig)."""

    state_dim: int
    image_key: str
    image_shape: tuple[int, int, int]  # (3, H, W)
    action_dim: int
    modes: dict[str, str]  # feature key -> MEAN_STD | MIN_MAX | QUANTILES | QUANTILE10 | IDENTITY (config.json's)
    feature_types: dict[str, str]  # feature key -> STATE | VISUAL | ACTION
    chunk_size: int = 100
    n_action_steps: int = 100
    temporal_ensemble: bool = False
    vision_backbone: str = "resnet18"
    pre_norm: bool = False
    dim_model: int = 512
    n_heads: int = 8
    dim_feedforward: int = 3200
    activation: str = "relu"
    n_encoder_layers: int = 4
    n_decoder_layers: int = 1
    latent_dim: int = 32

    @property
    def horizon(self) -> int:
        """The actions of a chunk lerobot plays (all of them when temporally ensembled)."""
        return self.chunk_size if self.temporal_ensemble else self.n_action_steps


def read_config(path: pathlib.Path) -> ActConfig:
    """config.json -> ActConfig; PolicyLoadError names the file and what cannot be run."""
    if not path.is_file():
        raise PolicyLoadError(f"{path}: no such file (a LeRobot checkpoint directory holds config.json and "
                              "model.safetensors)")
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyLoadError(f"{path}: not readable as JSON: {exc}") from None
    if not isinstance(d, dict):
        raise PolicyLoadError(f"{path}: not a LeRobot policy config (a JSON object expected)")
    if "type" in d:
        if d["type"] != "act":
            raise PolicyLoadError(f"{path}: a {d['type']!r} policy; this runtime runs LeRobot ACT ('act')")
        features = {**_features(d, "input_features", path), **_features(d, "output_features", path)}
        # as draccus decodes it: a mapping given replaces the default whole (a type it omits is IDENTITY)
        mapping = d.get("normalization_mapping", DEFAULT_NORMALIZATION)
        if not isinstance(mapping, dict):
            raise PolicyLoadError(f"{path}: 'normalization_mapping' must map feature types to modes")
        modes = {key: str(mapping.get(kind, "IDENTITY")).upper() for key, (kind, _) in features.items()}
    elif "input_shapes" in d:  # lerobot before 2025-01-31: shapes and modes per key, the kind from the key
        features, modes = {}, {}
        for group in ("input", "output"):
            shapes = d.get(f"{group}_shapes") or {}
            given = d.get(f"{group}_normalization_modes") or {}
            for key, shape in shapes.items():
                if not isinstance(shape, list) or not all(isinstance(v, int) for v in shape):
                    raise PolicyLoadError(f"{path}: {group}_shapes[{key!r}] must be a list of sizes")
                features[key] = (_old_feature_kind(key), tuple(shape))
                modes[key] = str(given.get(key, "identity")).upper()
    else:
        raise PolicyLoadError(f"{path}: neither 'type' nor 'input_shapes': not a LeRobot policy config")

    action = features.get(ACTION_KEY)
    if action is None:
        raise PolicyLoadError(f"{path}: no 'action' output feature")
    if action[1] != (ACTION_DIM,):
        raise PolicyLoadError(
            f"{path}: the checkpoint's action has shape {list(action[1])}; Forma's action space has {ACTION_DIM} "
            f"numbers (forma_vla.action_space): train the ACT on a dataset of Forma's actions")
    env = [k for k, (kind, _) in features.items() if kind == "ENV"]
    if env:
        raise PolicyLoadError(f"{path}: the checkpoint reads {env[0]!r} (an environment state), "
                              "which Forma does not observe")
    state = features.get(STATE_KEY)
    if state is None or state[0] != "STATE" or len(state[1]) != 1 or state[1][0] < 1:
        raise PolicyLoadError(f"{path}: no {STATE_KEY!r} of shape [S]: lerobot's ACT needs the robot state")
    cameras = [k for k, (kind, _) in features.items() if kind == "VISUAL"]
    if len(cameras) != 1:
        raise PolicyLoadError(f"{path}: the checkpoint reads {len(cameras)} cameras ({', '.join(cameras) or 'none'}); "
                              "this runtime feeds exactly one, the head camera")
    image_shape = features[cameras[0]][1]
    if len(image_shape) != 3 or image_shape[0] != 3 or min(image_shape[1:]) < 8:
        raise PolicyLoadError(f"{path}: camera {cameras[0]!r} has shape {list(image_shape)}; [3, H, W] expected")

    def field(name, kind, default):
        value = d.get(name, default)
        if (value is None or not isinstance(value, kind) or isinstance(value, bool) != (kind is bool)
                or (kind is int and value < 1)):
            raise PolicyLoadError(f"{path}: {name!r} is {value!r}; a {'count >= 1' if kind is int else kind.__name__} "
                                  "expected")
        return value

    config = ActConfig(
        state_dim=state[1][0], image_key=cameras[0], image_shape=image_shape, action_dim=ACTION_DIM, modes=modes,
        feature_types={k: kind for k, (kind, _) in features.items()},
        chunk_size=field("chunk_size", int, 100), n_action_steps=field("n_action_steps", int, 100),
        temporal_ensemble=d.get("temporal_ensemble_coeff") is not None,
        vision_backbone=field("vision_backbone", str, "resnet18"), pre_norm=field("pre_norm", bool, False),
        dim_model=field("dim_model", int, 512), n_heads=field("n_heads", int, 8),
        dim_feedforward=field("dim_feedforward", int, 3200),
        activation=field("feedforward_activation", str, "relu"),
        n_encoder_layers=field("n_encoder_layers", int, 4), n_decoder_layers=field("n_decoder_layers", int, 1),
        latent_dim=field("latent_dim", int, 32),
    )
    problems = []
    if field("n_obs_steps", int, 1) != 1:
        problems.append("n_obs_steps must be 1")
    if config.vision_backbone not in BACKBONE_BLOCKS:
        problems.append(f"vision_backbone {config.vision_backbone!r} (this runtime has {', '.join(BACKBONE_BLOCKS)})")
    if d.get("replace_final_stride_with_dilation"):
        problems.append("replace_final_stride_with_dilation (a dilated ResNet)")
    if config.activation not in ("relu", "gelu"):
        problems.append(f"feedforward_activation {config.activation!r} (relu or gelu)")
    if config.dim_model % config.n_heads or config.dim_model % 4:
        problems.append(f"dim_model {config.dim_model} (a multiple of 4 and of n_heads {config.n_heads})")
    if not 1 <= config.n_action_steps <= config.chunk_size:
        problems.append(f"n_action_steps {config.n_action_steps} (1..chunk_size {config.chunk_size})")
    if problems:
        raise PolicyLoadError(f"{path}: this runtime cannot run: {'; '.join(problems)}")
    return config


def _features(d: dict, name: str, path: pathlib.Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    out = {}
    for key, f in (d.get(name) or {}).items():
        ok = isinstance(f, dict) and "type" in f and isinstance(f.get("shape"), list)
        if not ok or not all(isinstance(v, int) for v in f["shape"]):
            raise PolicyLoadError(f"{path}: {name}[{key!r}] needs 'type' and 'shape' (a list of sizes)")
        out[key] = (str(f["type"]).upper(), tuple(f["shape"]))
    return out


def _old_feature_kind(key: str) -> str:
    """The feature's kind as lerobot before 2025 told it: from its key alone."""
    if key == STATE_KEY:
        return "STATE"
    if key == "observation.environment_state":
        return "ENV"
    if key.startswith("observation.image"):
        return "VISUAL"
    return "ACTION" if key == ACTION_KEY else "OTHER"


# --- the sidecar ----------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Sidecar:
    state_names: tuple[str, ...]
    step_s: float
    skills: tuple[str, ...] = ()


def read_sidecar(path: pathlib.Path, state_dim: int) -> Sidecar:
    """forma.json: the state's joint names and the step, which a LeRobot checkpoint does not store."""
    example = f'{{"state_names": [... {state_dim} joint names, in observation.state\'s order ...], "step_s": 0.1}}'
    if not path.is_file():
        raise PolicyLoadError(
            f"{path}: no such file. A LeRobot checkpoint does not store which joints observation.state holds "
            f"nor the time between actions: write {SIDECAR} beside config.json, {example} (step_s = 1 / fps)")
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyLoadError(f"{path}: not readable as JSON: {exc}") from None
    names = d.get("state_names") if isinstance(d, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise PolicyLoadError(f"{path}: needs 'state_names', a list of joint names: {example}")
    if len(names) != state_dim:
        raise PolicyLoadError(f"{path}: {len(names)} state_names; the checkpoint's observation.state has {state_dim}")
    if len(set(names)) != len(names):
        raise PolicyLoadError(f"{path}: state_names has a name twice")
    step_s = d.get("step_s")
    if isinstance(step_s, bool) or not isinstance(step_s, int | float) or not 0.001 <= step_s <= 1.0:
        raise PolicyLoadError(f"{path}: 'step_s' {step_s!r}: the time between actions, 0.001..1 s (1 / fps)")
    skills = d.get("skills", [])
    if not isinstance(skills, list) or not all(isinstance(k, str) for k in skills):
        raise PolicyLoadError(f"{path}: 'skills' must be a list of skill names")
    return Sidecar(tuple(names), float(step_s), tuple(skills))


# --- normalisation -----------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FeatureNorm:
    """One feature's (un)normalisation as lerobot does it. `low`/`high` are mean/std, min/max or the
    quantiles; `legacy`: lerobot <= 0.3's min-max formula (eps added to the range, not replacing a zero one)."""

    mode: str
    low: torch.Tensor | None = None
    high: torch.Tensor | None = None
    eps: float = NORM_EPS
    legacy: bool = False

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "IDENTITY":
            return x
        if self.mode == "MEAN_STD":
            return (x - self.low) / (self.high + self.eps)
        if self.legacy:
            return (x - self.low) / (self.high - self.low + self.eps) * 2 - 1
        return 2 * (x - self.low) / self._span() - 1

    def unnormalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "IDENTITY":
            return x
        if self.mode == "MEAN_STD":
            return x * self.high + self.low
        span = self.high - self.low if self.legacy else self._span()
        return (x + 1) / 2 * span + self.low

    def _span(self) -> torch.Tensor:
        span = self.high - self.low
        return torch.where(span == 0, torch.full_like(span, self.eps), span)


def read_normalization(directory: pathlib.Path, config: ActConfig,
                       weights: dict[str, torch.Tensor]) -> dict[str, FeatureNorm]:
    """The state's, the camera's and the action's normalisation, from the processor files (lerobot
    >= 0.4) or else from the buffers in model.safetensors (lerobot <= 0.3)."""
    pre = _processor_file(directory, "policy_preprocessor")
    post = _processor_file(directory, "policy_postprocessor")
    if pre is not None or post is not None:
        if pre is None or post is None:
            found = (pre or post).name
            raise PolicyLoadError(f"{directory}: has {found} but not its pre/postprocessor counterpart")
        return {**_processor_norms(pre, "normalizer_processor", (STATE_KEY, config.image_key), config),
                **_processor_norms(post, "unnormalizer_processor", (ACTION_KEY,), config)}
    where = directory / "model.safetensors"
    norms = {}
    for key, module in ((STATE_KEY, "normalize_inputs"), (config.image_key, "normalize_inputs"),
                        (ACTION_KEY, "unnormalize_outputs")):
        prefix = f"{module}.buffer_{key.replace('.', '_')}"  # lerobot's buffer name; "." -> "_" is ambiguous both ways
        stats = {k.removeprefix(prefix + "."): v for k, v in weights.items() if k.startswith(prefix + ".")}
        norms[key] = _feature_norm(key, config.modes.get(key, "IDENTITY"), stats, NORM_EPS, True, config,
                                   f"{where}: {prefix}")
    return norms


def _processor_file(directory: pathlib.Path, name: str) -> pathlib.Path | None:
    exact = directory / f"{name}.json"
    if exact.is_file():
        return exact
    found = sorted(directory.glob(f"{name}*.json"))
    if len(found) > 1:
        raise PolicyLoadError(f"{directory}: several {name} files ({', '.join(p.name for p in found)}); keep one")
    return found[0] if found else None


def _processor_norms(path: pathlib.Path, registry_name: str, keys: tuple[str, ...],
                     config: ActConfig) -> dict[str, FeatureNorm]:
    """The stats of a processor pipeline's (un)normalizer step, as lerobot >= 0.4 saves it."""
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyLoadError(f"{path}: not readable as JSON: {exc}") from None
    if not isinstance(d, dict):
        raise PolicyLoadError(f"{path}: not a lerobot processor pipeline (a JSON object with 'steps' expected)")
    steps = [s for s in (d.get("steps") or []) if isinstance(s, dict) and s.get("registry_name") == registry_name]
    if len(steps) != 1:
        raise PolicyLoadError(f"{path}: {len(steps)} {registry_name!r} steps; one expected")
    step = steps[0]
    conf = step.get("config") or {}
    eps = float(conf.get("eps", NORM_EPS))
    features = conf.get("features") or {}
    norm_map = {str(k).upper(): str(v).upper() for k, v in (conf.get("norm_map") or {}).items()}
    only = conf.get("normalize_observation_keys")
    stats: dict[str, dict[str, torch.Tensor]] = {}
    where = str(path)
    if step.get("state_file"):
        stats_path = path.parent / step["state_file"]
        where = str(stats_path)
        for flat, tensor in _load_safetensors(stats_path).items():
            key, _, stat = flat.rpartition(".")
            stats.setdefault(key, {})[stat] = tensor
    norms = {}
    for key in keys:
        # as lerobot: a feature the step does not list, or leaves out by name, passes unchanged
        listed = key in features and (only is None or key == ACTION_KEY or key in only)
        kind = str((features.get(key) or {}).get("type", "")).upper()
        mode = norm_map.get(kind, "IDENTITY") if listed else "IDENTITY"
        norms[key] = _feature_norm(key, mode, stats.get(key, {}), eps, False, config, f"{where}: {key}")
    return norms


def _feature_norm(key: str, mode: str, stats: dict[str, torch.Tensor], eps: float, legacy: bool,
                  config: ActConfig, where: str) -> FeatureNorm:
    """The FeatureNorm of `mode` from its stats, checked; PolicyLoadError names the stat and the shapes."""
    if mode == "IDENTITY":
        return FeatureNorm("IDENTITY")
    if mode not in STAT_NAMES:
        raise PolicyLoadError(f"{where}: normalisation mode {mode!r} of {key!r} is not one lerobot's ACT uses")
    visual = config.feature_types.get(key) == "VISUAL"
    n = 3 if visual else config.state_dim if key == STATE_KEY else config.action_dim
    shape = (n, 1, 1) if visual else (n,)
    values = []
    for name in STAT_NAMES[mode]:
        if name not in stats:
            raise PolicyLoadError(f"{where}.{name} missing: {key!r} is normalised {mode}, which needs "
                                  f"{' and '.join(STAT_NAMES[mode])} (have: {', '.join(sorted(stats)) or 'nothing'})")
        t = stats[name].to(torch.float32)
        if t.numel() != n or (t.ndim != 1 and tuple(t.shape) != shape):
            raise PolicyLoadError(f"{where}.{name} has shape {list(t.shape)}; {list(shape)} expected")
        if not torch.all(torch.isfinite(t)):
            raise PolicyLoadError(f"{where}.{name} is not finite (stats never filled in?)")
        values.append(t.reshape(shape))
    return FeatureNorm(mode, values[0], values[1], eps, legacy)


# --- the network -------------------------------------------------------------------------------------------
class FrozenBatchNorm2d(nn.Module):
    """Batch norm with fixed statistics, as ACT's backbone has it: the buffers are its state-dict keys
    (no num_batches_tracked) and nothing in it can drift."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("weight", torch.ones(channels))
        self.register_buffer("bias", torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight * (self.running_var + BN_EPS).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


class BasicBlock(nn.Module):
    """ResNet-18/34's residual block; a block that changes the width or strides projects its skip."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = FrozenBatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = FrozenBatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                            FrozenBatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNetTrunk(nn.Module):
    """A ResNet up to layer4 (no pooling, no classifier): the (B, 512, H/32, W/32) feature map."""

    def __init__(self, blocks: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = FrozenBatchNorm2d(64)
        c_in = 64
        for i, (n, width) in enumerate(zip(blocks, (64, 128, 256, 512), strict=True), start=1):
            stride = 1 if i == 1 else 2
            layer = [BasicBlock(c_in, width, stride)] + [BasicBlock(width, width, 1) for _ in range(n - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*layer))
            c_in = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, stride=2, padding=1)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def image_position_embedding(height: int, width: int, dim_model: int) -> torch.Tensor:
    """ACT's fixed 2D sinusoidal embedding of a (height, width) feature map, (1, dim_model, H, W):
    the first half of the channels encode the row, the second the column; positions are 1-based
    and scaled to (0, 2 pi], the channels alternate sin, cos (float32, in lerobot's order of operations)."""
    half = dim_model // 2
    rows = torch.arange(1, height + 1, dtype=torch.float32)
    cols = torch.arange(1, width + 1, dtype=torch.float32)
    rows = rows / (rows[-1:] + 1e-6) * (2 * math.pi)
    cols = cols / (cols[-1:] + 1e-6) * (2 * math.pi)
    channel = torch.arange(half, dtype=torch.float32)
    wavelength = 10000 ** (2 * torch.div(channel, 2, rounding_mode="floor") / half)

    def waves(angles: torch.Tensor) -> torch.Tensor:  # (H, W) -> (H, W, half)
        phase = angles[..., None] / wavelength
        out = torch.empty_like(phase)
        out[..., 0::2] = phase[..., 0::2].sin()
        out[..., 1::2] = phase[..., 1::2].cos()
        return out

    grid_rows = rows[:, None].expand(height, width)
    grid_cols = cols[None, :].expand(height, width)
    return torch.cat([waves(grid_rows), waves(grid_cols)], dim=-1).permute(2, 0, 1)[None]


class EncoderLayer(nn.Module):
    """Self-attention and a feed-forward block; the position embedding goes on queries and keys only."""

    def __init__(self, c: ActConfig) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(c.dim_model, c.n_heads)
        self.linear1 = nn.Linear(c.dim_model, c.dim_feedforward)
        self.linear2 = nn.Linear(c.dim_feedforward, c.dim_model)
        self.norm1 = nn.LayerNorm(c.dim_model)
        self.norm2 = nn.LayerNorm(c.dim_model)
        self.activation = _activation(c.activation)
        self.pre_norm = c.pre_norm

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        # need_weights left at its default (as lerobot): the explicit softmax path, not SDPA's rounding
        if self.pre_norm:
            h = self.norm1(x)
            x = x + self.self_attn(h + pos, h + pos, h)[0]
            return x + self.linear2(self.activation(self.linear1(self.norm2(x))))
        x = self.norm1(x + self.self_attn(x + pos, x + pos, x)[0])
        return self.norm2(x + self.linear2(self.activation(self.linear1(x))))


class DecoderLayer(nn.Module):
    """Self-attention over the chunk's queries, cross-attention to the encoder, a feed-forward block."""

    def __init__(self, c: ActConfig) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(c.dim_model, c.n_heads)
        self.multihead_attn = nn.MultiheadAttention(c.dim_model, c.n_heads)
        self.linear1 = nn.Linear(c.dim_model, c.dim_feedforward)
        self.linear2 = nn.Linear(c.dim_feedforward, c.dim_model)
        self.norm1 = nn.LayerNorm(c.dim_model)
        self.norm2 = nn.LayerNorm(c.dim_model)
        self.norm3 = nn.LayerNorm(c.dim_model)
        self.activation = _activation(c.activation)
        self.pre_norm = c.pre_norm

    def forward(self, x: torch.Tensor, memory: torch.Tensor, pos: torch.Tensor, memory_pos: torch.Tensor):
        keys = memory + memory_pos
        if self.pre_norm:
            h = self.norm1(x)
            x = x + self.self_attn(h + pos, h + pos, h)[0]
            h = self.norm2(x)
            x = x + self.multihead_attn(h + pos, keys, memory)[0]
            return x + self.linear2(self.activation(self.linear1(self.norm3(x))))
        x = self.norm1(x + self.self_attn(x + pos, x + pos, x)[0])
        x = self.norm2(x + self.multihead_attn(x + pos, keys, memory)[0])
        return self.norm3(x + self.linear2(self.activation(self.linear1(x))))


class Encoder(nn.Module):
    def __init__(self, c: ActConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList([EncoderLayer(c) for _ in range(c.n_encoder_layers)])
        self.norm = nn.LayerNorm(c.dim_model) if c.pre_norm else nn.Identity()  # keys only when pre-norm

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, pos)
        return self.norm(x)


class Decoder(nn.Module):
    def __init__(self, c: ActConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c.n_decoder_layers)])
        self.norm = nn.LayerNorm(c.dim_model)  # always, pre- or post-norm

    def forward(self, x: torch.Tensor, memory: torch.Tensor, pos: torch.Tensor, memory_pos: torch.Tensor):
        for layer in self.layers:
            x = layer(x, memory, pos, memory_pos)
        return self.norm(x)


class ActModel(nn.Module):
    """ACT at inference; its attribute names are lerobot's, so its state dict is the checkpoint's
    `model.*` minus the VAE encoder."""

    def __init__(self, c: ActConfig) -> None:
        super().__init__()
        self.config = c
        self.backbone = ResNetTrunk(BACKBONE_BLOCKS[c.vision_backbone])
        self.encoder = Encoder(c)
        self.decoder = Decoder(c)
        self.encoder_robot_state_input_proj = nn.Linear(c.state_dim, c.dim_model)
        self.encoder_latent_input_proj = nn.Linear(c.latent_dim, c.dim_model)
        self.encoder_img_feat_input_proj = nn.Conv2d(BACKBONE_CHANNELS, c.dim_model, 1)
        self.encoder_1d_feature_pos_embed = nn.Embedding(2, c.dim_model)  # rows: latent, state
        self.decoder_pos_embed = nn.Embedding(c.chunk_size, c.dim_model)
        self.action_head = nn.Linear(c.dim_model, c.action_dim)

    def forward(self, image: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Normalised image (B, 3, H, W) and state (B, S) -> normalised actions (B, chunk_size, A).
        Everything is sequence-first (tokens, B, D), as lerobot's attention is."""
        c, batch = self.config, image.shape[0]
        latent = torch.zeros(batch, c.latent_dim)  # the VAE's prior mean: no sampling at inference
        tokens_1d = torch.stack([self.encoder_latent_input_proj(latent), self.encoder_robot_state_input_proj(state)])
        pos_1d = self.encoder_1d_feature_pos_embed.weight[:, None, :]
        features = self.backbone(image)
        pos_image = image_position_embedding(features.shape[2], features.shape[3], c.dim_model)
        features = self.encoder_img_feat_input_proj(features)
        tokens = torch.cat([tokens_1d, features.flatten(2).permute(2, 0, 1)])  # image tokens row by row
        pos = torch.cat([pos_1d, pos_image.flatten(2).permute(2, 0, 1)])
        memory = self.encoder(tokens, pos)
        queries = torch.zeros(c.chunk_size, batch, c.dim_model)
        out = self.decoder(queries, memory, self.decoder_pos_embed.weight[:, None, :], pos)
        return self.action_head(out.transpose(0, 1))


def _activation(name: str):
    return torch.relu if name == "relu" else nn.functional.gelu


def build_model(config: ActConfig, weights: dict[str, torch.Tensor], where: pathlib.Path) -> ActModel:
    """ActModel with the checkpoint's weights: every key inference needs, with its shape; VAE-encoder
    keys are ignored, any other `model.*` key the config does not account for is refused."""
    with torch.device("meta"):  # no random init to throw away: every tensor comes from the file
        model = ActModel(config)
    if OLD_1D_POS_KEY in weights and NEW_1D_POS_KEY not in weights:
        weights = {NEW_1D_POS_KEY if k == OLD_1D_POS_KEY else k: v for k, v in weights.items()}
    state = {}
    for name, want in model.state_dict().items():
        key = f"model.{name}"
        if key not in weights:
            raise PolicyLoadError(f"{where}: no {key} (shape {list(want.shape)}), which this config's ACT needs")
        got = weights[key]
        if got.shape != want.shape:
            raise PolicyLoadError(f"{where}: {key} has shape {list(got.shape)}; this config's ACT needs "
                                  f"{list(want.shape)} (config.json and the weights disagree)")
        state[name] = got.to(torch.float32)
    extra = sorted(k for k in weights if k.startswith("model.") and k.removeprefix("model.") not in state
                   and not k.startswith("model.vae_encoder") and not k.endswith(".num_batches_tracked"))
    if extra:
        raise PolicyLoadError(f"{where}: weights this config's ACT has no place for ({', '.join(extra[:3])}"
                              f"{', ...' if len(extra) > 3 else ''}): config.json and the weights disagree")
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def _load_safetensors(path: pathlib.Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise PolicyLoadError(f"{path}: no such file")
    try:
        return load_file(str(path), device="cpu")
    except (OSError, SafetensorError) as exc:
        raise PolicyLoadError(f"{path}: not a readable safetensors file: {exc}") from None


# --- the runtime --------------------------------------------------------------------------------------------
class LeRobotActPolicy:
    """A LeRobot ACT checkpoint directory (with forma.json beside it) as a Forma policy. The
    observation's instruction embedding is ignored: ACT is not language-conditioned."""

    runtime = "lerobot-act"

    def __init__(self, path: str | pathlib.Path, threads: int = 1) -> None:
        self.path = pathlib.Path(path)
        self.threads = threads
        if not self.path.is_dir():
            raise PolicyLoadError(f"{self.path}: not a directory (a LeRobot checkpoint is a directory with "
                                  "config.json and model.safetensors)")
        if (self.path / "model.safetensors.index.json").is_file():
            raise PolicyLoadError(f"{self.path}: sharded weights (model.safetensors.index.json); one file expected")
        self.config = read_config(self.path / "config.json")
        sidecar = read_sidecar(self.path / SIDECAR, self.config.state_dim)
        weights = _load_safetensors(self.path / "model.safetensors")
        self.norms = read_normalization(self.path, self.config, weights)
        self.model = build_model(self.config, weights, self.path / "model.safetensors")
        _, height, width = self.config.image_shape
        s = self.config.state_dim
        self.signature = PolicySignature(
            step_s=sidecar.step_s,
            image_size=(width, height),
            state_names=sidecar.state_names,
            state_norm=Normalizer(np.zeros(s), np.ones(s)),  # normalised in infer, with lerobot's formulas
            action_norm=Normalizer(np.zeros(ACTION_DIM), np.ones(ACTION_DIM)),
            skills=sidecar.skills,
        )

    def infer(self, obs: Observation) -> np.ndarray:
        """The chunk (T, 33) for one observation, in the action space's units (T: config.horizon)."""
        sig, c = self.signature, self.config
        check_observation(obs, sig)
        torch.set_num_threads(self.threads)
        with torch.inference_mode():
            image = self.norms[c.image_key].normalize(torch.from_numpy(image_input(obs.image_rgb, sig.image_size)))
            state = self.norms[STATE_KEY].normalize(torch.from_numpy(obs.state.astype(np.float32))[None])
            actions = self.norms[ACTION_KEY].unnormalize(self.model(image, state))
        return actions[0, : c.horizon].numpy().astype(float)

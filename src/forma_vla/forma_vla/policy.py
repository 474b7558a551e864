"""A policy model as the node runs it: its signature (what it reads, what it answers, how its numbers
are normalised), loaded with the model and checked against it before the first inference.

ONNX (the default runtime) — export your model with these inputs and outputs:

| name | type, shape | meaning |
|---|---|---|
| input `image` | float32 [1, 3, H, W] | the head camera's colour image, RGB in 0..1, resized to W x H |
| input `state` | float32 [1, S] | the joints named in `state_names` [rad], normalised (`x/velocity`: x's [rad/s]) |
| input `instruction` | float32 [1, E] | the instruction's sentence embedding (forma_face's MiniLM, E = 384) |
| output `actions` | float32 [1, T, 33] | a chunk of T actions (forma_vla.action_space), normalised |

and the signature as JSON in the model's metadata under the key `forma.policy`:

    {"format": 1, "step_s": 0.05, "image_size": [W, H], "state_names": [...],
     "action_names": [... the 33 of forma_vla.action_space ...],
     "normalization": {"state": {"mean": [...], "std": [...]}, "action": {"mean": [...], "std": [...]}},
     "instruction_encoder": "minilm", "skills": ["pick", "point", "wave"], "instruction_form": "parsed"}

`instruction_form` (optional, default "text"): "parsed" says the model was trained on the instruction
as forma_tasks' parser reads it, put one canonical way ("point at the green cup" for "would you aim
your finger at the green mug"; forma_vla.instructions), and is told it that way.
`skills` (optional) names what the model was trained for, in forma_tasks' words (pick, place,
hand_over, wave, point, look): the node refuses an instruction for any other skill, with the reason,
before the robot moves. Normalisation travels with the model: x_normalised = (x - mean) / std, std floored at 1e-6.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np

from forma_vla.action_space import ACTION_DIM, ACTION_NAMES
from forma_vla.errors import ObservationError, PolicyLoadError

SIGNATURE_KEY = "forma.policy"
SIGNATURE_FORMAT = 1
INSTRUCTION_DIM = 384  # forma_face.minilm: all-MiniLM-L6-v2 sentence embeddings
STD_FLOOR = 1e-6
INSTRUCTION_FORMS = ("text", "parsed")


@dataclasses.dataclass(frozen=True)
class Normalizer:
    mean: np.ndarray
    std: np.ndarray

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std

    def denormalize(self, x: np.ndarray) -> np.ndarray:
        return x * self.std + self.mean

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


@dataclasses.dataclass(frozen=True)
class PolicySignature:
    step_s: float  # [s] between the chunk's actions
    image_size: tuple[int, int]  # (width, height) the image is resized to
    state_names: tuple[str, ...]  # joints read into `state`, in order
    state_norm: Normalizer
    action_norm: Normalizer
    instruction_encoder: str = "minilm"
    skills: tuple[str, ...] = ()  # what it was trained for (forma_tasks' skill names); empty: not said
    instruction_form: str = "text"  # "text": the instruction's words; "parsed": forma_vla.instructions.canonical

    def to_json(self) -> str:
        return json.dumps(
            {
                **({"skills": list(self.skills)} if self.skills else {}),
                **({"instruction_form": self.instruction_form} if self.instruction_form != "text" else {}),
                "format": SIGNATURE_FORMAT,
                "step_s": self.step_s,
                "image_size": list(self.image_size),
                "state_names": list(self.state_names),
                "action_names": list(ACTION_NAMES),
                "normalization": {"state": self.state_norm.to_json(), "action": self.action_norm.to_json()},
                "instruction_encoder": self.instruction_encoder,
            }
        )

    @classmethod
    def from_json(cls, text: str, source: str) -> PolicySignature:
        """Parse and check a signature; PolicyLoadError names the file and the field."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyLoadError(f"{source}: {SIGNATURE_KEY} is not JSON: {exc}") from None

        def field(name, kind):
            if name not in d:
                raise PolicyLoadError(f"{source}: {SIGNATURE_KEY} has no {name!r}")
            if not isinstance(d[name], kind):
                raise PolicyLoadError(f"{source}: {SIGNATURE_KEY} {name!r} must be {kind.__name__}")
            return d[name]

        if d.get("format") != SIGNATURE_FORMAT:
            raise PolicyLoadError(
                f"{source}: signature format {d.get('format')!r}; this runtime reads {SIGNATURE_FORMAT}"
            )
        action_names = tuple(field("action_names", list))
        if action_names != ACTION_NAMES:
            raise PolicyLoadError(
                f"{source}: the model's actions are not forma_vla's {ACTION_DIM} "
                f"(first difference: {_first_difference(action_names, ACTION_NAMES)})"
            )
        step_s = float(field("step_s", (int, float)))
        if not 0.001 <= step_s <= 1.0:
            raise PolicyLoadError(f"{source}: step_s {step_s} outside 0.001..1 s")
        size = field("image_size", list)
        if len(size) != 2 or not all(isinstance(v, int) and 8 <= v <= 4096 for v in size):
            raise PolicyLoadError(f"{source}: image_size {size}: [width, height] in pixels, 8..4096")
        state_names = tuple(field("state_names", list))
        norms = field("normalization", dict)
        state_norm = _normalizer(norms.get("state"), len(state_names), f"{source}: normalization.state")
        action_norm = _normalizer(norms.get("action"), ACTION_DIM, f"{source}: normalization.action")
        encoder = d.get("instruction_encoder", "minilm")
        skills = d.get("skills", [])
        if not isinstance(skills, list) or not all(isinstance(k, str) for k in skills):
            raise PolicyLoadError(f"{source}: {SIGNATURE_KEY} 'skills' must be a list of skill names")
        form = d.get("instruction_form", "text")
        if form not in INSTRUCTION_FORMS:
            raise PolicyLoadError(f"{source}: {SIGNATURE_KEY} 'instruction_form' {form!r}: one of {INSTRUCTION_FORMS}")
        return cls(step_s, (size[0], size[1]), state_names, state_norm, action_norm, encoder, tuple(skills), form)


@dataclasses.dataclass(frozen=True)
class Observation:
    """What the policy reads at one instant."""

    stamp_s: float  # robot time of the camera image
    image_rgb: np.ndarray  # (h, w, 3) uint8
    state: np.ndarray  # (S,) in signature.state_names order [rad]
    instruction: np.ndarray  # (E,) embedding


VELOCITY_SUFFIX = "/velocity"


class StateReader:
    """The state vector a signature names (joint positions, and velocities for names ending in
    /velocity), read from joint arrays in some other order."""

    def __init__(self, state_names, joint_names) -> None:
        index = {n: i for i, n in enumerate(joint_names)}
        joints = [n.removesuffix(VELOCITY_SUFFIX) for n in state_names]
        missing = [n for n in joints if n not in index]
        if missing:
            raise ObservationError(f"the model reads {', '.join(missing[:3])}, which the joints do not have")
        self.position = [(k, index[j]) for k, (n, j) in enumerate(zip(state_names, joints, strict=True))
                         if not n.endswith(VELOCITY_SUFFIX)]
        self.velocity = [(k, index[j]) for k, (n, j) in enumerate(zip(state_names, joints, strict=True))
                         if n.endswith(VELOCITY_SUFFIX)]
        self.size = len(state_names)

    def __call__(self, positions, velocities=None) -> np.ndarray:
        out = np.empty(self.size)
        if self.position:
            out[[k for k, _ in self.position]] = np.asarray(positions, float)[[i for _, i in self.position]]
        if self.velocity:
            if velocities is None or len(velocities) != len(positions):
                raise ObservationError("the model reads joint velocities; joint_states carries none")
            out[[k for k, _ in self.velocity]] = np.asarray(velocities, float)[[i for _, i in self.velocity]]
        return out


def check_observation(obs: Observation, signature: PolicySignature) -> None:
    """ObservationError with the reason for an observation that must not reach the policy."""
    img = obs.image_rgb
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or min(img.shape[:2]) < 8:
        raise ObservationError(f"image {img.shape} {img.dtype}: an RGB uint8 image is needed")
    if obs.state.shape != (len(signature.state_names),) or not np.all(np.isfinite(obs.state)):
        raise ObservationError(f"state {obs.state.shape}: {len(signature.state_names)} finite joint positions needed")
    if obs.instruction.shape != (INSTRUCTION_DIM,) or not np.all(np.isfinite(obs.instruction)):
        raise ObservationError(
            f"instruction embedding {obs.instruction.shape}: {INSTRUCTION_DIM} finite numbers needed"
        )


def resize_image(image_rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8 resized (area) to size = (W, H): how a model's images are made, in the
    demonstrations (forma_vla.collect) and at inference alike."""
    import cv2

    if (image_rgb.shape[1], image_rgb.shape[0]) == tuple(size):
        return image_rgb
    return cv2.resize(image_rgb, tuple(size), interpolation=cv2.INTER_AREA)


def image_input(image_rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8 -> (1, 3, H, W) float32 in 0..1, resized (area) to size = (W, H)."""
    return (resize_image(image_rgb, size).astype(np.float32) / 255.0).transpose(2, 0, 1)[None]


class OnnxPolicy:
    """A policy exported to ONNX with the signature above, run by ONNX Runtime on the CPU."""

    runtime = "onnx"

    def __init__(self, path: str | pathlib.Path, threads: int = 1) -> None:
        import onnxruntime as ort

        self.path = pathlib.Path(path)
        if not self.path.is_file():
            raise PolicyLoadError(f"{self.path}: no such model file")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for every kind of bad file
            raise PolicyLoadError(f"{self.path}: ONNX Runtime cannot load it: {exc}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if SIGNATURE_KEY not in meta:
            raise PolicyLoadError(f"{self.path}: no {SIGNATURE_KEY!r} in the model's metadata (see forma_vla.policy)")
        self.signature = PolicySignature.from_json(meta[SIGNATURE_KEY], str(self.path))
        self._check_io()

    def _check_io(self) -> None:
        sig = self.signature
        want = {
            "image": [1, 3, sig.image_size[1], sig.image_size[0]],
            "state": [1, len(sig.state_names)],
            "instruction": [1, INSTRUCTION_DIM],
        }
        got = {i.name: i.shape for i in self.session.get_inputs()}
        for name, shape in want.items():
            if name not in got:
                raise PolicyLoadError(f"{self.path}: no input {name!r} (inputs: {', '.join(got)})")
            if not _shape_fits(got[name], shape):
                raise PolicyLoadError(f"{self.path}: input {name!r} has shape {got[name]}; the signature says {shape}")
        extra = set(got) - set(want)
        if extra:
            raise PolicyLoadError(f"{self.path}: inputs {sorted(extra)} this runtime does not feed")
        outputs = {o.name: o.shape for o in self.session.get_outputs()}
        if "actions" not in outputs:
            raise PolicyLoadError(f"{self.path}: no output 'actions' (outputs: {', '.join(outputs)})")
        shape = outputs["actions"]
        if len(shape) != 3 or (isinstance(shape[2], int) and shape[2] != ACTION_DIM):
            raise PolicyLoadError(f"{self.path}: output 'actions' has shape {shape}; [1, T, {ACTION_DIM}] needed")

    def infer(self, obs: Observation) -> np.ndarray:
        """The chunk (T, 33) for one observation, in the action space's units."""
        sig = self.signature
        check_observation(obs, sig)
        feeds = {
            "image": image_input(obs.image_rgb, sig.image_size),
            "state": sig.state_norm.normalize(obs.state).astype(np.float32)[None],
            "instruction": obs.instruction.astype(np.float32)[None],
        }
        (actions,) = self.session.run(["actions"], feeds)
        actions = np.asarray(actions, float)
        if actions.ndim != 3 or actions.shape[0] != 1 or actions.shape[2] != ACTION_DIM or actions.shape[1] < 1:
            raise PolicyLoadError(f"{self.path}: answered actions of shape {actions.shape}")
        return sig.action_norm.denormalize(actions[0])


def _normalizer(d, n: int, where: str) -> Normalizer:
    if not isinstance(d, dict) or "mean" not in d or "std" not in d:
        raise PolicyLoadError(f"{where}: needs 'mean' and 'std'")
    mean, std = np.asarray(d["mean"], float), np.asarray(d["std"], float)
    if mean.shape != (n,) or std.shape != (n,):
        raise PolicyLoadError(f"{where}: mean {mean.shape} and std {std.shape}; {n} numbers each needed")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std >= 0)):
        raise PolicyLoadError(f"{where}: mean and std must be finite, std >= 0")
    return Normalizer(mean, np.maximum(std, STD_FLOOR))


def _shape_fits(shape, want) -> bool:
    """An ONNX shape (ints, or names for free dimensions) fits `want`."""
    return len(shape) == len(want) and all(not isinstance(a, int) or a == b for a, b in zip(shape, want, strict=True))


def _first_difference(a, b) -> str:
    for k, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"#{k} is {x!r}, expected {y!r}"
    return f"{len(a)} names, expected {len(b)}"

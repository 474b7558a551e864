"""The PyTorch runtime: a checkpoint `forma vla train` writes (policy.pt) run by torch on the CPU,
with the same signature and checks as the ONNX runtime (forma_vla.policy).

policy.pt is a dict: {"format": 1, "network": NetworkConfig as JSON, "state_dict": the weights,
"signature": the PolicySignature JSON}. It is loaded with torch.load(weights_only=True): a
checkpoint runs no code when it is read.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from forma_vla.action_space import ACTION_DIM
from forma_vla.errors import PolicyLoadError
from forma_vla.policy import SIGNATURE_KEY, Observation, PolicySignature, check_observation, image_input

CHECKPOINT_FORMAT = 1


class TorchPolicy:
    runtime = "pytorch"

    def __init__(self, net, signature: PolicySignature, source: str, threads: int = 1) -> None:
        import torch

        self.net, self.signature, self.path, self.threads = net, signature, pathlib.Path(source), threads
        self.net.eval()
        self._torch = torch

    @classmethod
    def load(cls, path: str | pathlib.Path, threads: int = 1) -> TorchPolicy:
        import torch

        from forma_vla.network import NetworkConfig, PolicyNetwork

        path = pathlib.Path(path)
        if not path.is_file():
            raise PolicyLoadError(f"{path}: no such model file")
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises pickle, zip and runtime errors for broken files
            raise PolicyLoadError(f"{path}: torch cannot load it: {exc}") from None
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise PolicyLoadError(f"{path}: not a forma_vla checkpoint (format {CHECKPOINT_FORMAT}; see train.py)")
        signature = PolicySignature.from_json(checkpoint.get("signature", ""), str(path))
        try:
            config = NetworkConfig.from_json(checkpoint["network"])
            net = PolicyNetwork(config)
            net.load_state_dict(checkpoint["state_dict"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise PolicyLoadError(f"{path}: its weights do not fit the network it names: {exc}") from None
        if config.state_dim != len(signature.state_names) or tuple(config.image_size) != signature.image_size:
            raise PolicyLoadError(f"{path}: network and signature disagree on the state or image size")
        return cls(net, signature, str(path), threads)

    def infer(self, obs: Observation) -> np.ndarray:
        """The chunk (T, 33) for one observation, in the action space's units."""
        torch, sig = self._torch, self.signature
        check_observation(obs, sig)
        torch.set_num_threads(self.threads)
        with torch.inference_mode():
            actions = self.net(
                torch.from_numpy(image_input(obs.image_rgb, sig.image_size)),
                torch.from_numpy(sig.state_norm.normalize(obs.state).astype(np.float32)[None]),
                torch.from_numpy(obs.instruction.astype(np.float32)[None]),
            ).numpy()
        if actions.shape[0] != 1 or actions.shape[2] != ACTION_DIM:
            raise PolicyLoadError(f"{self.path}: answered actions of shape {actions.shape}")
        return sig.action_norm.denormalize(actions[0].astype(float))


def load_policy(path: str | pathlib.Path, threads: int = 1):
    """The runtime a model asks for: .onnx -> ONNX Runtime, .pt -> PyTorch, a directory with a
    config.json -> a LeRobot ACT checkpoint (forma_vla.lerobot_act). A bare name (`forma_tabletop`)
    is a model forma_vla ships (share/forma_vla/models/<name>/policy.onnx)."""
    from forma_vla.policy import OnnxPolicy

    text = str(path)
    if text and "/" not in text and not pathlib.Path(text).suffix:
        shipped = shipped_model(text)
        if shipped is None:
            raise PolicyLoadError(f"{text!r}: no model of that name ships with forma_vla "
                                  f"(shipped: {', '.join(shipped_models()) or 'none'}); or give a file path")
        path = shipped
    if (pathlib.Path(path) / "config.json").is_file():
        from forma_vla.lerobot_act import LeRobotActPolicy

        return LeRobotActPolicy(path, threads)
    suffix = pathlib.Path(path).suffix
    if suffix == ".onnx":
        return OnnxPolicy(path, threads)
    if suffix == ".pt":
        return TorchPolicy.load(path, threads)
    raise PolicyLoadError(f"{path}: a policy is an .onnx (ONNX Runtime) or .pt (PyTorch, forma vla train) file, "
                          "or a LeRobot ACT checkpoint directory (config.json, model.safetensors, forma.json)")


def untrained_like(path: str | pathlib.Path, seed: int = 0) -> TorchPolicy | None:
    """The same network with freshly initialised weights and the model's signature (the baseline
    a trained policy must beat); None for a model that does not say which network it is."""
    import torch

    from forma_vla.network import NetworkConfig, PolicyNetwork

    path = pathlib.Path(path)
    if path.suffix == ".pt":
        trained = TorchPolicy.load(path)
        config, signature = trained.net.config, trained.signature
    else:
        import onnx

        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        if "forma.train" not in props or SIGNATURE_KEY not in props:
            return None
        config = NetworkConfig.from_json(json.loads(props["forma.train"])["network"])
        signature = PolicySignature.from_json(props[SIGNATURE_KEY], str(path))
    torch.manual_seed(seed)
    return TorchPolicy(PolicyNetwork(config), signature, f"untrained {path.name}")


DEFAULT_MODEL = "forma_tabletop"  # share/forma_vla/models/<name>/policy.onnx


def _models_dir() -> pathlib.Path | None:
    from forma_description.errors import DescriptionError
    from forma_description.paths import share_dir

    try:
        return share_dir("forma_vla") / "models"
    except DescriptionError:  # forma_vla is not installed (a source tree on PYTHONPATH)
        return None


def shipped_models() -> list[str]:
    models = _models_dir()
    return sorted(p.parent.name for p in models.glob("*/policy.onnx")) if models and models.is_dir() else []


def shipped_model(name: str = DEFAULT_MODEL) -> pathlib.Path | None:
    """A model forma_vla ships (trained by the project's scripts; its train.json and eval.json
    beside it), or None when this install carries none of that name."""
    models = _models_dir()
    path = models / name / "policy.onnx" if models else None
    return path if path is not None and path.is_file() else None

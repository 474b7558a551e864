"""`forma vla train --data DIR --out MODEL_DIR`: behaviour cloning of a LeRobot dataset of forma_vla's
features (what `forma vla collect` writes) into the project's policy network, on the CPU.

Each frame t of an episode teaches the chunk action[t + LEAD .. t + LEAD + T - 1] (the episode's
last action repeated past its end), from the frame's image, joints and instruction (its MiniLM
embedding). The labels are where the robot was (forma_vla.present); LEAD = 1 frame makes the
chunk's first action the pose a step ahead, which whole-body control then reaches in time, instead
of trailing the demonstration by its tracking lag. Images are shifted by up to 1 px at random (the
camera never sits exactly where it sat; more would blur where the cup is), the loss is L1 on
normalised actions, AdamW with a cosine schedule. Stops after --minutes of wall time or --steps,
whichever is first.

Writes to MODEL_DIR: policy.onnx (the signature and normalisation in its metadata: what the vla
node loads), policy.pt (the PyTorch checkpoint: forma_vla.torch_policy), train.json (the
configuration, the dataset's provenance, the losses).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
import time

import numpy as np

from forma_vla.action_space import within_limits
from forma_vla.dataset import DatasetError, LoadedDataset, load_all
from forma_vla.policy import SIGNATURE_KEY, VELOCITY_SUFFIX, Normalizer, PolicySignature

LEAD = 1  # frames the chunk's first action leads the observation
VALIDATE_EVERY = 500  # steps
SHIFT_PX = 1  # a pixel is ~1.3 cm on the table at 80x60: more would blur where the cup is


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    horizon: int = 10
    batch: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    minutes: float = 60.0
    steps: int = 0  # 0: as many as fit in `minutes`
    seed: int = 0
    threads: int = 2
    validation: float = 0.05  # the share of episodes held out to measure the loss on (0: none)
    instruction_noise: float = 0.01  # std of the noise on the unit-length instruction embedding
    instruction_form: str = "text"  # "parsed": trained on the parser's canonical instruction (forma_vla.instructions)


def chunk_targets(actions: np.ndarray, episode: np.ndarray, horizon: int, lead: int = LEAD) -> np.ndarray:
    """(N, T, 33): for every frame, the actions lead .. lead + T - 1 frames later in its episode,
    the episode's last action repeated past its end."""
    n = len(actions)
    out = np.empty((n, horizon, actions.shape[1]), np.float32)
    last = np.empty(n, int)  # the index of the last frame of each frame's episode
    ends = np.flatnonzero(np.append(episode[1:] != episode[:-1], True))
    start = 0
    for end in ends:
        last[start : end + 1] = end
        start = end + 1
    for k in range(horizon):
        index = np.minimum(np.arange(n) + lead + k, last)
        out[:, k] = actions[index]
    return out


def embed(texts: list[str]) -> np.ndarray:
    """MiniLM sentence embeddings (forma_face), as the vla node computes them."""
    from forma_face.minilm import MiniLM

    return np.asarray(MiniLM().encode(texts), np.float32)


def taught(texts: list[str], form: str) -> list[str]:
    """The instructions as the model is taught them: their words, or ("parsed") the parser's reading
    said the canonical way; DatasetError naming an instruction the parser cannot read."""
    if form == "text":
        return list(texts)
    if form != "parsed":
        raise ValueError(f"instruction form {form!r}: text or parsed")
    from forma_tasks.errors import TaskError
    from forma_tasks.tabletop import parser
    from forma_vla.instructions import canonical

    out = []
    for text in texts:
        try:
            out.append(canonical(parser().parse(text)))
        except TaskError as exc:
            raise DatasetError(f"instruction {text!r}: the parser cannot read it ({exc}); train with "
                               "--instruction-form text") from None
    return out


POSITION_STD_FLOOR = 0.05  # [rad]
VELOCITY_STD_FLOOR = 0.5  # [rad/s]


def normalizers(data: LoadedDataset) -> tuple[Normalizer, Normalizer]:
    """Mean and std of the states and actions. A joint the demonstrations barely moved (a palm arch
    with a std of 3 mrad) would turn the policy's own small motions into a state 30 std away,
    far outside what it learned from (measured: a first model dithered between skills): the
    states' std is floored at 0.05 rad and 0.5 rad/s."""
    velocity = np.array([n.endswith(VELOCITY_SUFFIX) for n in data.state_names])
    floor = np.where(velocity, VELOCITY_STD_FLOOR, POSITION_STD_FLOOR)
    return (Normalizer(data.states.mean(0).astype(float), np.maximum(data.states.std(0), floor).astype(float)),
            Normalizer(data.actions.mean(0).astype(float), np.maximum(data.actions.std(0), 1e-3).astype(float)))


def split_episodes(episodes: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """The episodes held out for validation: `share` of them (at least one when share > 0 and
    there are two or more), drawn by rng."""
    count = min(episodes - 1, max(1, round(episodes * share))) if share > 0 and episodes > 1 else 0
    return np.sort(rng.choice(episodes, count, replace=False))


def train(data_dir, out_dir: pathlib.Path | str, config: TrainConfig = TrainConfig(),
          progress=None) -> dict:
    """Train, export and write the model; returns the summary also written to train.json.
    `data_dir`: a dataset's directory, or a list of them (trained on as one)."""
    import torch

    from forma_vla.network import NetworkConfig, PolicyNetwork

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    rng = np.random.default_rng(config.seed)
    roots = [data_dir] if isinstance(data_dir, str | pathlib.Path) else list(data_dir)
    data = load_all(roots)
    # actions read from a robot may sit a little past the limits: a policy taught them would ask
    # for refused actions
    data.actions = np.asarray([within_limits(a) for a in data.actions], np.float32)
    state_norm, action_norm = normalizers(data)
    targets = action_norm.normalize(chunk_targets(data.actions, data.episode, config.horizon)).astype(np.float32)
    states = state_norm.normalize(data.states).astype(np.float32)
    instructions = embed(taught(data.tasks, config.instruction_form))[data.episode]
    step_s = 1.0 / data.fps
    net_config = NetworkConfig(state_dim=len(data.state_names), horizon=config.horizon, image_size=data.image_size)
    net = PolicyNetwork(net_config)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    images = torch.from_numpy(data.images).permute(0, 3, 1, 2)  # uint8 (N, 3, H, W)
    (width, height) = data.image_size
    held_out = split_episodes(len(data.tasks), config.validation, rng)
    validation = np.flatnonzero(np.isin(data.episode, held_out))
    training = np.flatnonzero(~np.isin(data.episode, held_out))
    n = len(training)

    def validation_loss() -> float | None:
        if not len(validation):
            return None
        was_training = net.training
        net.eval()
        with torch.no_grad():
            total = 0.0
            for part in np.array_split(validation, max(1, len(validation) // 256)):
                predicted = net(images[part].float() / 255.0, torch.from_numpy(states[part]),
                                torch.from_numpy(instructions[part]))
                total += float(torch.nn.functional.l1_loss(predicted, torch.from_numpy(targets[part]))) * len(part)
        net.train(was_training)
        return total / len(validation)

    validation_losses: list[tuple[int, float]] = []
    budget_s = config.minutes * 60.0
    t0 = time.perf_counter()
    losses: list[float] = []
    step = 0
    while True:
        elapsed = time.perf_counter() - t0
        if (config.steps and step >= config.steps) or (not config.steps and elapsed >= budget_s):
            break
        fraction = step / config.steps if config.steps else elapsed / budget_s
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate * 0.5 * (1.0 + np.cos(np.pi * min(fraction, 1.0)))
        batch = training[rng.integers(0, n, config.batch)]
        image = _shifted(images[batch], rng).float() / 255.0
        state = torch.from_numpy(states[batch] + rng.normal(0.0, 0.01, states[batch].shape).astype(np.float32))
        # phrasings the demonstrations never used land near theirs: noise keeps the policy from
        # keying on one embedding's exact numbers
        instruction = instructions[batch] + rng.normal(0.0, config.instruction_noise, instructions[batch].shape)
        predicted = net(image, state, torch.from_numpy(instruction.astype(np.float32)))
        loss = torch.nn.functional.l1_loss(predicted, torch.from_numpy(targets[batch]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        step += 1
        if step % VALIDATE_EVERY == 0 and len(validation):
            validation_losses.append((step, validation_loss()))
        if progress is not None and (step % 20 == 0 or step == 1):
            progress(step, elapsed, fraction, float(np.mean(losses[-100:])))
    minutes = (time.perf_counter() - t0) / 60.0
    net.eval()
    skills = tuple(data.provenance.get("skills", ()))  # forma vla collect says which; other datasets: unsaid
    signature = PolicySignature(step_s, (width, height), data.state_names, state_norm, action_norm, skills=skills,
                                instruction_form=config.instruction_form)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "train": dataclasses.asdict(config), "network": net_config.to_json(), "lead_frames": LEAD,
        "dataset": {"paths": [str(r) for r in roots], "episodes": len(data.tasks), "frames": len(data.actions),
                    "fps": data.fps, **data.provenance},
        "validation": {"episodes": len(held_out), "frames": len(validation), "loss": validation_loss(),
                       "curve": [[k, round(v, 5)] for k, v in validation_losses]},
        "steps": step, "minutes": round(minutes, 2), "final_loss": float(np.mean(losses[-100:])) if losses else None,
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    export_onnx(net, signature, out / "policy.onnx", summary)
    torch.save({"format": 1, "network": net_config.to_json(), "state_dict": net.state_dict(),
                "signature": signature.to_json()}, out / "policy.pt")
    (out / "train.json").write_text(json.dumps(summary, indent=1))
    return summary


def _shifted(images, rng: np.random.Generator):
    """Each image shifted by up to SHIFT_PX in x and y (edge pixels repeated)."""
    import torch

    b, _, h, w = images.shape
    padded = torch.nn.functional.pad(images.float(), (SHIFT_PX,) * 4, mode="replicate").to(torch.uint8)
    dx, dy = rng.integers(0, 2 * SHIFT_PX + 1, (2, b))
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(b)])


def export_onnx(net, signature: PolicySignature, path: pathlib.Path, summary: dict) -> None:
    """The network as the ONNX policy the vla node loads, the signature in its metadata."""
    import onnx
    import torch

    width, height = signature.image_size
    example = (torch.zeros(1, 3, height, width), torch.zeros(1, len(signature.state_names)),
               torch.zeros(1, 384))
    torch.onnx.export(net, example, str(path), input_names=["image", "state", "instruction"],
                      output_names=["actions"], dynamo=False, opset_version=17)
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, {SIGNATURE_KEY: signature.to_json(), "forma.train": json.dumps(summary)})
    onnx.save(model, str(path))


def main_train(args) -> int:
    config = TrainConfig(horizon=args.horizon, batch=args.batch, learning_rate=args.lr, minutes=args.minutes,
                         steps=args.steps, seed=args.seed, threads=args.threads, validation=args.validation,
                         instruction_form=args.instruction_form)
    summary = train(args.data, args.out, config, progress=_progress_bar(config))
    print(file=sys.stderr)
    print(f"trained {summary['steps']} steps in {summary['minutes']:.1f} min on {summary['dataset']['frames']} frames "
          f"({summary['dataset']['episodes']} episodes); final loss {summary['final_loss']:.4f}"
          + (f", validation {summary['validation']['loss']:.4f} on {summary['validation']['episodes']} episodes"
             if summary["validation"]["loss"] is not None else "") + f"; wrote {args.out}")
    return 0


def _progress_bar(config: TrainConfig):
    def show(step: int, elapsed_s: float, fraction: float, loss: float) -> None:
        done = int(30 * min(fraction, 1.0))
        left = elapsed_s / max(fraction, 1e-6) - elapsed_s
        sys.stderr.write(f"\r[{'#' * done}{'.' * (30 - done)}] step {step} loss {loss:.4f} "
                         f"{elapsed_s / 60:.1f} min, ~{left / 60:.1f} min left ")
        sys.stderr.flush()

    return show


def add_arguments(p) -> None:
    p.add_argument("--data", required=True, nargs="+",
                   help="LeRobot dataset directories (forma vla collect --out), trained on as one")
    p.add_argument("--validation", type=float, default=0.05, help="share of episodes held out to measure the loss")
    p.add_argument("--instruction-form", choices=("parsed", "text"), default="parsed",
                   help="parsed: taught (and told at run time) the instruction as forma_tasks' parser reads it, "
                        "said one way; text: its words as they are")
    p.add_argument("--out", required=True, help="directory for policy.onnx, policy.pt, train.json")
    p.add_argument("--minutes", type=float, default=60.0, help="wall-clock budget")
    p.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: fill the budget)")
    p.add_argument("--horizon", type=int, default=10, help="actions per chunk")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="CPU threads (torch)")

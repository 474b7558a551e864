"""Demonstrations on disk in the LeRobot dataset format (v2.1), written and read without lerobot
(its pins conflict here), so LeRobot's tools and other people's training code read what
`forma vla collect` writes, and `forma vla train` reads LeRobot datasets of the same features.

    DIR/meta/info.json              codebase_version v2.1, fps, features (dtype, shape, names), paths
    DIR/meta/tasks.jsonl            {"task_index", "task"}: the instructions, one per line
    DIR/meta/episodes.jsonl         {"episode_index", "tasks", "length"}
    DIR/meta/episodes_stats.jsonl   {"episode_index", "stats": {feature: {min, max, mean, std, count}}}
    DIR/meta/forma.json             how it was made: seeds, commit, appearance and outcome per episode
    DIR/data/chunk-000/episode_000000.parquet
        observation.image   struct {bytes: PNG, path}   the head camera, resized to the dataset's size
        observation.state   list<float32>[S]            joint positions [rad], names in info.json
        action              list<float32>[33]           forma_vla.action_space, at this frame
        timestamp (float32, s), frame_index, episode_index, index, task_index (int64)

`action` at frame t is the action the robot was at (forma_vla.present); a policy learns the chunk
action[t+1 .. t+T] from observation t.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import cv2
import numpy as np

from forma_vla.action_space import ACTION_DIM, ACTION_NAMES
from forma_vla.errors import DatasetError

CODEBASE_VERSION = "v2.1"
CHUNK_SIZE = 1000
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
IMAGE_KEY, STATE_KEY, ACTION_KEY = "observation.image", "observation.state", "action"


@dataclasses.dataclass
class Episode:
    """One demonstration in memory."""

    task: str
    images: list[np.ndarray]  # (H, W, 3) uint8 RGB
    states: list[np.ndarray]  # (S,)
    actions: list[np.ndarray]  # (33,)
    info: dict = dataclasses.field(default_factory=dict)  # provenance kept in meta/forma.json

    def __len__(self) -> int:
        return len(self.actions)


class DatasetWriter:
    """Writes episodes one by one (each episode's parquet is complete when add() returns: a crash
    loses at most the episode being recorded); finish() writes the metadata."""

    def __init__(self, root: pathlib.Path | str, fps: float, image_size: tuple[int, int],
                 state_names: tuple[str, ...], robot_type: str = "forma_iron", provenance: dict | None = None):
        import pyarrow  # noqa: F401  (fail here, before any episode is recorded, if it is missing)

        self.root = pathlib.Path(root)
        if (self.root / "meta" / "info.json").exists():
            raise DatasetError(f"{self.root} already holds a dataset; choose another directory or remove it")
        self.fps, self.image_size, self.state_names = fps, tuple(image_size), tuple(state_names)
        self.robot_type, self.provenance = robot_type, dict(provenance or {})
        self.tasks: dict[str, int] = {}
        self.episodes: list[dict] = []
        self.stats: list[dict] = []
        self.kept: list[dict] = []
        self.frames = 0

    def add(self, episode: Episode) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        n = len(episode)
        if n == 0 or not (len(episode.images) == len(episode.states) == n):
            raise DatasetError(f"episode {len(self.episodes)}: {n} actions, {len(episode.images)} images, "
                               f"{len(episode.states)} states; they must be as many and not none")
        width, height = self.image_size
        for image in episode.images:
            if image.shape != (height, width, 3) or image.dtype != np.uint8:
                raise DatasetError(f"image {image.shape} {image.dtype}; the dataset's are ({height}, {width}, 3) uint8")
        states = np.asarray(episode.states, np.float32)
        actions = np.asarray(episode.actions, np.float32)
        if states.shape[1] != len(self.state_names) or actions.shape[1] != ACTION_DIM:
            raise DatasetError(f"states {states.shape}, actions {actions.shape}: "
                               f"{len(self.state_names)} and {ACTION_DIM} per frame expected")
        if not (np.all(np.isfinite(states)) and np.all(np.isfinite(actions))):
            raise DatasetError("a state or action is not finite: the episode is not written")
        index = len(self.episodes)
        task_index = self.tasks.setdefault(episode.task, len(self.tasks))
        pngs = [cv2.imencode(".png", img[:, :, ::-1])[1].tobytes() for img in episode.images]
        table = pa.table({
            IMAGE_KEY: pa.array([{"bytes": b, "path": None} for b in pngs],
                                pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            STATE_KEY: pa.array(list(states), pa.list_(pa.float32(), len(self.state_names))),
            ACTION_KEY: pa.array(list(actions), pa.list_(pa.float32(), ACTION_DIM)),
            "timestamp": pa.array(np.arange(n, dtype=np.float32) / np.float32(self.fps), pa.float32()),
            "frame_index": pa.array(np.arange(n), pa.int64()),
            "episode_index": pa.array(np.full(n, index), pa.int64()),
            "index": pa.array(self.frames + np.arange(n), pa.int64()),
            "task_index": pa.array(np.full(n, task_index), pa.int64()),
        })
        path = self.root / DATA_PATH.format(episode_chunk=index // CHUNK_SIZE, episode_index=index)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".parquet.partial")
        pq.write_table(table, partial)
        partial.rename(path)
        self.episodes.append({"episode_index": index, "tasks": [episode.task], "length": n})
        images = np.asarray(episode.images, np.float32) / 255.0
        self.stats.append({"episode_index": index, "stats": {
            IMAGE_KEY: _image_stats(images), STATE_KEY: _stats(states), ACTION_KEY: _stats(actions),
        }})
        self.kept.append({"episode_index": index, **episode.info})
        self.frames += n
        self._write_meta()

    def _write_meta(self) -> None:
        meta = self.root / "meta"
        meta.mkdir(parents=True, exist_ok=True)
        width, height = self.image_size
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": len(self.episodes),
            "total_frames": self.frames,
            "total_tasks": len(self.tasks),
            "total_videos": 0,
            "total_chunks": (len(self.episodes) - 1) // CHUNK_SIZE + 1,
            "chunks_size": CHUNK_SIZE,
            "fps": self.fps,
            "splits": {"train": f"0:{len(self.episodes)}"},
            "data_path": DATA_PATH,
            "video_path": None,
            "features": {
                IMAGE_KEY: {"dtype": "image", "shape": [height, width, 3], "names": ["height", "width", "channels"]},
                STATE_KEY: {"dtype": "float32", "shape": [len(self.state_names)], "names": list(self.state_names)},
                ACTION_KEY: {"dtype": "float32", "shape": [ACTION_DIM], "names": list(ACTION_NAMES)},
                "timestamp": {"dtype": "float32", "shape": [1], "names": None},
                "frame_index": {"dtype": "int64", "shape": [1], "names": None},
                "episode_index": {"dtype": "int64", "shape": [1], "names": None},
                "index": {"dtype": "int64", "shape": [1], "names": None},
                "task_index": {"dtype": "int64", "shape": [1], "names": None},
            },
        }
        _write_atomic(meta / "info.json", json.dumps(info, indent=2))
        _write_atomic(meta / "tasks.jsonl", "".join(
            json.dumps({"task_index": i, "task": t}) + "\n" for t, i in self.tasks.items()))
        _write_atomic(meta / "episodes.jsonl", "".join(json.dumps(e) + "\n" for e in self.episodes))
        _write_atomic(meta / "episodes_stats.jsonl", "".join(json.dumps(s) + "\n" for s in self.stats))
        _write_atomic(meta / "forma.json", json.dumps({**self.provenance, "episodes": self.kept}, indent=1))


def _stats(x: np.ndarray) -> dict:
    return {"min": x.min(0).tolist(), "max": x.max(0).tolist(), "mean": x.mean(0).tolist(),
            "std": x.std(0).tolist(), "count": [len(x)]}


def _image_stats(images: np.ndarray) -> dict:
    """Per channel, shaped (3, 1, 1) as LeRobot keeps image statistics."""
    flat = images.reshape(-1, 3)
    return {k: np.asarray(v).reshape(3, 1, 1).tolist() if k != "count" else v for k, v in _stats(flat).items()}


def _write_atomic(path: pathlib.Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


@dataclasses.dataclass
class LoadedDataset:
    """A whole dataset in memory, for training."""

    fps: float
    state_names: tuple[str, ...]
    images: np.ndarray  # (N, H, W, 3) uint8
    states: np.ndarray  # (N, S) float32
    actions: np.ndarray  # (N, 33) float32
    episode: np.ndarray  # (N,) episode index of each frame
    tasks: list[str]  # the instruction of each episode, by episode index
    info: dict
    provenance: dict  # meta/forma.json without its per-episode list ({} for other datasets)

    @property
    def image_size(self) -> tuple[int, int]:
        return self.images.shape[2], self.images.shape[1]


def load(root: pathlib.Path | str, image_key: str = IMAGE_KEY) -> LoadedDataset:
    """Read a LeRobot v2.x dataset with an image feature, a state and forma_vla's 33 actions;
    DatasetError with what is missing or does not match."""
    import pyarrow.parquet as pq

    root = pathlib.Path(root)
    try:
        info = json.loads((root / "meta" / "info.json").read_text())
        episodes = [json.loads(line) for line in (root / "meta" / "episodes.jsonl").read_text().splitlines() if line]
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{root}: not a LeRobot dataset ({exc})") from None
    if not str(info.get("codebase_version", "")).startswith("v2"):
        raise DatasetError(f"{root}: codebase_version {info.get('codebase_version')!r}; this reader reads v2.x")
    features = info.get("features", {})
    for key in (image_key, STATE_KEY, ACTION_KEY):
        if key not in features:
            raise DatasetError(f"{root}: no feature {key!r} (it has {', '.join(features)})")
    if tuple(features[ACTION_KEY].get("names") or ()) != ACTION_NAMES:
        raise DatasetError(f"{root}: its actions are not forma_vla's {ACTION_DIM} (forma_vla.action_space)")
    if features[image_key].get("dtype") != "image":
        dtype = features[image_key].get("dtype")
        raise DatasetError(f"{root}: {image_key} is {dtype!r}; this reader reads images stored in the parquet")
    images, states, actions, episode_of, tasks = [], [], [], [], []
    for ep in sorted(episodes, key=lambda e: e["episode_index"]):
        index = ep["episode_index"]
        path = root / info["data_path"].format(episode_chunk=index // info.get("chunks_size", CHUNK_SIZE),
                                               episode_index=index)
        table = pq.read_table(path, columns=[image_key, STATE_KEY, ACTION_KEY])
        for cell in table.column(image_key).to_pylist():
            image = cv2.imdecode(np.frombuffer(cell["bytes"], np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                raise DatasetError(f"{path}: an image does not decode")
            images.append(image[:, :, ::-1])
        states.append(np.asarray(table.column(STATE_KEY).to_pylist(), np.float32))
        actions.append(np.asarray(table.column(ACTION_KEY).to_pylist(), np.float32))
        episode_of.append(np.full(table.num_rows, len(tasks)))
        tasks.append(ep["tasks"][0])
    if not tasks:
        raise DatasetError(f"{root}: no episodes")
    made = root / "meta" / "forma.json"
    provenance = {k: v for k, v in json.loads(made.read_text()).items() if k != "episodes"} if made.is_file() else {}
    return LoadedDataset(float(info["fps"]), tuple(features[STATE_KEY]["names"]), np.asarray(images, np.uint8),
                         np.concatenate(states), np.concatenate(actions), np.concatenate(episode_of), tasks, info,
                         provenance)


def load_all(roots) -> LoadedDataset:
    """Several datasets as one (e.g. collected in parallel on seed ranges); DatasetError if their
    frame rates, image sizes or states differ."""
    parts = [load(root) for root in roots]
    if not parts:
        raise DatasetError("no dataset given")
    first = parts[0]
    for root, part in zip(roots, parts, strict=True):
        if (part.fps, part.state_names, part.image_size) != (first.fps, first.state_names, first.image_size):
            raise DatasetError(f"{root}: its fps, image size or state names differ from {roots[0]}'s")
    offsets = np.cumsum([0] + [len(p.tasks) for p in parts[:-1]])
    provenance = dict(first.provenance)
    seeds = [p.provenance.get("seeds") for p in parts]
    if all(seeds):
        provenance["seeds"] = [[int(a), int(b)] for a, b in seeds] if len(parts) > 1 else seeds[0]
    return LoadedDataset(first.fps, first.state_names, np.concatenate([p.images for p in parts]),
                         np.concatenate([p.states for p in parts]), np.concatenate([p.actions for p in parts]),
                         np.concatenate([p.episode + off for p, off in zip(parts, offsets, strict=True)]),
                         [t for p in parts for t in p.tasks], first.info, provenance)

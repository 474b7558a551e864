"""Behaviour cloning on the CPU: the chunk each frame teaches (its episode's next actions, the last
one held past the end, never the next episode's), a network that learns what the image and the
instruction say (a toy that ignored either would fail), and the model written twice — ONNX for the
vla node, PyTorch for the PyTorch runtime — answering the same chunk."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forma_vla.action_space import ACTION_DIM
from forma_vla.dataset import DatasetError, DatasetWriter, Episode, load_all
from forma_vla.errors import PolicyLoadError
from forma_vla.policy import Observation
from forma_vla.train import TrainConfig, chunk_targets, split_episodes, train

STATE = ("waist_yaw", "neck_pitch")
SIZE = (32, 24)
RED, BLUE = (220, 30, 30), (30, 30, 220)


def test_each_frame_learns_its_own_episodes_next_actions():
    actions = np.arange(7, dtype=np.float32)[:, None].repeat(2, 1)  # frame k's action is k
    episode = np.array([0, 0, 0, 0, 1, 1, 1])
    chunks = chunk_targets(actions, episode, horizon=3, lead=1)
    assert chunks[0, :, 0].tolist() == [1, 2, 3]
    assert chunks[2, :, 0].tolist() == [3, 3, 3]  # the episode's last action held
    assert chunks[3, :, 0].tolist() == [3, 3, 3]  # never frame 4: another episode
    assert chunks[4, :, 0].tolist() == [5, 6, 6]


def test_validation_holds_out_whole_episodes_and_never_all():
    rng = np.random.default_rng(0)
    held = split_episodes(100, 0.05, rng)
    assert len(held) == 5 and len(set(held.tolist())) == 5
    assert len(split_episodes(8, 0.05, rng)) == 1  # at least one
    assert len(split_episodes(1, 0.5, rng)) == 0  # never the only episode
    assert len(split_episodes(50, 0.0, rng)) == 0


def test_datasets_collected_apart_train_as_one(tmp_path):
    _toy_dataset(tmp_path / "a")
    _toy_dataset(tmp_path / "b", episodes=3)
    both = load_all([tmp_path / "a", tmp_path / "b"])
    assert len(both.tasks) == 11 and len(both.actions) == 11 * 6
    assert both.episode.tolist() == [k for k in range(11) for _ in range(6)]  # episodes renumbered, in order
    DatasetWriter(tmp_path / "c", 10.0, (16, 12), STATE).add(
        Episode("wave", [np.zeros((12, 16, 3), np.uint8)], [np.zeros(2)], [np.zeros(ACTION_DIM)]))
    with pytest.raises(DatasetError, match="differ"):
        load_all([tmp_path / "a", tmp_path / "c"])


def _toy_dataset(root, episodes: int = 8):
    """The palm's x follows the image's colour (red +, blue -), its y follows the instruction."""
    rng = np.random.default_rng(0)
    writer = DatasetWriter(root, 10.0, SIZE, STATE)
    for k in range(episodes):
        colour, task = (RED, BLUE)[k % 2], ("wave your hand", "point at the cup")[(k // 2) % 2]
        n = 6
        images = [np.full((SIZE[1], SIZE[0], 3), colour, np.uint8) for _ in range(n)]
        action = np.zeros(ACTION_DIM)
        action[0] = 0.2 if colour == RED else -0.2
        action[1] = 0.3 if task == "wave your hand" else -0.3
        writer.add(Episode(task, images, [rng.normal(size=2) * 0.01 for _ in range(n)], [action] * n))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("vla")
    _toy_dataset(root / "data")
    summary = train(root / "data", root / "model", TrainConfig(horizon=4, batch=16, steps=250, threads=1))
    return root / "model", summary


def test_the_trained_policy_follows_the_image_and_the_instruction(model):
    from forma_face.minilm import MiniLM
    from forma_vla.torch_policy import load_policy

    path, summary = model
    assert summary["steps"] == 250 and summary["dataset"]["episodes"] == 8
    assert summary["validation"]["episodes"] == 1 and summary["validation"]["loss"] < 0.5  # normalised L1
    policy = load_policy(path / "policy.onnx")
    encoder = MiniLM()
    for colour, x in ((RED, 0.2), (BLUE, -0.2)):
        for task, y in (("wave your hand", 0.3), ("point at the cup", -0.3)):
            image = np.full((SIZE[1], SIZE[0], 3), colour, np.uint8)
            chunk = policy.infer(Observation(0.0, image, np.zeros(2), encoder.encode([task])[0]))
            assert chunk.shape == (4, ACTION_DIM)
            assert abs(chunk[0, 0] - x) < 0.08 and abs(chunk[0, 1] - y) < 0.08, (colour, task, chunk[0, :2])


def test_onnx_and_pytorch_runtimes_answer_the_same_chunk(model):
    from forma_vla.torch_policy import TorchPolicy, load_policy, untrained_like

    path, _ = model
    onnx_policy, torch_policy = load_policy(path / "policy.onnx"), load_policy(path / "policy.pt")
    assert isinstance(torch_policy, TorchPolicy) and onnx_policy.signature.to_json() == torch_policy.signature.to_json()
    rng = np.random.default_rng(3)
    obs = Observation(0.0, rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), rng.normal(size=2), rng.normal(size=384))
    np.testing.assert_allclose(onnx_policy.infer(obs), torch_policy.infer(obs), atol=1e-4)
    meta = json.loads((path / "train.json").read_text())
    assert meta["network"]["horizon"] == 4 and meta["lead_frames"] == 1
    baseline = untrained_like(path / "policy.onnx")
    assert np.abs(baseline.infer(obs) - torch_policy.infer(obs)).max() > 0.01


def test_files_that_are_not_policies_are_refused(tmp_path, model):
    from forma_vla.torch_policy import load_policy

    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PolicyLoadError, match="torch cannot load it"):
        load_policy(tmp_path / "broken.pt")
    with pytest.raises(PolicyLoadError, match=r"\.onnx .* or \.pt"):
        load_policy(tmp_path / "model.bin")
    import torch

    torch.save({"format": 1, "network": {"state_dim": 2}, "state_dict": {}, "signature": "{}"}, tmp_path / "odd.pt")
    with pytest.raises(PolicyLoadError, match="odd.pt"):
        load_policy(tmp_path / "odd.pt")

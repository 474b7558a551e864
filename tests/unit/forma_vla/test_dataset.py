"""Demonstrations on disk in the LeRobot v2.1 layout: what is written reads back exactly (PNG
images, float32 states and actions, episode and task indices), the metadata says what LeRobot's
loader reads (features with dtype, shape and names; data_path; per-episode statistics), and what
cannot be a dataset of forma_vla's features is refused with the reason, writing nothing."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from forma_vla.action_space import ACTION_DIM, ACTION_NAMES
from forma_vla.dataset import DatasetWriter, Episode, load
from forma_vla.errors import DatasetError

STATE = ("waist_yaw", "neck_pitch", "right_elbow")
SIZE = (16, 12)


def _episode(rng, n: int, task: str) -> Episode:
    return Episode(
        task,
        [rng.integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8) for _ in range(n)],
        [rng.normal(size=len(STATE)) for _ in range(n)],
        [rng.normal(size=ACTION_DIM) for _ in range(n)],
        {"seed": n},
    )


def test_episodes_read_back_exactly_with_lerobot_metadata(tmp_path):
    rng = np.random.default_rng(0)
    episodes = [_episode(rng, 5, "wave"), _episode(rng, 7, "pick up the red cup"), _episode(rng, 3, "wave")]
    writer = DatasetWriter(tmp_path / "d", 10.0, SIZE, STATE, provenance={"commit": "abc"})
    for ep in episodes:
        writer.add(ep)
    data = load(tmp_path / "d")
    assert data.tasks == ["wave", "pick up the red cup", "wave"] and data.state_names == STATE
    np.testing.assert_array_equal(data.images, np.concatenate([np.asarray(e.images) for e in episodes]))
    np.testing.assert_allclose(data.actions, np.concatenate([np.asarray(e.actions) for e in episodes]), rtol=1e-6)
    assert data.episode.tolist() == [0] * 5 + [1] * 7 + [2] * 3
    assert data.provenance == {"commit": "abc"}

    meta = tmp_path / "d" / "meta"
    info = json.loads((meta / "info.json").read_text())
    assert info["codebase_version"] == "v2.1" and info["fps"] == 10.0
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (3, 15, 2)
    assert info["features"]["observation.image"] == {"dtype": "image", "shape": [12, 16, 3],
                                                     "names": ["height", "width", "channels"]}
    assert tuple(info["features"]["action"]["names"]) == ACTION_NAMES
    tasks = [json.loads(line) for line in (meta / "tasks.jsonl").read_text().splitlines()]
    assert tasks == [{"task_index": 0, "task": "wave"}, {"task_index": 1, "task": "pick up the red cup"}]
    stats = [json.loads(line) for line in (meta / "episodes_stats.jsonl").read_text().splitlines()]
    assert stats[1]["stats"]["action"]["count"] == [7]
    np.testing.assert_allclose(stats[1]["stats"]["action"]["mean"], np.mean(episodes[1].actions, 0), rtol=1e-5)

    table = pq.read_table(tmp_path / "d" / info["data_path"].format(episode_chunk=0, episode_index=2))
    assert table.column("task_index").to_pylist() == [0, 0, 0]  # "wave" again
    assert table.column("index").to_pylist() == [12, 13, 14]  # global frame index
    assert table.column("timestamp").to_pylist() == pytest.approx([0.0, 0.1, 0.2])
    assert table.column("observation.image").to_pylist()[0]["bytes"][:4] == b"\x89PNG"


def test_what_cannot_be_written_is_refused_and_nothing_is_written(tmp_path):
    rng = np.random.default_rng(1)
    writer = DatasetWriter(tmp_path / "d", 10.0, SIZE, STATE)
    bad = _episode(rng, 4, "wave")
    bad.actions[2][5] = np.nan
    with pytest.raises(DatasetError, match="not finite"):
        writer.add(bad)
    wrong_size = _episode(rng, 2, "wave")
    wrong_size.images[1] = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(DatasetError, match=r"\(12, 16, 3\) uint8"):
        writer.add(wrong_size)
    with pytest.raises(DatasetError, match="as many"):
        writer.add(Episode("wave", [], [], []))
    assert not (tmp_path / "d" / "data").exists()
    writer.add(_episode(rng, 2, "wave"))
    with pytest.raises(DatasetError, match="already holds a dataset"):
        DatasetWriter(tmp_path / "d", 10.0, SIZE, STATE)


def test_a_dataset_of_other_features_is_refused_with_what_differs(tmp_path):
    writer = DatasetWriter(tmp_path / "d", 10.0, SIZE, STATE)
    writer.add(_episode(np.random.default_rng(2), 3, "wave"))
    info_path = tmp_path / "d" / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    info["features"]["action"]["names"] = ["joint_0"] * ACTION_DIM
    info_path.write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="not forma_vla's 33"):
        load(tmp_path / "d")
    del info["features"]["observation.state"]
    info_path.write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="no feature 'observation.state'"):
        load(tmp_path / "d")
    with pytest.raises(DatasetError, match="not a LeRobot dataset"):
        load(tmp_path / "nothing")


def test_the_state_a_model_reads_positions_and_velocities_by_name_from_any_joint_order():
    from forma_vla.errors import ObservationError
    from forma_vla.policy import StateReader

    reader = StateReader(("b", "a", "a/velocity"), ["a", "b", "c"])
    np.testing.assert_array_equal(reader([1.0, 2.0, 3.0], [10.0, 20.0, 30.0]), [2.0, 1.0, 10.0])
    with pytest.raises(ObservationError, match="velocities"):
        reader([1.0, 2.0, 3.0], None)  # joint_states without velocities: refused, never zeros
    with pytest.raises(ObservationError, match="reads d"):
        StateReader(("d/velocity",), ["a", "b"])

"""The VLA's data and action paths on the deterministic lockstep harness, end to end: the task
expert's demonstration recorded as a LeRobot dataset (`forma vla collect`), then its recorded
actions played back as a policy's chunks through what the vla node does with them (ChunkExecutor,
decode, palm/gaze/torso targets to whole-body control, synergies to the hands) redo the skill,
judged from simulator truth. If the labels or the action path lost anything a skill needs (the
torso's heading, the power wrap's finger shape, the pointing index), no policy could learn it;
these fail then. Learning itself is `make accept` (vla)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forma_control.lockstep_stand import fallen
from forma_tasks.lockstep import LockstepRobot
from forma_tasks.tabletop import set_up
from forma_vla.action_space import decode
from forma_vla.appearance import apply
from forma_vla.collect import assign, collect
from forma_vla.dataset import load
from forma_vla.lockstep import LockstepPolicy
from forma_vla.policy import Normalizer, PolicySignature

pytestmark = pytest.mark.system


class Replay:
    """A 'policy' answering each image with the recorded actions from its time on."""

    def __init__(self, actions: np.ndarray, fps: float, state_names) -> None:
        self.actions, self.fps = actions, fps
        n = len(state_names)
        self.signature = PolicySignature(1.0 / fps, (80, 60), tuple(state_names), Normalizer(np.zeros(n), np.ones(n)),
                                         Normalizer(np.zeros(33), np.ones(33)))
        self.t0 = None

    def infer(self, obs):
        self.t0 = obs.stamp_s if self.t0 is None else self.t0
        k = round((obs.stamp_s - self.t0) * self.fps)
        return self.actions[np.minimum(np.arange(k + 1, k + 11), len(self.actions) - 1)]


@pytest.mark.parametrize("skill, seed", [("wave", 4100), ("pick", 4101)])
def test_a_recorded_demonstration_played_back_as_chunks_redoes_the_skill(tmp_path, skill, seed):
    summary = collect([seed], tmp_path / "demo", skills=(skill,), log=lambda line: None)
    assert summary["kept"] == 1, summary["failures"]
    data = load(tmp_path / "demo")
    made = json.loads((tmp_path / "demo" / "meta" / "forma.json").read_text())["episodes"][0]
    assert len(data.actions) == pytest.approx(made["duration_s"] * 10 + 5, abs=3)  # 10 fps, plus the 0.5 s hold
    for action in data.actions:
        decode(action)  # every label is an action the robot takes

    a = assign(seed, skills=(skill,))
    ep = set_up(seed, a.item(), appearance=lambda sim: apply(a.appearance, sim))
    robot = LockstepRobot(ep.sim, ep.harness, ep.wbc, seed=seed)
    driver = LockstepPolicy(robot, Replay(data.actions, data.fps, data.state_names), np.zeros(384))
    ep.harness.run(len(data.actions) / data.fps + 1.0)
    achieved, judged = ep.judge()
    assert achieved and not fallen(ep.sim), judged
    assert driver.log.refusals == 0, driver.log.refused

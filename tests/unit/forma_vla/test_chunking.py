"""Action chunks played while the next is computed: a chunk that arrives late drops its past
actions and lines up with the robot's time; a new chunk takes over without a jump however much it
disagrees with the plan; the plan is held when no chunk comes; bad chunks change nothing."""

from __future__ import annotations

import numpy as np
import pytest

from forma_vla.chunking import Chunk, ChunkExecutor
from forma_vla.errors import ChunkRefused

TICK_S = 0.02  # the executor played at 50 Hz
STEP_S = 0.05  # one action every 50 ms, chunks of 20: 1 s


def test_a_late_chunk_lines_up_with_the_robot_time_it_is_played_at():
    ex = ChunkExecutor(1, blend_s=0.1)
    ex.start(0.0, np.zeros(1))
    # a ramp a(t) = t, computed from the observation at t = 1.0 and arriving 0.25 s later
    chunk = Chunk(1.0, STEP_S, (1.0 + STEP_S * np.arange(20))[:, None])
    ex.submit(chunk, now_s=1.25)
    assert ex.action(1.25)[0] == pytest.approx(0.0)  # where the robot was: no jump
    for t in (1.4, 1.6, 1.9):  # after the blend: the chunk's value for that very time
        assert ex.action(t)[0] == pytest.approx(t, abs=1e-9)
    assert ex.last_latency_s == pytest.approx(0.25)


@pytest.mark.parametrize("seed", range(10))
def test_a_new_chunk_never_jumps_the_executed_action(seed):
    """Chunks that disagree by up to 1.0 arrive with 0..300 ms of latency at random times: the
    action played at 50 Hz changes by at most the blend's slope, never by the disagreement; a
    naive switch to each new chunk would jump by it."""
    rng = np.random.default_rng(seed)
    blend_s, dim = 0.1, 4
    ex = ChunkExecutor(dim, blend_s=blend_s, max_latency_s=0.3 + TICK_S)  # (arrivals seen at the next tick)
    ex.start(0.0, np.zeros(dim))
    naive_plan: Chunk | None = None
    played, naive = [], []
    t, next_chunk_s = 0.0, 0.0
    pending: list[tuple[float, Chunk]] = []
    while t < 6.0:
        if t >= next_chunk_s:  # an observation now; its chunk arrives after the inference latency
            offset = rng.uniform(-1.0, 1.0, dim)  # what this chunk disagrees on
            slope = rng.uniform(-0.5, 0.5, dim)  # [1/s] within the chunk
            actions = offset + slope * (STEP_S * np.arange(20))[:, None]
            pending.append((t + rng.uniform(0.0, 0.3), Chunk(t, STEP_S, actions)))
            next_chunk_s = t + rng.uniform(0.1, 0.4)
        for _arrival, chunk in [p for p in pending if p[0] <= t]:
            ex.submit(chunk, t)
            naive_plan = chunk
        pending = [p for p in pending if p[0] > t]
        played.append(ex.action(t))
        if naive_plan is not None:
            k = min(int(round((t - naive_plan.observed_s) / STEP_S)), len(naive_plan.actions) - 1)
            naive.append(naive_plan.actions[k])
        t += TICK_S
    step_played = np.abs(np.diff(np.array(played), axis=0)).max()
    step_naive = np.abs(np.diff(np.array(naive), axis=0)).max()
    # smoothstep's slope peaks at 1.5 / blend_s; disagreements up to 2.0, chunk slopes up to 0.5
    bound = 2.0 * 1.5 / blend_s * TICK_S + 0.5 * TICK_S
    assert step_played <= bound + 1e-9
    assert step_naive > 2 * bound > step_played


def test_the_plan_is_held_when_no_chunk_comes():
    ex = ChunkExecutor(2)
    ex.start(0.0, np.array([0.1, 0.2]))
    ex.submit(Chunk(0.0, STEP_S, np.tile([1.0, 2.0], (20, 1))), now_s=0.05)
    end = ex.times[-1]
    assert not ex.starved(end - 0.01) and ex.remaining_s(end - 0.5) == pytest.approx(0.5)
    assert ex.starved(end + 0.01)
    np.testing.assert_allclose(ex.action(end + 5.0), [1.0, 2.0])


@pytest.mark.parametrize(
    ("chunk", "now_s", "reason"),
    [
        (Chunk(1.0, STEP_S, np.zeros((20, 2))), 1.5, "0.500 s old"),
        (Chunk(2.0, STEP_S, np.zeros((20, 2))), 1.5, "in the future"),
        (Chunk(1.4, STEP_S, np.full((20, 2), np.nan)), 1.5, "non-finite"),
        (Chunk(1.4, STEP_S, np.zeros((20, 3))), 1.5, "shape"),
        (Chunk(1.4, 0.0, np.zeros((20, 2))), 1.5, "step"),
        (Chunk(1.4, 0.001, np.zeros((5, 2))), 1.5, "in the past"),
    ],
)
def test_a_bad_chunk_is_refused_and_changes_nothing(chunk, now_s, reason):
    ex = ChunkExecutor(2, max_latency_s=0.3)
    ex.start(0.0, np.array([0.3, 0.4]))
    before = (ex.times.copy(), ex.values.copy())
    with pytest.raises(ChunkRefused, match=reason):
        ex.submit(chunk, now_s)
    np.testing.assert_array_equal(ex.times, before[0])
    np.testing.assert_array_equal(ex.values, before[1])
    assert ex.chunks_refused == 1 and ex.chunks_taken == 0


def test_a_chunk_before_the_executor_started_is_refused():
    with pytest.raises(ChunkRefused, match="not started"):
        ChunkExecutor(1).submit(Chunk(0.0, STEP_S, np.zeros((3, 1))), 0.0)


def test_plan_at_gives_the_committed_actions_for_a_prefix_conditioned_policy():
    ex = ChunkExecutor(1, blend_s=0.1)
    ex.start(0.0, np.zeros(1))
    ex.submit(Chunk(0.0, STEP_S, (STEP_S * np.arange(20))[:, None]), now_s=0.0)
    times = 0.5 + STEP_S * np.arange(4)
    np.testing.assert_allclose(ex.plan_at(times)[:, 0], times)

"""Action chunks played in real time while the next one is computed (asynchronous action chunking
with blending, in the spirit of "real-time chunking", Black et al. 2025).

A policy answers an observation with a chunk: H actions, one every `step_s`, the first for the
observation's own time. Inference takes time (up to 300 ms on this CPU), so by the time a chunk
arrives its first actions are in the past: they are dropped, and the rest takes over from the plan
the robot is following, blended over `blend_s` so that the executed action never jumps, whatever
the two chunks disagree on. Between chunks the plan is played to its end and then held (the robot
holds its targets; `starved` says so). The executor is played at the caller's rate (>= 50 Hz),
interpolating linearly between the chunk's steps.

`plan_at(times)` gives what the plan will do at given times: a policy that accepts the actions
already committed (RTC's inpainting prefix) gets them from there.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from forma_vla.errors import ChunkRefused


@dataclasses.dataclass(frozen=True)
class Chunk:
    observed_s: float  # robot time of the observation it answers; action k is for observed_s + k * step_s
    step_s: float  # [s] between actions
    actions: np.ndarray  # (H, action_dim)

    def times(self) -> np.ndarray:
        return self.observed_s + self.step_s * np.arange(len(self.actions))


class ChunkExecutor:
    """The plan the robot follows: knots (time, action), linear in between, held after the end."""

    def __init__(self, action_dim: int, blend_s: float = 0.1, max_latency_s: float = 0.3) -> None:
        if blend_s <= 0.0 or max_latency_s <= 0.0:
            raise ValueError("blend_s and max_latency_s must be > 0")
        self.action_dim = action_dim
        self.blend_s = blend_s
        self.max_latency_s = max_latency_s
        self.times = np.zeros(0)
        self.values = np.zeros((0, action_dim))
        self.chunks_taken = 0
        self.chunks_refused = 0
        self.last_latency_s = float("nan")

    @property
    def started(self) -> bool:
        return len(self.times) > 0

    def start(self, now_s: float, action: np.ndarray) -> None:
        """Hold `action` (the robot's present targets) from now until the first chunk blends in."""
        action = np.asarray(action, float)
        if action.shape != (self.action_dim,) or not np.all(np.isfinite(action)):
            raise ValueError(f"a start action of {self.action_dim} finite numbers; got {action.shape}")
        self.times, self.values = np.array([now_s]), action[None, :].copy()

    def submit(self, chunk: Chunk, now_s: float) -> None:
        """Blend `chunk` into the plan from now on; ChunkRefused (plan unchanged) if it is
        malformed, not finite, from the future or older than max_latency_s."""
        actions = np.asarray(chunk.actions, float)
        try:
            self._check(chunk, actions, now_s)
        except ChunkRefused:
            self.chunks_refused += 1
            raise
        latency = now_s - chunk.observed_s
        new_times = chunk.times()
        future = new_times > now_s
        if not self.started:
            raise ChunkRefused("the executor was not started from the robot's present action (start)")
        # knots: now, the old plan's inside the blend window, the new chunk's from now on
        old_knots = self.times[(self.times > now_s) & (self.times < now_s + self.blend_s)]
        times = np.unique(np.concatenate([[now_s], old_knots, new_times[future]]))
        if times[-1] < now_s + self.blend_s:  # a short chunk still ends on the new plan, not mid-blend
            times = np.append(times, now_s + self.blend_s)
        old = self.plan_at(times)
        new = _interpolate(new_times, actions, times)
        w = _smoothstep((times - now_s) / self.blend_s)[:, None]
        self.times, self.values = times, (1.0 - w) * old + w * new
        self.chunks_taken += 1
        self.last_latency_s = latency

    def plan_at(self, times: np.ndarray) -> np.ndarray:
        """The plan's actions at `times` (held before its start and after its end)."""
        return _interpolate(self.times, self.values, np.asarray(times, float))

    def action(self, now_s: float) -> np.ndarray:
        if not self.started:
            raise ChunkRefused("no plan yet: start the executor first")
        return self.plan_at(np.array([now_s]))[0]

    def remaining_s(self, now_s: float) -> float:
        """Time left before the plan ends (then its last action is held)."""
        return float(self.times[-1] - now_s) if self.started else 0.0

    def starved(self, now_s: float) -> bool:
        """True once the plan has ended: no chunk came in time, the last action is held."""
        return self.started and now_s > self.times[-1]

    def _check(self, chunk: Chunk, actions: np.ndarray, now_s: float) -> None:
        if actions.ndim != 2 or actions.shape[1] != self.action_dim or len(actions) < 1:
            raise ChunkRefused(f"a chunk is (H, {self.action_dim}) actions; got shape {actions.shape}")
        if not np.all(np.isfinite(actions)):
            raise ChunkRefused("the chunk holds non-finite actions")
        if not chunk.step_s > 0.0:
            raise ChunkRefused(f"chunk step {chunk.step_s} s: it must be > 0")
        latency = now_s - chunk.observed_s
        if latency < -1e-6:
            raise ChunkRefused(f"the chunk answers an observation {-latency:.3f} s in the future")
        if latency > self.max_latency_s:
            raise ChunkRefused(
                f"the chunk answers an observation {latency:.3f} s old (limit {self.max_latency_s:.3f} s): "
                "inference is too slow for this executor"
            )
        if chunk.times()[-1] <= now_s:
            raise ChunkRefused("every action of the chunk is already in the past")


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """0 -> 1 with zero slope at both ends: the blend starts and ends without a kink."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _interpolate(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Per column linear interpolation, held beyond the ends."""
    if len(times) == 1:
        return np.repeat(values[:1], len(at), axis=0)
    idx = np.clip(np.searchsorted(times, at, side="right") - 1, 0, len(times) - 2)
    t0, t1 = times[idx], times[idx + 1]
    frac = np.clip((at - t0) / np.maximum(t1 - t0, 1e-12), 0.0, 1.0)[:, None]
    return values[idx] * (1.0 - frac) + values[idx + 1] * frac

"""The face over time: eased transitions between expressions, idle life (blinks, micro-saccades,
breathing), gaze toward a person or point, and lip sync from a viseme track. Pure and seeded, so
tests can render any instant."""

from __future__ import annotations

import dataclasses
import math
import random

from forma_face.expressions import NEUTRAL, FaceParams, clamp
from forma_face.speech import VISEMES, VisemeTrack

TRANSITION_S = 0.35
BLINK_S = 0.16
BLINK_INTERVAL_S = (2.0, 6.0)
SACCADE_INTERVAL_S = (0.4, 1.4)
SACCADE_AMPLITUDE = 0.06
BREATH_HZ = 0.25
GAZE_TIME_CONSTANT_S = 0.08
VISEME_BLEND_S = 0.04


def ease_in_out(s: float) -> float:
    """Cubic ease-in-out on 0..1: no velocity jump at either end."""
    s = clamp(s, 0.0, 1.0)
    return 4 * s**3 if s < 0.5 else 1 - (-2 * s + 2) ** 3 / 2


@dataclasses.dataclass
class _Speaking:
    track: VisemeTrack
    start_s: float


class FaceAnimator:
    def __init__(self, seed: int = 0, idle: bool = True) -> None:
        self.rng = random.Random(seed)
        self.idle = idle
        self.start = self.current = self.target = NEUTRAL
        self.t_change = -1e9
        self.duration = TRANSITION_S
        self.gaze_target = (0.0, 0.0)
        self.gaze = [0.0, 0.0]
        self.saccade = (0.0, 0.0)
        self.next_saccade = 0.0
        self.next_blink = self.rng.uniform(*BLINK_INTERVAL_S)
        self.speaking: _Speaking | None = None
        self.last_t: float | None = None

    def set_expression(self, params: FaceParams, now_s: float, duration_s: float = TRANSITION_S) -> None:
        """Blend from whatever is shown now to params over duration_s."""
        self.start = self._blended(now_s)
        self.target = params
        self.t_change = now_s
        self.duration = max(duration_s, 1e-3)

    def look_at(self, gaze_x: float, gaze_y: float) -> None:
        """Gaze target on the screen's axes, -1..1 each (see gaze_from_point)."""
        self.gaze_target = (clamp(gaze_x, -1, 1), clamp(gaze_y, -1, 1))

    def speak(self, track: VisemeTrack, start_s: float) -> None:
        self.speaking = _Speaking(track, start_s)

    def _blended(self, now_s: float) -> FaceParams:
        return self.start.lerp(self.target, ease_in_out((now_s - self.t_change) / self.duration))

    def params(self, now_s: float) -> FaceParams:
        """The face at now_s (call with non-decreasing times)."""
        dt = 0.0 if self.last_t is None else max(0.0, now_s - self.last_t)
        self.last_t = now_s
        p = self._blended(now_s)
        # gaze: first-order toward the target, plus micro-saccades
        k = 1.0 - math.exp(-dt / GAZE_TIME_CONSTANT_S) if dt > 0 else 1.0
        for i in range(2):
            self.gaze[i] += k * (self.gaze_target[i] - self.gaze[i])
        if self.idle and now_s >= self.next_saccade:
            self.saccade = (self.rng.uniform(-1, 1) * SACCADE_AMPLITUDE, self.rng.uniform(-1, 1) * SACCADE_AMPLITUDE)
            self.next_saccade = now_s + self.rng.uniform(*SACCADE_INTERVAL_S)
        gx = clamp(p.gaze_x + self.gaze[0] + (self.saccade[0] if self.idle else 0.0), -1, 1)
        gy = clamp(p.gaze_y + self.gaze[1] + (self.saccade[1] if self.idle else 0.0), -1, 1)
        p = p.replace(gaze_x=gx, gaze_y=gy)
        if self.idle:
            p = p.replace(
                eye_open=p.eye_open * self._blink(now_s),
                brow_height=p.brow_height + 0.04 * math.sin(2 * math.pi * BREATH_HZ * now_s),
            )
        return self._lip_sync(p, now_s)

    def _blink(self, now_s: float) -> float:
        if now_s >= self.next_blink + BLINK_S:
            self.next_blink = now_s + self.rng.uniform(*BLINK_INTERVAL_S)
        phase = (now_s - self.next_blink) / BLINK_S
        if 0.0 <= phase <= 1.0:
            return 1.0 - math.sin(math.pi * phase)  # closes and opens smoothly
        return 1.0

    def _lip_sync(self, p: FaceParams, now_s: float) -> FaceParams:
        if self.speaking is None:
            return p
        t = now_s - self.speaking.start_s
        track = self.speaking.track
        if t > track.duration_s:
            self.speaking = None
            return p
        shape = VISEMES[track.at(t)]
        previous = VISEMES[track.at(t - VISEME_BLEND_S)]
        s = 0.5  # half-way between the previous and the current shape for a softer change
        openness = previous[0] + s * (shape[0] - previous[0]) if shape != VISEMES["closed"] else 0.0
        width = previous[1] + s * (shape[1] - previous[1])
        rounding = previous[2] + s * (shape[2] - previous[2])
        return p.replace(mouth_open=openness, mouth_width=width, mouth_round=rounding)


def gaze_from_point(x_m: float, y_m: float, z_m: float, max_angle_rad: float = 0.6) -> tuple[float, float]:
    """A point in the head camera's optical frame (z forward, x right, y down) -> screen gaze.

    The face looks out of the screen, so a person on the camera's right (x > 0) is on the face's
    left as seen by the person; the eyes turn toward them: gaze_x = -angle_x / max_angle.
    """
    if not all(math.isfinite(v) for v in (x_m, y_m, z_m)) or z_m <= 0.05:
        return 0.0, 0.0
    ax, ay = math.atan2(x_m, z_m), math.atan2(-y_m, z_m)
    return clamp(-ax / max_angle_rad, -1, 1), clamp(ay / max_angle_rad, -1, 1)

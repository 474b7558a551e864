"""The policy's 33-number action: every valid action survives encode -> decode; any 6 numbers
that are not parallel are a proper rotation; an action that is not finite, has the wrong size or
asks what the limits refuse is refused whole, with the name of what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from forma_vla.action_space import (
    ACTION_DIM,
    ACTION_NAMES,
    BASE,
    GAZE,
    HAND,
    PALM,
    TORSO,
    decode,
    encode,
    palm_rotation,
    rotation_r6,
)
from forma_vla.errors import ActionError


def _random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    return q if np.linalg.det(q) > 0 else -q


def _valid(rng) -> np.ndarray:
    v = np.zeros(ACTION_DIM)
    for side, y in (("left", 0.2), ("right", -0.2)):
        v[PALM[side]] = np.concatenate([[0.3, y, -0.2] + rng.normal(0, 0.05, 3), rotation_r6(_random_rotation(rng))])
        v[HAND[side]] = rng.uniform(0, 1, 3)
    v[GAZE] = [1.0, 0.0, -0.5]
    v[TORSO] = [-0.05, 0.1, 0.2]
    return v


def test_names_and_slices_agree():
    assert ACTION_DIM == len(ACTION_NAMES) == 33
    assert ACTION_NAMES[PALM["right"]][0] == "right_palm_x_m" and ACTION_NAMES[HAND["left"]][0] == "left_hand_closure"
    assert ACTION_NAMES[GAZE][0] == "gaze_x_m" and ACTION_NAMES[TORSO][0] == "torso_height_m"
    assert ACTION_NAMES[BASE] == ("base_vx_m_s", "base_vy_m_s", "base_wz_rad_s")


@pytest.mark.parametrize("seed", range(5))
def test_a_valid_action_survives_encode_and_decode(seed):
    v = _valid(np.random.default_rng(seed))
    np.testing.assert_allclose(encode(decode(v)), v, atol=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_any_six_numbers_not_parallel_are_a_rotation(seed):
    r = palm_rotation(np.random.default_rng(seed).normal(size=6))
    np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_parallel_columns_are_refused():
    with pytest.raises(ActionError, match="parallel"):
        palm_rotation(np.array([1.0, 0, 0, 2.0, 0, 0]))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda v: v[:-1], "33 numbers"),
        (lambda v: np.where(np.arange(ACTION_DIM) == 20, np.nan, v), "left_hand_thumb_opposition is not a finite"),
        (lambda v: _set(v, PALM["left"].start, 1.5), "left palm .* from the torso"),
        (lambda v: _set(v, HAND["right"].start, 1.3), "right hand synergies"),
        (lambda v: _set(v, TORSO.start, 0.1), "torso height"),
        (lambda v: _set(v, TORSO.start + 2, 0.8), "torso roll/pitch"),
        (lambda v: _set(v, BASE.start, 0.2), "does not walk yet"),
        (lambda v: _set(v, GAZE.start, 20.0), "gaze point"),
    ],
)
def test_an_action_beyond_what_is_allowed_is_refused_whole(change, reason):
    with pytest.raises(ActionError, match=reason):
        decode(change(_valid(np.random.default_rng(0))))


def _set(v, index, value):
    v = v.copy()
    v[index] = value
    return v


def test_a_base_velocity_within_the_dead_band_is_none_and_roll_with_pitch_is_limited_together():
    """A learned policy answers the base it never saw move with ~1e-4 (its output times the floored
    std): that is no motion, and what reaches the base is exactly 0; 2 mm/s is refused. Roll and
    pitch are each within 0.5 rad but tilt the torso 0.56 rad together: refused, as the WBC would."""
    v = _valid(np.random.default_rng(1))
    assert np.all(decode(_set(v, BASE.start, 3e-4)).base_velocity == 0.0)
    with pytest.raises(ActionError, match="does not walk yet"):
        decode(_set(v, BASE.start, 0.002))
    tilted = _set(_set(v, TORSO.start + 1, 0.4), TORSO.start + 2, 0.4)
    with pytest.raises(ActionError, match="from vertical"):
        decode(tilted)


def test_a_regression_a_little_past_a_limit_is_at_the_limit_and_more_is_refused():
    """A learned policy's outputs overshoot bounded numbers a little (measured on the shipped model:
    a synergy -0.057, a torso height +0.027 m against +0.02): that is the limit; past the dead bands
    it is a bad action, refused."""
    v = _valid(np.random.default_rng(2))
    assert decode(_set(v, TORSO.start, 0.035)).torso_height_m == pytest.approx(0.02)
    with pytest.raises(ActionError, match="torso height"):
        decode(_set(v, TORSO.start, 0.045))
    assert decode(_set(v, HAND["right"].start, -0.06)).hand_synergies["right"][0] == 0.0
    with pytest.raises(ActionError, match="right hand synergies"):
        decode(_set(v, HAND["right"].start, -0.15))

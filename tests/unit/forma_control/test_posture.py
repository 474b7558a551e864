"""The stand's start ramp: from the measured pose to the goal, never faster than allowed,
never outside the joint limits."""

from __future__ import annotations

import numpy as np
import pytest

from forma_control.stand.posture import PostureRamp


def test_ramp_goes_from_measured_to_goal_within_the_speed_limit():
    goal = np.array([0.4, -0.2, 1.0])
    ramp = PostureRamp(["a", "b", "c"], goal, max_speed_rad_s=0.5)
    duration = ramp.start(np.zeros(3), now_s=10.0)
    np.testing.assert_allclose(ramp.target(10.0), 0.0)
    dt = 0.002
    times = np.arange(10.0, 10.0 + duration + 0.5, dt)
    targets = np.array([ramp.target(t) for t in times])
    speeds = np.abs(np.diff(targets, axis=0)) / dt
    assert speeds.max() <= 0.5 + 1e-6
    np.testing.assert_allclose(targets[-1], goal)
    assert ramp.done(10.0 + duration) and not ramp.done(10.0 + duration / 2)
    command = ramp.command(10.0 + duration)
    assert list(command.names) == ["a", "b", "c"] and command.stamp_s == 10.0 + duration


def test_ramp_start_is_clipped_into_the_limits():
    ramp = PostureRamp(["a"], np.array([0.2]), lower=np.array([0.0]), upper=np.array([1.0]))
    ramp.start(np.array([-0.0003]), 0.0)
    assert ramp.target(0.0)[0] == 0.0


def test_bad_ramps_are_refused():
    with pytest.raises(ValueError, match="max_speed_rad_s"):
        PostureRamp(["a"], np.array([0.0]), max_speed_rad_s=0.0)
    with pytest.raises(ValueError, match="one finite position per joint"):
        PostureRamp(["a", "b"], np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="outside the joint limits"):
        PostureRamp(["a"], np.array([2.0]), lower=np.array([0.0]), upper=np.array([1.0]))
    with pytest.raises(RuntimeError, match="start"):
        PostureRamp(["a"], np.array([0.0])).target(0.0)

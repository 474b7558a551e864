"""The walking pattern (forma_control.walk) without a robot: footsteps follow the command within
the gait's limits, the CoM plan is the pendulum's over the planned ZMP, and a zero command stands
the robot square within two steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forma_control.errors import ControlConfigError
from forma_control.walk.dcm import ZmpSegment, dcm_at, follow
from forma_control.walk.gait import Gait, WalkSettings, relative

OMEGA = math.sqrt(9.81 / 1.0)
DT = 0.002


def start(velocity, settings: WalkSettings | None = None) -> Gait:
    gait = Gait(settings or WalkSettings(), OMEGA, 0.05)
    gait.start(np.array([0.0, 0.095, 0.0]), np.array([0.0, -0.095, 0.0]), np.array([0.05, 0.0]), np.array(velocity))
    return gait


def run(gait: Gait, seconds: float, on_tick=None):
    refs = []
    for _ in range(round(seconds / DT)):
        ref = gait.advance(DT)
        refs.append(ref)
        if on_tick:
            on_tick(ref)
        if ref.done:
            break
    return refs


def test_the_dcm_of_a_resting_zmp_is_the_zmp_and_a_ramp_leads_it_by_its_rate_over_omega():
    rest = [ZmpSegment(1.0, np.array([0.1, 0.2]), np.array([0.1, 0.2]))]
    assert np.allclose(dcm_at(rest, 0.3, OMEGA), [0.1, 0.2])
    ramp = [ZmpSegment(10.0, np.zeros(2), np.array([1.0, 0.0]))]  # 0.1 m/s, far from its end
    assert dcm_at(ramp, 2.0, OMEGA) == pytest.approx([0.2 + 0.1 / OMEGA, 0.0], abs=1e-6)
    com = np.zeros(2)
    for _ in range(1000):
        com = follow(com, np.array([1.0, 0.0]), OMEGA, DT)
    assert com[0] == pytest.approx(1.0 - math.exp(-OMEGA * 2.0), abs=1e-9)


def test_walking_forward_alternates_the_feet_at_the_commanded_speed_and_the_com_stays_between_them():
    gait = start([0.2, 0.0, 0.0])
    refs = run(gait, 6.0)
    swings = [r.support for r in refs if len(r.support) == 1]
    assert swings, "no single support"
    # the supports alternate: left swings first (stance right), then right, ...
    order = [s[0] for i, s in enumerate(swings) if i == 0 or s != swings[i - 1]]
    assert order[:4] == ["right", "left", "right", "left"]
    steady = refs[round(2.0 / DT) : round(5.0 / DT)]
    speed = (steady[-1].com_xy[0] - steady[0].com_xy[0]) / (len(steady) * DT)
    assert speed == pytest.approx(0.2, rel=0.1)
    for r in refs:
        assert min(r.feet["left"][1], r.feet["right"][1] + 0.19) > -0.01  # the feet never cross
        assert -0.06 < r.com_xy[1] < 0.06  # the CoM sways between the soles
        lo = min(r.feet["left"][0], r.feet["right"][0]) - 0.06
        assert r.com_xy[0] > lo


def test_the_planned_com_is_the_pendulum_over_the_planned_zmp():
    gait = start([0.2, 0.0, 0.2])
    refs = run(gait, 3.0)
    agree = [
        np.allclose((c.com_xy - 2 * b.com_xy + a.com_xy) / DT**2, OMEGA**2 * (b.com_xy - b.zmp_xy), atol=0.05)
        for a, b, c in zip(refs, refs[1:], refs[2:], strict=False)
    ]
    # c'' = omega^2 (c - p) but where a phase ends: the plan then reaches one step further ahead
    assert sum(agree) >= 0.97 * len(agree)


def test_a_zero_command_stands_square_within_two_steps_and_rests_between_the_feet():
    gait = start([0.2, 0.0, 0.0])
    run(gait, 2.5)
    steps = gait.steps
    gait.command(np.zeros(3))
    refs = run(gait, 5.0)
    assert refs[-1].done and not gait.active
    assert gait.steps - steps <= 2 + 1  # the step under way, then at most two to stand square
    rel = relative(refs[-1].feet["right"], refs[-1].feet["left"])
    assert rel[0] == pytest.approx(0.0, abs=0.03) and rel[2] == pytest.approx(0.0, abs=0.1)
    mid = 0.5 * (refs[-1].feet["left"][:2] + refs[-1].feet["right"][:2])
    assert np.linalg.norm(refs[-1].com_xy - mid - [0.05, 0.0]) < 0.02


def test_turning_and_sidestepping_move_the_feet_that_way_within_the_step_limits():
    settings = WalkSettings()
    gait = start([0.0, 0.0, 0.4])
    refs = run(gait, 4.0)
    assert refs[-1].feet["left"][2] > 1.0  # ~1.6 rad in 4 s, less the start
    gait = start([0.0, 0.15, 0.0])
    refs = run(gait, 4.0)
    assert refs[-1].com_xy[1] > 0.3  # 0.15 m/s for 4 s, less the start
    for r in refs:
        width = relative(r.feet["right"], r.feet["left"])[1]
        assert settings.min_width_m - 1e-9 <= width <= settings.max_width_m + 1e-9


def test_commands_beyond_the_limits_are_clamped_with_the_reason_and_bad_settings_refused():
    settings = WalkSettings()
    limited, reason = settings.clamp(np.array([2.0, -1.0, 0.1]))
    assert limited[0] == settings.max_forward_m_s and limited[1] == -settings.max_sideways_m_s
    assert "forward +2.00 m/s" in reason and "sideways" in reason and "turn" not in reason
    assert settings.clamp(np.array([0.1, 0.0, 0.0]))[1] == ""
    with pytest.raises(ControlConfigError, match="step_s"):
        WalkSettings(step_s=-1.0)


def test_a_dcm_deviation_beyond_the_ankles_moves_the_landing_spot_toward_it():
    """Step adjustment: the swing foot lands where the measured DCM can be caught; a deviation the
    stance ankle absorbs before touch-down moves nothing."""

    def swinging(deviation):
        gait = start([0.2, 0.0, 0.0], WalkSettings(step_adjust_gain=1.0, step_adjust_filter_s=0.0))
        ref = gait.advance(DT)
        while gait.swinging is None or gait.elapsed_s < 0.1:
            ref = gait.advance(DT)
        planned = gait.phases[0].swing_to.copy()
        gait.adjust_step(ref.dcm_xy + np.asarray(deviation), DT)
        return planned, gait.phases[0].swing_to, gait

    planned, landing, gait = swinging([0.0, 0.004])
    assert np.allclose(planned, landing)
    planned, landing, gait = swinging([0.0, 0.05])
    side = 1.0 if gait.swinging == "left" else -1.0
    moved = landing - planned
    assert moved[1] > 0.02 and abs(moved[0]) < 1e-9, moved
    assert np.linalg.norm(moved[:2]) <= WalkSettings().step_adjust_max_m + 1e-9
    # the steps after it are planned from where it will land
    later = [p for p in gait.phases[1:] if p.swing is not None]
    assert later and later[0].swing_to[1] == pytest.approx(landing[1] - side * gait.width_m)

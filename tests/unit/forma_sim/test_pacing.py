"""Command pacing (forma_sim.pacing): the simulation holds back for a lagging commander, never
for a stopped one for longer than the wall limit, and not for groups nobody commands."""

from __future__ import annotations

import math

from forma_sim.pacing import CommandPacer

PERIOD = 0.002


def test_no_commander_never_holds_the_simulation_back():
    pacer = CommandPacer(PERIOD, max_wait_s=0.25)
    assert pacer.may_step(10.0, 0.0)


def test_a_500_hz_commander_keeping_up_is_not_waited_for_and_a_lagging_one_is():
    pacer = CommandPacer(PERIOD, max_wait_s=0.25)
    for k in range(100):
        pacer.note(["body"], k * PERIOD)
    assert pacer.may_step(99 * PERIOD + 0.004, 0.0)  # a period or two behind: fine
    assert not pacer.may_step(99 * PERIOD + 0.05, 1.0)  # 50 ms behind: wait
    assert not pacer.may_step(99 * PERIOD + 0.05, 1.2)
    pacer.note(["body"], 99 * PERIOD + 0.048)  # it caught up
    assert pacer.may_step(99 * PERIOD + 0.05, 1.21)
    assert pacer.waits == 2


def test_a_silent_commander_is_taken_as_stopped_after_the_wall_limit_until_it_commands_again():
    pacer = CommandPacer(PERIOD, max_wait_s=0.25)
    for k in range(50):
        pacer.note(["body"], k * PERIOD)
    assert not pacer.may_step(1.0, 5.0)
    assert not pacer.may_step(1.0, 5.2)
    assert pacer.may_step(1.0, 5.26)  # gave up: the watchdog acts in sim time as designed
    assert pacer.may_step(2.0, 5.3) and pacer.gave_up == 1
    pacer.note(["body"], 2.0)
    assert not pacer.may_step(2.1, 6.0)  # live again


def test_a_slow_commander_gets_three_of_its_own_intervals_and_forgotten_groups_none():
    pacer = CommandPacer(PERIOD, max_wait_s=0.25)
    for k in range(50):
        pacer.note(["left_hand"], k * 0.01)  # 100 Hz
    assert pacer.may_step(49 * 0.01 + 0.025, 0.0)
    assert not pacer.may_step(49 * 0.01 + 0.035, 0.0)
    pacer.forget("left_hand")  # latched in HOLD: nobody is expected to command it
    assert pacer.may_step(49 * 0.01 + 0.035, 0.0)


def test_a_commander_that_slows_down_under_load_gets_no_longer_leash_than_60_ms():
    pacer = CommandPacer(PERIOD, max_wait_s=1.0)
    t = 0.0
    for _ in range(50):
        t += 0.05  # answering at 20 Hz: far slower than the 500 Hz loop
        pacer.note(["body"], t)
    assert pacer.may_step(t + 0.055, 0.0)
    assert not pacer.may_step(t + 0.065, 0.0)


def test_a_commander_that_stalls_now_and_then_keeps_the_leash_of_its_usual_pace():
    # a WBC answering every 2nd-3rd period with a 40 ms stall every 8th answer: the simulation
    # waits out the stalls (a running mean of the gaps gave it a ~30 ms leash, the robot jolted)
    pacer = CommandPacer(PERIOD, max_wait_s=1.0)
    t = 0.0
    for k in range(80):
        t += 0.040 if k % 8 == 7 else (0.004 if k % 2 else 0.006)
        pacer.note(["body"], t)
    assert pacer.may_step(t + 0.012, 0.0)
    assert not pacer.may_step(t + 0.020, 0.0)


def test_a_group_reset_to_active_is_waited_for_until_its_first_command():
    pacer = CommandPacer(PERIOD, max_wait_s=1.0)
    pacer.expect("body", 5.0)  # reset at sim time 5 s: nobody has commanded yet
    assert pacer.may_step(5.02, 0.0)
    assert not pacer.may_step(5.04, 0.1)  # the 0.1 s watchdog must not run out before it answers
    pacer.note(["body"], 5.04)
    assert pacer.may_step(5.042, 0.2)
    pacer.expect("left_hand", 6.0)  # nobody commands this hand: one wall limit, then on
    assert not pacer.may_step(6.04, 1.0)
    assert pacer.may_step(6.04, 2.0)


def run_with_a_clock_bound_commander(pacer: CommandPacer, reset_s: float, until_s: float) -> tuple[float, float]:
    """The simulation's loop with a 100 Hz timer-driven commander in sim time: it can stamp only
    the newest /clock (published every 5 periods) and answers each one at once. Returns the
    last stamp and the wall time spent waiting."""
    t, clock, stamp, wall = reset_s, -math.inf, -math.inf, 0.0
    pacer.expect("right_hand", t)
    while t < until_s:
        if clock > stamp:
            stamp = clock
            pacer.note(["right_hand"], stamp)
        if pacer.may_step(t, wall, clock):
            t = round(t + PERIOD, 9)
            if round(t / PERIOD) % 5 == 0:
                clock = t
        else:
            wall += 0.002
    return stamp, wall


def test_a_timer_driven_commander_is_never_waited_for_past_the_newest_clock():
    # reset 2 ms before a /clock: the first command came 2 ms after the reset; that was taken as
    # the commander's interval (a 6 ms leash, shorter than the /clock period) and the simulation
    # then waited one wall limit per /clock (10 ms of sim time per second) for the rest of the run
    pacer = CommandPacer(PERIOD, max_wait_s=1.0, clock_period_s=5 * PERIOD)
    stamp, wall = run_with_a_clock_bound_commander(pacer, reset_s=2.368, until_s=4.0)
    assert stamp > 3.98 and wall == 0.0 and pacer.gave_up == 0
    # its interval is its own 10 ms: silent, it is waited for after 3 of them
    assert pacer.may_step(stamp + 0.028, 0.0, clock_s=stamp + 0.02)
    assert not pacer.may_step(stamp + 0.032, 0.0, clock_s=stamp + 0.03)


def test_a_controller_paced_by_joint_states_keeps_its_leash_after_a_clock():
    # the WBC answers every period's joint_states: 8 ms behind is waited for even though its
    # newest stamp is past the newest /clock (the /clock rule is for timers in sim time only)
    pacer = CommandPacer(PERIOD, max_wait_s=1.0, clock_period_s=5 * PERIOD)
    for k in range(100):
        pacer.note(["body"], k * PERIOD)
    stamp = 99 * PERIOD
    assert not pacer.may_step(stamp + 0.008, 0.0, clock_s=stamp - 0.008)
    assert pacer.may_step(stamp + 0.006, 0.0, clock_s=stamp - 0.008)


def test_the_log_line_names_each_commanders_lag_and_leash():
    pacer = CommandPacer(PERIOD, max_wait_s=1.0, clock_period_s=5 * PERIOD)
    for k in range(20):
        pacer.note(["left_hand"], k * 0.01)  # a 100 Hz timer in sim time
    text = pacer.describe(0.25, clock_s=0.25)
    assert "left_hand: stamp 0.190 s, lag 60 ms, leash 30 ms, live, clock-bound" in text, text

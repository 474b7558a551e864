"""Acceptance trials of the safety supervisor (issue 3, deliverable 3) on the lockstep harness.

The supervisor (forma_control.safety.lockstep: the node's core and fall detector) runs every
control period; while ACTIVE a joint-PD hold of the stand pose commands in the WBC's place.
Ground truth (pelvis pose, `fallen`) is read by the trials only, never by the supervisor.

No trial here draws a random number: the simulation starts from the same state, the pushes and
e-stops are fixed, so a run is deterministic and a seed would change nothing; they take no
`--seeds` (run_accept says it ignored them). Their spread comes from the directions and scenarios.
"""

from __future__ import annotations

import math

import numpy as np

from forma_control.safety.fall_detection import FallLimits
from forma_control.safety.lockstep import LockstepSupervisor
from forma_control.safety.supervisor import Mode, SupervisorConfig
from forma_description.poses import named_pose
from forma_description.robot_model import GROUPS
from forma_hardware import JointCommand, StopState
from forma_sim.lockstep import LockstepHarness
from forma_sim.simulation import build_simulation
from tests.accept.registry import Figure, trial
from tests.support.scenarios import PUSH_DIRECTIONS, fallen, tilt_rad

MAX_SPEED = 0.5  # [rad/s] the stand-up ramp's limit in these trials
TOPPLE_NS = 60.0  # [N s] over 0.2 s on the torso: far beyond what the PD hold survives (~10-15 N s)
MEASURED_WINDOW_S = 0.1  # [s] measured speed = displacement over this window: a lunge lasts longer;
# the stick-slip of a lying robot's feet dragged over the floor (knee +-0.3 rad/s around the
# ramp's 0.5 rad/s, 20 ms apart) and head contact chatter (+-2 rad/s) do not


def supervised_stand(detect_falls: bool = True, world: str = "empty", limits: FallLimits = FallLimits(), **config):
    """The robot under the supervisor (auto_stand), PD hold of the stand pose while ACTIVE."""
    sim = build_simulation(world=world)
    pose = named_pose("stand", sim.robot)

    def hold(s):
        return JointCommand(s.robot.joint_names, position=pose, stamp_s=s.time)

    cfg = SupervisorConfig(**{"auto_stand": True, "max_speed_rad_s": MAX_SPEED, **config})
    # (the stand-up before a trial's damping runs at the trial's own limit too)
    sup = LockstepSupervisor(sim, cfg, limits, groups=GROUPS, active_controller=hold, detect_falls=detect_falls)
    harness = LockstepHarness(sim)
    harness.add_controller("safety_supervisor", 500.0, sup)
    return sim, sup, harness


def body_damped(sim) -> bool:
    """The body's actuators in MuJoCo really damp: zero stiffness, stop state DAMP."""
    body = sim.contract.group_masks["body"]
    kp = -sim.model.actuator_biasprm[sim.actuator_ids[body], 1]
    return sim.stop_states()["body"] == StopState.DAMP and bool(np.all(kp == 0.0))


def estop_latency_periods(sim, sup, harness, limit: int = 50) -> int:
    """E-stop requested between two periods; periods stepped until the body actuators damp."""
    sup.estop(True, "trial")
    for k in range(1, limit + 1):
        harness.step()
        if body_damped(sim):
            return k
    return limit + 1


@trial("safety_estop_latency")
def safety_estop_latency() -> dict:
    """E-stop -> hardware body group in DAMP (MuJoCo actuator gains) in control periods, from
    every mode the robot can be commanded in. Deterministic: no random draws, no seeds."""
    out = {}
    worst = 0
    for mode, settle in (("STANDING_UP", 0.2), ("ACTIVE", 2.0)):
        sim, sup, harness = supervised_stand()
        harness.run(settle)
        assert sup.mode.name == mode, sup.core.reason
        periods = estop_latency_periods(sim, sup, harness)
        worst = max(worst, periods)
        out[f"estop_to_damp_{mode.lower()}_periods"] = Figure(periods, "periods", "<= 2", periods <= 2)
    period_ms = 1e3 * sim.control_period_s
    out["estop_to_damp_worst_ms"] = Figure(worst * period_ms, "ms", "<= 4 (2 periods at 500 Hz)", worst <= 2)
    return out


def _activation(scenario: str, max_speed: float = MAX_SPEED, min_ramp_s: float = 0.5) -> dict:
    """Damp the standing robot (a DAMPING request, or an e-stop), let it come to rest on the floor,
    then reset and stand up; or stand up from the hardware's startup hold. The commanded targets
    and the measured joint speeds during the ramp, against the ramp's limit."""
    sim, sup, harness = supervised_stand(
        recover_holds_per_min=0, auto_stand=False, max_speed_rad_s=max_speed, min_ramp_s=min_ramp_s
    )
    harness.run(2.0 if scenario != "startup_hold" else 0.1)
    wait = 3.0
    if scenario == "startup_hold":
        sup.set_mode(Mode.STANDING_UP)
    elif scenario == "estop":
        sup.set_mode(Mode.STANDING_UP)
        harness.run(2.0)
        sup.estop(True, "trial")
        harness.run(wait)
        sup.estop(False, "trial")
        sup.reset()
        sup.set_mode(Mode.STANDING_UP)
    else:
        sup.set_mode(Mode.STANDING_UP)
        harness.run(2.0)
        sup.set_mode(Mode.DAMPING)
        harness.run(wait)
        sup.set_mode(Mode.STANDING_UP)
    body = np.array([j.group == "body" for j in sim.robot.joints])
    index = sup.index
    prev_target, cmd_speed, meas_speed, steps = None, 0.0, 0.0, 0
    window = round(MEASURED_WINDOW_S / sim.control_period_s)
    history = []
    any_speed = [0.0, ""]
    meas_joint = ""  # the fastest body joint in any direction (sagging, contact chatter)
    body_names = [sim.robot.joint_names[i] for i in index[body[index]]]
    start_tilt = math.degrees(tilt_rad(sim))
    for _ in range(round(12.0 / sim.control_period_s)):  # a ramp from lying takes ~8 s, then settling
        harness.step()
        cmd = sup.last_command
        if cmd is not None:
            target = np.asarray(cmd.position)
            if prev_target is not None:
                cmd_speed = max(cmd_speed, float(np.max(np.abs(target - prev_target))) / sim.control_period_s)
            prev_target = target
            steps += 1
            history.append(sim.joint_positions()[index][body[index]])
            if len(history) > window:
                moved = (history[-1] - history[-1 - window]) / MEASURED_WINDOW_S
                toward = np.sign(sup.core.ramp.goal - sup.core.ramp.start_q)[body[index]]
                k = int(np.argmax(moved * toward))
                if moved[k] * toward[k] > meas_speed:
                    meas_speed, meas_joint = float(moved[k] * toward[k]), body_names[k]
                j = int(np.argmax(np.abs(moved)))
                if abs(moved[j]) > any_speed[0]:
                    any_speed[:] = [abs(float(moved[j])), body_names[j]]
        if sup.mode == Mode.ACTIVE and steps:
            break
    return {
        "mode_after": sup.mode.name,
        "ramp_s": steps * sim.control_period_s,
        "cmd_speed": cmd_speed,
        "meas_speed": meas_speed,
        "meas_joint": meas_joint,
        "any_speed": any_speed,
        "start_tilt_deg": start_tilt,
    }


@trial("safety_activation_ramp")
def safety_activation_ramp() -> dict:
    """Activation from damping never exceeds the stand-up ramp's joint speed limit: commanded
    targets (every period) and measured body joint speeds in the direction the ramp moves each
    joint (over 20 ms), from the hardware's startup hold, from lying on the floor after a DAMPING
    request, and after an e-stop. The fastest motion in any direction is shown beside it: a weak
    joint sagging under gravity (a scapula under the arm's weight) moves away from its target.
    Deterministic: no random draws, no seeds."""
    out = {}
    lunge = _activation("damped_lying", max_speed=5.0, min_ramp_s=0.0)
    out["baseline_fast_activation_measured_speed_rad_s"] = Figure(
        round(lunge["meas_speed"], 3),
        "rad/s",
        note=f"the same check on a 5 rad/s activation from lying ({lunge['meas_joint']}): what a lunge looks like",
    )
    for scenario in ("startup_hold", "damped_lying", "estop"):
        r = _activation(scenario)
        out[f"{scenario}_cmd_speed_max_rad_s"] = Figure(
            round(r["cmd_speed"], 4), "rad/s", f"<= {MAX_SPEED}", r["cmd_speed"] <= MAX_SPEED * (1 + 1e-6)
        )
        out[f"{scenario}_measured_speed_toward_target_max_rad_s"] = Figure(
            round(r["meas_speed"], 3),
            "rad/s",
            f"<= {MAX_SPEED}",
            r["meas_speed"] <= MAX_SPEED and r["mode_after"] == "ACTIVE",
            note=f"{r['meas_joint']}; ramp {r['ramp_s']:.2f} s from pelvis tilt {r['start_tilt_deg']:.0f} deg; "
            f"then {r['mode_after']}",
        )
        speed, joint = r["any_speed"]
        out[f"{scenario}_measured_speed_any_direction_rad_s"] = Figure(
            round(speed, 3),
            "rad/s",
            note=f"{joint}; any direction, so sagging under gravity and floor contact count too",
        )
    return out


def _push_run(direction: str, impulse_ns: float, detect: bool, cut_s: float | None = None, watch_s: float = 3.0):
    """Push the supervised robot; returns (fell, t_detect, t_damp, verdict) relative to the push
    start. cut_s truncates the push (same force) after that long."""
    sim, sup, harness = supervised_stand(detect_falls=detect)
    harness.run(1.5)
    assert sup.mode == Mode.ACTIVE, sup.core.reason
    dx, dy = PUSH_DIRECTIONS[direction]
    force = impulse_ns / 0.2
    duration = 0.2 if cut_s is None else cut_s
    t0 = sim.time
    if duration > 0:
        sim.apply_wrench("torso", (dx * force, dy * force, 0.0), (0.0, 0.0, 0.0), duration)
    fell, t_detect, t_damp = False, None, None
    for _ in range(round(watch_s / sim.control_period_s)):
        harness.step()
        fell = fell or fallen(sim)
        if t_detect is None and sup.mode == Mode.FAULT:
            t_detect = sim.time - t0
        if t_damp is None and body_damped(sim):
            t_damp = sim.time - t0
        if fell and not detect:
            break
    return fell, t_detect, t_damp, (sup.verdicts[0] if sup.verdicts else None), sup


def no_return_s(direction: str, tolerance_s: float = 0.004) -> float:
    """The moment of no return of the TOPPLE_NS push for the PD hold, from ground truth: the
    shortest truncation of the push (same force) after which the robot still falls (`fallen`),
    by bisection, with the supervisor blind to falls."""
    low, high = 0.0, 0.2  # survives with no push; falls with the whole push
    while high - low > tolerance_s:
        mid = 0.5 * (low + high)
        if _push_run(direction, TOPPLE_NS, detect=False, cut_s=mid)[0]:
            high = mid
        else:
            low = mid
    return high


@trial("safety_fall_detection")
def safety_fall_detection() -> dict:
    """A 60 N s push on the torso (front, back, both sides) topples the PD-held robot: detected as
    a fall within 100 ms of the moment of no return (ground truth, by bisection on the push's
    length), and the body ends in DAMP. Deterministic: no random draws, no seeds."""
    out = {}
    for direction in PUSH_DIRECTIONS:
        t_nr = no_return_s(direction)
        fell, t_detect, t_damp, verdict, _ = _push_run(direction, TOPPLE_NS, detect=True)
        latency = None if t_detect is None else t_detect - t_nr
        ok = latency is not None and latency <= 0.100 and t_damp is not None
        out[f"{direction}_detect_after_no_return_ms"] = Figure(
            None if latency is None else round(latency * 1e3, 1),
            "ms",
            "<= 100",
            ok,
            note=f"no return {t_nr * 1e3:.0f} ms, detected {t_detect and t_detect * 1e3:.0f} ms after the push start "
            f"({verdict.criterion if verdict else 'not detected'})",
        )
        out[f"{direction}_body_damped"] = Figure(t_damp is not None, "", "True", t_damp is not None)
    return out


def largest_survived_ns(direction: str, high_ns: float = 30.0, tolerance_ns: float = 1.0) -> float:
    """Largest 0.2 s torso push [N s] the PD-held robot survives (4 s watch), by bisection, with
    the supervisor blind to falls."""
    low, high = 0.0, high_ns
    while high - low > tolerance_ns:
        mid = 0.5 * (low + high)
        if _push_run(direction, mid, detect=False, watch_s=4.0)[0]:
            high = mid
        else:
            low = mid
    return low


@trial("safety_no_false_falls")
def safety_no_false_falls() -> dict:
    """No fall reported while standing 20 s, nor under pushes the PD hold survives: 4 N s, and 90 %
    of the largest impulse it survives in each direction (bisection in the same run).
    Deterministic: no random draws, no seeds."""
    out = {}
    sim, sup, harness = supervised_stand()
    harness.run(20.0)
    ok = sup.mode == Mode.ACTIVE and not sup.verdicts
    out["standing_20s_mode"] = Figure(sup.mode.name, "", "ACTIVE, no fall", ok, note=sup.core.reason)
    for direction in PUSH_DIRECTIONS:
        survived = largest_survived_ns(direction)
        for impulse in sorted({4.0, round(0.9 * survived, 1)}):
            fell, t_detect, _, verdict, sup = _push_run(direction, impulse, detect=True, watch_s=4.0)
            ok = not fell and t_detect is None
            out[f"{direction}_{impulse:g}Ns_false_fall"] = Figure(
                verdict.reason if verdict else "none",
                "",
                "none (and the robot stood)",
                ok,
                note=("fell" if fell else "stood") + f"; PD hold survives {survived:g} N s",
            )
    return out

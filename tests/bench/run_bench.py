"""`make bench`: speed and cost figures, each beside a baseline measured in the same run where one
exists (a constant such as a goal or a period is no baseline: it goes in `goal`, or in the note),
printed as a table and written afresh to build/bench.json as {"commit", "started", "machine",
"figures": {name: {value, unit, baseline, ratio, goal, passed, note, lower_is_better}},
"failed": {bench: reason}}. A bench that fails is reported and the others still run; the run exits 1
when a bench failed, a figure missed its goal or measured nothing (NaN).
`make bench BENCH=bench_stack` (or `python -m tests.bench.run_bench bench_stack ...`) runs some only.

The default deployment as a user runs it (stack_bench.py): stack_cpu_cores and stack_cpu_<process>,
  wbc_loop_answered_share, wbc_loop_jitter_p99_us, sim_rtf_deployed, sim_reset_to_active_s.
Figures of the foundation:
  sim_rtf_full               the sim node as deployed (unpaced: real_time_factor 0), all 82 joints,
                             contacts, the head camera subscribed, the stand commanding, publishing
  sim_rtf_physics            mj_step alone on the same model (the baseline)
  joint_states_latency_*     sim node (mode realtime) -> another process, beside a bare rclpy
                             talker/listener of the same 82-joint message at 500 Hz
Hardware (bus_bench.py): bus_cycle_p99_us, bus_load_max_pct, fault_to_damping_ms.
Face and interaction (face_bench.py): face_fps_1280x480, face_frame_p99_ms, intent_latency_p50_ms,
  tts_latency_p50_ms.
Recording (record_bench.py): record_msgs_per_s_max (the loss on kill -9: make accept record_kill_loss).
Console (console_bench.py): console_update_hz.
Perception (perception_bench.py): perception_latency_p50_ms_640, perception_latency_p99_ms_640,
  perception_latency_p99_ms_320, perception_fps_640, perception_pos_err_median_cm,
  perception_people_latency_ms, perception_people_latency_p99_ms_640.
Whole-body control (wbc_bench.py): wbc_tick_p50_us, wbc_tick_p99_us, wbc_qp_share,
  push_recovery_impulse_Ns (baseline: the joint-PD hold).
Safety supervisor (safety_bench.py): estop_to_damping_ms (median), estop_to_damping_max_ms.
ros2_control (ros2_control_bench.py; needs ../shared/ros2_control): ros2_control_cycle_p99_us,
  ros2_control_hop_ratio (a command through controller_manager vs straight to the hardware).
Hands (hands_bench.py): hand_tick_p99_us, grasp_cycle_s, grasp_success_rate.
VLA (vla_bench.py): vla_infer_p50_ms, vla_infer_p99_ms (beside session.run alone), vla_overhead_ratio.
Arm planning (planning_bench.py, pip side's OMPL planner): plan_arm_p50_ms, plan_arm_p95_ms,
  plan_success_rate (baseline: the straight joint motion) over seeded cluttered tables.
Arm execution (arm_execution_bench.py, plans followed by the WBC in MuJoCo): traj_tracking_err_max_rad,
  arm_execution_success_rate (baseline: the straight reach without the planner).
Fuzzing (fuzz_bench.py): fuzz_msgs_total (10 000 per command topic of the running sim deployment),
  fuzz_crashes, fuzz_nonfinite_at_actuators (goals 0).
Fault injection (fault_bench.py): kill_to_hold_ms_max (kill -9 / SIGSTOP of every process of the sim
  deployment, standing and reaching), fault_falls, fault_problems (goals 0); outcomes in build/faults.json.
Two hosts (multi_host_bench.py; needs root and `ip netns`): link_cut_to_hold_ms (the WBC's host cut
  off by `ip link set down` between two network namespaces -> the body's HOLD, robot time).
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import traceback

import mujoco
import psutil

from tests.support.provenance import stamp

OUT = pathlib.Path("build/bench.json")
PY = sys.executable
FORMA = str(pathlib.Path(sys.executable).parent / "forma")


def figure(
    value: float,
    unit: str,
    baseline: float | None = None,
    note: str = "",
    lower_is_better: bool = False,
    goal: float | None = None,
) -> dict:
    """One bench figure. baseline: the same quantity measured in the same run by a simpler path
    (ratio = value / baseline); goal: the bound the figure must meet (<= when lower_is_better)."""
    return complete(
        {
            "value": round(value, 3),
            "unit": unit,
            "baseline": None if baseline is None else round(baseline, 3),
            "goal": goal,
            "note": note,
            "lower_is_better": lower_is_better,
        }
    )


def complete(f: dict) -> dict:
    """A figure's derived fields filled in (ratio, passed) and absent ones defaulted, so that
    benches that build the dict themselves give readers the same schema."""
    f = {"baseline": None, "goal": None, "note": "", "lower_is_better": False, "unit": "", **f}
    value, baseline, goal = f["value"], f["baseline"], f["goal"]
    measured = isinstance(value, int | float) and math.isfinite(value)
    if f.get("ratio") is None:
        f["ratio"] = round(value / baseline, 3) if baseline and measured else None
    if not measured:
        f["passed"] = False  # nothing measured
    elif goal is None:
        f["passed"] = None
    else:
        f["passed"] = bool(value <= goal if f["lower_is_better"] else value >= goal)
    return f


class Deployment:
    """`forma launch` in the background on its own ROS domain."""

    def __init__(self, name: str, domain: int, params: list[str]):
        self.log_dir = tempfile.mkdtemp(prefix="forma-bench-")
        argv = [FORMA, "launch", name, "--log-dir", self.log_dir]
        for p in params:
            argv += ["--param", p]
        self.env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
        self.popen = subprocess.Popen(
            argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def processes(self) -> list[psutil.Process]:
        return psutil.Process(self.popen.pid).children(recursive=True)

    def log(self, process: str) -> str:
        path = pathlib.Path(self.log_dir) / f"{process}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        self.popen.send_signal(2)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()


def _wait_for_log(deployment: Deployment, process: str, text: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in deployment.log(process):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process} never logged {text!r}")
        time.sleep(0.2)


def bench_sim_rtf() -> dict:
    from forma_sim.simulation import build_simulation

    sim = build_simulation(world="tabletop")
    model, data = sim.model, mujoco.MjData(sim.model)
    data.qpos[:] = sim.data.qpos
    steps = 5000
    t0 = time.perf_counter()
    for _ in range(steps):
        mujoco.mj_step(model, data)
    physics_rtf = steps * model.opt.timestep / (time.perf_counter() - t0)

    # the sim node as deployed, unpaced, with the camera subscribed and the stand commanding
    deployment = Deployment("sim_headless", 91, ["sim.real_time_factor=0.0"])
    try:
        _wait_for_log(deployment, "control", "ramping to the pose")
        probe = subprocess.Popen(
            [PY, "-c", _CAMERA_AND_CLOCK_PROBE], env=deployment.env, stdout=subprocess.PIPE, text=True
        )
        out, _ = probe.communicate(timeout=120)
        full_rtf = json.loads(out.strip().splitlines()[-1])["rtf"]
    finally:
        deployment.stop()
    return {
        "sim_rtf_full": figure(
            full_rtf,
            "x real time",
            physics_rtf,
            "sim node unpaced: 82 joints, contacts, camera 320x240@15Hz subscribed, stand, topics",
        ),
        "sim_rtf_physics": figure(physics_rtf, "x real time", note="mj_step alone, same model, 500 Hz"),
    }


_CAMERA_AND_CLOCK_PROBE = """
import json, time, rclpy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
rclpy.init(); n = rclpy.create_node('rtf_probe'); clock = []
n.create_subscription(Image, 'head_camera/color/image_raw', lambda m: None, 1)
on_clock = lambda m: clock.append((time.monotonic(), m.clock.sec + m.clock.nanosec * 1e-9))
n.create_subscription(Clock, '/clock', on_clock, 10)
end = time.monotonic() + 12.0
while time.monotonic() < end:
    rclpy.spin_once(n, timeout_sec=0.1)
window = [c for c in clock if c[0] > clock[0][0] + 2.0]
print(json.dumps({'rtf': (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])}))
"""


def _latency(cmd_env: dict, seconds: float = 10.0) -> dict:
    out = subprocess.run(
        [PY, "-m", "tests.bench.latency_probe", "listen", str(seconds)],
        env=cmd_env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_latency() -> dict:
    # baseline: bare rclpy talker and listener of the same message, same rate
    env = {**os.environ, "ROS_DOMAIN_ID": "92", "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    talker = subprocess.Popen([PY, "-m", "tests.bench.latency_probe", "talk", "20"], env=env)
    time.sleep(2.0)
    bare = _latency(env)
    talker.wait(timeout=30)
    # the stack: the sim node stamping with wall time, the stand node commanding
    deployment = Deployment("sim_headless", 93, ["sim.mode=realtime", "stand.use_sim_time=false"])
    try:
        _wait_for_log(deployment, "control", "ramping to the pose")
        stack = _latency(deployment.env)
    finally:
        deployment.stop()
    return {
        "joint_states_latency_p50_us": figure(
            stack["p50_us"], "us", bare["p50_us"], "sim node -> other process", lower_is_better=True
        ),
        "joint_states_latency_p99_us": figure(
            stack["p99_us"], "us", bare["p99_us"], "sim node -> other process", lower_is_better=True
        ),
    }


def bench_stack() -> dict:
    from tests.bench.stack_bench import bench_stack as run

    return run()


def bench_bus() -> dict:
    """The motor buses: a full 82-joint cycle of the real driver against emulated motors in
    another process over python-can udp_multicast, the worst configured bus load, and the time
    from a motor fault to the first damping command reaching the other motors."""
    from forma_description import RobotModel, expand_description
    from forma_hardware.bus.load import bus_load, cycle_time_s
    from forma_hardware.bus.topology import load_topology

    out = subprocess.run(
        [PY, "-m", "tests.bench.bus_bench", "8", "50", "--fault"], capture_output=True, text=True, timeout=180
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    topology = load_topology(RobotModel.from_urdf(expand_description()))
    wire_us = max(cycle_time_s(b) for b in topology.buses) * 1e6  # buses run in parallel
    loads = {b.name: bus_load(b) for b in topology.buses}
    worst = max(loads, key=loads.get)
    return {
        "bus_cycle_p99_us": figure(
            r["cycle_p99_us"],
            "us",
            note="82 joints, 7 buses, udp_multicast to an emulator process, Python both ends; the same cycle's "
            f"CAN-FD wire time would be {wire_us:.0f} us (computed from the topology); no same-run baseline",
            lower_is_better=True,
        ),
        "bus_load_max_pct": figure(
            loads[worst] * 100,
            "%",
            note=f"{worst} at {topology.bus(worst).rate_hz:.0f} Hz, worst-case bit stuffing, computed from the "
            "topology; goal: the 70 % design limit",
            lower_is_better=True,
            goal=70.0,
        ),
        "fault_to_damping_ms": figure(
            r["fault_to_damping_ms"] or float("nan"),
            "ms",
            note="first reply carrying left_knee's encoder fault -> kp = 0 reaches right_knee, driver at 50 Hz "
            f"(one cycle {r['period_ms']:g} ms); no same-run baseline",
            lower_is_better=True,
        ),
    }


def bench_face() -> dict:
    from tests.bench.face_bench import bench_face as run

    return run()


def bench_record() -> dict:
    from tests.bench.record_bench import bench_record as run

    return run()


def bench_console() -> dict:
    from tests.bench.console_bench import bench_console as run

    return run()


def bench_perception() -> dict:
    from tests.bench.perception_bench import bench_perception as run

    return run()


def bench_wbc() -> dict:
    from tests.bench.wbc_bench import bench_wbc as run

    return run()


def bench_walk() -> dict:
    from tests.bench.walk_bench import bench_walk as run

    return run()


def bench_hands() -> dict:
    from tests.bench.hands_bench import bench_hands as run

    return run()


def bench_safety() -> dict:
    from tests.bench.safety_bench import bench_estop

    r = bench_estop()
    return {
        "estop_to_damping_ms": figure(
            r["median_ms"],
            "ms",
            note=f"median of {r['n']}, max {r['max_ms']:.1f} ms: safety/estop topic -> hardware/state body DAMP "
            f"over DDS (sim node + supervisor processes at the sim deployment's priorities, {r['priority']}; "
            "hardware/state at 500 Hz); no same-run baseline",
            lower_is_better=True,
        ),
        "estop_to_damping_max_ms": figure(
            r["max_ms"], "ms", note=f"worst of {r['n']}: {r['all_ms']}; goal: two 2 ms control periods",
            lower_is_better=True, goal=4.0,
        ),
    }


def bench_ros2_control() -> dict:
    from tests.bench.ros2_control_bench import bench_ros2_control as run

    r = run()
    return {
        "ros2_control_cycle_p99_us": figure(
            r["cycle_p99_us"],
            "us",
            note=f"interval between controller_manager updates (500 Hz: 2000 us nominal, topic hardware x3 against "
            f"the sim node in realtime mode), p99 of {r['updates']} from joint_state_broadcaster's stamps; median "
            f"{r['cycle_median_us']:.0f} us; no same-run baseline",
            lower_is_better=True,
        ),
        "ros2_control_hop_ratio": figure(
            r["ratio"],
            "x",
            note=f"command -> the hardware contract's decision, through ros2_control {r['through_ms']:.1f} ms vs "
            f"straight onto hardware/joint_commands {r['straight_ms']:.1f} ms (medians of {r['n']}, same run; "
            "hardware/state at 500 Hz: 2 ms resolution)",
            lower_is_better=True,
        ),
    }


def bench_tasks() -> dict:
    from tests.bench.tasks_bench import bench_tasks as run

    return run()


def bench_vla() -> dict:
    from tests.bench.vla_bench import bench_vla as run

    return run()


def bench_vla_remote() -> dict:
    from tests.bench.vla_bench import bench_vla_remote as run

    return run()


def bench_planning() -> dict:
    from tests.bench.planning_bench import bench_planning as run

    return run()


def bench_arm_execution() -> dict:
    from tests.bench.arm_execution_bench import bench_arm_execution as run

    return run()


def bench_fuzz() -> dict:
    from tests.bench.fuzz_bench import bench_fuzz as run

    return run()


def bench_faults() -> dict:
    from tests.bench.fault_bench import bench_faults as run

    return run()


def bench_multi_host() -> dict:
    from tests.bench.multi_host_bench import bench_multi_host as run

    return run()


BENCHES = [
    bench_stack,
    bench_sim_rtf,
    bench_latency,
    bench_bus,
    bench_face,
    bench_record,
    bench_console,
    bench_perception,
    bench_wbc,
    bench_walk,
    bench_safety,
    bench_hands,
    bench_ros2_control,
    bench_tasks,
    bench_vla,
    bench_vla_remote,
    bench_planning,
    bench_arm_execution,
    bench_fuzz,
    bench_faults,
    bench_multi_host,
]


def main(argv: list[str]) -> int:
    """Run the selected benches (all by default); a bench that fails is reported with its reason
    and the others still run. Writes a fresh build/bench.json; exits 1 if any bench failed or any
    figure missed its goal."""
    os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    unknown = [a for a in argv if a not in {b.__name__ for b in BENCHES}]
    if unknown:
        print(f"unknown bench(es) {', '.join(unknown)}; benches: {', '.join(b.__name__ for b in BENCHES)}")
        return 2
    selected = [b for b in BENCHES if not argv or b.__name__ in argv]
    results: dict = {**stamp(), "figures": {}, "failed": {}}
    for bench in selected:
        t0 = time.monotonic()
        try:
            results["figures"].update({k: complete(f) for k, f in bench().items()})
        except Exception as exc:  # report it, measure the rest
            results["failed"][bench.__name__] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        print(f"[bench] {bench.__name__}: {time.monotonic() - t0:.0f} s", flush=True)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))
    print(f"{'':4s} {'figure':34s} {'value':>12s} {'unit':12s} {'baseline':>10s} {'ratio':>7s} {'goal':>9s}  note")
    for name, f in results["figures"].items():
        base = "" if f["baseline"] is None else f"{f['baseline']:.3f}"
        ratio = "" if f["ratio"] is None else f"{f['ratio']:.2f}"
        goal = "" if f["goal"] is None else ("<= " if f["lower_is_better"] else ">= ") + f"{f['goal']:g}"
        mark = {True: "ok", False: "FAIL", None: ""}[f["passed"]]
        value = f"{f['value']:12.3f}"
        print(f"{mark:4s} {name:34s} {value} {f['unit']:12s} {base:>10s} {ratio:>7s} {goal:>9s}  {f['note']}")
    for name, why in results["failed"].items():
        print(f"FAILED {name}: {why}")
    missed = [name for name, f in results["figures"].items() if f["passed"] is False]
    if missed:
        print(f"missed the goal or measured nothing: {', '.join(missed)}")
    print(f"wrote {OUT} (commit {results['commit']})")
    return 1 if results["failed"] or missed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

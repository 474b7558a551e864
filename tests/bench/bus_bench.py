"""Bus-cycle benchmark: the real BusDriver in this process, emulated motors (ideal plant) in
another, over python-can udp_multicast: one full 82-joint cycle = encode, send, receive, decode.

    python -m tests.bench.bus_bench SECONDS RATE_HZ   # prints JSON
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
import time

import numpy as np

ALL_BUSES = ("left_leg", "right_leg", "torso", "left_arm", "right_arm", "left_hand", "right_hand")
SENSORS = {
    "imu": (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.81),
    "power": (48.0, 5.0, 0.8, 30.0),
    "ft_left": (0.0, 0.0, 300.0, 0.0, 0.0, 0.0),
    "ft_right": (0.0, 0.0, 300.0, 0.0, 0.0, 0.0),
    "touch_left": (0.0,) * 5,
    "touch_right": (0.0,) * 5,
}


def topology(base: str, rate_hz: float):
    from forma_description import RobotModel, expand_description
    from forma_hardware.bus.topology import bus_overrides, load_topology

    robot = RobotModel.from_urdf(expand_description())
    rates = [f"{b}={rate_hz}" for b in ALL_BUSES]
    return robot, load_topology(robot, overrides=bus_overrides("udp_multicast", base, list(ALL_BUSES), rates))


def emulate(base: str, rate_hz: float, stop, inject=None, result=None) -> None:
    """Emulated motors with an ideal plant. When `inject` is set, an encoder fault is injected on
    left_knee; the time from the first reply that carries it to the first damping command (kp = 0)
    reaching right_knee is put on `result` [s]."""
    from forma_hardware.bus.emulated import EmulatedBuses
    from forma_hardware.bus.io import open_bus

    _, topo = topology(base, rate_hz)
    ports = {b.name: open_bus(b) for b in topo.buses}
    emulated = EmulatedBuses(topo, ports, lambda board: SENSORS[board])
    injected, reported_at = False, None
    faulty, watch = emulated.motors["left_knee"], emulated.motors["right_knee"]
    commands_seen = 0
    while not stop.is_set():
        emulated.serve(time.monotonic() + 0.001)
        for m in emulated.motors.values():
            kp, _, p_target, _, _ = m.gains_and_targets()
            if kp > 0:
                m.position = p_target
        if inject is not None and inject.is_set() and not injected:
            emulated.inject("encoder_error", "left_knee", 1.0)
            injected, commands_seen = True, faulty.commands_received
        if injected and reported_at is None and faulty.commands_received > commands_seen:
            reported_at = time.monotonic()  # the first reply carrying the error is on the bus
        if reported_at is not None and watch.command[2] == 0.0 and result is not None:
            result.put(time.monotonic() - reported_at)
            result = None


def run(seconds: float, rate_hz: float, measure_fault: bool = False) -> dict:
    from forma_hardware import JointCommand
    from forma_hardware.bus.driver import BusDriver
    from forma_hardware.bus.io import open_bus
    from forma_hardware.bus.mapping import Calibration
    from forma_hardware.config import load_hardware_config

    base = f"239.77.{os.getpid() % 250}."
    stop, inject, result = mp.Event(), mp.Event(), mp.Queue()
    emulator = mp.Process(target=emulate, args=(base, rate_hz, stop, inject, result), daemon=True)
    emulator.start()
    robot, topo = topology(base, rate_hz)
    ports = {b.name: open_bus(b) for b in topo.buses}
    driver = BusDriver(robot, topo, load_hardware_config(), ports, Calibration({}), rate_hz)
    deadline = time.monotonic() + 20
    while driver.enable_motors(0.2) and time.monotonic() < deadline:
        pass
    now = time.time()
    driver.cycle(now)
    driver.contract.reset(now, driver.q)
    durations, missing = [], []
    period = 1.0 / rate_hz
    next_t = time.monotonic()
    fault_to_damping_s = None
    for k in range(int(seconds * rate_hz)):
        now = time.time()
        if not driver.fault_reason:
            driver.contract.submit(JointCommand(driver.joint_names, position=driver.q.copy(), stamp_s=now), now)
        if measure_fault and k == int(seconds * rate_hz) // 2:
            inject.set()
        report = driver.cycle(now)
        durations.append(report.duration_s)
        missing.append(report.missing)
        next_t += period
        time.sleep(max(0.0, next_t - time.monotonic()))
    if measure_fault:
        try:
            fault_to_damping_s = result.get(timeout=5)
        except Exception:  # noqa: BLE001 - no damping seen: reported as None
            fault_to_damping_s = None
    stop.set()
    emulator.join(timeout=5)
    d = np.array(durations) * 1e6
    return {
        "rate_hz": rate_hz,
        "cycles": len(d),
        "cycle_p50_us": float(np.percentile(d, 50)),
        "cycle_p99_us": float(np.percentile(d, 99)),
        "missing_per_cycle": float(np.mean(missing)),
        "faults": driver.fault_reason,
        "period_ms": 1e3 / rate_hz,
        "fault_to_damping_ms": None if fault_to_damping_s is None else fault_to_damping_s * 1e3,
    }


if __name__ == "__main__":
    os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    print(json.dumps(run(float(sys.argv[1]), float(sys.argv[2]), "--fault" in sys.argv)))

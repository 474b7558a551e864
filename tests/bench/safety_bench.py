"""estop_to_damping_ms: wall time from an e-stop published on safety/estop to hardware/state
showing the body group in DAMP, over DDS (sim node + safety supervisor as processes; the sim
publishes hardware/state every control period for this, so the figure's resolution is 2 ms).
Several repetitions, each during the supervisor's stand-up ramp (the hardware active and
commanded); the robot is released, reset and stood up again between them. The sim and the
supervisor run at the `sim` deployment's real-time priorities, the probe above them."""

from __future__ import annotations

import pathlib
import statistics
import tempfile
import threading
import time

from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from forma_common import qos
from forma_common.direct import DirectSubscription, InputWaiter
from forma_common.scheduling import enter_realtime, leave_realtime
from forma_interfaces.msg import HardwareState, SafetyState
from forma_interfaces.srv import SetOperatingMode
from tests.support.deployments import node, process, write_deployment
from tests.support.ros import LaunchedDeployment, RosProbe

MEASURE_PRIORITY = 60  # SCHED_FIFO above the deployment's loops (50)
DOMAIN_ID = 53  # the supervisor tests' domain: never runs beside tests/integration/test_safety_supervisor_dds.py


def _deployment(tmp: pathlib.Path) -> str:
    """The sim and the supervisor scheduled as the `sim` deployment ships them."""
    sim = node("sim", world="empty", state_rate_hz=500.0, **{"camera.rate_hz": 0.0})
    safety = node("safety_supervisor", auto_stand=True, min_ramp_s=5.0, recover_holds_per_min=0)
    return write_deployment(
        tmp,
        "safety_bench",
        [process("sim", sim, realtime_priority=50, cpus=[0]), process("safety", safety, realtime_priority=45)],
    )


def bench_estop(repetitions: int = 7) -> dict:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="forma-safety-bench-"))
    latencies_ms = []
    with (
        LaunchedDeployment(_deployment(tmp), DOMAIN_ID, tmp / "logs"),
        RosProbe(DOMAIN_ID, name="estop_bench") as probe,
    ):
        damped = threading.Event()
        body_state = [None]
        # hardware/state (500 Hz here) read by a thread of the probe's own from a direct
        # subscription: through rclpy's executor, at the probe's real-time priority, its callbacks
        # took a quarter of a core above the sim they measure, and the e-stop's state waited
        # behind the samples before it (the figure read the probe as much as the stack)
        state_in = DirectSubscription(probe.node, HardwareState, "hardware/state", qos.STATE_STREAM)
        waiter = InputWaiter(probe.node, [state_in])
        reading = [True]

        def read_states() -> None:
            while reading[0]:
                if not waiter.wait(0.1):
                    continue
                while (msg := state_in.take()) is not None:
                    body_state[0] = msg.stop_states[list(msg.groups).index("body")]
                    if msg.estop_engaged and body_state[0] == HardwareState.DAMP:
                        damped.set()

        reader = threading.Thread(target=read_states, daemon=True)
        reader.start()
        states = probe.collect(SafetyState, "safety/state", depth=20, latched=True)
        pub = probe.node.create_publisher(Bool, "safety/estop", 10)
        probe.wait_for(lambda: pub.get_subscription_count() >= 2, 60, "the supervisor and the sim")
        # a `false` (which changes nothing) until every reader acknowledged it: a reader that had not
        # matched this writer yet would get the first `true` only from a heartbeat repair, seconds on
        probe.publish_delivered(pub, Bool(data=False))
        # measured from above the stack (as the stack bench does): a probe at normal priority
        # measures its own wake-up beside real-time processes, not the e-stop path
        rt_problem = enter_realtime(MEASURE_PRIORITY, all_threads=True)
        try:
            attempts = 0
            while len(latencies_ms) < repetitions:
                attempts += 1
                if attempts > 3 * repetitions:
                    raise RuntimeError(f"only {len(latencies_ms)} clean e-stops in {attempts - 1} attempts")

                # measured while the supervisor's stand-up ramp commands the robot (min_ramp_s 5 s). A
                # robot that is not ramping is brought back to it: out of FAULT/ESTOP by safety/reset;
                # from DAMPING or HOLD (the e-stop damped it to the floor, or its ramp ended before this
                # probe was ready and nothing commanded it after) back on its feet by sim/reset, then
                # a stand-up requested
                def ramping() -> bool:
                    mode = states[-1].mode
                    if mode in (SafetyState.FAULT, SafetyState.ESTOP):
                        probe.call(Trigger, "safety/reset", Trigger.Request())
                        time.sleep(0.2)
                    elif mode in (SafetyState.DAMPING, SafetyState.HOLD):
                        probe.call(Trigger, "sim/reset", Trigger.Request())
                        stand_up = SetOperatingMode.Request(mode=SafetyState.STANDING_UP, reason="e-stop bench")
                        probe.call(SetOperatingMode, "safety/set_mode", stand_up)
                        time.sleep(0.2)
                    return states[-1].mode == SafetyState.STANDING_UP and body_state[0] == HardwareState.ACTIVE

                probe.wait_for(lambda: states and ramping(), 60, "the stand-up ramp running")
                time.sleep(0.3)
                if not (states[-1].mode == SafetyState.STANDING_UP and body_state[0] == HardwareState.ACTIVE):
                    continue  # it fell during the wait: not a clean measurement
                damped.clear()
                t0 = time.monotonic()
                pub.publish(Bool(data=True))
                if not damped.wait(timeout=10.0):
                    raise RuntimeError("the e-stop never showed as DAMP on hardware/state")
                latencies_ms.append((time.monotonic() - t0) * 1e3)
                pub.publish(Bool(data=False))
                released = lambda: states[-1].mode == SafetyState.ESTOP and not states[-1].estop_engaged  # noqa: E731
                probe.wait_for(released, 30, "release")
        finally:
            leave_realtime(all_threads=True)
            reading[0] = False
            waiter.wake()
            reader.join(timeout=2.0)
            waiter.destroy()
            state_in.destroy()
    return {
        "median_ms": statistics.median(latencies_ms),
        "max_ms": max(latencies_ms),
        "n": len(latencies_ms),
        "all_ms": [round(v, 2) for v in latencies_ms],
        "priority": rt_problem or f"probe at SCHED_FIFO {MEASURE_PRIORITY}",
    }


if __name__ == "__main__":
    import json
    import os
    import sys

    os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    print(json.dumps(bench_estop()))

"""Fuzzing the shipped `sim` deployment over real DDS (issue 21, deliverable 2): every topic its
nodes subscribe to, every service and action they serve (the inventory read from the running
graph, tests/support/fuzz_graph.py), fed a bounded number of messages, requests and goals generated
from their types (tests/support/fuzz.py: NaN/inf, extremes, empty, oversized and mismatched
arrays, unknown joint names, wrong frames, stale, zero and future stamps), while the robot stands
on whole-body control. Then: no process of the deployment died, no command the stack's nodes sent
to `hardware/joint_commands` carried a NaN or an inf, every node still answers, and a valid hand
target still moves the palm.

A fuzzed message can be valid (a plausible torso target, a made-up but well-formed IMU sample):
when one makes the supervisor leave ACTIVE, the test records which input did it, recovers as the
console does (safety/reset, sim/reset, stand-up) and goes on; the incidents are printed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.srv import ListParameters
from std_msgs.msg import String

from forma_common.messages import to_time_msg
from forma_interfaces.msg import SafetyState, WbcStatus
from forma_perception.robot_frames import RobotFrames
from tests.support import fuzz
from tests.support.fuzz_graph import (
    EXCLUSIONS,
    ActuatorWatch,
    Fuzzer,
    alive,
    is_active,
    joint_names,
    order,
    process_name,
    recover,
    robot_clock,
    take_inventory,
)
from tests.support.ros import LaunchedDeployment, RosProbe, free_port

pytestmark = pytest.mark.integration

PROBE = "fuzz_probe"
COMMAND_TOPICS = (
    "hardware/joint_commands", "wbc/targets/left_hand", "wbc/targets/right_hand", "wbc/targets/gaze",
    "wbc/targets/torso", "cmd_vel", "hands/left/command", "hands/right/command",
)
PER_COMMAND_TOPIC = 30  # messages per command topic (the bench sends 10 000)
PER_TOPIC = 10  # messages per other topic (sensor streams, states, the face, dialogue...)
PER_SERVICE = 3  # requests per service (parameter services of every node included)
PER_ACTION = 4  # goals per action (accepted ones cancelled)
SEED = 21_000
OWN_VIEW = ("safety/state", "wbc/status", "joint_states")  # topics the test itself reads
WAIT_S = 180.0


def test_fuzzing_every_input_leaves_the_stack_running_and_the_actuators_finite(tmp_path, domain_id):
    port = free_port()
    with (
        LaunchedDeployment("sim", domain_id, tmp_path / "logs", [f"console.port={port}"]) as deployment,
        RosProbe(domain_id, name=PROBE) as probe,
    ):
        safety = probe.collect(SafetyState, "safety/state", depth=50, latched=True)
        status = probe.collect(WbcStatus, "wbc/status", keep=1)
        description = probe.collect(String, "robot_description", latched=True, keep=1)
        now = robot_clock(probe)
        probe.wait_for(
            lambda: is_active(safety) and status and status[-1].active, WAIT_S, "the robot ACTIVE on the WBC"
        )
        frames = RobotFrames(description[0].data)  # read before robot_description is fuzzed
        # the optional processes come up after the robot stands (the vla node loads its model)
        probe.wait_for(lambda: "tasks: serving tasks/execute" in deployment.output, WAIT_S, "the tasks node")
        time.sleep(3.0)
        processes = [p for p in deployment.process_tree() if "forma_process" in " ".join(p.cmdline())]
        names = {p.pid: process_name(p) for p in processes}

        inventory = take_inventory(probe.node, {PROBE})
        print(f"inventory of the running graph ({len(inventory.all())} inputs):\n{inventory.describe()}")
        inputs = {i.name for i in inventory.all()}
        for expected in (*COMMAND_TOPICS, "joint_states", "imu/data", "safety/estop", "safety/set_mode",
                         "hardware/set_actuator_mode", "wbc/reach", "wbc/walk_to", "hands/left/grasp", "vla/execute"):
            assert expected in inputs, f"{expected} missing from the graph's inventory"

        watch = ActuatorWatch(probe)
        ctx = fuzz.FuzzContext(joint_names=joint_names(), now_s=now)
        fuzzer = Fuzzer(probe, ctx, watch)
        incidents, outcomes, not_fuzzed = [], [], []
        died_during: dict[int, str] = {}
        t0 = time.monotonic()
        for k, entry in enumerate(order(inventory, COMMAND_TOPICS)):
            if entry.kind == "topic":
                n = PER_COMMAND_TOPIC if entry.name in COMMAND_TOPICS else PER_TOPIC
            else:
                n = PER_SERVICE if entry.kind == "service" else PER_ACTION
            seen = len(safety)
            try:
                outcome = fuzzer.run(entry, n, SEED + k)
            finally:  # which input a process died on: the bug's first clue
                for p in processes:
                    if p.pid not in died_during and not alive(p):
                        died_during[p.pid] = f"{names[p.pid]} died while fuzzing {entry.kind} {entry.name}"
            if deployment.popen.poll() is not None:
                break  # a required process died and took the deployment down
            if outcome is None:
                not_fuzzed.append(entry.name)
                continue
            outcomes.append(outcome)
            if entry.name in OWN_VIEW:
                time.sleep(0.5)  # the probe saw its own fuzz there: the stack's next messages first
            left = [f"{m.mode_name}: {m.reason}" for m in list(safety)[seen:] if m.mode != SafetyState.ACTIVE]
            if left or not is_active(safety):
                incidents.append(f"{entry.kind} {entry.name}: {left[:2] or safety[-1].mode_name}")
                print(f"incident: {incidents[-1]}; recovering")
                recover(probe, safety)
        fuzz_s = time.monotonic() - t0
        time.sleep(1.0)  # the last commands read
        watch.close()

        sent = sum(o.sent for o in outcomes)
        unanswered = [f"{o.input.name} ({o.unanswered}/{o.sent})" for o in outcomes if o.unanswered]
        errors = [f"{o.input.name}: {e}" for o in outcomes for e in o.errors]
        print(f"fuzzed {len(outcomes)} inputs with {sent} messages/requests/goals in {fuzz_s:.0f} s; "
              f"not fuzzed (EXCLUSIONS): {not_fuzzed}; incidents (recovered): {incidents or 'none'}; "
              f"unanswered: {unanswered or 'none'}; the stack's commands seen: {watch.messages} {watch.by_size}")
        for name, why in EXCLUSIONS.items():
            print(f"  excluded or restricted: {name}: {why}")

        # no process died
        exits = [line for line in deployment.output.splitlines() if " exited " in line]
        assert not died_during and not exits, f"processes died under fuzzing: {list(died_during.values())}; {exits}"
        # nothing non-finite reached the actuators from the stack's own nodes (its bodies and hands)
        assert watch.messages > 500, f"only {watch.messages} commands of the stack seen: is the watch subscribed?"
        assert watch.non_finite_values == 0, f"{watch.non_finite_messages} commands with NaN/inf: {watch.examples}"
        # every node still answers (a service of each, within seconds)
        nodes = sorted({n for i in inventory.services for n in i.nodes})
        silent = []
        for node in nodes:
            try:
                probe.call(ListParameters, f"/{node}/list_parameters", ListParameters.Request(), timeout_s=20.0)
            except AssertionError as exc:
                silent.append(f"{node}: {exc}")
        assert not silent, f"nodes no longer answering: {silent}"
        assert not errors, errors

        # a valid command is still acted on: a hand target 10 cm ahead of the right palm moves it
        if not is_active(safety):
            incidents.append(f"after the last input: {safety[-1].mode_name}: {safety[-1].reason}")
            recover(probe, safety)
        probe.wait_for(lambda: status and status[-1].active, 60, "the WBC active")
        palm0 = _palm(probe, frames)
        target = PoseStamped()
        target.header.frame_id, target.header.stamp = "base_link", to_time_msg(now())
        p = palm0[:3, 3] + np.array([0.10, 0.0, 0.0])
        target.pose.position.x, target.pose.position.y, target.pose.position.z = (float(v) for v in p)
        target.pose.orientation = _quaternion(palm0)
        publisher = probe.matched_publisher(PoseStamped, "wbc/targets/right_hand")
        probe.publish_delivered(publisher, target)
        t_sent = now()
        probe.wait_for(lambda: now() > t_sent + 3.0, 60, "3 s of sim time after the target")
        moved = float(np.linalg.norm(_palm(probe, frames)[:3, 3] - palm0[:3, 3]))
        owners = dict(zip(status[-1].groups, status[-1].owners, strict=False))
        assert moved > 0.05, f"the palm moved {moved * 100:.1f} cm toward a target 10 cm ahead (owners {owners})"
        assert is_active(safety), safety[-1].reason
        print(f"after fuzzing a valid hand target moved the palm {moved * 100:.1f} cm; incidents: {incidents}")


def _palm(probe: RosProbe, frames: RobotFrames) -> np.ndarray:
    js = probe.latest("joint_states")
    frames.update(js.name, js.position)
    return frames.transform("base_link", "right_hand")


def _quaternion(pose: np.ndarray):
    import pinocchio as pin
    from geometry_msgs.msg import Quaternion

    x, y, z, w = pin.Quaternion(pose[:3, :3]).coeffs()
    return Quaternion(x=float(x), y=float(y), z=float(z), w=float(w))

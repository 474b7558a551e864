"""The link cut between two hosts (issue 21, deliverable 4), shared by tests/system/test_multi_host.py
and the bench figure link_cut_to_hold_ms (tests/bench/multi_host_bench.py).

The `sim_two_hosts_wbc` deployment runs its `robot` host (sim, safety supervisor, hands) in one
network namespace and its `brain` host (the WBC) in another, joined by a veth pair
(tests/support/netns.py), every participant on UDPv4 only. The observer (a RosProbe reading the
simulator's truth, hardware/state and safety/state: tests/support/faults.Truth) runs in the robot's
namespace, as a tool on the robot's computer would, and so sees the robot throughout the cut.

What a cut must end in (README "Two computers"): the WBC's commands stop arriving, the hardware's
body watchdog holds the body within its timeout (robot time, the budget of faults.EXPECTED_HOLD),
the robot keeps standing (sim truth), and once the link is back the supervisor's start ramp
(STANDING_UP) hands the body to the WBC again (ACTIVE, and it stays so with the WBC commanding).

run_link_cuts() runs all of it in a Python process of its own (`python -m tests.support.multi_host`):
the probe must be that process's first DDS participant. Made in a pytest process whose earlier tests
had made participants in the root namespace, the probe in the robot's namespace received nothing
(the robot never seen ACTIVE in 300 s; alone, the same test passed): Fast DDS reads its profile once
per process and keeps process-wide state from its first participant. The process also runs its
threads at SCHED_FIFO (_set_threads_policy), which a pytest process should not.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import pathlib
import signal
import struct
import subprocess
import sys
import threading
import time

from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

from forma_interfaces.msg import HardwareState, SafetyState, WbcStatus
from tests.support.faults import (
    EXPECTED_HOLD,
    FALLEN_HEIGHT_M,
    FALLEN_TILT_DEG,
    SafetyState_name,
    Truth,
    wait_robot_time,
)
from tests.support.netns import TwoHosts, udp_only_profile
from tests.support.ros import RosProbe, stamp_s

REPO = pathlib.Path(__file__).resolve().parents[2]
DEPLOYMENT = REPO / "config" / "deployments" / "sim_two_hosts_wbc.yaml"  # this checkout's file
HOLD_GROUP, HOLD_BUDGET_S = EXPECTED_HOLD["control"]  # the body: its watchdog + the measurement's margin
CUT_S = 4.0  # robot time the link stays down: past the sim's command pacing and a supervisor recovery
STARTUP_WALL_S = 300.0
RECOVERY_WALL_S = 120.0
PROBE_PRIORITY = 30  # SCHED_FIFO of the test process's threads while the probe runs (_set_threads_policy)
BETWEEN_S = 20.0  # robot time standing between two cuts: the supervisor recovers 10 holds a minute at most
IN_FLIGHT_S = 1.0  # wall time after the cut for messages already on their way (and a probe reading late)


@dataclasses.dataclass
class LinkCut:
    """One cut of the link, in robot time (sim time) and by simulator truth."""

    hold_ms: float | None = None  # the cut -> the body's first HOLD [ms robot time]
    hold_budget_ms: float = HOLD_BUDGET_S * 1000.0
    last_command_s: float | None = None  # the stamp of the WBC's last body command before the HOLD
    probe_late_ms: float = 0.0  # how far that command's stamp was after the probe's estimate of the cut
    wbc_status_during_cut: int = 0  # wbc/status messages (from the brain) received during the cut
    min_height_m: float = math.inf
    max_tilt_deg: float = 0.0
    damped: bool = False
    modes_after: list[str] = dataclasses.field(default_factory=list)
    via_ramp: bool = False
    active_again: bool = False
    wbc_active_again: bool = False  # wbc/status active, stamped after the robot was ACTIVE again
    problems: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        hold = "no HOLD" if self.hold_ms is None else f"body HOLD after {self.hold_ms:.0f} ms"
        return (
            f"link cut: {hold}, budget {self.hold_budget_ms:.0f} ms (the probe's cut estimate "
            f"{self.probe_late_ms:.0f} ms early); wbc/status during the cut "
            f"{self.wbc_status_during_cut}; pelvis >= {self.min_height_m:.3f} m, tilt <= {self.max_tilt_deg:.1f} deg; "
            f"modes {self.modes_after}; via ramp {self.via_ramp}; WBC active again {self.wbc_active_again}; "
            f"problems {self.problems or 'none'}"
        )


@contextlib.contextmanager
def two_host_deployment(tmp: pathlib.Path, domain_id: int, tag: str | None = None):
    """The deployment's two hosts running in their namespaces, and a probe with the Truth in the
    robot's: yields (hosts, probe, truth, wbc_status list). Everything is stopped and deleted after."""
    profile = udp_only_profile(tmp)
    # the probe's participant too: Fast DDS reads the profile when this process makes its first one;
    # and the hosts' discovery range: a LOCALHOST one inherited from the test run (its launches set
    # it) kept the probe from discovering the robot's processes on the pair (CI: 300 s, nothing)
    names = ("FASTRTPS_DEFAULT_PROFILES_FILE", "ROS_AUTOMATIC_DISCOVERY_RANGE")
    previous = {name: os.environ.get(name) for name in names}
    os.environ["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(profile)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "SUBNET"
    try:
        with (
            TwoHosts(tag) as hosts,
            hosts.launch(0, str(DEPLOYMENT), "robot", domain_id, tmp / "robot", profile),
            hosts.launch(1, str(DEPLOYMENT), "brain", domain_id, tmp / "brain", profile),
        ):
            with hosts.inside(0):
                probe = RosProbe(domain_id, name="link_probe")
            _set_threads_policy(os.SCHED_FIFO, PROBE_PRIORITY)
            try:
                truth = Truth(probe)
                status = probe.collect(WbcStatus, "wbc/status", keep=2000)
                yield hosts, probe, truth, status
            finally:
                probe.close()
                _set_threads_policy(os.SCHED_OTHER, 0)
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _set_threads_policy(policy: int, priority: int) -> None:
    """Every thread of this process (the probe's executor, Fast DDS's receive threads, the test's)
    on `policy`. Why SCHED_FIFO (PROBE_PRIORITY, below every process of the deployment): at normal
    priority beside the sim's and the WBC's SCHED_FIFO loops on 2 cores, the probe read /clock
    0.1-0.7 s late at a steady pace (wait_caught_up cannot tell) and lost the one 20 ms sample of a
    HOLD the supervisor recovers at once (hardware/state and safety/state keep their newest only):
    it then took the next HOLD, 0.6 s later, for the cut's (measured: 478, 624 and 864 ms)."""
    for task in pathlib.Path("/proc/self/task").iterdir():
        with contextlib.suppress(PermissionError, ProcessLookupError):
            os.sched_setscheduler(int(task.name), policy, os.sched_param(priority))


def wait_active_on_wbc(probe: RosProbe, truth: Truth, status: list, timeout_s: float) -> None:
    """Until safety/state is ACTIVE and the brain's WBC says it commands (its wbc/status crossed the
    link: discovery works both ways, since it needs the robot's joint_states to be active)."""
    probe.wait_for(
        lambda: truth.mode() == SafetyState.ACTIVE and bool(status) and status[-1].active,
        timeout_s,
        "the robot ACTIVE on the brain's WBC",
    )


def cut_link(hosts: TwoHosts, probe: RosProbe, truth: Truth, status: list, cut_s: float = CUT_S) -> LinkCut:
    """Cut the link while the robot stands on the WBC, keep it down cut_s of robot time, restore it,
    and watch until the robot is ACTIVE on the WBC again (or RECOVERY_WALL_S passed)."""
    out = LinkCut()
    status_wall: list[float] = []  # wall time each wbc/status arrived (the probe's thread)
    lock = threading.Lock()

    def on_status(_msg) -> None:
        with lock:
            status_wall.append(time.monotonic())

    body_commands: list[float] = []  # stamps of the body's commands (the WBC's while ACTIVE) [s]

    def on_command(data: bytes) -> None:
        stamp = _body_command_stamp(data)
        if stamp is not None:
            with lock:
                body_commands.append(stamp)

    status_arrivals = probe.on_executor(
        probe.node.create_subscription,
        WbcStatus,
        "wbc/status",
        on_status,
        QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE),
    )
    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    commands = probe.on_executor(
        lambda: probe.node.create_subscription(JointState, "hardware/joint_commands", on_command, reliable, raw=True)
    )
    wait_robot_time(truth, 0.5, 30.0)
    if not truth.wait_caught_up():
        out.problems.append("the probe never caught up with /clock: the HOLD time is a loose upper bound")
    wall_cut = time.monotonic()
    t_probe = truth.robot_time_at(wall_cut)
    hosts.set_link(up=False)
    wait_robot_time(truth, cut_s, 60.0)
    probe.on_executor(probe.node.destroy_subscription, commands)
    # The cut's robot time: no earlier than the probe's estimate nor than the last command of the WBC
    # that reached the robot (stamped with the robot time of the state it answered, sent before the
    # link went down). Both are lower bounds, so cut -> HOLD is an upper bound: the probe can read
    # /clock late at a steady pace that wait_caught_up cannot tell from a fresh one.
    with lock:
        held_guess = truth.first_hold(HOLD_GROUP, t_probe)
        before = [t for t in body_commands if held_guess is None or t < held_guess]
    out.last_command_s = max(before, default=None)
    t_cut = max(t_probe, out.last_command_s or t_probe)
    out.probe_late_ms = (t_cut - t_probe) * 1000.0
    wall_up = time.monotonic()
    t_up = truth.now()
    hosts.set_link(up=True)
    probe.on_executor(probe.node.destroy_subscription, status_arrivals)
    with lock:
        out.wbc_status_during_cut = sum(1 for w in status_wall if wall_cut + IN_FLIGHT_S <= w <= wall_up)
    if out.wbc_status_during_cut:
        out.problems.append(f"{out.wbc_status_during_cut} wbc/status crossed the cut link: traffic not cut")

    held_at = truth.first_hold(HOLD_GROUP, t_cut)
    if held_at is None:
        out.problems.append(f"no {HOLD_GROUP} HOLD during the {cut_s:.1f} s cut")
    else:
        out.hold_ms = (held_at - t_cut) * 1000.0
        if out.hold_ms > out.hold_budget_ms:
            out.problems.append(f"{HOLD_GROUP} HOLD after {out.hold_ms:.0f} ms > {out.hold_budget_ms:.0f} ms")

    # back: ACTIVE after the link returned, through the start ramp, and still ACTIVE 2 s of robot time
    # later with the WBC commanding (a hand-over to a WBC that is not there holds again within 0.1 s)
    deadline = time.monotonic() + RECOVERY_WALL_S
    while time.monotonic() < deadline:
        if truth.mode(since_s=t_up) == SafetyState.ACTIVE:
            t_active = truth.now()
            wait_robot_time(truth, 2.0, 30.0)
            if truth.modes_since(t_active) == [SafetyState.ACTIVE]:
                out.active_again = True
                out.wbc_active_again = any(m.active and stamp_s(m) >= t_active for m in list(status))
                break
        time.sleep(0.1)
    modes = truth.modes_since(t_cut)
    out.modes_after = [SafetyState_name(m) for m in modes]
    if SafetyState.ACTIVE in modes[1:]:
        last_active = len(modes) - 1 - modes[::-1].index(SafetyState.ACTIVE)
        out.via_ramp = SafetyState.STANDING_UP in modes[:last_active]
    if not out.active_again:
        with truth.lock:
            last = truth.safety[-1][2] if truth.safety else ""
        out.problems.append(f"not ACTIVE again after the link returned ({out.modes_after}; last: {last})")
    elif not out.via_ramp:
        out.problems.append(f"ACTIVE again without the start ramp ({out.modes_after})")
    if out.active_again and not out.wbc_active_again:
        out.problems.append("ACTIVE again but the WBC does not say it commands (wbc/status)")
    with truth.lock:
        out.damped = any(s.get(HOLD_GROUP) == HardwareState.DAMP for t, s in truth.hardware if t >= t_cut)
    if out.damped:
        out.problems.append("the body was damped")
    out.min_height_m, out.max_tilt_deg = truth.worst(t_cut)
    if out.min_height_m < FALLEN_HEIGHT_M or out.max_tilt_deg > FALLEN_TILT_DEG:
        out.problems.append(f"fell: pelvis {out.min_height_m:.3f} m, tilt {out.max_tilt_deg:.1f} deg")
    return out


HAND_WORDS = ("_thumb_", "_index_", "_middle_", "_ring_", "_little_", "_palm_")  # DESIGN §3's finger joints


def _body_command_stamp(data: bytes) -> float | None:
    """The header stamp [s] of a serialized hardware/joint_commands JointState whose first joint is
    a body joint (the WBC's or the supervisor's command, not a hand's), else None.
    CDR: 4-byte encapsulation, stamp (int32, uint32), frame_id (uint32 length + bytes, padded to 4),
    then the names (uint32 count, and each one's uint32 length + bytes)."""
    fmt = "<" if data[1] == 1 else ">"
    sec, nanosec = struct.unpack_from(fmt + "iI", data, 4)
    (frame_len,) = struct.unpack_from(fmt + "I", data, 12)
    at = 16 + frame_len
    at += -(at - 4) % 4
    count, name_len = struct.unpack_from(fmt + "II", data, at)
    if count == 0:
        return None
    name = data[at + 8 : at + 8 + name_len - 1].decode(errors="replace")
    return None if any(word in name for word in HAND_WORDS) else sec + nanosec * 1e-9


def run_link_cuts(tmp: pathlib.Path, domain_id: int, cuts: int = 1, between_s: float = BETWEEN_S) -> list[LinkCut]:
    """The deployment on two hosts, `cuts` link cuts BETWEEN_S of robot time apart, in a process of its
    own (see the module's docstring); its output goes to this one's. Raises with the reason if the
    robot never stood ACTIVE on the WBC or the process failed. The namespaces and the pair are
    deleted here too, whatever the process did (they carry this process's PID)."""
    tag = f"forma{os.getpid()}"
    result = tmp / "link_cuts.json"
    argv = [
        sys.executable,
        "-m",
        "tests.support.multi_host",
        "--tmp",
        str(tmp),
        "--domain",
        str(domain_id),
        "--cuts",
        str(cuts),
        "--between",
        str(between_s),
        "--tag",
        tag,
    ]
    limit_s = STARTUP_WALL_S + cuts * (RECOVERY_WALL_S + 60.0 + between_s * 5)
    child = subprocess.Popen(argv, cwd=REPO, start_new_session=True)
    try:
        child.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGINT)  # its finally blocks stop the deployment and delete the namespaces
        try:
            child.wait(timeout=90.0)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    finally:
        TwoHosts(tag).close()
    if not result.exists():
        raise AssertionError(f"the link-cut process exited {child.returncode} without a result (its output above)")
    data = json.loads(result.read_text())
    if data["error"]:
        raise AssertionError(f"the link-cut process: {data['error']}")
    return [LinkCut(**c) for c in data["cuts"]]


def main(argv: list[str] | None = None) -> int:
    """The child of run_link_cuts: writes {"cuts": [LinkCut...], "error": ""} to TMP/link_cuts.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tmp", type=pathlib.Path, required=True)
    parser.add_argument("--domain", type=int, required=True)
    parser.add_argument("--cuts", type=int, default=1)
    parser.add_argument("--between", type=float, default=BETWEEN_S)
    parser.add_argument("--tag", default=None)
    args = parser.parse_args(argv)
    cuts: list[LinkCut] = []
    error = ""
    try:
        with two_host_deployment(args.tmp, args.domain, args.tag) as (hosts, probe, truth, status):
            wait_active_on_wbc(probe, truth, status, STARTUP_WALL_S)
            for i in range(args.cuts):
                if i:
                    wait_robot_time(truth, args.between, args.between * 5)
                    wait_active_on_wbc(probe, truth, status, RECOVERY_WALL_S)
                cut = cut_link(hosts, probe, truth, status)
                print(f"[multi_host] {cut.summary()}", flush=True)
                cuts.append(cut)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - reported to the parent, which fails with it
        error = f"{type(exc).__name__}: {exc}"
    (args.tmp / "link_cuts.json").write_text(
        json.dumps({"cuts": [dataclasses.asdict(c) for c in cuts], "error": error})
    )
    return 1 if error else 0


if __name__ == "__main__":
    raise SystemExit(main())

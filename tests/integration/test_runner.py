"""`forma launch` supervises real processes: respawn, a required process taking the deployment
down, no orphans when the runner itself is killed, Fast DDS shared memory cleaned after a kill -9.
Uses stand nodes without a simulation: they start, wait for joint_states, and cost little."""

from __future__ import annotations

import pathlib
import signal
import time

import psutil
import pytest

from tests.support.deployments import node, process, write_deployment
from tests.support.ros import LaunchedDeployment

pytestmark = pytest.mark.integration


def runner_deployment(tmp_path: pathlib.Path, respawn_a: bool) -> str:
    a = process("a", node("stand", "stand_a"), respawn=respawn_a, respawn_delay_s=0.2, required=False)
    b = process("b", node("stand", "stand_b"))
    return write_deployment(tmp_path, "runner", [a, b], use_sim_time=None)


def process_named(deployment: LaunchedDeployment, name: str) -> psutil.Process | None:
    for p in deployment.process_tree():
        try:
            cmd = p.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "forma_process" in " ".join(cmd) and cmd[cmd.index("--process") + 1] == name:
            return p
    return None


def wait_until(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def shm_files() -> set[str]:
    return {p.name for p in pathlib.Path("/dev/shm").glob("fast*")}


def test_respawn_restarts_a_killed_process_and_shutdown_cleans_up(tmp_path, domain_id):
    before = shm_files()
    with LaunchedDeployment(runner_deployment(tmp_path, True), domain_id, tmp_path / "logs") as d:
        first = wait_until(lambda: process_named(d, "a"), 60, "process a")
        wait_until(lambda: "waiting for robot_description" in d.output, 60, "stand_a to start")
        first.send_signal(signal.SIGKILL)  # a crash that leaves Fast DDS shared memory behind
        second = wait_until(
            lambda: (p := process_named(d, "a")) and p.pid != first.pid and p, 60, "process a to be respawned"
        )
        assert "a exited with -9; respawning" in d.output
        assert process_named(d, "b") is not None
        assert second.is_running()
    assert d.exit_code == 0
    assert d.leftovers() == []
    assert shm_files() <= before, "the runner must clean the shared memory the killed process left"


def test_a_required_process_that_dies_stops_the_deployment(tmp_path, domain_id):
    with LaunchedDeployment(runner_deployment(tmp_path, False), domain_id, tmp_path / "logs") as d:
        b = wait_until(lambda: process_named(d, "b"), 60, "process b")
        a = process_named(d, "a")
        b.send_signal(signal.SIGKILL)
        code = d.popen.wait(timeout=60)
        assert code != 0
        assert "required process b exited with -9; stopping the deployment" in d.output
        wait_until(lambda: not a.is_running() or a.status() == psutil.STATUS_ZOMBIE, 30, "process a to stop")


def test_killing_the_runner_takes_its_processes_with_it(tmp_path, domain_id):
    with LaunchedDeployment(runner_deployment(tmp_path, False), domain_id, tmp_path / "logs") as d:
        children = [wait_until(lambda n=n: process_named(d, n), 60, f"process {n}") for n in ("a", "b")]
        d.popen.send_signal(signal.SIGKILL)  # no chance to clean up: pdeathsig must
        d.popen.wait(timeout=10)
        for child in children:
            wait_until(lambda c=child: not c.is_running() or c.status() == psutil.STATUS_ZOMBIE, 30, "orphan to exit")

"""Real-time scheduling of a control loop's process: granted where permitted (threads started
later inherit it, a render thread can step down), a clear reason where not; each case in a child
process so that the test runner itself never runs SCHED_FIFO."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from forma_common.scheduling import enter_realtime

_CHILD = """
import json, os, threading
from forma_common.scheduling import enter_realtime, leave_realtime, is_realtime
problem = enter_realtime(10)
seen = {}
def loop():
    seen["loop"] = is_realtime()
def render():
    leave_realtime()
    seen["render"] = is_realtime()
for fn in (loop, render):
    t = threading.Thread(target=fn); t.start(); t.join()
seen["main"] = is_realtime()
seen["main_priority"] = os.sched_getparam(0).sched_priority
print(json.dumps({"problem": problem, **seen}))
"""


def _run(prefix: list[str]) -> dict:
    out = subprocess.run(
        [*prefix, sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_out_of_range_priority_is_refused():
    for bad in (0, 99, -1):
        with pytest.raises(ValueError, match="outside 1..98"):
            enter_realtime(bad)


@pytest.mark.skipif(os.geteuid() != 0, reason="SCHED_FIFO needs root or CAP_SYS_NICE here")
def test_the_loop_and_its_threads_run_fifo_a_render_thread_steps_down():
    seen = _run([])
    assert seen["problem"] == ""
    assert seen["main"] and seen["main_priority"] == 10
    assert seen["loop"]  # a thread started afterwards inherits it (DDS's threads, the loop thread)
    assert not seen["render"]  # leave_realtime: only the calling thread


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to nobody")
def test_without_the_privilege_it_says_how_to_allow_it_and_runs_normally():
    seen = _run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
    assert "not permitted" in seen["problem"] and "rtprio" in seen["problem"]
    assert not seen["main"] and not seen["loop"]


_PIN_CHILD = """
import json, os, sys, threading
from forma_common.scheduling import pin_loop_thread, set_loop_cpus
problem = set_loop_cpus([int(c) for c in sys.argv[1].split(",")])
seen = {}
def loop():
    pin_loop_thread()
    seen["loop"] = sorted(os.sched_getaffinity(0))
    t = threading.Thread(target=lambda: seen.update(loop_child=sorted(os.sched_getaffinity(0)))); t.start(); t.join()
t = threading.Thread(target=loop); t.start(); t.join()
print(json.dumps({"problem": problem, "main": sorted(os.sched_getaffinity(0)), **seen}))
"""


def _pin(cpus: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _PIN_CHILD, cpus], capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_only_the_loop_thread_is_pinned_the_rest_of_the_process_keeps_every_cpu():
    present = sorted(os.sched_getaffinity(0))
    seen = _pin(str(present[-1]))
    assert seen == {"problem": "", "main": present, "loop": [present[-1]], "loop_child": [present[-1]]}


def test_cpus_the_machine_lacks_are_left_out_and_said():
    present = sorted(os.sched_getaffinity(0))
    seen = _pin(f"{present[0]},4000")
    assert seen["loop"] == [present[0]] and seen["main"] == present
    assert "cpus [4000] not on this machine" in seen["problem"] and f"runs on [{present[0]}]" in seen["problem"]
    seen = _pin("4000")
    assert seen["loop"] == present and "runs on any CPU" in seen["problem"]

"""CPU scheduling for the real-time loops: SCHED_FIFO for the processes that close the control
loop (the hardware or sim node, the whole-body controller), normal scheduling for everything else.

Why: on a loaded machine the kernel's fair scheduler shares the cores by weight, so a 500 Hz loop
waits behind the browser, perception and the console for a few milliseconds at a time (measured
on the 2-core machine, `sim` deployment: the WBC's 1 ms tick at p99 9 ms, the simulation at
0.6x real time). With the two loop processes at SCHED_FIFO priority 50 (ros2_control's
controller_manager uses the same) the tick's p99 is 1.9 ms and the rest of the stack shares what
they leave. The kernel keeps 5 % of each core for normal tasks (sched_rt_runtime_us), so a runaway
real-time loop cannot lock the machine up.

Real-time scheduling needs a privilege: root, CAP_SYS_NICE, or an rtprio limit for the user
(`/etc/security/limits.d/forma.conf`: `@realtime - rtprio 98`, then log in again). Without it
the process runs at normal priority and says so once; nothing else changes.

CPU pinning (set_loop_cpus, pin_loop_thread) keeps each control loop thread on a core of its own:
the simulation (or the hardware driver) and the whole-body controller take turns every 2 ms, and
floating between the cores each found its caches filled by the other and by the rest of the stack.
Measured on the 2-core machine, `sim` deployment with the console open: the controller 0.66 -> 0.52
core, the simulation 0.48 -> 0.39 for the same work, once each had its own core. Only the loop
thread: with the whole process pinned, its executor and signal handling shared one core with a
SCHED_FIFO loop of the same priority, and a CI run saw the pinned sim stop answering, even SIGTERM. Pinning
needs no privilege.
"""

from __future__ import annotations

import contextlib
import os

MAX_PRIORITY = 98  # 99 is left to the kernel's own watchdog threads
HOW_TO_ALLOW = (
    "run as root, grant CAP_SYS_NICE (setcap cap_sys_nice+ep on the Python binary), or give the user an "
    "rtprio limit (/etc/security/limits.d/forma.conf: '<user> - rtprio 98', then log in again)"
)


def _threads(all_threads: bool) -> list[int]:
    if not all_threads:
        return [0]  # the calling thread
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def enter_realtime(priority: int, all_threads: bool = False) -> str:
    """SCHED_FIFO at `priority` (1..98) for the calling thread (and the threads it starts later,
    which inherit it), or every thread of the process. Returns "" or why it could not."""
    if not 1 <= priority <= MAX_PRIORITY:
        raise ValueError(f"real-time priority {priority} outside 1..{MAX_PRIORITY}")
    if not hasattr(os, "sched_setscheduler"):
        return "this platform has no SCHED_FIFO"
    for tid in _threads(all_threads):
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(priority))
        except PermissionError:
            return f"SCHED_FIFO {priority} not permitted: {HOW_TO_ALLOW}"
        except (OSError, ProcessLookupError) as exc:  # a thread that just ended, or a kernel without RT
            if tid == 0:
                return f"SCHED_FIFO {priority} refused by the kernel: {exc}"
    return ""


def leave_realtime(all_threads: bool = False) -> None:
    """The calling thread (or every thread of the process) back to normal scheduling: a render
    thread inside a real-time process must not compete with the loop."""
    if not hasattr(os, "sched_setscheduler"):
        return
    for tid in _threads(all_threads):
        try:
            if os.sched_getscheduler(tid) != os.SCHED_OTHER:
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        except (OSError, ProcessLookupError):
            pass  # a thread that just ended


def below_the_loop(steps: int = 10) -> None:
    """A helper thread of a real-time process (the sim's camera renderer) steps `steps`
    priorities below the loop: the loop preempts it at any time, yet it is never itself preempted
    by the normal-priority crowd while it holds Python's GIL. At normal priority it was: the
    physics loop then waited for the GIL until the scheduler came back to the renderer (measured:
    ~50 stalls of 10-70 ms in 20 s, the simulation at 0.98x instead of 1.0x). No-op outside
    real-time scheduling."""
    if not is_realtime():
        return
    priority = os.sched_getparam(0).sched_priority
    os.sched_setscheduler(0, os.sched_getscheduler(0), os.sched_param(max(1, priority - steps)))


_LOOP_CPUS: set[int] = set()  # the CPUs a process's control loop thread runs on (set_loop_cpus)


def set_loop_cpus(cpus) -> str:
    """The CPUs this process's control loop thread will run on (pin_loop_thread, called by the loop
    thread itself); CPUs this machine does not have are left out. Only the loop thread is pinned:
    the executor, DDS and helper threads keep every core, so a busy loop can never starve its own
    process's services and signal handling on that core. Returns "" or what could not be done."""
    global _LOOP_CPUS
    wanted = {int(c) for c in cpus}
    if not hasattr(os, "sched_setaffinity"):
        return "this platform cannot pin threads to CPUs"
    present = os.sched_getaffinity(0)
    have = ",".join(str(c) for c in sorted(present))
    _LOOP_CPUS = wanted & present
    if not _LOOP_CPUS:
        return f"cpus {sorted(wanted)} not on this machine (it has {have}): its loop runs on any CPU"
    missing = sorted(wanted - present)
    if missing:
        return f"cpus {missing} not on this machine (it has {have}): its loop runs on {sorted(_LOOP_CPUS)}"
    return ""


def pin_loop_thread() -> None:
    """Called by a control loop thread as it starts: it runs on the process's loop CPUs from now on
    (no-op when none were set)."""
    if _LOOP_CPUS:
        with contextlib.suppress(OSError):  # the CPU went offline: run where the kernel lets it
            os.sched_setaffinity(0, _LOOP_CPUS)


def is_realtime() -> bool:
    """Is the calling thread scheduled SCHED_FIFO or SCHED_RR?"""
    return hasattr(os, "sched_getscheduler") and os.sched_getscheduler(0) in (os.SCHED_FIFO, os.SCHED_RR)

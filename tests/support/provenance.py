"""Where a figure comes from: the commit and the machine that measured it, and when. Written into
build/accept.json and build/bench.json so that docs/RESULTS.md can name them beside every figure
(a figure nobody can trace to a commit and a machine cannot be re-measured)."""

from __future__ import annotations

import os
import pathlib
import platform
import subprocess
import time


def commit() -> str:
    """The commit checked out ('+dirty' when the tree has uncommitted changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("+dirty" if dirty else "")


def cpu_model(cpuinfo: pathlib.Path = pathlib.Path("/proc/cpuinfo")) -> str:
    """The CPU's model name as the kernel reports it, or the platform's processor string."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    """Cores the process may use, all online cores, the CPU model and the OS."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": usable,
        "cores_online": os.cpu_count(),
        "cpu_model": cpu_model(),
        "system": f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
    }


def stamp() -> dict:
    """commit, machine and the local time now: the provenance of a run."""
    return {"commit": commit(), "machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

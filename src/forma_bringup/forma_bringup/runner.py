"""The process runner behind `forma launch`: start a deployment's processes, pass their output
through (prefixed, and to one log file each), forward SIGINT/SIGTERM, respawn what is marked so,
and on exit leave no process and no stale Fast DDS shared memory behind.

Children get their own process group (so a signal reaches their threads and helpers) and die
with the runner even if it is SIGKILLed (setpriv --pdeathsig).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

from forma_bringup.launch_plan import ProcessLaunch

STOP_TIMEOUT_S = 8.0
MAX_RESPAWNS_PER_MINUTE = 5


@dataclasses.dataclass
class _Child:
    plan: ProcessLaunch
    popen: subprocess.Popen | None = None
    pump: threading.Thread | None = None
    respawns: list[float] = dataclasses.field(default_factory=list)
    restart_at: float | None = None


class Runner:
    """Runs a list of planned processes until stopped or a required one fails."""

    def __init__(self, plans: list[ProcessLaunch], log_dir: pathlib.Path, env: dict[str, str] | None = None, echo=True):
        self.children = [_Child(p) for p in plans]
        self.log_dir = pathlib.Path(log_dir)
        self.base_env = dict(os.environ if env is None else env)
        self.echo = echo
        self._stop_signal: int | None = None
        self._out_lock = threading.Lock()
        self.exit_code = 0

    # --- lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            for child in self.children:
                self._start(child)
            self._say(f"started {len(self.children)} process(es); logs in {self.log_dir}; Ctrl-C stops")
            self._supervise()
        finally:
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
        return self.exit_code

    def _on_signal(self, signum, frame) -> None:
        self._stop_signal = signum

    def _supervise(self) -> None:
        while self._stop_signal is None:
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is not None and now >= child.restart_at:
                    child.restart_at = None
                    self._start(child)
                    continue
                if child.popen is None or child.popen.poll() is None:
                    continue
                code = child.popen.returncode
                child.popen = None
                name = child.plan.name
                if child.plan.respawn:
                    child.respawns = [t for t in child.respawns if now - t < 60.0] + [now]
                    if len(child.respawns) <= MAX_RESPAWNS_PER_MINUTE:
                        self._say(f"{name} exited with {code}; respawning in {child.plan.respawn_delay_s:.1f} s")
                        child.restart_at = now + child.plan.respawn_delay_s
                        continue
                    self._say(f"{name} exited {len(child.respawns)} times within a minute; not respawning")
                if child.plan.required:
                    self._say(f"required process {name} exited with {code}; stopping the deployment")
                    self.exit_code = code if code else 1
                    return
                self._say(f"{name} exited with {code}")
            if all(c.popen is None and c.restart_at is None for c in self.children):
                self._say("all processes exited")
                return
            time.sleep(0.1)
        self._say(f"received {signal.Signals(self._stop_signal).name}; stopping")

    def stop(self) -> None:
        """SIGTERM every process group, wait, SIGKILL stragglers, clean Fast DDS shared memory."""
        alive = [c for c in self.children if c.popen is not None and c.popen.poll() is None]
        for child in alive:
            self._signal_group(child.popen, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in alive:
            try:
                child.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._say(f"{child.plan.name} did not stop within {STOP_TIMEOUT_S:.0f} s; killing it")
                self._signal_group(child.popen, signal.SIGKILL)
                child.popen.wait()
        for child in self.children:
            if child.popen is not None:
                # helpers a process left behind in its group
                self._signal_group(child.popen, signal.SIGKILL)
            if child.pump is not None:
                child.pump.join(timeout=2.0)
            child.popen = None
        clean_fastdds_shm()

    # --- helpers ---------------------------------------------------------------------------------
    def _start(self, child: _Child) -> None:
        plan = child.plan
        env = {**self.base_env, **plan.env}
        argv = plan.argv()
        exe = shutil.which(argv[0], path=env.get("PATH")) or str(pathlib.Path(sys.executable).parent / argv[0])
        argv[0] = exe
        if plan.nice:
            argv = [shutil.which("nice") or "nice", "-n", str(plan.nice), *argv]
        setpriv = shutil.which("setpriv")
        if setpriv:
            argv = [setpriv, "--pdeathsig", "TERM", "--", *argv]
        log = open(self.log_dir / f"{plan.name}.log", "ab", buffering=0)  # noqa: SIM115 (the pump thread closes it)
        child.popen = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        child.pump = threading.Thread(target=self._pump, args=(plan.name, child.popen, log), daemon=True)
        child.pump.start()
        self._say(f"started {plan.name} (pid {child.popen.pid})")

    def _pump(self, name: str, popen: subprocess.Popen, log) -> None:
        with log:
            for line in iter(popen.stdout.readline, b""):
                log.write(line)
                if self.echo:
                    try:
                        with self._out_lock:
                            sys.stdout.buffer.write(f"[{name}] ".encode() + line)
                            sys.stdout.flush()
                    except (OSError, ValueError):  # terminal gone: keep draining to the log
                        self.echo = False
            popen.stdout.close()

    @staticmethod
    def _signal_group(popen: subprocess.Popen, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, sig)  # the group we created for this child (start_new_session)

    def _say(self, text: str) -> None:
        # no terminal any more (closed pipe): supervision goes on regardless
        with self._out_lock, contextlib.suppress(OSError, ValueError):
            print(f"[forma] {text}", flush=True)


def clean_fastdds_shm(shm_dir: pathlib.Path = pathlib.Path("/dev/shm"), settle_s: float = 0.2) -> list[str]:
    """Remove Fast DDS shared memory whose owners are gone (never memory in use); returns what went.

    `fastdds shm clean` removes ports and segments whose lock file (`_el`) is no longer held.
    It misses one case, measured here: after a kill -9, a respawned participant reuses the dead
    one's port, and on its clean exit removes the lock file but keeps the port, whose user count
    still includes the dead process. Every live user of a port holds its lock file, so a port
    without one is unused; it is removed if it still has none after settle_s (a port being
    created right now gets its lock file within microseconds).
    """
    fastdds = shutil.which("fastdds") or str(pathlib.Path(sys.executable).parent / "fastdds")
    if os.path.exists(fastdds):
        subprocess.run(
            [fastdds, "shm", "clean"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False
        )

    def unlocked_ports() -> set[pathlib.Path]:
        ports = set()
        for port in shm_dir.glob("fastrtps_port*"):
            if port.name[len("fastrtps_port") :].isdigit() and not any(
                (shm_dir / f"{port.name}{suffix}").exists() for suffix in ("_el", "_sl")
            ):
                ports.add(port)
        return ports

    candidates = unlocked_ports()
    if not candidates:
        return []
    time.sleep(settle_s)
    removed = []
    for port in candidates & unlocked_ports():
        for path in (port, shm_dir / f"sem.{port.name}_mutex"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path.name)
    return removed

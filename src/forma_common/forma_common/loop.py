"""A node's periodic work in a thread of its own, paced by the robot's own sensor stream.

A node on a 100 Hz timer in sim time pays two executor wake-ups per period (the /clock message,
then the timer), ~0.5 ms of Python each on the 2-core machine: measured, a node doing nothing
but that costs 0.08 core, against 0.04 for the same node woken by its input in a thread of its
own (forma_common.direct). The supervisor and the hands run this way: one step per joint_states
sample, at the robot's clock (the sample's stamp: sim time in simulation, the robot's clock on
hardware), so they need no /clock at all and stamp what they publish with the time they answer.

The node's executor still runs its services, actions and slow timers; `lock` keeps them and the
step apart. A step that raises stops the process (through the executor, so `forma_process` logs
which node and why, and exits non-zero) instead of leaving a node alive without its loop.
"""

from __future__ import annotations

import functools
import threading
import traceback
from collections.abc import Callable

from rclpy.node import Node

from forma_common.direct import DirectSubscription, InputWaiter
from forma_common.messages import stamp_s
from forma_common.state_cdr import JointStateSample


def locked(method):
    """For a method the executor calls (a service, a subscription, a timer) on a node whose loop
    runs in an InputLoop: it runs holding the node's `lock`, so it and the loop's step never
    interleave."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)

    return run


class LoopStopped(RuntimeError):
    """The node's loop raised: re-raised on the executor so the process stops and says why."""


class InputLoop:
    """Calls `step(stamp_s)` in its own thread for each new sample of `trigger` (a message, or a
    state_cdr.JointStateSample when the subscription parses joint_states itself; at most once per
    `min_interval_s` of the samples' stamps: a faster stream is read, not stepped on), and
    `step(None)` when the trigger stayed silent for `silence_s` of wall time (the node may look at
    its other inputs then). Started by start(), stopped by stop() (from destroy_node).

    A node with nothing to do most of the time passes `idle()`: while it is true the loop steps on
    the newest sample once per `idle_interval_s` instead of waking for each, or on None if none
    came (the vla node between goals: 125 wake-ups a second cost it 0.05 core); `wake()` ends the
    wait at once."""

    def __init__(
        self,
        node: Node,
        trigger: DirectSubscription,
        step: Callable[[float | None], None],
        lock: threading.RLock,
        *,
        min_interval_s: float = 0.0,
        silence_s: float = 0.1,
        name: str = "",
        idle: Callable[[], bool] | None = None,
        idle_interval_s: float = 0.25,
    ) -> None:
        self.node = node
        self.trigger = trigger
        self.step = step
        self.lock = lock
        self.min_interval_s = min_interval_s
        self.silence_s = silence_s
        self.latest = None  # the trigger's newest sample
        self.steps = 0
        self._last_step_stamp_s = -float("inf")
        self.idle = idle
        self.idle_interval_s = idle_interval_s
        self._wake = threading.Event()
        self._waiter = InputWaiter(node, [trigger])
        self._failure: BaseException | None = None
        self._report = node.create_guard_condition(self._raise_failure)
        self._running = False
        self._thread = threading.Thread(target=self._run, name=name or f"{node.get_name()}_loop", daemon=True)

    def start(self) -> None:
        self._running = True
        self._thread.start()

    def wake(self) -> None:
        """End an idle wait now (the node has work: a goal came)."""
        self._wake.set()

    def _run(self) -> None:
        while self._running:
            idle = self.idle is not None and self.idle()
            if idle:
                self._wake.wait(self.idle_interval_s)
                self._wake.clear()
                ready = self._running
            else:
                ready = self._waiter.wait(self.silence_s)
            if not self._running:
                break
            stamp = None
            msg = self.trigger.take_newest() if ready else None
            if msg is None and ready and not idle:
                continue
            if msg is not None:  # (idle and nothing new: step(None))
                self.latest = msg
                stamp = msg.stamp_s if isinstance(msg, JointStateSample) else stamp_s(msg.header.stamp)
                if 0.0 <= stamp - self._last_step_stamp_s < self.min_interval_s:
                    continue  # (a stamp that went back is a reset: step on it)
                self._last_step_stamp_s = stamp
            try:
                with self.lock:
                    self.step(stamp)
                self.steps += 1
            except Exception as exc:
                if not self._running or not self.node.context.ok():
                    return  # shutting down: the node's publishers are going
                self.node.get_logger().fatal(f"{self._thread.name} stopped: {exc!r}\n{traceback.format_exc()}")
                self._failure = exc
                self._report.trigger()
                return

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise LoopStopped(f"{self._thread.name} stopped: {self._failure!r}") from self._failure

    def stop(self) -> None:
        self._running = False
        self._wake.set()
        self._waiter.wake()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._waiter.destroy()

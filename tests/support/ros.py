"""Helpers for integration tests: start a deployment with `forma launch` as a real process tree,
and a probe node (own rclpy context and ROS_DOMAIN_ID) that collects messages and calls services.

Wall-clock timeouts here only bound how long a test waits before giving up; what tests assert is
counted in sim time or control cycles.
"""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import psutil
import rclpy
from rclpy.action import ActionServer, CancelResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.context import Context
from rclpy.duration import Duration
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from forma_interfaces.action import ExecuteInstruction

VENV_BIN = pathlib.Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stamp_s(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


class LaunchedDeployment:
    """`forma launch <deployment>` in its own process group, stopped with SIGINT like Ctrl-C."""

    def __init__(self, deployment: str, domain_id: int, log_dir: pathlib.Path, params: list[str] = (),
                 host: str = "", wrapper: list[str] = (), env: dict[str, str] | None = None):
        """wrapper: a command that runs `forma launch` (e.g. `ip netns exec NS`: it execs, so the
        process group and PID stay the launcher's); env: variables on top of the test's (the
        default discovery range is localhost only)."""
        self.argv = [*wrapper, str(VENV_BIN / "forma"), "launch", str(deployment), "--log-dir", str(log_dir)]
        if host:  # one host of a multi-host deployment (each host's `forma launch ... --host NAME`)
            self.argv += ["--host", host]
        for p in params:
            self.argv += ["--param", p]
        self.env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
                    **(env or {})}
        self.log_dir = log_dir
        self.popen: subprocess.Popen | None = None
        self.exit_code: int | None = None
        self.children: list[psutil.Process] = []
        self.output = ""

    def __enter__(self) -> LaunchedDeployment:
        self.popen = subprocess.Popen(
            self.argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        for line in iter(self.popen.stdout.readline, b""):
            self.output += line.decode(errors="replace")

    def process_tree(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.popen.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.exit_code is not None:
            return self.exit_code
        self.children = self.process_tree()
        self.popen.send_signal(signal.SIGINT)
        try:
            self.exit_code = self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.exit_code = self.popen.wait()
        self._reader.join(timeout=5)
        return self.exit_code

    def leftovers(self) -> list[psutil.Process]:
        """Processes of the deployment still alive after stop()."""
        alive = []
        for p in self.children:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:
                pass
        return alive

    def __exit__(self, exc_type, *exc) -> None:
        self.stop()
        if exc_type is not None:  # pytest shows this under "Captured stdout" with the failure
            print(f"--- the deployment's output (last 8000 characters; logs in {self.log_dir}) ---")
            print(self.output[-8000:])
        for p in self.leftovers():  # never leave a test's processes behind, whatever failed
            p.kill()


class RosProbe:
    """A node in its own context on the test's domain, spun in a background thread."""

    def __init__(self, domain_id: int, use_sim_time: bool = False, name: str = "probe"):
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(
            name,
            context=self.context,
            parameter_overrides=[rclpy.parameter.Parameter("use_sim_time", value=use_sim_time)],
        )
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.lock = threading.Lock()
        self.messages: dict[str, list] = {}
        self.subscriptions: dict[str, object] = {}
        self._spinning = True
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self._spinning and self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception as exc:  # noqa: BLE001 - shutting down ends the loop; nothing else may
                if not self.context.ok():
                    return
                # a spin that died here silently starved every later wait of the test (seen: a
                # subscription destroyed while the executor built its wait set)
                print(f"probe executor: {exc!r}; spinning on")

    def on_executor(self, fn: Callable, *args, timeout_s: float = 30.0):
        """Call fn(*args) on the probe's executor thread and return what it returns. rclpy's
        ActionClient (7.1) files a request's future only after sending the request: called from
        the test's thread, a reply the executor takes in between is dropped ("Ignoring unexpected
        result response") and the future never completes. Goals, results and cancels go here."""
        task = self.executor.create_task(fn, *args)
        self.wait_for(task.done, timeout_s, f"{getattr(fn, '__name__', fn)} on the probe's executor")
        return task.result()

    def collect(self, msg_type, topic: str, depth: int = 10, latched: bool = False, keep: int | None = None) -> list:
        """Subscribe and append every message to a list (the last `keep` if given)."""
        store: list = []
        qos = QoSProfile(
            depth=depth,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        )

        def on_message(msg):
            with self.lock:
                store.append(msg)
                if keep is not None and len(store) > keep:
                    del store[0]

        # made and destroyed on the executor's own thread: rclpy's executor is not safe against a
        # subscription changing under it while it waits (a CI run lost every message after one)
        self.messages[topic] = store
        self.subscriptions[topic] = self._on_own_thread(self.node.create_subscription, msg_type, topic, on_message, qos)
        return store

    def collect_stamps(self, msg_type, topic: str, depth: int = 100) -> list[float]:
        """Subscribe and append every message's header stamp [s], read from its serialized bytes:
        a 500 Hz stream counted without rclpy's conversion (~50 us a JointState of 82 joints), so
        that the probe's own Python is not what limits a rate it measures."""
        store: list[float] = []
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)

        def on_message(data: bytes) -> None:
            sec, nanosec = struct.unpack_from("<iI" if data[1] == 1 else ">iI", data, 4)  # CDR: header first
            with self.lock:
                store.append(sec + nanosec * 1e-9)

        self.messages[topic] = store
        self.subscriptions[topic] = self._on_own_thread(
            lambda: self.node.create_subscription(msg_type, topic, on_message, qos, raw=True)
        )
        return store

    def stop_collecting(self, topic: str) -> None:
        self._on_own_thread(self.node.destroy_subscription, self.subscriptions.pop(topic))

    def _on_own_thread(self, fn: Callable, *args):
        if threading.current_thread() is self._thread or not self._thread.is_alive():
            return fn(*args)
        return self.on_executor(fn, *args)

    def latest(self, topic: str):
        with self.lock:
            store = self.messages[topic]
            return store[-1] if store else None

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")

    def matched_publisher(self, msg_type, topic: str, depth: int = 10, subscribers: int = 1, timeout_s: float = 30.0):
        """A publisher that has been matched to `subscribers` subscriptions: a message published
        before discovery matched it is lost (volatile), which a loaded machine makes likely."""
        publisher = self.node.create_publisher(msg_type, topic, depth)
        what = f"{subscribers} subscriber(s) of {topic}"
        self.wait_for(lambda: publisher.get_subscription_count() >= subscribers, timeout_s, what)
        return publisher

    @staticmethod
    def publish_delivered(publisher, msg, timeout_s: float = 30.0) -> None:
        """Publish and wait until every matched reader acknowledged the message (reliable QoS).
        The writer may match a reader before that reader has matched the writer: the reader then
        drops the sample and gets it only from the next heartbeat's repair, up to seconds later
        (CI: an e-stop `true` reached the sim after the `false` that followed it and the
        supervisor's release, so the hardware engaged again)."""
        publisher.publish(msg)
        if not publisher.wait_for_all_acked(Duration(seconds=timeout_s)):
            raise AssertionError(f"{publisher.topic_name}: not acknowledged by every reader in {timeout_s:.0f} s")

    def call(self, srv_type, name: str, request, timeout_s: float = 30.0):
        client = self.node.create_client(srv_type, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout_s):
                raise AssertionError(f"service {name} not available")
            future = client.call_async(request)
            self.wait_for(future.done, timeout_s, f"reply from {name}")
            return future.result()
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        # the spin thread stops first: spinning on while the node was destroyed under it crashed
        # the test process (a segfault in the executor's wait, seen after a test had passed)
        self._spinning = False
        self._thread.join(timeout=2.0)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)

    def __enter__(self) -> RosProbe:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VlaStandIn:
    """vla/execute served from the test (the VLA node's place): records goals, sends one feedback
    (phase "reaching", progress 0.5) and succeeds, or runs until cancelled when the instruction
    mentions the box."""

    def __init__(self, domain_id: int, action_name: str = "vla/execute"):
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node("vla_stand_in", context=self.context)
        self.goals: list[str] = []
        self.cancelled: list[str] = []
        self.server = ActionServer(
            self.node,
            ExecuteInstruction,
            action_name,
            self._execute,
            cancel_callback=lambda _: CancelResponse.ACCEPT,
            callback_group=ReentrantCallbackGroup(),
        )
        self.executor = MultiThreadedExecutor(num_threads=2, context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _execute(self, goal_handle):
        instruction = goal_handle.request.instruction
        self.goals.append(instruction)
        goal_handle.publish_feedback(ExecuteInstruction.Feedback(phase="reaching", progress=0.5))
        if "box" in instruction:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not goal_handle.is_cancel_requested:
                time.sleep(0.02)
            if goal_handle.is_cancel_requested:
                self.cancelled.append(instruction)
                goal_handle.canceled()
                return ExecuteInstruction.Result(success=False, message="cancelled")
        goal_handle.succeed()
        return ExecuteInstruction.Result(success=True, message="", duration_s=0.5)

    def close(self):
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)

"""Fuzzing a running deployment over real DDS (issue 21, deliverable 2): the inventory of its
inputs taken from the graph, the inputs fuzzed with tests/support/fuzz.py's strategies, and a
watch on `hardware/joint_commands` for non-finite values sent by the stack's own nodes.

The inventory is the graph's, not a hand list: every topic some node of the deployment subscribes
to (`get_subscriptions_info_by_topic` over `get_topic_names_and_types`), every service its nodes
serve (`get_service_names_and_types_by_node`) and every action (its `_action/send_goal` service).
The fuzzer's own node is left out.

EXCLUSIONS: inputs whose *valid* use is an operator action that ends the test (an e-stop engaged,
a reset, the robot told to sink) are fuzzed only with what is malformed for them, or not at all
where nothing can be malformed; each entry says why. The test and the bench both report them.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil
from hypothesis import strategies as st
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message

from tests.support import fuzz

# inputs ending the test when used as designed: name -> (what is fuzzed instead, why)
EXCLUSIONS: dict[str, str] = {
    "safety/estop (topic)": "Bool true engages the e-stop (damping, latched): only `false` is sent (a Bool has no "
    "malformed value)",
    "safety/estop (service)": "engage=true is the operator's e-stop: fuzzed with engage=false and any reason",
    "hardware/estop": "engage=true damps the robot: fuzzed with engage=false and any reason",
    "hardware/hold": "a group's name (body, left_hand, right_hand) latches that group in HOLD: fuzzed with any "
    "other string",
    "safety/set_mode": "modes 0-5 are operator requests (DAMPING sinks the robot): fuzzed with modes outside the enum",
    "hardware/set_actuator_mode": "a known group with POSITION/TORQUE/DAMPING switches the actuators: fuzzed "
    "with unknown groups or modes > 2",
    "sim/apply_wrench": "a finite push on a known body is a test's push (make accept): fuzzed with non-finite "
    "wrenches or durations, or unknown bodies",
    "safety/reset, hardware/reset, sim/reset": "std_srvs/Trigger carries nothing to malform and a call is an "
    "operator reset (stand-up, world reset): not fuzzed (the recovery calls them)",
}
NOT_FUZZED_SERVICES = ("safety/reset", "hardware/reset", "sim/reset")
SIM_BODIES = ("torso", "base_link", "pelvis", "head", "left_hand", "right_hand")
HARDWARE_GROUPS = ("body", "left_hand", "right_hand")
ACTUATORS = "hardware/joint_commands"


def _bare(name: str) -> str:
    return name.lstrip("/")


def resolve_type(type_name: str):
    """The Python class of a graph type name (fuzz.interface_class)."""
    return fuzz.interface_class(type_name)


@dataclass
class Input:
    kind: str  # "topic", "service" or "action"
    name: str  # as in the graph, without the leading slash
    type_name: str
    nodes: list[str]  # the deployment's nodes that subscribe to it / serve it
    qos: QoSProfile | None = None  # topics: a publisher every subscriber matches


@dataclass
class Inventory:
    topics: list[Input] = field(default_factory=list)
    services: list[Input] = field(default_factory=list)
    actions: list[Input] = field(default_factory=list)

    def all(self) -> list[Input]:
        return self.topics + self.services + self.actions

    def describe(self) -> str:
        lines = []
        for i in self.all():
            lines.append(f"{i.kind:8s} {i.name} [{i.type_name}] <- {', '.join(sorted(set(i.nodes)))}")
        return "\n".join(lines)


def _publisher_qos(endpoints) -> QoSProfile:
    """Reliable and transient-local where any subscriber asks for it (a volatile or best-effort
    writer never matches such a reader), keep-last 10."""
    reliable = any(e.qos_profile.reliability == ReliabilityPolicy.RELIABLE for e in endpoints)
    durable = any(e.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for e in endpoints)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=10,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if durable else DurabilityPolicy.VOLATILE,
    )


def take_inventory(node, own_nodes: set[str]) -> Inventory:
    """Every input of the nodes on `node`'s domain except those of `own_nodes` (the fuzzer's)."""
    inventory = Inventory()
    for topic, types in sorted(node.get_topic_names_and_types()):
        subscribers = [e for e in node.get_subscriptions_info_by_topic(topic) if e.node_name not in own_nodes]
        if subscribers:
            inventory.topics.append(
                Input("topic", _bare(topic), types[0], [e.node_name for e in subscribers], _publisher_qos(subscribers))
            )
    services: dict[str, Input] = {}
    for name, namespace in node.get_node_names_and_namespaces():
        if name in own_nodes:
            continue
        for service, types in node.get_service_names_and_types_by_node(name, namespace):
            entry = services.setdefault(_bare(service), Input("service", _bare(service), types[0], []))
            entry.nodes.append(name)
    for name, entry in sorted(services.items()):
        if name.endswith("/_action/send_goal"):
            action = name[: -len("/_action/send_goal")]
            inventory.actions.append(Input("action", action, entry.type_name.removesuffix("_SendGoal"), entry.nodes))
        else:
            inventory.services.append(entry)
    return inventory


# --- what each input is fed ---------------------------------------------------------------------


def input_strategy(entry: Input, ctx: fuzz.FuzzContext) -> st.SearchStrategy | None:
    """Requests / messages / goals for one input, with the EXCLUSIONS applied; None: not fuzzed."""
    if entry.kind == "action":
        return fuzz.message_strategy(resolve_type(entry.type_name).Impl.SendGoalService.Request, ctx)
    msg_type = resolve_type(entry.type_name)
    if entry.kind == "service":
        if entry.name in NOT_FUZZED_SERVICES:
            return None
        msg_type = msg_type.Request
    base = fuzz.message_strategy(msg_type, ctx)
    if entry.kind == "topic" and entry.name == "safety/estop":
        from std_msgs.msg import Bool

        return st.just(Bool(data=False))
    if entry.kind == "service" and entry.name in ("safety/estop", "hardware/estop"):
        return base.map(lambda r: _set(r, engage=False))
    if entry.kind == "topic" and entry.name == "hardware/hold":
        return base.filter(lambda m: m.data not in HARDWARE_GROUPS)
    if entry.name == "safety/set_mode":
        return base.filter(lambda r: r.mode > 5)
    if entry.name == "hardware/set_actuator_mode":
        return base.filter(lambda r: r.group not in HARDWARE_GROUPS or r.mode > 2)
    if entry.name == "sim/apply_wrench":
        return base.filter(_malformed_push)
    return base


def _set(msg, **values):
    for k, v in values.items():
        setattr(msg, k, v)
    return msg


def _malformed_push(request) -> bool:
    w = request.wrench
    values = (w.force.x, w.force.y, w.force.z, w.torque.x, w.torque.y, w.torque.z, request.duration_s)
    return not all(math.isfinite(v) for v in values) or request.duration_s <= 0.0 or request.body not in SIM_BODIES


# --- the watch on the actuators -----------------------------------------------------------------


class ActuatorWatch:
    """Every message on hardware/joint_commands that the fuzzer did not send itself (its own are
    known by their exact bytes: it publishes serialized messages): counted, and its non-finite
    position / velocity / effort values counted. Read as bytes by a thread of its own (a direct
    subscription, forma_common.direct): the probe's executor, busy with the fuzzing, would drop
    some of the 375 commands a second."""

    def __init__(self, probe) -> None:
        from sensor_msgs.msg import JointState

        from forma_common.direct import DirectSubscription, InputWaiter

        self.own: set[bytes] = set()
        self.lock = threading.Lock()
        self.messages = 0  # the stack's commands seen
        self.non_finite_messages = 0
        self.non_finite_values = 0
        self.examples: list[str] = []  # the first few offenders, for the report
        self.by_size: dict[int, int] = {}  # how many joints each command named: who commanded
        self._type = JointState
        qos = QoSProfile(depth=500, reliability=ReliabilityPolicy.RELIABLE)
        self._in = DirectSubscription(probe.node, JointState, ACTUATORS, qos)
        self._waiter = InputWaiter(probe.node, [self._in])
        self._running = True
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while self._running:
            self._waiter.wait(0.1)
            while (data := self._in.take_serialized()) is not None:
                self._on_bytes(data)

    def close(self) -> None:
        """Stop reading (before the probe's node goes)."""
        self._running = False
        self._waiter.wake()
        self._thread.join(timeout=2.0)
        self._waiter.destroy()
        self._in.destroy()

    @staticmethod
    def digest(data: bytes) -> bytes:
        """The message's identity: its CDR body (the 4-byte encapsulation header, whose options
        may carry the padding count, and trailing padding left out)."""
        return hashlib.blake2b(data[4:].rstrip(b"\0"), digest_size=16).digest()

    def mark_own(self, data: bytes) -> None:
        with self.lock:
            self.own.add(self.digest(data))

    def _on_bytes(self, data: bytes) -> None:
        key = self.digest(data)
        with self.lock:
            if key in self.own:
                return
        msg = deserialize_message(data, self._type)
        bad = fuzz.non_finite_values(msg)
        with self.lock:
            self.messages += 1
            self.by_size[len(msg.name)] = self.by_size.get(len(msg.name), 0) + 1
            if bad:
                self.non_finite_messages += 1
                self.non_finite_values += bad
                if len(self.examples) < 5:
                    self.examples.append(f"{len(msg.name)} joints, {bad} non-finite: {list(msg.name)[:4]}...")


# --- the fuzzer ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    input: Input
    sent: int = 0
    answered: int = 0  # services and actions: replies within the timeout
    accepted: int = 0  # actions: goals accepted (then cancelled)
    unanswered: int = 0
    errors: list[str] = field(default_factory=list)


class Fuzzer:
    """Feeds the inputs of a deployment through one RosProbe's node."""

    def __init__(
        self,
        probe,
        ctx: fuzz.FuzzContext,
        watch: ActuatorWatch | None = None,
        call_timeout_s: float = 5.0,
        period_s: float = 0.002,
    ) -> None:
        self.probe, self.ctx, self.watch = probe, ctx, watch
        self.call_timeout_s, self.period_s = call_timeout_s, period_s

    def run(self, entry: Input, n: int, seed: int) -> Outcome | None:
        strategy = input_strategy(entry, self.ctx)
        if strategy is None:
            return None
        if entry.kind == "topic":
            return self._topic(entry, strategy, n, seed)
        if entry.kind == "service":
            return self._service(entry, strategy, n, seed)
        return self._action(entry, strategy, n, seed)

    def _topic(self, entry: Input, strategy, n: int, seed: int) -> Outcome:
        out = Outcome(entry)
        msg_type = resolve_type(entry.type_name)
        node = self.probe.node
        publisher = self.probe.on_executor(lambda: node.create_publisher(msg_type, entry.name, entry.qos))
        try:
            deadline = time.monotonic() + 10.0
            while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
                time.sleep(0.02)

            def send(msg) -> None:
                data = serialize_message(msg)
                if self.watch is not None and entry.name == ACTUATORS:
                    self.watch.mark_own(data)
                publisher.publish(data)
                out.sent += 1
                time.sleep(self.period_s)

            fuzz.generate(strategy, n, seed, send)
            time.sleep(0.2)  # the last ones delivered before the publisher goes
        finally:
            self.probe.on_executor(node.destroy_publisher, publisher)
        return out

    def _wait(self, future, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.005)
        return future.done()

    def _service(self, entry: Input, strategy, n: int, seed: int) -> Outcome:
        out = Outcome(entry)
        srv_type = resolve_type(entry.type_name)
        node = self.probe.node
        client = self.probe.on_executor(lambda: node.create_client(srv_type, entry.name))
        try:
            if not client.wait_for_service(timeout_sec=10.0):
                out.errors.append("not available")
                return out

            def call(request) -> None:
                out.sent += 1
                future = self.probe.on_executor(client.call_async, request)
                if self._wait(future, self.call_timeout_s):
                    out.answered += 1
                else:
                    out.unanswered += 1
                    client.remove_pending_request(future)

            fuzz.generate(strategy, n, seed, call)
        finally:
            self.probe.on_executor(node.destroy_client, client)
        return out

    def _action(self, entry: Input, strategy, n: int, seed: int) -> Outcome:
        """Goals sent through the action's own send_goal service (a fuzzed goal id and goal); an
        accepted goal is cancelled through its cancel_goal service after 0.2 s."""
        from action_msgs.srv import CancelGoal

        out = Outcome(entry)
        action = resolve_type(entry.type_name)
        node = self.probe.node
        send = self.probe.on_executor(
            lambda: node.create_client(action.Impl.SendGoalService, f"{entry.name}/_action/send_goal")
        )
        cancel = self.probe.on_executor(lambda: node.create_client(CancelGoal, f"{entry.name}/_action/cancel_goal"))
        try:
            if not send.wait_for_service(timeout_sec=10.0):
                out.errors.append("not available")
                return out

            def goal(request) -> None:
                out.sent += 1
                future = self.probe.on_executor(send.call_async, request)
                if not self._wait(future, self.call_timeout_s):
                    out.unanswered += 1
                    send.remove_pending_request(future)
                    return
                out.answered += 1
                if future.result().accepted:
                    out.accepted += 1
                    time.sleep(0.2)
                    stop = CancelGoal.Request()
                    stop.goal_info.goal_id = request.goal_id
                    answer = self.probe.on_executor(cancel.call_async, stop)
                    if not self._wait(answer, self.call_timeout_s):
                        out.errors.append("a cancel went unanswered")
                        cancel.remove_pending_request(answer)

            fuzz.generate(strategy, n, seed, goal)
        finally:
            self.probe.on_executor(node.destroy_client, send)
            self.probe.on_executor(node.destroy_client, cancel)
        return out


def order(inventory: Inventory, commands: tuple[str, ...]) -> list[Input]:
    """Command topics first (while the robot is ACTIVE, so that a valid-looking one reaches the
    controllers), then the other topics, then services and actions."""
    first = [t for t in inventory.topics if t.name in commands]
    rest = [t for t in inventory.topics if t.name not in commands]
    return first + inventory.actions + inventory.services + rest


def robot_clock(probe) -> Callable[[], float]:
    """The robot's clock [s]: the newest joint_states stamp the probe has seen (0 before one)."""
    from sensor_msgs.msg import JointState

    from tests.support.ros import stamp_s

    probe.collect(JointState, "joint_states", keep=1)

    def now() -> float:
        latest = probe.latest("joint_states")
        return stamp_s(latest) if latest is not None else 0.0

    return now


def joint_names() -> tuple[str, ...]:
    from forma_description import RobotModel, expand_description

    return tuple(RobotModel.from_urdf(expand_description()).joint_names)


# --- the deployment under fuzzing ------------------------------------------------------------


def is_active(safety: list) -> bool:
    """The newest safety/state says ACTIVE."""
    from forma_interfaces.msg import SafetyState

    return bool(safety) and safety[-1].mode == SafetyState.ACTIVE


def recover(probe, safety: list, timeout_s: float = 120.0) -> None:
    """Back to ACTIVE after fuzzing: the e-stop released if engaged (a spoofed hardware/state may
    have made the supervisor latch one), sim/reset (the robot upright, the hardware as at power-on),
    then safety/reset out of ESTOP or FAULT (with auto_stand the supervisor stands it up), else a
    stand-up request. sim/reset comes first: after safety/reset the supervisor starts its ramp at
    once, and a sim/reset in the middle of it put the hardware back in its start hold, which the
    supervisor does not recover (seen in CI: HOLD, then damped, then lying)."""
    from std_srvs.srv import Trigger

    from forma_interfaces.msg import SafetyState
    from forma_interfaces.srv import EStop, SetOperatingMode

    time.sleep(1.0)  # the stack's own states (hardware/state at 50 Hz) after whatever was fuzzed
    deadline = time.monotonic() + timeout_s
    reasons: list[str] = []
    while time.monotonic() < deadline:
        if is_active(safety):
            return  # (the supervisor recovers from a command-timeout hold itself)
        if safety and (safety[-1].mode == SafetyState.ESTOP or safety[-1].estop_engaged):
            probe.call(EStop, "safety/estop", EStop.Request(engage=False, reason="fuzz test recovery"), timeout_s=60.0)
        reply = probe.call(Trigger, "sim/reset", Trigger.Request(), timeout_s=60.0)
        if not reply.success:
            reasons.append(f"sim/reset: {reply.message}")
            time.sleep(0.5)
            continue
        time.sleep(0.5)  # the supervisor's next steps see the robot upright
        if safety and safety[-1].mode in (SafetyState.ESTOP, SafetyState.FAULT):
            reply = probe.call(Trigger, "safety/reset", Trigger.Request(), timeout_s=60.0)
            if not reply.success:
                reasons.append(f"safety/reset: {reply.message}")
                time.sleep(0.5)
                continue
        until = time.monotonic() + 20.0
        while time.monotonic() < until and not is_active(safety):
            time.sleep(0.1)
        if not is_active(safety):
            probe.call(SetOperatingMode, "safety/set_mode", SetOperatingMode.Request(mode=SafetyState.STANDING_UP))
            until = time.monotonic() + 30.0
            while time.monotonic() < until and not is_active(safety):
                time.sleep(0.1)
        if is_active(safety):
            return
        reasons.append(f"not ACTIVE after the stand-up: {safety[-1].mode_name}: {safety[-1].reason}")
    raise AssertionError(f"no recovery within {timeout_s:.0f} s: {reasons[-3:]}")


def alive(p: psutil.Process) -> bool:
    """The process runs (not gone, not a zombie)."""
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def process_name(p: psutil.Process) -> str:
    """A forma_process's deployment process name (its --process argument)."""
    try:
        cmdline = p.cmdline()
        return cmdline[cmdline.index("--process") + 1]
    except (psutil.Error, ValueError, IndexError):
        return f"pid {p.pid}"

"""The graph side of the fuzzing (tests/support/fuzz_graph.py) without DDS: the inventory built
from what a node's graph calls return (the fuzzer's own node left out, actions found by their
send_goal services, publishers every subscriber matches), the graph's type names resolved, and
the exclusions: inputs whose valid use ends the test are fed only what is malformed for them."""

from __future__ import annotations

import math
from types import SimpleNamespace

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from tests.support import fuzz
from tests.support.fuzz_graph import HARDWARE_GROUPS, SIM_BODIES, Input, input_strategy, resolve_type, take_inventory

CTX = fuzz.FuzzContext(joint_names=("left_knee", "right_knee"), now_s=lambda: 10.0)


def _endpoint(node: str, reliable: bool = True, latched: bool = False):
    qos = QoSProfile(
        depth=1,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )
    return SimpleNamespace(node_name=node, qos_profile=qos)


class FakeGraph:
    """What rclpy's Node graph calls return for a small deployment plus the fuzzer's probe."""

    def get_topic_names_and_types(self):
        return [
            ("/hardware/joint_commands", ["sensor_msgs/msg/JointState"]),
            ("/robot_description", ["std_msgs/msg/String"]),
            ("/imu/data", ["sensor_msgs/msg/Imu"]),
            ("/only_the_probe_reads", ["std_msgs/msg/String"]),
            ("/rosout", ["rcl_interfaces/msg/Log"]),
        ]

    def get_subscriptions_info_by_topic(self, topic):
        return {
            "/hardware/joint_commands": [_endpoint("sim"), _endpoint("probe")],
            "/robot_description": [_endpoint("wbc", latched=True), _endpoint("hands")],
            "/imu/data": [_endpoint("safety_supervisor", reliable=False)],
            "/only_the_probe_reads": [_endpoint("probe")],
        }.get(topic, [])

    def get_node_names_and_namespaces(self):
        return [("sim", "/"), ("wbc", "/"), ("probe", "/")]

    def get_service_names_and_types_by_node(self, name, namespace):
        return {
            "sim": [
                ("/sim/reset", ["std_srvs/srv/Trigger"]),
                ("/sim/list_parameters", ["rcl_interfaces/srv/ListParameters"]),
            ],
            "wbc": [
                ("/wbc/reach/_action/send_goal", ["forma_interfaces/action/Reach_SendGoal"]),
                ("/wbc/reach/_action/cancel_goal", ["action_msgs/srv/CancelGoal"]),
                ("/wbc/reach/_action/get_result", ["forma_interfaces/action/Reach_GetResult"]),
            ],
            "probe": [("/probe/list_parameters", ["rcl_interfaces/srv/ListParameters"])],
        }[name]


def test_the_inventory_is_the_graphs_without_the_fuzzer():
    inventory = take_inventory(FakeGraph(), {"probe"})
    topics = {t.name: t for t in inventory.topics}
    assert set(topics) == {"hardware/joint_commands", "robot_description", "imu/data"}
    assert topics["hardware/joint_commands"].nodes == ["sim"]
    # a publisher every subscriber matches: transient local where one asks for it, reliable where one does
    assert topics["robot_description"].qos.durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert topics["robot_description"].qos.reliability == ReliabilityPolicy.RELIABLE
    assert topics["imu/data"].qos.reliability == ReliabilityPolicy.BEST_EFFORT
    assert [(a.name, a.type_name) for a in inventory.actions] == [("wbc/reach", "forma_interfaces/action/Reach")]
    services = {s.name: s for s in inventory.services}
    assert set(services) == {"sim/reset", "sim/list_parameters", "wbc/reach/_action/cancel_goal",
                             "wbc/reach/_action/get_result"}
    assert services["sim/reset"].nodes == ["sim"]


def test_graph_type_names_resolve_to_classes():
    from action_msgs.srv import CancelGoal
    from sensor_msgs.msg import JointState

    from forma_interfaces.action import Reach

    assert resolve_type("sensor_msgs/msg/JointState") is JointState
    assert resolve_type("action_msgs/srv/CancelGoal") is CancelGoal
    assert resolve_type("forma_interfaces/action/Reach") is Reach
    assert resolve_type("forma_interfaces/action/Reach_SendGoal") is Reach.Impl.SendGoalService
    assert resolve_type("forma_interfaces/action/Reach_GetResult") is Reach.Impl.GetResultService
    assert resolve_type("forma_interfaces/action/ExecuteInstruction_SendGoal").__name__ == "ExecuteInstruction_SendGoal"


def _draw(entry: Input, n: int = 150) -> list:
    out: list = []
    fuzz.generate(input_strategy(entry, CTX), n, 0, out.append)
    return out


def test_inputs_that_stop_the_robot_get_only_malformed_content():
    assert {m.data for m in _draw(Input("topic", "safety/estop", "std_msgs/msg/Bool", []))} == {False}
    for name in ("safety/estop", "hardware/estop"):
        requests = _draw(Input("service", name, "forma_interfaces/srv/EStop", []))
        assert not any(r.engage for r in requests) and len({r.reason for r in requests}) > 10
    modes = {r.mode for r in _draw(Input("service", "safety/set_mode", "forma_interfaces/srv/SetOperatingMode", []))}
    assert min(modes) > 5 and 255 in modes
    holds = _draw(Input("topic", "hardware/hold", "std_msgs/msg/String", []))
    assert not any(m.data in HARDWARE_GROUPS for m in holds)
    switches = _draw(Input("service", "hardware/set_actuator_mode", "forma_interfaces/srv/SetActuatorMode", []))
    assert all(r.group not in HARDWARE_GROUPS or r.mode > 2 for r in switches)
    pushes = _draw(Input("service", "sim/apply_wrench", "forma_interfaces/srv/ApplyWrench", []))
    for r in pushes:  # never a finite push of positive duration on a body the sim knows
        w = r.wrench
        finite = all(math.isfinite(v) for v in (w.force.x, w.force.y, w.force.z, w.torque.x, w.torque.y,
                                                w.torque.z, r.duration_s))
        assert not (finite and r.duration_s > 0.0 and r.body in SIM_BODIES)
    for name in ("safety/reset", "hardware/reset", "sim/reset"):
        assert input_strategy(Input("service", name, "std_srvs/srv/Trigger", []), CTX) is None


def test_other_inputs_get_everything_and_actions_get_goal_ids():
    commands = _draw(Input("topic", "hardware/joint_commands", "sensor_msgs/msg/JointState", []))
    assert any(any(math.isnan(v) for v in m.position) for m in commands)
    goals = _draw(Input("action", "wbc/reach", "forma_interfaces/action/Reach", []), 50)
    assert len({bytes(g.goal_id.uuid) for g in goals}) > 10  # mostly told apart (repeats fuzz the server too)
    assert {g.goal.hand for g in goals} & {"left_knee", ""}

"""The vla node over real DDS with a policy model (ONNX, made here: its chunk is one fixed action,
the right palm raised 12 cm and brought 8 cm forward of where the robot stands, the rest where it
is) on the standing robot (sim, supervisor, WBC, hands): vla/execute runs the policy on the head
camera's images and the joints, the WBC takes the palm there (read back by forward kinematics from
joint_states) while the left palm stays, and the goal ends after its timeout. A second model that
asks the base to move (the robot does not walk) ends its goal with the reason, and the robot stays
ACTIVE. Ctrl-C leaves nothing behind."""

from __future__ import annotations

import functools
import re
import time

import numpy as np
import pytest
from rclpy.action import ActionClient
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from forma_description import RobotModel, expand_description
from forma_description.frames import RobotFrames
from forma_description.poses import named_pose
from forma_hands.hand_joints import HandJoints
from forma_interfaces.action import ExecuteInstruction
from forma_interfaces.msg import SafetyState
from forma_vla.action_space import ACTION_DIM, BASE, PALM
from forma_vla.policy import INSTRUCTION_DIM, Normalizer, PolicySignature
from forma_vla.present import PresentAction
from tests.support.deployments import node, process, write_deployment
from tests.support.onnx_models import make_policy_model
from tests.support.ros import LaunchedDeployment, RosProbe, VlaStandIn

pytestmark = pytest.mark.integration
STATE_NAMES = ("right_shoulder_pitch", "right_elbow")
PALM_MOVE_M = np.array([0.08, 0.0, 0.12])  # in torso
STARTING = ("no robot_description yet", "no joint_states", "the robot is not active")  # refusals while it starts


def _present_at_stand():
    urdf = expand_description()
    robot = RobotModel.from_urdf(urdf)
    hands = {s: HandJoints.from_robot(robot, s) for s in ("left", "right")}
    present = PresentAction(RobotFrames(urdf), hands, 0.0)
    q = named_pose("stand_balanced", robot)
    present.frames.update(robot.joint_names, q)
    present.standing_torso_height_m = present.torso_height_m()
    return present, present(robot.joint_names, q, np.eye(3)), robot


def _constant_policy(path, action: np.ndarray, skills: tuple[str, ...] = ()) -> None:
    """A policy whose every chunk is `action` (8 steps of 50 ms): zero weights, the action as the
    de-normalisation's mean."""
    sig = PolicySignature(
        0.05, (64, 48), STATE_NAMES, Normalizer(np.zeros(2), np.ones(2)), Normalizer(action, np.ones(ACTION_DIM)),
        skills=skills,
    )
    n_in = 3 + len(STATE_NAMES) + INSTRUCTION_DIM
    zeros = np.zeros((n_in, 8 * ACTION_DIM))
    make_policy_model(path, sig.to_json(), zeros, np.zeros(8 * ACTION_DIM), 8, (48, 64), len(STATE_NAMES))


def _deployment(tmp, good_model, bad_model) -> str:
    # the rates of the shipped `sim` deployment (a 4 ms control period on 2 cores)
    sim = node(
        "sim", world="empty", initial_pose="stand_balanced", control_rate_hz=250.0, sensor_rate_hz=125.0,
        clock_rate_hz=125.0, **{"camera.rate_hz": 5.0},
    )
    safety = node(
        "safety_supervisor", auto_stand=True, pose="stand_balanced", commanders=["wbc", "hands"], rate_hz=125.0
    )
    wbc = node("wbc", pose="stand_balanced", rate_hz=250.0)
    vla = node("vla", model_path=str(good_model))
    walker = node("vla", "vla_walker", model_path=str(bad_model), action_name="vla_walker/execute")
    # the same model serving two of its skills, the others forwarded to the task skills (a stand-in here)
    forwarding = node("vla", "vla_forwarding", model_path=str(bad_model), action_name="vla_forwarding/execute",
                      serve_skills=["pick", "wave"], fallback_action="skills_stand_in/execute")
    processes = [
        process("sim", sim, realtime_priority=50),
        process("safety", safety, realtime_priority=45),
        process("control", wbc, realtime_priority=50),
        process("hands", node("hands", rate_hz=125.0), realtime_priority=40),
        process("vla", vla, walker, forwarding),
    ]
    return write_deployment(tmp, "vla_test", processes)


def _run(probe: RosProbe, action_name: str, timeout_s: float, text: str = "raise your right hand",
         feedback: list | None = None) -> ExecuteInstruction.Result:
    client = ActionClient(probe.node, ExecuteInstruction, action_name)
    probe.wait_for(lambda: client.wait_for_server(timeout_sec=0.5), 60, action_name)
    goal = ExecuteInstruction.Goal(instruction=text, timeout_s=timeout_s)
    heard = feedback if feedback is not None else []
    for _ in range(30):  # the node hears the description and ACTIVE shortly after this probe does
        sent = probe.on_executor(functools.partial(client.send_goal_async, goal,
                                                   feedback_callback=lambda f: heard.append(f.feedback)))
        probe.wait_for(sent.done, 30, "the goal answered")
        handle = sent.result()
        assert handle.accepted
        result = probe.on_executor(handle.get_result_async)
        probe.wait_for(result.done, 120, f"the result of {action_name}")
        answer = result.result().result
        if not answer.message.startswith(STARTING):
            return answer
        time.sleep(1.0)
    raise AssertionError(f"{action_name}: {answer.message}")


def test_a_policy_drives_the_palm_through_whole_body_control(tmp_path, domain_id):
    present, start, robot = _present_at_stand()
    target = start.copy()
    target[PALM["right"].start : PALM["right"].start + 3] += PALM_MOVE_M
    _constant_policy(tmp_path / "raise.onnx", target)
    walking = start.copy()
    walking[BASE.start] = 0.3
    _constant_policy(tmp_path / "walk.onnx", walking, skills=("pick", "point", "wave"))
    path = _deployment(tmp_path, tmp_path / "raise.onnx", tmp_path / "walk.onnx")
    with LaunchedDeployment(path, domain_id, tmp_path / "logs") as deployment, RosProbe(domain_id) as probe:
        skills = VlaStandIn(domain_id, "skills_stand_in/execute")  # early: discovered while the robot stands up
        safety = probe.collect(SafetyState, "safety/state", depth=50, latched=True)
        joints = probe.collect(JointState, "joint_states", keep=1)
        probe.collect(String, "robot_description", latched=True)
        probe.wait_for(lambda: safety and safety[-1].mode == SafetyState.ACTIVE, 120, "the robot standing (ACTIVE)")
        probe.wait_for(lambda: joints, 30, "joint_states")

        def palms():
            with probe.lock:
                msg = joints[-1]
            present.frames.update(list(msg.name), list(msg.position))
            return {s: present.frames.transform("torso", f"{s}_hand")[:3, 3] for s in ("left", "right")}

        before = palms()
        feedback: list = []
        result = _run(probe, "vla/execute", timeout_s=4.0, feedback=feedback)
        assert result.success, result.message
        assert "raise.onnx for 4.0 s" in result.message  # the console shows which model served
        c2c = re.search(r"camera to command p50 (\d+) ms, p99 (\d+) ms", result.message)
        assert c2c and int(c2c[1]) < 200, result.message  # images older than image_max_age_s are skipped
        phases = {f.phase for f in feedback}
        assert len(phases) == 1 and phases.pop().startswith("learned policy "), phases  # and which model
        assert feedback[0].phase.endswith("/raise.onnx")
        assert 0.0 <= feedback[0].progress < feedback[-1].progress <= 1.0
        after = palms()
        goal = target[PALM["right"]][:3]
        assert np.linalg.norm(after["right"] - goal) < 0.03, (after["right"], goal, before["right"])
        assert np.linalg.norm(after["right"] - before["right"]) > 0.1  # it moved there
        assert np.linalg.norm(after["left"] - before["left"]) < 0.03  # the left palm stayed

        refused = _run(probe, "vla_walker/execute", timeout_s=4.0, text="give us a wave")
        assert not refused.success and "does not walk yet" in refused.message, refused.message
        untrained = _run(probe, "vla_walker/execute", timeout_s=4.0, text="look at the red cup")
        assert not untrained.success and untrained.duration_s == 0.0
        assert "walk.onnx was trained for pick, point, wave; 'look at the red cup' asks to look" in untrained.message
        try:
            relayed: list = []
            forwarded = _run(probe, "vla_forwarding/execute", timeout_s=4.0, text="point at the red cup",
                             feedback=relayed)
            assert forwarded.success and skills.goals == ["point at the red cup"], forwarded.message
            assert forwarded.message.startswith("served by the task skills (skills_stand_in/execute)")
            assert [f.phase for f in relayed] == ["task skills: reaching"]
        finally:
            skills.close()
        assert safety[-1].mode == SafetyState.ACTIVE

    assert deployment.exit_code == 0, deployment.output[-3000:]
    assert deployment.leftovers() == []


def test_a_model_that_cannot_serve_stops_the_node_with_the_reason(tmp_path, domain_id):
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter

    from forma_vla.errors import PolicyLoadError
    from forma_vla.node import VlaNode

    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    try:
        for path, reason in ((tmp_path / "absent.onnx", "no such model file"), (tmp_path / "junk.onnx", "cannot load")):
            with pytest.raises(PolicyLoadError, match=reason):
                VlaNode(context=context, parameter_overrides=[Parameter("model_path", value=str(path))])
        idle = VlaNode(context=context)  # no model: it serves nothing and says so
        assert idle.server is None
        idle.destroy_node()
    finally:
        rclpy.shutdown(context=context)

"""forma_tasks' pure core: instructions to skills (held-out paraphrases, refusals with reasons),
finding the object an instruction names in what perception sees, the grasp planner's geometry
(the left hand's plan is the right's mirror image; the pre-grasp pose is behind the grasp along
the fingers), the level frame, and the runner's refusals that move nothing."""

from __future__ import annotations

import math
import pathlib

import numpy as np
import pinocchio as pin
import pytest
import yaml

from forma_description.frames import RobotFrames
from forma_face.dialogue import Dialogue, load_dialogue_config
from forma_face.interaction_node import default_intents_path
from forma_face.minilm import MiniLM
from forma_tasks import grasp_plan
from forma_tasks.errors import TaskError, TaskFailed
from forma_tasks.instructions import SKILL_OF_INTENT, InstructionParser, ObjectQuery
from forma_tasks.robot import level_from_base
from forma_tasks.runner import TaskRunner
from forma_tasks.scene import Scene, SeenObject, SeenPerson

HELD_OUT = pathlib.Path(__file__).parents[1] / "data" / "intent_paraphrases.yaml"


@pytest.fixture(scope="module")
def parser():
    return InstructionParser(Dialogue(load_dialogue_config(default_intents_path()), MiniLM()))


def test_held_out_paraphrases_become_their_skill(parser):
    """Every held-out paraphrase of a task intent that names what its skill needs parses to the
    skill (the same encoder and slot grammar as the dialogue)."""
    held_out = yaml.safe_load(HELD_OUT.read_text())
    wrong = []
    for intent, skill in SKILL_OF_INTENT.items():
        for text in held_out.get(intent, []):
            try:
                got = parser.parse(text).skill
            except TaskError as exc:
                got = f"refused: {exc}"
            if got != skill:
                wrong.append((text, skill, got))
    assert len(wrong) <= 2, wrong  # the dialogue's own held-out accuracy bound


def test_instruction_arguments(parser):
    pick = parser.parse("could you pick up the red cup please")
    assert (pick.skill, pick.object, pick.person) == ("pick", ObjectQuery("cup", "red"), False)
    look = parser.parse("look at me")
    assert look.skill == "look" and look.person and look.object is None
    give = parser.parse("hand me the blue cup")
    assert give.skill == "hand_over" and give.person and give.object == ObjectQuery("cup", "blue")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("fly to the moon", "nothing I understand"),
        ("come here", "walking is not available"),
        ("pick up the unicorn", "which object?"),
        ("", "empty"),
        ("x" * 2000, "longer than"),
    ],
)
def test_instructions_the_robot_cannot_serve_are_refused_with_the_reason(parser, text, reason):
    with pytest.raises(TaskError, match=reason):
        parser.parse(text)


def _obj(label, color, x, y):
    return SeenObject(f"{color}_{label}", label, color, np.array([x, y, -0.2]), 0.0, np.full(3, 0.07))


def test_the_scene_finds_the_named_object_or_says_what_it_sees():
    scene = Scene(1.0, (_obj("cup", "red", 0.6, 0.2), _obj("cup", "red", 0.4, 0.1), _obj("box", "green", 0.4, 0.0)))
    assert scene.find(ObjectQuery("cup", "red")).position[0] == 0.4  # the nearest of two
    assert scene.find(ObjectQuery("box")).color == "green"
    with pytest.raises(TaskFailed, match=r"no blue cup in view \(I see the green box, the red cup, the red cup\)"):
        scene.find(ObjectQuery("cup", "blue"))
    with pytest.raises(TaskFailed, match="nobody in view"):
        scene.nearest_person()
    person = Scene(1.0, people=(SeenPerson("p1", np.array([1.5, 0.3, 0.6])), SeenPerson("p2", np.array([0.9, 0, 0.6]))))
    assert person.nearest_person().id == "p2"


@pytest.fixture(scope="module")
def palm_to_hand(urdf_xml):
    """The right palm frame in the palm link, from the robot's URDF."""
    return pin.SE3(RobotFrames(urdf_xml).transform("right_palm", "right_hand"))


@pytest.mark.parametrize("label", ["cup", "ball", "box"])
def test_the_left_hands_plan_is_the_mirror_image_of_the_right_hands(label, palm_to_hand):
    centre, yaw = np.array([0.40, -0.22, -0.06]), 0.3
    right = grasp_plan.approach(label, centre, yaw, "right", palm_to_hand, heading_rad=-0.2)
    mirror = grasp_plan.MIRROR
    mirrored_palm = pin.SE3(mirror @ palm_to_hand.rotation @ mirror, mirror @ palm_to_hand.translation)
    left = grasp_plan.approach(label, mirror @ centre, -yaw, "left", mirrored_palm, heading_rad=0.2)
    for r, lft in ((right.grasp, left.grasp), (right.pre, left.pre), (right.beside, left.beside)):
        np.testing.assert_allclose(lft.translation, mirror @ r.translation, atol=1e-9)
        np.testing.assert_allclose(lft.rotation, mirror @ r.rotation @ mirror, atol=1e-9)
    assert left.lean.roll_rad == -right.lean.roll_rad


def test_the_cup_is_approached_over_its_rim_then_down_beside_it_and_across_the_palm(palm_to_hand):
    spec = grasp_plan.OBJECT_GRASPS["cup"]
    plan = grasp_plan.approach("cup", np.array([0.40, -0.22, -0.06]), 0.0, "right", palm_to_hand)
    fingers, out_of_palm = plan.grasp.rotation[:, 0], plan.grasp.rotation[:, 2]
    np.testing.assert_allclose(fingers, [1.0, 0.0, 0.0], atol=1e-9)  # fingers forward
    np.testing.assert_allclose(out_of_palm, [0.0, 1.0, 0.0], atol=1e-9)  # the right palm faces left
    step_in = plan.over.translation - plan.pre.translation
    assert step_in @ fingers == pytest.approx(spec.approach_m) and np.linalg.norm(np.cross(step_in, fingers)) < 1e-9
    np.testing.assert_allclose(plan.beside.translation - plan.over.translation, [0, 0, -spec.approach_height_m])
    across = plan.grasp.translation - plan.beside.translation
    assert across @ out_of_palm == pytest.approx(spec.approach_clearance_m)
    assert [p.translation.tolist() for p in plan.path()] == [
        p.translation.tolist() for p in (plan.over, plan.beside, plan.grasp)
    ]
    with pytest.raises(TaskError, match="no grasp for a 'bottle'"):
        grasp_plan.approach("bottle", np.zeros(3), 0.0, "right", palm_to_hand)


def test_a_ball_is_approached_straight_in_along_the_fingers(palm_to_hand):
    plan = grasp_plan.approach("ball", np.array([0.40, -0.22, -0.06]), 0.0, "right", palm_to_hand)
    assert len(plan.path()) == 1  # over = beside = grasp


def test_the_level_frame_drops_the_heading_and_keeps_the_tilt():
    tilt = pin.utils.rpyToMatrix(0.05, 0.2, 0.0)
    base = pin.utils.rpyToMatrix(0.0, 0.0, 1.1) @ tilt  # pitched pelvis, turned robot
    level = level_from_base(base)
    np.testing.assert_allclose(level, tilt, atol=1e-9)
    assert math.isclose(float((level @ [0.0, 0.0, 1.0])[2]), math.cos(0.05) * math.cos(0.2), abs_tol=1e-9)


class _IdleRobot:
    """A robot that must not be moved: every motion call fails the test."""

    standing_pelvis_height_m = 0.9

    def now(self):
        return 0.0

    def __getattr__(self, name):
        raise AssertionError(f"a refused instruction called robot.{name}")


def test_a_refused_instruction_moves_nothing(parser):
    outcome = TaskRunner(_IdleRobot(), parser).run("fly to the moon")
    assert not outcome.success and outcome.skill == "" and "nothing I understand" in outcome.message


@pytest.mark.parametrize("timeout_s", [math.nan, math.inf, -1.0])
def test_a_bad_timeout_is_refused_and_moves_nothing(parser, timeout_s):
    outcome = TaskRunner(_IdleRobot(), parser).run("wave", timeout_s=timeout_s)
    assert not outcome.success and f"timeout_s {timeout_s} must be a finite number >= 0" in outcome.message

"""The skills: pick up, put down, hand over, wave, point at, look at. Each is a plain function of a
Task (the robot, feedback, cancel, deadline) that returns what it did or raises TaskFailed with
what happened and why. They use only the Robot calls (robot.py), so the same code runs over DDS
and on the lockstep harness. Poses are in base_link; lengths in metres, angles in radians."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pinocchio as pin

from forma_tasks import grasp_plan
from forma_tasks.errors import TaskCanceled, TaskFailed
from forma_tasks.instructions import Instruction, ObjectQuery
from forma_tasks.robot import REACHED, TIMEOUT, UNREACHABLE, ReachHandle, ReachResult, Robot, lean_target, pelvis_height
from forma_tasks.scene import Scene, SeenObject

SIDES = ("left", "right")
LIFT_M = 0.10  # a picked object is lifted this far off the table
# an object further than this (horizontally) from the standing shoulder is out of reach: cups at
# 0.30-0.37 m and boxes at 0.46-0.48 m were picked; balls at 0.54-0.57 m were not (the crouched arm
# fell 5 cm short, and once the robot tipped over sideways reaching for one: lockstep, seeds 2400-2405)
MAX_REACH_M = 0.50
WAVE_AMPLITUDE_M = 0.08  # the palm swings this far either side
WAVE_SWINGS = 5  # half-oscillations
POINT_DISTANCE_M = 0.42  # the palm this far from the shoulder, toward the object
PRE_GRASP_RAISE_M = 0.06  # the hand comes to the pre-grasp pose from this far above it
SETTLE_S = 0.3  # the palm settles this long at the grasp pose before the fingers close
PLACE_ABOVE_M = 0.04  # the held object comes over its place this high, then down
PLACED_WITHIN_M = 0.03  # the placed object must be seen this close to where it stood
PLACE_RELEASE_M = 0.008  # the palm opens this far above where it grasped (the object rests on the table)
# where the head looks for an object not in the first frame: the table's left and right halves (level
# frame); with the first frame the whole table top has been in view within 2 s
SCAN_POINTS = ((0.55, 0.25, -0.2), (0.55, -0.25, -0.2))
# where the head looks for a face (level frame: ahead, right, left, about a standing person's height)
PERSON_SCAN_POINTS = ((1.2, 0.0, 0.6), (1.0, -0.9, 0.6), (1.0, 0.9, 0.6))
HAND_OVER_WAIT_S = 5.0  # the hand opens when the object is pulled, or after this long
GAZE_TOLERANCE_RAD = math.radians(4.0)
HEADING_LIMIT_RAD = 0.6  # the grasp's fingers point at most this far off straight ahead


@dataclasses.dataclass
class Held:
    """What a hand holds: the object as seen when picked, and the grasp's plan with its poses
    relative to the feet (the level frame's origin, the pelvis, moves as the body stands up and
    leans again; the feet stay where they are)."""

    object: SeenObject
    approach: grasp_plan.Approach  # poses: level frame minus the soles' midpoint
    feet: np.ndarray  # the soles' midpoint in the level frame when it was picked


@dataclasses.dataclass
class Memory:
    """What outlives one instruction: what each hand holds, where each hand rests."""

    held: dict[str, Held] = dataclasses.field(default_factory=dict)
    rest: dict[str, pin.SE3] = dataclasses.field(default_factory=dict)  # palm at rest (standing base_link)
    moved: set[str] = dataclasses.field(default_factory=set)  # hands away from rest


class Task:
    """One running instruction: every robot call goes through here, so a cancel or the deadline
    stops the skill at the next call."""

    def __init__(
        self,
        robot: Robot,
        memory: Memory,
        deadline_s: float,
        feedback: Callable[[str, float], None] = lambda phase, progress: None,
        canceled: Callable[[], bool] = lambda: False,
    ) -> None:
        self.robot, self.memory, self.deadline_s = robot, memory, deadline_s
        self._feedback, self._canceled = feedback, canceled
        self.phase_name = "starting"
        self.reaches: list[ReachHandle] = []

    def phase(self, name: str, progress: float) -> None:
        self.check()
        self.phase_name = name
        self._feedback(name, progress)

    def check(self) -> None:
        if self._canceled():
            raise TaskCanceled("canceled")
        if self.robot.now() > self.deadline_s:
            raise TaskCanceled(f"timed out while {self.phase_name}")

    def wait(self, seconds: float) -> None:
        end = self.robot.now() + seconds
        while self.robot.now() < end:
            self.check()
            self.robot.wait(min(0.05, end - self.robot.now()))

    def wait_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        end = self.robot.now() + timeout_s
        while not condition():
            if self.robot.now() >= end:
                return False
            self.check()
            self.robot.wait(0.02)
        return True

    def reach(self, side: str, pose: pin.SE3, **kwargs) -> ReachHandle:
        self.check()
        handle = self.robot.reach(side, pose, **kwargs)
        self.reaches.append(handle)
        self.memory.moved.add(side)
        return handle

    def finish(self, handle: ReachHandle) -> ReachResult:
        """Wait for a reach to end."""
        while handle.result() is None:
            self.check()
            self.robot.wait(0.02)
        return handle.result()

    def stop_reaches(self) -> None:
        for handle in self.reaches:
            if handle.result() is None:
                handle.cancel()


# --- helpers ---------------------------------------------------------------------------------------
def drop_now(robot: Robot) -> float:
    """How far the pelvis is below standing now [m]."""
    return robot.standing_pelvis_height_m - pelvis_height(robot)


def raised(pose: pin.SE3, dz: float) -> pin.SE3:
    return pin.SE3(pose.rotation, pose.translation + np.array([0.0, 0.0, dz]))


def observe_for(task: Task, query: ObjectQuery | None) -> Scene:
    """A fresh frame; if the object is not in it, look over the table once more, left and right."""
    scene = task.robot.observe()
    if query is None or scene.matching(query):
        return scene
    for point in SCAN_POINTS:
        task.robot.look_at(np.array(point))
        task.wait(0.5)
        scene = task.robot.observe()
        if scene.matching(query):
            return scene
    return scene


def gaze_error_rad(task: Task, point: np.ndarray) -> float:
    """The angle between the head camera's optical axis and the direction to the point."""
    camera = task.robot.frame("head_camera_color_optical_frame")
    direction = point - camera.translation
    cos = float(camera.rotation[:, 2] @ direction / max(np.linalg.norm(direction), 1e-6))
    return math.acos(min(1.0, max(-1.0, cos)))


def look_settled(task: Task, point: np.ndarray, timeout_s: float = 3.0) -> float:
    """Turn the head to the point and wait until the camera's axis is on it (GAZE_TOLERANCE_RAD);
    the angle still off, 0 when on it. The head stops a few degrees short (the posture task pulls
    it back): then the gaze is aimed past the point by what the axis misses, twice at most."""
    point = np.asarray(point, float)
    target = point
    for _ in range(3):
        task.robot.look_at(target)
        if task.wait_until(lambda: gaze_error_rad(task, point) < GAZE_TOLERANCE_RAD, timeout_s / 3):
            return 0.0
        camera = task.robot.frame("head_camera_color_optical_frame")
        axis = camera.rotation[:, 2]
        closest = camera.translation + float((point - camera.translation) @ axis) * axis
        target = target + (point - closest)
    return gaze_error_rad(task, point)


def lean(task: Task, drop_m: float, pitch_rad: float, roll_rad: float, timeout_s: float = 6.0) -> None:
    """Send the torso target and wait until the body is there (pelvis within 1.5 cm)."""
    robot = task.robot
    robot.lean(lean_target(robot, drop_m, pitch_rad, roll_rad))
    if not task.wait_until(lambda: abs(drop_now(robot) - drop_m) < 0.015, timeout_s):
        raise TaskFailed(f"the body did not get {drop_m * 100:.0f} cm lower (now {drop_now(robot) * 100:.0f} cm)")
    task.wait(0.3)


def side_for(task: Task, obj: SeenObject) -> str:
    """The hand on the object's side; TaskFailed if the object is beyond that arm's reach."""
    side = "right" if obj.position[1] < 0.0 else "left"
    shoulder = task.robot.frame(f"{side}_shoulder_pitch_link").translation
    distance = float(np.linalg.norm(obj.position[:2] - shoulder[:2]))
    if distance > MAX_REACH_M:
        raise TaskFailed(f"{obj.describe()} is out of reach: {distance:.2f} m from the {side} shoulder")
    return side


def palm_to_hand(task: Task, side: str) -> pin.SE3:
    return task.robot.frame(f"{side}_palm").actInv(task.robot.frame(f"{side}_hand"))


def _plan(task: Task, obj: SeenObject, side: str) -> grasp_plan.Approach:
    """The grasp plan with the fingers pointing from the shoulder to the object (within +-HEADING_LIMIT_RAD)."""
    shoulder = task.robot.frame(f"{side}_shoulder_pitch_link").translation
    dx, dy = obj.position[:2] - shoulder[:2]
    heading = float(np.clip(math.atan2(dy, dx), -HEADING_LIMIT_RAD, HEADING_LIMIT_RAD))
    return grasp_plan.approach(obj.label, obj.position, obj.yaw_rad, side, palm_to_hand(task, side), heading)


def _seen_again(task: Task, obj: SeenObject, side: str, plan: grasp_plan.Approach):
    """Look again with the hand near the object and plan anew from what the camera sees now: the
    base moved while the arm reached out (the balance shifts the pelvis back) and leg odometry
    drifted a few millimetres while crouching; a finger may have brushed the object."""
    seen = task.robot.observe().matching(ObjectQuery(obj.label, obj.color))
    near = [o for o in seen if np.linalg.norm(o.position[:2] - obj.position[:2]) < 0.06]
    if not near:
        return obj, plan
    now = min(near, key=lambda o: float(np.linalg.norm(o.position[:2] - obj.position[:2])))
    return now, _plan(task, now, side)


def reach_or_fail(task: Task, side: str, pose: pin.SE3, what: str, accept_m: float, **kwargs) -> ReachResult:
    """Reach; a timeout within accept_m counts as there, anything else fails with the reason."""
    result = task.finish(task.reach(side, pose, **kwargs))
    if result.outcome == REACHED or (result.outcome == TIMEOUT and result.distance_m <= accept_m):
        return result
    if result.outcome == UNREACHABLE:
        raise TaskFailed(f"{what} is out of reach: {result.reason}")
    raise TaskFailed(f"the {side} hand did not get to {what}: {result.reason}")


def hands_to_rest(task: Task, sides=SIDES) -> None:
    """Hands that moved and hold nothing go back to rest (standing base_link, shifted by the drop)."""
    handles = []
    for side in sides:
        if side in task.memory.moved and side not in task.memory.held and side in task.memory.rest:
            task.robot.hand(side, "relax", timeout_s=2.0)
            rest = raised(task.memory.rest[side], drop_now(task.robot))
            handles.append((side, task.reach(side, rest, tolerance_m=0.04, max_speed_m_s=0.4, timeout_s=4.0)))
    for side, handle in handles:
        task.finish(handle)
        task.memory.moved.discard(side)


def stand_up(task: Task) -> None:
    if drop_now(task.robot) > 0.02 or abs(pin.rpy.matrixToRpy(task.robot.frame("torso").rotation)[1]) > 0.05:
        lean(task, 0.0, 0.0, 0.0)


# --- skills -----------------------------------------------------------------------------------------
def look(task: Task, instruction: Instruction) -> str:
    task.phase("finding", 0.2)
    scene = observe_for(task, instruction.object)
    if instruction.person or instruction.object is None:
        point, what = scene.nearest_person().face_position, "you"
    else:
        obj = scene.find(instruction.object)
        point, what = obj.position, obj.describe()
    task.phase("turning the head", 0.6)
    off = look_settled(task, point)
    if off:
        raise TaskFailed(f"the head did not turn to {what}: still {math.degrees(off):.0f} deg off after 3 s")
    return f"looking at {what}"


def wave(task: Task, instruction: Instruction) -> str:
    side = "right" if "right" not in task.memory.held else "left"
    if side in task.memory.held:
        raise TaskFailed("both hands are full: put something down first")
    hands_to_rest(task, [s for s in SIDES if s != side])
    task.phase("raising the hand", 0.1)
    task.robot.hand(side, "open", timeout_s=2.0)
    out = -1.0 if side == "right" else 1.0
    shoulder = task.robot.frame(f"{side}_shoulder_pitch_link").translation
    # fingers up, palm forward
    rotation = np.column_stack([[0.0, 0.0, 1.0], [0.0, out, 0.0], [1.0, 0.0, 0.0]])
    if side == "left":
        rotation = np.column_stack([[0.0, 0.0, 1.0], [0.0, out, 0.0], [-1.0, 0.0, 0.0]])
    centre = shoulder + np.array([0.12, out * 0.18, 0.28])
    reach_or_fail(task, side, pin.SE3(rotation, centre), "the waving pose", 0.05, max_speed_m_s=0.6, timeout_s=4.0)
    task.phase("waving", 0.4)
    for i in range(WAVE_SWINGS):
        swing = WAVE_AMPLITUDE_M * (1.0 if i % 2 == 0 else -1.0)
        target = pin.SE3(rotation, centre + np.array([0.0, swing, 0.0]))
        task.finish(task.reach(side, target, tolerance_m=0.03, orientation_tolerance_rad=0.5,
                               max_speed_m_s=0.6, timeout_s=1.5))
        task.phase("waving", 0.4 + 0.5 * (i + 1) / WAVE_SWINGS)
    hands_to_rest(task, [side])
    return f"waved with the {side} hand"


def point(task: Task, instruction: Instruction) -> str:
    task.phase("finding", 0.1)
    scene = observe_for(task, instruction.object)
    obj = scene.find(instruction.object)
    side = "right" if obj.position[1] < 0.0 else "left"
    if side in task.memory.held:
        side = "left" if side == "right" else "right"
        if side in task.memory.held:
            raise TaskFailed("both hands are full: put something down first")
    look_settled(task, obj.position, timeout_s=1.5)
    task.phase("pointing", 0.4)
    task.robot.hand(side, "point", timeout_s=2.0)
    target = obj.position.copy()
    miss = np.inf
    for attempt in range(3):
        pose = _pointing_pose(task, side, target)
        task.finish(task.reach(side, pose, tolerance_m=0.015, max_speed_m_s=0.4, timeout_s=3.0))
        task.wait(0.3)
        origin, direction = index_ray(task, side)
        miss_vector = _ray_miss(origin, direction, obj.position)
        miss = float(np.linalg.norm(miss_vector))
        if miss < 0.02:
            break
        target = target + miss_vector  # aim the palm so the finger's ray passes through the object
        task.phase("pointing", 0.6 + 0.1 * attempt)
    if miss > 0.05:
        raise TaskFailed(f"the index finger's ray passes {miss * 100:.0f} cm from {obj.describe()}")
    return f"pointing at {obj.describe()} with the {side} hand"


def index_ray(task: Task, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Origin and direction of the index finger (its knuckle toward its tip) in base_link."""
    base = task.robot.frame(f"{side}_index_proximal").translation
    tip = task.robot.frame(f"{side}_index_tip").translation
    return tip, (tip - base) / max(np.linalg.norm(tip - base), 1e-6)


def _ray_miss(origin: np.ndarray, direction: np.ndarray, point: np.ndarray) -> np.ndarray:
    """From the ray's closest point to `point` (the correction that puts the ray through it)."""
    along = max(0.0, float((point - origin) @ direction))
    return point - (origin + along * direction)


def _pointing_pose(task: Task, side: str, target: np.ndarray) -> pin.SE3:
    """The palm POINT_DISTANCE_M from the shoulder toward the target, fingers along that ray, palm
    down; the left hand's is the mirror image of the right's for the mirrored target."""
    shoulder = task.robot.frame(f"{side}_shoulder_pitch_link").translation
    if side == "left":
        m = grasp_plan.MIRROR
        right = _right_pointing_pose(m @ shoulder, m @ target)
        return pin.SE3(m @ right.rotation @ m, m @ right.translation)
    return _right_pointing_pose(shoulder, target)


def _right_pointing_pose(shoulder: np.ndarray, target: np.ndarray) -> pin.SE3:
    x = (target - shoulder) / np.linalg.norm(target - shoulder)  # fingers along the ray
    z = np.array([0.0, 0.0, -1.0])  # palm down
    z = z - (z @ x) * x
    z /= np.linalg.norm(z)
    y = np.cross(z, x)
    return pin.SE3(np.column_stack([x, y, z]), shoulder + POINT_DISTANCE_M * x)


def pick(task: Task, instruction: Instruction) -> str:
    robot, memory = task.robot, task.memory
    task.phase("finding", 0.05)
    scene = observe_for(task, instruction.object)
    obj = scene.find(instruction.object)
    if not grasp_plan.graspable(obj.label):
        raise TaskFailed(f"I cannot grasp {obj.describe()}: no grasp for a {obj.label}")
    side = side_for(task, obj)
    if side in memory.held:
        raise TaskFailed(f"the {side} hand already holds {memory.held[side].object.describe()}")
    hands_to_rest(task, [s for s in SIDES if s != side])
    plan = _plan(task, obj, side)
    task.phase("leaning over the table", 0.15)
    robot.look_at(obj.position)
    robot.hand(side, "open", timeout_s=3.0)  # flat: a pre-shaped thumb or finger pushed the cup away
    lean(task, plan.lean.drop_m, plan.lean.pitch_rad, plan.lean.roll_rad)
    task.phase("looking", 0.3)
    look_settled(task, obj.position + np.array([0.0, 0.0, drop_now(robot)]), timeout_s=2.0)
    seen = robot.observe().matching(ObjectQuery(obj.label, obj.color))
    if not seen:
        raise TaskFailed(f"{obj.describe()} went out of view while leaning over the table")
    obj = min(seen, key=lambda o: float(np.linalg.norm(o.position[:2] - obj.position[:2])))
    plan = _plan(task, obj, side)
    task.phase("reaching", 0.4)
    # from above the pre-grasp pose: a hand coming up from its rest below the table top swept the cup
    reach_or_fail(task, side, raised(plan.pre, PRE_GRASP_RAISE_M), obj.describe(), 0.04, tolerance_m=0.03,
                  max_speed_m_s=0.3, timeout_s=5.0)
    reach_or_fail(task, side, plan.pre, obj.describe(), 0.03, max_speed_m_s=0.15, timeout_s=4.0)
    obj, plan = _seen_again(task, obj, side, plan)
    task.phase("moving in", 0.5)
    robot.hand(side, plan.grasp_type, plan.max_force_n, preshape_only=True, timeout_s=2.0)
    path = plan.path()
    for i, pose in enumerate(path):
        last = i == len(path) - 1
        reach_or_fail(task, side, pose, obj.describe(), 0.015 if last else 0.02, tolerance_m=0.005 if last else 0.01,
                      max_speed_m_s=0.05 if last else 0.08, timeout_s=4.0)
    task.wait(SETTLE_S)
    task.phase("grasping", 0.6)
    result = robot.hand(side, plan.grasp_type, plan.max_force_n, timeout_s=6.0)
    if not result.holding:
        raise TaskFailed(f"the grasp did not hold {obj.describe()}: {result.message}")
    feet_now = feet(robot)
    memory.held[side] = Held(obj, _shifted(plan, -feet_now), feet_now)
    task.phase("lifting", 0.75)
    reach_or_fail(task, side, raised(plan.grasp, LIFT_M), "the lift", 0.03, max_speed_m_s=0.1, timeout_s=4.0)
    lost = robot.object_lost(side)
    if lost:
        memory.held.pop(side, None)
        raise TaskFailed(f"the grasp slipped while lifting {obj.describe()}: {lost}")
    task.phase("standing up", 0.9)
    carry = raised(plan.grasp, LIFT_M + drop_now(robot))
    carry.translation[0] -= 0.10
    handle = task.reach(side, carry, tolerance_m=0.04, max_speed_m_s=0.1, timeout_s=6.0)
    stand_up(task)
    task.finish(handle)
    lost = robot.object_lost(side)
    if lost:
        memory.held.pop(side, None)
        raise TaskFailed(f"{obj.describe()} slipped out of the {side} hand while standing up: {lost}")
    return f"holding {obj.describe()} in the {side} hand"


def place(task: Task, instruction: Instruction) -> str:
    """Put the held object down where it was picked up: lean as for the pick, lower it onto the
    table, open, and leave the way the hand came (across the palm, up, back along the fingers)."""
    robot, memory = task.robot, task.memory
    side = _holding_side(task, instruction)
    held = memory.held[side]
    obj = held.object
    task.phase("leaning over the table", 0.2)
    lean(task, held.approach.lean.drop_m, held.approach.lean.pitch_rad, held.approach.lean.roll_rad)
    plan = _shifted(held.approach, feet(robot))  # the pick's poses in the level frame now
    task.phase("placing", 0.4)
    put_down = plan.put_down()
    reach_or_fail(task, side, raised(put_down, PLACE_ABOVE_M), "the place", 0.03, max_speed_m_s=0.15,
                  timeout_s=5.0)
    reach_or_fail(task, side, raised(put_down, PLACE_RELEASE_M), "the table", 0.02, tolerance_m=0.01,
                  max_speed_m_s=0.04, timeout_s=3.0)
    task.phase("letting go", 0.6)
    # back to the grasp's pre-shape, not open: the opening thumb swung across the cup and knocked it over
    robot.hand(side, held.approach.grasp_type, held.approach.max_force_n, preshape_only=True, timeout_s=2.0)
    memory.held.pop(side)
    task.wait(0.3)
    task.phase("backing off", 0.75)
    for pose in (*reversed(plan.path()[:-1]), plan.pre):
        reach_or_fail(task, side, pose, "the way back", 0.04, max_speed_m_s=0.08, timeout_s=4.0)
    robot.hand(side, "open", timeout_s=2.0)
    task.phase("checking", 0.85)
    place = obj.position - held.feet + feet(robot)  # where it stood, in the level frame now
    _check_placed(task, obj, place)
    task.phase("standing up", 0.9)
    stand_up(task)
    hands_to_rest(task, [side])
    return f"put {obj.describe()} down"


def _check_placed(task: Task, obj: SeenObject, place: np.ndarray) -> None:
    """Look: the object stands where it was put (its height as when it was picked up), or the
    skill fails saying what the camera sees."""
    look_settled(task, place, timeout_s=1.5)
    seen = [o for o in task.robot.observe().matching(ObjectQuery(obj.label, obj.color))
            if np.linalg.norm(o.position[:2] - place[:2]) < PLACED_WITHIN_M]
    if not seen:
        raise TaskFailed(f"{obj.describe()} is not where it stood (within {PLACED_WITHIN_M * 100:.0f} cm)")
    now = min(seen, key=lambda o: float(np.linalg.norm(o.position[:2] - place[:2])))
    if now.size_m[2] < 0.85 * obj.size_m[2]:
        raise TaskFailed(f"{obj.describe()} fell over: {now.size_m[2] * 100:.0f} cm tall now, "
                         f"{obj.size_m[2] * 100:.0f} cm when I picked it up")


def feet(robot: Robot) -> np.ndarray:
    """The soles' midpoint in the level frame."""
    return 0.5 * (robot.frame("left_sole").translation + robot.frame("right_sole").translation)


def _shifted(plan: grasp_plan.Approach, offset: np.ndarray) -> grasp_plan.Approach:
    def move(pose: pin.SE3) -> pin.SE3:
        return pin.SE3(pose.rotation, pose.translation + offset)

    return dataclasses.replace(
        plan, pre=move(plan.pre), over=move(plan.over), beside=move(plan.beside), grasp=move(plan.grasp)
    )


def hand_over(task: Task, instruction: Instruction) -> str:
    robot, memory = task.robot, task.memory
    query = instruction.object
    held_sides = [s for s, h in memory.held.items() if query is None or _matches(h.object, query)]
    if held_sides:
        side = held_sides[0]
    elif instruction.object is None:
        raise TaskFailed("I am not holding anything: say which object to hand over")
    else:
        pick(task, dataclasses.replace(instruction, skill="pick"))
        side = next(s for s, h in memory.held.items() if _matches(h.object, instruction.object))
    obj = memory.held[side].object
    task.phase("finding you", 0.7)
    person = find_person(task)
    look_settled(task, person.face_position, timeout_s=1.5)
    task.phase("handing over", 0.8)
    shoulder = robot.frame(f"{side}_shoulder_pitch_link").translation
    toward = person.face_position - shoulder
    toward[2] = 0.0
    toward /= max(np.linalg.norm(toward), 1e-6)
    target = shoulder + 0.40 * toward
    target[2] = shoulder[2] - 0.15
    hand = robot.frame(f"{side}_hand")
    reach_or_fail(task, side, pin.SE3(hand.rotation, target), "you", 0.04, tolerance_m=0.03,
                  orientation_tolerance_rad=0.5, max_speed_m_s=0.2, timeout_s=5.0)
    task.phase("waiting for you to take it", 0.9)
    taken = task.wait_until(lambda: bool(robot.object_lost(side)), HAND_OVER_WAIT_S)
    robot.hand(side, "open", timeout_s=2.0)
    memory.held.pop(side, None)
    task.wait(0.5)
    hands_to_rest(task, [side])
    if not taken:
        return f"handed {obj.describe()} over (nobody pulled it: opened after {HAND_OVER_WAIT_S:.0f} s)"
    return f"handed {obj.describe()} over"


def find_person(task: Task):
    """The nearest face perception sees, looking ahead, then to the right and to the left."""
    for point in PERSON_SCAN_POINTS:
        task.robot.look_at(np.array(point))
        task.wait(0.6)
        scene = task.robot.observe()
        if scene.people:
            return scene.nearest_person()
    return scene.nearest_person()  # TaskFailed: nobody in view


def _matches(obj: SeenObject, query: ObjectQuery) -> bool:
    return (query.label is None or obj.label == query.label) and (query.color is None or obj.color == query.color)


def _holding_side(task: Task, instruction: Instruction) -> str:
    held = task.memory.held
    if not held:
        raise TaskFailed("I am not holding anything")
    if instruction.object is not None and instruction.object.label is not None:
        sides = [s for s, h in held.items() if _matches(h.object, instruction.object)]
        if not sides:
            holding = " and ".join(h.object.describe() for h in held.values())
            raise TaskFailed(f"I am not holding {instruction.object.describe()} (I hold {holding})")
        return sides[0]
    return next(iter(held))


SKILLS: dict[str, Callable[[Task, Instruction], str]] = {
    "pick": pick,
    "place": place,
    "hand_over": hand_over,
    "look": look,
    "wave": wave,
    "point": point,
}

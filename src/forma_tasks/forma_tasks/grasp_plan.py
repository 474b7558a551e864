"""Where the hand goes to grasp an object perception reports: the grasp pose of the palm frame
(`<side>_hand`), the pose beside it and the pre-grasp pose, and the body's lean that brings the
shoulder low enough to get there. Pure (pinocchio SE3 maths, no ROS, no simulator).

The hand's plans are the hand rig's (forma_hands.plans: object centre relative to the palm link,
power wrap from the side): palm vertical, thumb up, the fingers pointing forward (+x, away from
the robot), the hand coming in along its fingers. On the full robot (tests/accept/robot_grasp.py,
measured on the simulated tabletop): for the ball and the box the hand is also rolled 30 deg
palm-down about the fingers' axis through the object (with the palm vertical only wrist_yaw
tilted the hand up from a forearm sloping down to the table), the ball sits 7.5 mm and the cup
3 cm lower in the plan than on the rig, the box is approached 2.5 cm out of the palm and then
stepped onto across the palm (the open fingers caught a turned box's near corner), and the hand
turns with a box turned counter-clockwise only partly (at the wrist's limit it pushed the box).

Frames: everything is in one z-up frame in which the robot faces +x (base_link of the standing
robot). The plans are the right hand's; the left hand's poses are their mirror images across the
robot's x-z plane.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pinocchio as pin

from forma_hands.plans import PLANS, GraspPlan, hand_yaw
from forma_tasks.errors import TaskError

MIRROR = np.diag([1.0, -1.0, 1.0])  # the robot's sagittal (x-z) plane: y -> -y
# The rig's palm_side mount turned so the fingers point forward: the right palm link's axes in the
# robot's frame (x up, y left, z backward); with the URDF's palm -> hand frame that makes the hand
# frame's x (fingers) forward, y down (the thumb up) and z (out of the palm) to the left.
RIG_TO_ROBOT = pin.utils.rpyToMatrix(0.0, 0.0, math.pi / 2)  # the rig's axes -> the robot's
RIGHT_PALM_SIDE = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


@dataclasses.dataclass(frozen=True)
class Lean:
    """The body's lean for reaching the table: pelvis lowered [m], torso pitched forward and rolled
    toward the hand's side [rad] (io.TorsoLimits: at most 0.15 m and 0.5 rad of tilt)."""

    drop_m: float = 0.14
    pitch_rad: float = 0.47  # 0.5 is the WBC's limit, and the measured pelvis adds its own tilt
    roll_rad: float = 0.0  # > 0 leans toward the right hand's side (waist_roll)


@dataclasses.dataclass(frozen=True)
class ObjectGrasp:
    """The full robot's variant of a rig plan for one object class (see the module docstring)."""

    rig: GraspPlan
    shift_m: tuple[float, float, float] = (0.0, 0.0, 0.0)  # added to the rig's object offset (rig axes)
    palm_roll_rad: float = 0.0  # hand rolled palm-down about the fingers' axis through the object
    counter_clockwise_turn: float = 1.0  # share of a counter-clockwise object yaw the hand turns with
    approach_clearance_m: float = 0.0  # in along the fingers this far out of the palm, then across
    approach_m: float = 0.10  # the pre-grasp pose this far back along the fingers (the rig's)
    approach_height_m: float = 0.0  # ... and this far above: in over the object, then down beside it
    # where the closing hand moves the object [m, grasp frame: x along the fingers, z out of the palm]:
    # put down, the palm goes this much the other way so the object lands where it stood
    seated_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    lean: Lean = Lean()


OBJECT_GRASPS = {
    "ball": ObjectGrasp(PLANS["ball"], shift_m=(0.0, 0.0, -0.0075), palm_roll_rad=math.radians(30.0)),
    # the cup's wall is within a finger's thickness of the straight fingers' path: in along the
    # fingers at the grasp height they pushed it away (lockstep, perception's pose and the true
    # pose alike); in above its rim, down beside it and across onto it they do not
    # closing, the hand moves the cup 1.3 cm toward the wrist and 0.5 cm out of the palm (lockstep,
    # dev seeds 2000-2003, either hand)
    "cup": ObjectGrasp(
        PLANS["cup"], shift_m=(0.0, 0.0, -0.03), approach_clearance_m=0.015, approach_height_m=0.06,
        seated_m=(-0.013, 0.0, 0.005),
    ),
    "box": ObjectGrasp(
        PLANS["box"],
        palm_roll_rad=math.radians(30.0),
        counter_clockwise_turn=0.4,
        approach_clearance_m=0.025,
        lean=Lean(pitch_rad=0.42, roll_rad=0.2),
    ),
}


@dataclasses.dataclass(frozen=True)
class Approach:
    """Poses of the palm frame `<side>_hand`, in the order the hand takes them: pre-grasp -> over
    (in along the fingers, approach_height_m above) -> beside (down; out of the palm by the
    clearance) -> grasp (across the palm); consecutive poses may coincide. The plan's grasp type
    and force, and the body's lean."""

    pre: pin.SE3
    over: pin.SE3
    beside: pin.SE3
    grasp: pin.SE3
    grasp_type: str
    max_force_n: float
    lean: Lean
    seated_m: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))  # in the grasp frame

    def put_down(self) -> pin.SE3:
        """The palm's pose that sets the held object down where it stood (the grasp pose less
        where the closing hand moved the object)."""
        return pin.SE3(self.grasp.rotation, self.grasp.translation - self.grasp.rotation @ self.seated_m)

    def path(self) -> list[pin.SE3]:
        """over, beside, grasp without the repeats (the pre-grasp pose is reached first)."""
        out: list[pin.SE3] = []
        for pose in (self.over, self.beside, self.grasp):
            last = out[-1] if out else self.pre
            if not np.allclose(pose.translation, last.translation, atol=1e-4):
                out.append(pose)
        return out


def graspable(label: str) -> bool:
    return label in OBJECT_GRASPS


def approach(
    label: str, centre: np.ndarray, yaw_rad: float, side: str, palm_to_hand: pin.SE3, heading_rad: float = 0.0
) -> Approach:
    """The approach to an object of class `label` whose centre and yaw about the vertical are
    given, for hand `side`. palm_to_hand: the `<side>_hand` frame in the `<side>_palm` link (URDF).
    heading_rad: the direction the fingers point (about the vertical, 0 = straight ahead), e.g.
    from the shoulder to the object; a box's grasp turns to its face nearest that heading."""
    if label not in OBJECT_GRASPS:
        raise TaskError(f"no grasp for a {label!r}; the hands can grasp: {', '.join(OBJECT_GRASPS)}")
    if side not in ("left", "right"):
        raise TaskError(f"hand side {side!r}; valid: left, right")
    spec = OBJECT_GRASPS[label]
    centre = np.asarray(centre, float)
    if side == "left":
        mirrored_hand = _mirrored(palm_to_hand)
        poses = _right_approach(spec, MIRROR @ centre, -yaw_rad, mirrored_hand, -heading_rad)
        poses = tuple(_mirrored(p) for p in poses)
        lean = dataclasses.replace(spec.lean, roll_rad=-spec.lean.roll_rad)
    else:
        poses = _right_approach(spec, centre, yaw_rad, palm_to_hand, heading_rad)
        lean = spec.lean
    seated = np.array(spec.seated_m)
    if side == "left":  # the left grasp frame is the right's mirror image: y flips
        seated = MIRROR @ seated
    return Approach(*poses, spec.rig.grasp_type, spec.rig.max_force_n, lean, seated)


def _mirrored(pose: pin.SE3) -> pin.SE3:
    """A pose's mirror image across the x-z plane (the left hand's frames are the right's mirrored)."""
    return pin.SE3(MIRROR @ pose.rotation @ MIRROR, MIRROR @ pose.translation)


def _right_approach(
    spec: ObjectGrasp, centre: np.ndarray, yaw_rad: float, palm_to_hand: pin.SE3, heading_rad: float
) -> tuple[pin.SE3, pin.SE3, pin.SE3, pin.SE3]:
    offset = np.array(spec.rig.object_from_stand_m) + np.array(spec.shift_m)
    palm_link = pin.SE3(RIGHT_PALM_SIDE, centre - RIG_TO_ROBOT @ offset)
    about_centre = pin.SE3(np.eye(3), centre)
    roll = pin.SE3(pin.utils.rpyToMatrix(-spec.palm_roll_rad, 0.0, 0.0), np.zeros(3))
    if spec.rig.yaw_symmetry_rad:  # a box: its face nearest the heading, partly for a counter-clockwise turn
        turn = hand_yaw(spec.rig, yaw_rad - heading_rad)
        if turn > 0.0:
            turn *= spec.counter_clockwise_turn
        turn += heading_rad
    else:  # round: any heading
        turn = heading_rad
    yaw = pin.SE3(pin.utils.rpyToMatrix(0.0, 0.0, turn), np.zeros(3))
    grasp = about_centre * yaw * roll * about_centre.inverse() * palm_link * palm_to_hand
    out_of_palm = yaw.rotation @ roll.rotation @ RIG_TO_ROBOT @ np.array([1.0, 0.0, 0.0])
    beside = pin.SE3(grasp.rotation, grasp.translation - spec.approach_clearance_m * out_of_palm)
    over = pin.SE3(grasp.rotation, beside.translation + np.array([0.0, 0.0, spec.approach_height_m]))
    back = np.array(spec.rig.approach_from_m)
    back *= spec.approach_m / max(float(np.linalg.norm(back)), 1e-9)
    pre = pin.SE3(grasp.rotation, over.translation + yaw.rotation @ RIG_TO_ROBOT @ back)
    return pre, over, beside, grasp

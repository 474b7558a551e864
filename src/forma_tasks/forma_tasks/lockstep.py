"""The Robot of the skills on the deterministic lockstep harness (forma_sim.lockstep): what the
tasks node does over DDS, in process, with the same cores as the deployed nodes — the whole-body
controller (its reach, gaze and torso targets handled as the wbc node handles them), the hands'
grasp controllers at 100 Hz, perception's object and people pipelines on the head camera's
rendered frames at 5 Hz, forward kinematics of the measured joints. Nothing here reads simulator
truth: the acceptance trials judge with it, the robot never sees it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pinocchio as pin

from forma_control.errors import TargetRejected
from forma_control.wbc.io import TorsoLimits, gaze_goal, torso_goal
from forma_control.wbc.model import HANDS
from forma_control.wbc.reach import ReachabilityChecker, ReachProgress, pose_error
from forma_description.frames import RobotFrames
from forma_hands.grasp import GraspConfig, GraspController, GraspGoal
from forma_hands.hand_joints import LOCAL_JOINTS, HandJoints
from forma_hands.taxonomy import grasp_types
from forma_hardware import JointCommand, StopState
from forma_tasks.robot import (
    CANCELED,
    REACHED,
    TIMEOUT,
    UNREACHABLE,
    HandResult,
    ReachResult,
    level_from_base,
    standing_pelvis_height,
)
from forma_tasks.scene import Scene, SeenObject, SeenPerson

HAND_HZ = 100.0
CAMERA_HZ = 5.0  # what perception processes in the sim deployment
CAMERA_SIZE = (320, 240)


@dataclasses.dataclass
class LockstepReach:
    progress: ReachProgress | None
    done: ReachResult | None = None
    robot: LockstepRobot | None = None
    side: str = ""

    def result(self) -> ReachResult | None:
        return self.done

    def cancel(self) -> None:
        if self.done is None and self.robot is not None:
            self.robot._end_reach(self.side, CANCELED, "canceled by the client; the hand holds where it is")


class LockstepRobot:
    """robot.Robot on a LockstepHarness whose "wbc" controller is `controller` (forma_control)."""

    def __init__(self, sim, harness, controller, seed: int = 0, stand_pose: str = "stand_balanced") -> None:
        from forma_perception.people import PeoplePipeline
        from forma_perception.pipeline import ObjectPipeline
        from forma_perception.rgbd import CameraModel
        from forma_sim.camera import RgbdCamera

        self.sim, self.harness, self.wbc = sim, harness, controller
        self.frames = RobotFrames(sim.robot.urdf_xml)
        self.names = list(sim.robot.joint_names)
        self.standing_pelvis_height_m = standing_pelvis_height(self.frames, sim.robot, stand_pose)
        self.checker = ReachabilityChecker(controller.m)
        self.reaches: dict[str, LockstepReach] = {}
        self.camera = RgbdCamera(sim.model, "head_camera", *CAMERA_SIZE)
        k = self.camera.intrinsics()
        self.camera_model = CameraModel(k.width, k.height, k.fx, k.fy, k.cx, k.cy)
        self.objects = ObjectPipeline(seed)
        self.people = PeoplePipeline()
        self.said: list[str] = []
        self.refusals: list[str] = []  # targets the WBC refused (wbc/status.last_rejection)
        self.lost: dict[str, str] = {}
        self.hands: dict[str, tuple[HandJoints, GraspController, list[int]]] = {}
        for side in ("left", "right"):
            hand = HandJoints.from_robot(sim.robot, side)
            ctrl = GraspController(hand, grasp_types(hand), GraspConfig())
            self.hands[side] = (hand, ctrl, [self.names.index(n) for n in hand.names])
        harness.add_controller("hands", HAND_HZ, self._hands_tick)
        harness.add_controller("tasks", HAND_HZ, self._follow_reaches)
        states = sim.contract.group_states()
        if any(states[f"{side}_hand"][0] != StopState.ACTIVE for side in self.hands):
            # the hands' groups latched HOLD while nothing commanded them (their 0.25 s watchdog): the
            # safety supervisor resets them once the hands node commands, as here
            harness.activate()

    # --- the Robot calls ---------------------------------------------------------------------------
    def now(self) -> float:
        return self.sim.time

    def wait(self, seconds: float) -> None:
        self.harness.run(max(seconds, self.sim.control_period_s))

    def frame(self, name: str) -> pin.SE3:
        self.frames.update(self.names, self.sim.joint_positions())
        return self._tilt() * pin.SE3(self.frames.transform("base_link", name))

    def _tilt(self) -> pin.SE3:
        """level <- base_link (the WBC's estimate of the base's orientation, as the node reads it)."""
        return pin.SE3(level_from_base(self.wbc.measured_pose("base_link").rotation), np.zeros(3))

    def _level(self) -> pin.SE3:
        """odom <- level."""
        return self.wbc.measured_pose("base_link") * self._tilt().inverse()

    def observe(self) -> Scene:
        period = 1.0 / CAMERA_HZ
        next_frame = (math.floor(self.sim.time / period + 1e-9) + 1) * period
        self.harness.run(next_frame - self.sim.time)
        rgb, depth = self.camera.render(self.sim.data)
        depth = depth.astype(np.float32)
        self.frames.update(self.names, self.sim.joint_positions())
        t_base_camera = self._tilt().homogeneous @ self.frames.transform("base_link", "head_camera_color_optical_frame")
        result = self.objects.process(rgb, depth, self.camera_model, t_base_camera)
        objects = tuple(
            SeenObject(t.id, t.detection.label, t.detection.color, np.asarray(t.detection.position, float),
                       float(t.detection.yaw), np.asarray(t.detection.size, float))
            for t in result.objects
        )
        people = tuple(
            SeenPerson(p.id, np.asarray(p.face.position, float))
            for p in self.people.process(rgb, depth, self.camera_model, t_base_camera)
        )
        return Scene(self.sim.time, objects, people)

    def look_at(self, point: np.ndarray) -> None:
        odom_point = self._level().act(np.asarray(point, float))
        try:
            camera = self.wbc.measured_pose("head_camera_color_optical_frame")
            self.wbc.targets.gaze_point = gaze_goal(odom_point, camera)
        except TargetRejected as exc:
            self.refusals.append(f"wbc/targets/gaze: {exc}")

    def lean(self, torso: pin.SE3) -> None:
        pose = self._level() * torso
        offset = self.wbc.reference_pose("torso").translation[2] - self.wbc.reference_pose("base_link").translation[2]
        try:
            rotation, height = torso_goal(pose, self.wbc.pelvis_height, offset, TorsoLimits())
        except TargetRejected as exc:  # the node logs it and counts it on wbc/status: the body stays
            self.refusals.append(f"wbc/targets/torso: {exc}")
            return
        self.wbc.set_torso_goal(rotation, height)

    def reach(self, side, pose, tolerance_m=0.02, orientation_tolerance_rad=math.radians(5.0), timeout_s=4.0,
              max_speed_m_s=0.0) -> LockstepReach:
        goal = self._level() * pose
        palm = self.wbc.measured_pose(HANDS[side])
        distance, _ = pose_error(goal, palm)
        check = self.checker.check(side, goal, self.wbc.q_ref, tolerance_m, orientation_tolerance_rad)
        if not check.reachable:
            return LockstepReach(None, ReachResult(UNREACHABLE, distance, check.reason))
        if side in self.reaches:
            self._end_reach(side, CANCELED, "pre-empted by a new reach goal")
        handle = LockstepReach(
            ReachProgress(side, goal, tolerance_m, orientation_tolerance_rad, self.sim.time + timeout_s), robot=self,
            side=side,
        )
        self.reaches[side] = handle
        self.wbc.set_hand_target(side, goal, max_speed_m_s or None)
        return handle

    def hand(self, side, grasp_type, max_force_n=10.0, preshape_only=False, timeout_s=6.0) -> HandResult:
        hand, ctrl, _ = self.hands[side]
        self.lost[side] = ""
        ctrl.pop_events()
        ctrl.start(GraspGoal(side, grasp_type, max_force_n, timeout_s), self.sim.time, self._hand_positions(side),
                   preshape_only=preshape_only)
        end = self.sim.time + timeout_s + 1.0
        while ctrl.outcome is None and self.sim.time < end:
            self.harness.run(1.0 / HAND_HZ)
        out = ctrl.outcome
        if out is None:
            return HandResult(False, False, "no outcome")
        return HandResult(out.success, out.holding, out.message)

    def object_lost(self, side: str) -> str:
        return self.lost.get(side, "")

    def say(self, text: str) -> None:
        self.said.append(text)

    # --- what the nodes do every period ---------------------------------------------------------------
    def _hand_positions(self, side: str) -> dict[str, float]:
        _, _, order = self.hands[side]
        return dict(zip(LOCAL_JOINTS, self.sim.joint_positions()[order], strict=True))

    def _hands_tick(self, sim) -> JointCommand:
        names, positions = [], []
        for side, (hand, ctrl, order) in self.hands.items():
            q = self._hand_positions(side)
            e = dict(zip(LOCAL_JOINTS, sim.joint_efforts()[order], strict=True))
            if ctrl.targets is None:
                ctrl.hold_position(q)
            targets, _ = ctrl.tick(sim.time, 1.0 / HAND_HZ, q, e, sim.fingertip_forces(side))
            for event in ctrl.pop_events():
                self.lost[side] = event
            names += list(hand.names)
            positions += [targets[j] for j in LOCAL_JOINTS]
        return JointCommand(names, position=positions, stamp_s=sim.time)

    def _follow_reaches(self, sim) -> None:
        for side, handle in list(self.reaches.items()):
            state, distance, angle = handle.progress.update(self.wbc.measured_pose(HANDS[side]), sim.time)
            handle.last = distance
            if state == "reached":
                self._end_reach(side, REACHED, "reached", keep_target=True)
            elif state == "timeout":
                self._end_reach(side, TIMEOUT, f"not within tolerance after the timeout ({distance * 100:.1f} cm)")
        return None

    def _end_reach(self, side: str, outcome: str, reason: str, keep_target: bool = False) -> None:
        handle = self.reaches.pop(side)
        distance, _ = pose_error(handle.progress.goal, self.wbc.measured_pose(HANDS[side]))
        if not keep_target:
            self.wbc.set_hand_target(side, None)
        handle.done = ReachResult(outcome, distance, reason)

    def close(self) -> None:
        self.camera.close()

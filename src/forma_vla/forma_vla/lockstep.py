"""The vla node's loop on the deterministic lockstep harness (forma_tasks.lockstep's robot: the
whole-body controller, the hands' controllers): for the evaluation, which judges a policy from
simulator truth on seeds it never saw.

What runs is what the node runs: the head camera rendered at `camera_hz` (as the sim node renders
it), an observation per image (joints, the instruction's embedding), the policy's chunk submitted
to the ChunkExecutor `latency_s` of robot time later (0: inference is instantaneous in robot time;
the node's is measured by the benchmark), and at `action_hz` the executor's action decoded and sent
as the node sends it: palm targets in `torso` (checked for reachability, as the WBC node checks
every target), the gaze point, the torso's height and tilt, the hands' synergies. Refused
chunks change nothing and are counted; a refused action ends the episode (the robot holds its
last targets), as the node ends the goal.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pinocchio as pin

from forma_control.errors import TargetRejected
from forma_control.wbc.io import ReachDefaults, TorsoLimits, gaze_goal, torso_goal
from forma_hands.synergies import Synergy, synergy_targets
from forma_vla.action_space import ACTION_DIM, SIDES, Action, decode
from forma_vla.chunking import Chunk, ChunkExecutor
from forma_vla.errors import ActionError, ChunkRefused, ObservationError
from forma_vla.policy import Normalizer, Observation, PolicySignature, StateReader
from forma_vla.present import CAMERA_FRAME, PresentAction


@dataclasses.dataclass
class PolicyLog:
    chunks: int = 0
    steps: int = 0
    refused: list[str] = dataclasses.field(default_factory=list)  # first few reasons
    refusals: int = 0
    infer_ms: list[float] = dataclasses.field(default_factory=list)

    def refuse(self, reason: str) -> None:
        self.refusals += 1
        if len(self.refused) < 5:
            self.refused.append(reason)


class LockstepPolicy:
    """A policy driving a forma_tasks.lockstep.LockstepRobot from the moment it is made."""

    def __init__(self, robot, policy, instruction_embedding: np.ndarray, camera_hz: float = 10.0,
                 action_hz: float = 50.0, blend_s: float = 0.1, max_latency_s: float = 0.3, latency_s: float = 0.0,
                 stand_pose: str = "stand_balanced") -> None:
        import time

        from forma_description.frames import RobotFrames

        self._clock = time.perf_counter
        self.robot, self.policy = robot, policy
        sim = robot.sim
        self.sim, self.wbc = sim, robot.wbc
        self.embedding = np.asarray(instruction_embedding, float)
        self.latency_s = latency_s
        self.names = list(sim.robot.joint_names)
        self.state = StateReader(policy.signature.state_names, self.names)
        self.present = PresentAction.standing(sim.robot, RobotFrames(sim.robot.urdf_xml), stand_pose)
        self.reach = ReachDefaults()
        self.log = PolicyLog()
        self.pending: list[tuple[float, Chunk]] = []
        self.stopped = False  # an action the limits refused ended the episode
        self.executor = ChunkExecutor(ACTION_DIM, blend_s, max_latency_s)
        self.executor.start(sim.time, self._present())
        robot.harness.add_controller("vla_camera", camera_hz, self._see)
        robot.harness.add_controller("vla_act", action_hz, self._act)

    def _present(self) -> np.ndarray:
        return self.present(self.names, self.sim.joint_positions(), base_rotation(self.sim))

    def _see(self, sim) -> None:
        rgb, _ = self.robot.camera.render(sim.data)  # the head camera, 320x240 as the sim node renders it
        obs = Observation(sim.time, rgb, self.state(sim.joint_positions(), sim.joint_velocities()), self.embedding)
        t0 = self._clock()
        try:
            actions = self.policy.infer(obs)
        except ObservationError as exc:
            self.log.refuse(f"observation: {exc}")
            return
        self.log.infer_ms.append((self._clock() - t0) * 1e3)
        self.pending.append((sim.time + self.latency_s, Chunk(sim.time, self.policy.signature.step_s, actions)))

    def _act(self, sim) -> None:
        while self.pending and self.pending[0][0] <= sim.time + 1e-9:
            _, chunk = self.pending.pop(0)
            try:
                self.executor.submit(chunk, sim.time)
                self.log.chunks += 1
            except ChunkRefused as exc:
                self.log.refuse(f"chunk: {exc}")
        if self.stopped:
            return
        try:
            action = decode(self.executor.action(sim.time))
        except ActionError as exc:  # as the node: the episode ends and the robot holds its last targets
            self.log.refuse(f"action: {exc}")
            self.stopped = True
            return
        self._send(action)
        self.log.steps += 1

    def _send(self, action: Action) -> None:
        wbc = self.wbc
        torso = wbc.measured_pose("torso")
        for side in SIDES:
            goal = torso * pin.SE3(action.palm_rotation[side], action.palm_position_m[side])
            check = self.robot.checker.check(side, goal, wbc.q_ref, self.reach.position_tolerance_m,
                                             self.reach.orientation_tolerance_rad)
            if check.reachable:
                wbc.set_hand_target(side, goal)
            else:
                self.log.refuse(f"{side} palm: unreachable: {check.reason}")
        try:
            wbc.targets.gaze_point = gaze_goal(torso.act(action.gaze_point_m), wbc.measured_pose(CAMERA_FRAME))
        except TargetRejected as exc:
            self.log.refuse(f"gaze: {exc}")
        base = wbc.measured_pose("base_link").rotation  # the torso faces where the pelvis faces (io.torso_target)
        yaw = math.atan2(base[1, 0], base[0, 0])
        pose = pin.SE3(pin.utils.rpyToMatrix(action.torso_roll_rad, action.torso_pitch_rad, yaw),
                       np.array([0.0, 0.0, self.present.standing_torso_height_m + action.torso_height_m]))
        offset = wbc.reference_pose("torso").translation[2] - wbc.reference_pose("base_link").translation[2]
        try:
            rotation, height = torso_goal(pose, wbc.pelvis_height, offset, TorsoLimits())
            wbc.set_torso_goal(rotation, height)
        except TargetRejected as exc:
            self.log.refuse(f"torso: {exc}")
        for side in SIDES:
            hand, ctrl, _ = self.robot.hands[side]
            ctrl.set_targets(synergy_targets(Synergy(*(float(v) for v in action.hand_synergies[side])), hand))

    def close(self) -> None:
        self.robot.harness.remove_controller("vla_camera")
        self.robot.harness.remove_controller("vla_act")


class Replay:
    """A 'policy' answering each image with recorded actions from its time on (the chunk a trained
    policy would give if it had learned them exactly): to replay a demonstration through the action
    path, to collect observations of it, and to test that path."""

    def __init__(self, actions: np.ndarray, fps: float, state_names, image_size: tuple[int, int] = (80, 60),
                 horizon: int = 10, lead: int = 1) -> None:
        self.actions, self.fps, self.horizon, self.lead = np.asarray(actions, float), fps, horizon, lead
        n = len(state_names)
        self.signature = PolicySignature(1.0 / fps, tuple(image_size), tuple(state_names),
                                         Normalizer(np.zeros(n), np.ones(n)),
                                         Normalizer(np.zeros(ACTION_DIM), np.ones(ACTION_DIM)))
        self.t0: float | None = None

    def infer(self, obs: Observation) -> np.ndarray:
        self.t0 = obs.stamp_s if self.t0 is None else self.t0
        k = round((obs.stamp_s - self.t0) * self.fps)
        index = np.minimum(np.arange(k + self.lead, k + self.lead + self.horizon), len(self.actions) - 1)
        return self.actions[index]


def base_rotation(sim) -> np.ndarray:
    """The pelvis's orientation in the world (what the IMU reports) as a 3 x 3 rotation."""
    w, x, y, z = sim.base_pose()[1]
    return pin.Quaternion(w, x, y, z).toRotationMatrix()

"""Scenarios shared by acceptance trials and benchmarks: the joint-PD stand and pushes."""

from __future__ import annotations

import math

import numpy as np

from forma_control.lockstep_stand import fallen, pd_stand, tilt_rad, wbc_stand
from forma_description.poses import named_pose
from forma_sim.simulation import Simulation, build_simulation

__all__ = ["fallen", "pd_stand", "tilt_rad", "wbc_stand"]  # re-exported: the trials import them from here

PUSH_DIRECTIONS = {"front": (-1.0, 0.0), "back": (1.0, 0.0), "left": (0.0, -1.0), "right": (0.0, 1.0)}
# a push "from the front" is applied to the chest and points backward (-x), etc.


# The pose both controllers stand in for a push: the shipped stack's (config/deployments/sim.yaml).
# The joint-PD baseline in `stand`, its centre of mass 3 cm from the heels, measured the pose more
# than the controller.
PUSH_POSE = "stand_balanced"


def _stand_for(controller: str):
    if controller == "pd":
        return pd_stand(pose=PUSH_POSE)
    if controller == "wbc":
        sim, harness, _ = wbc_stand(pose=PUSH_POSE)
        return sim, harness
    raise ValueError(f"unknown controller {controller!r}: pd or wbc")


def survives_push(
    direction: str,
    impulse_ns: float,
    duration_s: float = 0.2,
    settle_s: float = 1.5,
    watch_s: float = 3.0,
    controller: str = "pd",
) -> bool:
    """Push the chest (body `torso`) horizontally for duration_s with the given impulse [N s]."""
    sim, harness = _stand_for(controller)
    harness.run(settle_s)
    dx, dy = PUSH_DIRECTIONS[direction]
    force = impulse_ns / duration_s
    sim.apply_wrench("torso", (dx * force, dy * force, 0.0), (0.0, 0.0, 0.0), duration_s)
    for _ in range(round(watch_s / sim.control_period_s)):
        harness.step()
        if fallen(sim):
            return False
    return True


def largest_survived_impulse(
    direction: str, high_ns: float = 120.0, tolerance_ns: float = 1.0, controller: str = "pd"
) -> float:
    """Bisection on the push impulse [N s] the robot survives (monotone in practice)."""
    low, high = 0.0, high_ns
    if survives_push(direction, high, controller=controller):
        return high
    while high - low > tolerance_ns:
        mid = 0.5 * (low + high)
        if survives_push(direction, mid, controller=controller):
            low = mid
        else:
            high = mid
    return low


def random_joint_targets(sim: Simulation, seed: int, n: int) -> np.ndarray:
    limits = sim.robot.limits_arrays()
    return np.random.default_rng(seed).uniform(limits["lower"], limits["upper"], size=(n, len(limits["lower"])))


class PeopleScene:
    """The `people` world: the robot standing with its head raised (stand_look_ahead), the person
    (a mocap body) placed in front of it; rendered by the head camera. Ground truth (the face's
    centre, `person_face` site) is read here from MuJoCo, for scoring only: the perception code
    under test gets the images and the camera pose by forward kinematics, nothing else."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        from forma_description import expand_description
        from forma_perception.rgbd import CameraModel
        from forma_perception.robot_frames import RobotFrames
        from forma_sim.camera import RgbdCamera

        self.sim = build_simulation("people")
        self.look_ahead = named_pose("stand_look_ahead", self.sim.robot)
        self.sim.reset(self.look_ahead)
        self.camera = RgbdCamera(self.sim.model, "head_camera", width, height)
        k = self.camera.intrinsics()
        self.model = CameraModel(width, height, k.fx, k.fy, k.cx, k.cy)
        self.frames = RobotFrames(expand_description())
        light = self.sim.model.light("sun").id
        self._light = light, self.sim.model.light_diffuse[light].copy(), self.sim.model.light_dir[light].copy()

    def set_head(self, neck_yaw_rad: float = 0.0, neck_pitch_offset_rad: float = 0.0) -> None:
        """Reset the robot to the look-ahead stand with the head turned by these angles."""
        pose = self.look_ahead.copy()
        names = self.sim.robot.joint_names
        pose[names.index("neck_yaw")] += neck_yaw_rad
        pose[names.index("neck_pitch")] += neck_pitch_offset_rad
        self.sim.reset(pose)

    def set_light(self, diffuse_scale: float = 1.0, direction_offset: tuple[float, float] = (0.0, 0.0)) -> None:
        light, diffuse, direction = self._light
        self.sim.model.light_diffuse[light] = diffuse * diffuse_scale
        self.sim.model.light_dir[light] = direction + np.array([*direction_offset, 0.0])

    def place(self, distance_m: float, lateral_m: float, yaw_rad: float, lift_m: float = 0.0):
        """Person `distance_m` ahead of the pelvis and `lateral_m` to its left, facing the robot
        turned by `yaw_rad`, raised by `lift_m` (a taller or shorter person); returns rgb, depth,
        T_base_camera (forward kinematics) and the face centre in base_link (ground truth)."""
        import mujoco

        model, data = self.sim.model, self.sim.data
        base, wxyz = self.sim.base_pose()
        mocap = model.body("person").mocapid[0]
        data.mocap_pos[mocap] = (base[0] + distance_m, base[1] + lateral_m, lift_m)
        heading = math.pi + math.atan2(lateral_m, distance_m) + yaw_rad
        data.mocap_quat[mocap] = (math.cos(heading / 2), 0.0, 0.0, math.sin(heading / 2))
        mujoco.mj_forward(model, data)
        self.frames.update(self.sim.robot.joint_names, self.sim.joint_positions())
        t_base_camera = self.frames.transform("base_link", "head_camera_color_optical_frame")
        rotation = np.zeros(9)
        mujoco.mju_quat2Mat(rotation, wxyz)
        truth = rotation.reshape(3, 3).T @ (data.site("person_face").xpos - base)
        rgb, depth = self.camera.render(data)
        return rgb, depth.astype(np.float32), t_base_camera, truth

    def close(self) -> None:
        self.camera.close()

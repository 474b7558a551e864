"""The whole-body controller as a lockstep controller (forma_sim.lockstep): what the wbc node
does over DDS, in process, for acceptance trials and benchmarks. `sim` is duck-typed: anything
with the hardware topics' readings (joint positions/velocities, imu(), foot_wrench(side), time).
"""

from __future__ import annotations

import numpy as np

from forma_control.walk.gait import WalkSettings
from forma_control.wbc.controller import WbcSettings, WholeBodyController
from forma_control.wbc.estimator import Sensors
from forma_control.wbc.model import WholeBodyModel
from forma_description import RobotModel
from forma_description.poses import named_pose
from forma_hardware import JointCommand


def build_controller(
    robot: RobotModel,
    pose: str = "stand",
    settings: WbcSettings | None = None,
    walk_settings: WalkSettings | None = None,
):
    """A WholeBodyController for the robot, hands locked and posture nominal at a named pose.
    Returns (controller, indices of its joints in robot.joint_names)."""
    nominal = named_pose(pose, robot)
    index = {n: i for i, n in enumerate(robot.joint_names)}
    model = WholeBodyModel(robot, {n: nominal[index[n]] for n in robot.joint_names})
    body = np.array([index[n] for n in model.joint_names])
    return WholeBodyController(model, nominal[body], settings, walk_settings), body


def sensors_from(sim, body: np.ndarray) -> Sensors:
    imu = sim.imu()
    return Sensors(
        stamp_s=sim.time,
        joint_positions=sim.joint_positions()[body],
        joint_velocities=sim.joint_velocities()[body],
        imu_orientation_wxyz=imu.orientation_wxyz,
        imu_angular_velocity=imu.angular_velocity,
        foot_force_z={side: float(sim.foot_wrench(side)[0][2]) for side in ("left", "right")},
        joint_efforts=sim.joint_efforts()[body],
    )


def wbc_controller(controller: WholeBodyController, body: np.ndarray, outputs: list | None = None):
    """Lockstep controller: one tick per call; every WbcOutput is appended to `outputs`."""

    def control(sim) -> JointCommand:
        out = controller.tick(sensors_from(sim, body))
        if outputs is not None:
            outputs.append(out)
        return JointCommand(out.joint_names, out.position, out.velocity, out.effort, stamp_s=sim.time)

    return control

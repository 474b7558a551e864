"""The robot standing on the deterministic lockstep harness (forma_sim.lockstep): on the joint-PD
stand or on whole-body control, as the deployments stand it up, and whether it fell. Shared by the
acceptance trials, the benchmarks and the VLA's data collection and evaluation."""

from __future__ import annotations

import math

from forma_control.stand.posture import stand_controller
from forma_control.wbc.lockstep import build_controller, wbc_controller
from forma_description.poses import named_pose
from forma_sim.lockstep import LockstepHarness
from forma_sim.simulation import Simulation, build_simulation


def pd_stand(
    world: str = "empty",
    physics_rate_hz: float = 500.0,
    pose: str = "stand",
    body: str = "male",
    height_m: float = 1.73,
    mass_kg: float = 65.0,
) -> tuple[Simulation, LockstepHarness]:
    """The robot (a body form of urdf/body_forms.yaml at a height and mass) standing on the joint-PD
    stand in a named pose, hardware active, commands at 100 Hz."""
    sim = build_simulation(
        world=world, body=body, height_m=height_m, mass_kg=mass_kg, physics_rate_hz=physics_rate_hz, pose=pose
    )
    limits = sim.robot.limits_arrays()
    harness = LockstepHarness(sim)
    harness.add_controller(
        "stand",
        100.0,
        stand_controller(sim.robot.joint_names, named_pose(pose, sim.robot), limits["lower"], limits["upper"]),
    )
    harness.activate()
    return sim, harness


def wbc_stand(
    world: str = "empty",
    ramp_s: float = 1.5,
    outputs: list | None = None,
    pose: str = "stand",
    body: str = "male",
    height_m: float = 1.73,
    mass_kg: float = 65.0,
):
    """The robot on whole-body control: the start ramp of the joint-PD stand (what the safety
    supervisor's stand-up does), then the WBC at 500 Hz from the measured pose, its posture's
    nominal the same named pose (the sim deployment's: stand_balanced). Any body form, height and
    mass: the controller takes everything from the robot model.
    Returns (sim, harness, controller); every WbcOutput is appended to `outputs`."""
    sim, harness = pd_stand(world=world, pose=pose, body=body, height_m=height_m, mass_kg=mass_kg)
    harness.run(ramp_s)
    controller, body = build_controller(sim.robot, pose)
    harness.remove_controller("stand")
    harness.add_controller("wbc", 500.0, wbc_controller(controller, body, outputs))
    return sim, harness, controller


def tilt_rad(sim: Simulation) -> float:
    """Angle between the pelvis z axis and the vertical."""
    w, x, y, z = sim.base_pose()[1]
    return math.acos(max(-1.0, min(1.0, 1.0 - 2.0 * (x * x + y * y))))


def fallen(sim: Simulation) -> bool:
    return sim.base_pose()[0][2] < 0.6 or tilt_rad(sim) > math.radians(45)

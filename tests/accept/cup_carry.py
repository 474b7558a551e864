"""Carrying an object while walking (issue 20: "carrying the cup from a grasp while walking 2 m: the
cup stays in the hand in 9/10"), on the lockstep harness with the full model, judged by simulator
truth. The grasp is the robot_grasp trial's (tests/accept/robot_grasp.py: the body lowered to the
table, the cup grasped from the side, lifted 10 cm and held); then:

1. The body stands up again (RISE_S): the pelvis height, the torso's lean and the posture's crouch
   back to standing, both hands carried along with the torso (their positions in the torso frame,
   their orientations kept: the cup stays upright).
2. The robot walks backward away from the table (the way it can go: the table is in front) until it
   has covered the distance by simulator truth, then stops on a zero command and stands STAND_S.
   The floor's friction and a push on the torso during the walk are the caller's (the walk trial's
   randomization).
   The whole-body controller carries hand targets in the walking frame (controller.walk).
3. Judged: the robot never fell, the base moved the distance, the object is still in the hand
   (its centre no more than SLIP_M farther from the palm than before, and above the
   table's top) at the end.
"""

from __future__ import annotations

import math

import numpy as np
import pinocchio as pin

from tests.support.scenarios import fallen
from tests.support.walking import Push, apply_push, set_floor_friction

RISE_S = 2.0  # standing up with the object [s]
STAND_S = 2.0  # standing after the stop before it is judged [s]
# the object's centre at most this much farther from the palm than when the walk-off began counts as
# still in the hand [m] (a cup that slips out falls to the floor, over a metre below the palm)
SLIP_M = 0.02
TABLE_TOP_Z_M = 0.75  # the tabletop world's table [m]
STEP_S = 0.01  # the walk and the stand-up advance the harness by this much at a time [s]


def walk_off(distance_m: float, speed_m_s: float, friction: float = 1.0, push: Push | None = None, max_s: float = 30.0):
    """A `then` for run_robot_grasp: stand up with the object, walk `distance_m` at `speed_m_s`
    (negative: backward) on a floor of this friction, pushed on the torso at push.at_s after the
    walk starts (if given), stop, stand; returns what happened (simulator truth)."""

    def then(sim, harness, wbc, side, obj) -> dict:
        d, m = sim.data, sim.model
        set_floor_friction(sim, friction)
        body, palm = m.body(obj).id, m.site(f"{side}_hand").id
        fell = False
        from_palm_start = float(np.linalg.norm(d.xpos[body] - d.site_xpos[palm]))
        # --- stand up, the hands riding with the torso (orientation kept) ------------------------
        torso0 = wbc.reference_pose("torso")
        hands0 = {s: wbc.reference_pose(f"{s}_hand") for s in ("left", "right")}
        in_torso = {s: torso0.actInv(pose).translation for s, pose in hands0.items()}
        nominal0, nominal1 = wbc.nominal.copy(), wbc.body_posture.standing.copy()
        height0, height1 = wbc.targets.pelvis_height_m, wbc.pelvis_height
        rotation0, rotation1 = wbc.targets.torso_rotation, wbc.torso_rotation
        turn = pin.log3(rotation1 @ rotation0.T)
        n = round(RISE_S / STEP_S)
        for i in range(n):
            a = 0.5 - 0.5 * math.cos(math.pi * (i + 1) / n)
            wbc.nominal = nominal0 + a * (nominal1 - nominal0)
            wbc.targets.pelvis_height_m = height0 + a * (height1 - height0)
            wbc.targets.torso_rotation = pin.exp3(a * turn) @ rotation0
            torso = wbc.reference_pose("torso")
            for s, pose in hands0.items():
                wbc.set_hand_target(s, pin.SE3(pose.rotation, torso.act(in_torso[s])))
            harness.run(STEP_S)
            fell = fell or fallen(sim)
        wbc.targets.pelvis_height_m = wbc.targets.torso_rotation = None
        wbc.nominal = nominal1
        harness.run(0.5)
        # --- walk, stop, stand --------------------------------------------------------------------
        start_xy = d.qpos[:2].copy()
        t0 = sim.time
        wbc.walk(np.array([speed_m_s, 0.0, 0.0]))
        pushed = push is None
        while float(np.linalg.norm(d.qpos[:2] - start_xy)) < distance_m and sim.time - t0 < max_s and not fell:
            if not pushed and sim.time - t0 >= push.at_s:
                apply_push(sim, push)
                pushed = True
            harness.run(0.1)
            fell = fallen(sim)
        walked_s = sim.time - t0
        wbc.walk(np.zeros(3))
        while wbc.walking and sim.time - t0 < max_s + 5.0 and not fell:
            harness.run(0.1)
            fell = fallen(sim)
        harness.run(STAND_S)
        fell = fell or fallen(sim)
        from_palm = float(np.linalg.norm(d.xpos[body] - d.site_xpos[palm]))
        height = float(d.xpos[body][2])
        return {
            "fell": fell,
            "moved_m": float(np.linalg.norm(d.qpos[:2] - start_xy)),
            "walk_s": walked_s,
            "from_palm_start_m": from_palm_start,
            "from_palm_m": from_palm,
            "object_z_m": height,
            "carried": (not fell) and from_palm - from_palm_start < SLIP_M and height > TABLE_TOP_Z_M,
        }

    return then

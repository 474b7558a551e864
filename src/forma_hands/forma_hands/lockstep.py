"""The hands' in-process harness adapter: the hand-on-a-stand grasp scenario shared by the
acceptance trials, the system smoke test and the bench: one hand (build_hand_simulation on the
x/y/z/yaw stand, mounted as the plan says: palm down or palm side) at the hand_stand world's
table, the forma_hands grasp controller in lockstep at 100 Hz, the object pose randomized.

Sequence: pre-shape at the plan's approach offset from the grasp pose -> move in (0.5 s) -> Grasp
goal (pre-shape, close to contact and force) -> if holding: lift the stand 10 cm (1 s) -> hold 5 s.
The stand is placed from the object's true pose with a +-5 mm error (what the goal's object pose
gives; perception's job on the robot).

Measured (trials_hands.py): cup, box and ball each 10/10 on the held-out seeds, 50/50 on the dev
seeds, with the power grasp from the side (PLANS); the object offsets were found by rendering the
hand beside each object (_snapshot) and then on dev seeds 5000-5009.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from forma_hands.grasp import GraspConfig, GraspController, GraspGoal, Phase
from forma_hands.hand_joints import LOCAL_JOINTS, HandJoints
from forma_hands.plans import PLANS, TOP_DOWN_BALL, GraspPlan, hand_yaw  # noqa: F401 (re-exported)
from forma_hands.taxonomy import grasp_types
from forma_hardware import JointCommand
from forma_sim.lockstep import LockstepHarness
from forma_sim.simulation import build_hand_simulation

CONTROL_HZ = 100.0
LIFT_M = 0.10
HOLD_S = 5.0
PLACEMENT_ERROR_M = 0.005  # error of the object pose the stand is placed by (uniform, x and y) [m]


@dataclasses.dataclass
class GraspRun:
    outcome_success: bool
    outcome_holding: bool
    code: int
    message: str
    lifted_m: float  # object rise at the end of the hold [m]
    held: bool  # still in the hand, 10 cm up, after the 5 s hold
    hold_drift_m: float  # how far the object sank in the hand during the 5 s hold [m]
    lost_event: str  # the controller's lost-object event, if any
    cycle_s: float  # goal to holding [s sim time] (nan if never holding)
    tick_us: list[float]  # controller tick durations [us]
    warnings: dict
    penetration_mm: float = math.nan  # deepest contact of the object during the 5 s hold [mm]


def _yaw_quat(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


def _snapshot(sim, body: int, path: str) -> None:
    """Debug only: three views of the hand and the object (needs MUJOCO_GL=egl)."""
    import mujoco
    from PIL import Image

    m, d = sim.model, sim.data
    m.geom_rgba[m.geom("table_top").id, 3] = 0.3
    r = mujoco.Renderer(m, 360, 480)
    imgs = []
    for az, el in ((270, -5), (180, -5), (180, -85)):  # two sides and from above
        cam = mujoco.MjvCamera()
        cam.lookat[:] = d.xpos[body]
        cam.distance, cam.azimuth, cam.elevation = 0.3, az, el
        r.update_scene(d, cam)
        imgs.append(r.render())
    m.geom_rgba[m.geom("table_top").id, 3] = 1.0
    Image.fromarray(np.concatenate(imgs, 1)).save(path)


def run_grasp(
    obj: str,
    seed: int = 0,
    present: bool = True,
    knock: bool = False,
    side: str = "right",
    randomize: bool = True,
    hold_s: float = HOLD_S,
    plan: GraspPlan | None = None,
    debug: bool = False,
    placement_error_m: float = PLACEMENT_ERROR_M,
    physics_rate_hz: float = 500.0,
) -> GraspRun:
    plan = plan or PLANS[obj]
    sim = build_hand_simulation(side, physics_rate_hz=physics_rate_hz, orientation=plan.orientation)
    m, d = sim.model, sim.data
    rng = np.random.default_rng(abs(seed))
    joint = m.joint(obj)
    adr = joint.qposadr[0]
    body = m.body(obj).id
    dx, dy = rng.uniform(-0.03, 0.03, 2) if randomize else (0.0, 0.0)
    yaw = rng.uniform(-math.pi / 6, math.pi / 6) if randomize else 0.0
    d.qpos[adr : adr + 2] += (dx, dy)
    d.qpos[adr + 3 : adr + 7] = _yaw_quat(yaw)
    import mujoco

    mujoco.mj_forward(m, d)
    p_obj = d.xpos[body].copy()
    # The stand's yaw follows the object's (modulo its symmetry); the offset turns with it.
    stand_yaw = hand_yaw(plan, yaw)
    c, s = math.cos(stand_yaw), math.sin(stand_yaw)
    # the plans are the right hand's; the left hand is its mirror image across the stand's x-z plane
    mirror = -1.0 if side == "left" else 1.0
    ox, oy, oz = plan.object_from_stand_m
    oy *= mirror
    stand = p_obj - np.array([c * ox - s * oy, s * ox + c * oy, oz])
    # the pose estimate the hand is placed by is off by up to placement_error_m in x and y
    stand[:2] += rng.uniform(-placement_error_m, placement_error_m, 2) if randomize else 0.0
    if not present:  # the object is somewhere else: the hand grasps at the expected place anyway
        d.qpos[adr : adr + 3] = (p_obj[0] - 0.35, p_obj[1], p_obj[2])
        mujoco.mj_forward(m, d)
    ax, ay, az = plan.approach_from_m
    ay *= mirror
    approach = stand + np.array([c * ax - s * ay, s * ax + c * ay, az])
    sim.set_stand(*approach, stand_yaw, jump=True)

    hand = HandJoints.from_robot(sim.robot, side)
    ctrl = GraspController(hand, grasp_types(hand), GraspConfig())
    order = [sim.robot.joint_names.index(n) for n in hand.names]
    ticks: list[float] = []
    state = {"t_goal": None, "t_hold": None}

    def read():
        q, e = sim.joint_positions()[order], sim.joint_efforts()[order]
        return dict(zip(LOCAL_JOINTS, q, strict=True)), dict(zip(LOCAL_JOINTS, e, strict=True))

    def control(s):
        q, e = read()
        t0 = time.perf_counter()
        if ctrl.targets is None:
            ctrl.hold_position(q)
        targets, _ = ctrl.tick(s.time, 1.0 / CONTROL_HZ, q, e, s.fingertip_forces(side))
        ticks.append((time.perf_counter() - t0) * 1e6)
        if state["t_hold"] is None and ctrl.phase == Phase.HOLD:
            state["t_hold"] = s.time
        return JointCommand(list(hand.names), position=[targets[j] for j in LOCAL_JOINTS], stamp_s=s.time)

    harness = LockstepHarness(sim)
    harness.add_controller("hands", CONTROL_HZ, control)
    harness.activate()
    q, _ = read()
    ctrl.start(GraspGoal(side, plan.grasp_type, plan.max_force_n), sim.time, q, preshape_only=True)
    harness.run(0.8)
    for i in range(50):  # move in to the grasp pose in 0.5 s
        sim.set_stand(*(approach + (stand - approach) * (i + 1) / 50), stand_yaw)
        harness.run(0.01)
    q, _ = read()
    state["t_goal"] = sim.time
    ctrl.start(GraspGoal(side, plan.grasp_type, plan.max_force_n, 6.0), sim.time, q)
    knocked = [False]
    # knocked away through the hand's open side: out of the palm for a side grasp (the thumb and the
    # fingers would catch a push along the fingers), sideways for the cage from above
    push = (40.0 * c, 40.0 * s, 10.0) if plan.orientation == "palm_side" else (0.0, 40.0, 10.0)
    while ctrl.outcome is None and sim.time - state["t_goal"] < 8.0:
        if knock and not knocked[0] and ctrl.phase == Phase.CLOSE and any(ctrl.contact_seen.values()):
            sim.apply_wrench(obj, push, (0.0, 0.0, 0.0), 0.1)
            knocked[0] = True
        harness.run(0.01)
        if debug and round(sim.time * 100) % 20 == 0:
            rel = np.round(d.xpos[body] - p_obj, 3)
            u = {k: round(v, 2) for k, v in ctrl.u.items()}
            touch = np.round(sim.fingertip_forces(side), 1)
            print(f"t={sim.time - state['t_goal']:.2f} {ctrl.phase.value} u={u} touch={touch} obj={rel}")
    out = ctrl.outcome
    penetration = [math.nan]
    if debug:
        _snapshot(sim, body, "/tmp/hands/hold.png")
    if out is not None and out.holding:
        penetration[0] = 0.0
        z0 = d.xpos[body][2]
        for i in range(100):
            sim.set_stand(*(stand + (0.0, 0.0, LIFT_M * (i + 1) / 100)), stand_yaw)
            harness.run(0.01)
            if debug and i % 10 == 0:
                u = {k: round(v, 2) for k, v in ctrl.u.items()}
                touch = np.round(sim.fingertip_forces(side), 1)
                print(f"lift {i} {ctrl.phase.value} u={u} touch={touch} obj={np.round(d.xpos[body] - p_obj, 3)}")
        z_lifted = d.xpos[body][2]

        def deepest(s):
            for c in s.data.contact[: s.data.ncon]:
                if body in (m.geom_bodyid[c.geom1], m.geom_bodyid[c.geom2]):
                    penetration[0] = max(penetration[0], -c.dist)

        for k in range(round(hold_s / 0.5)):
            harness.run(0.5, deepest)
            if debug:
                u = {f: round(v, 2) for f, v in ctrl.u.items()}
                touch = np.round(sim.fingertip_forces(side), 1)
                print(f"hold {k} {ctrl.phase.value} u={u} touch={touch} obj={np.round(d.xpos[body] - p_obj, 3)}")
        lifted = float(d.xpos[body][2] - z0)
        drift = float(z_lifted - d.xpos[body][2])
    else:
        drift = math.nan
        lifted = float(d.xpos[body][2] - p_obj[2]) if present else 0.0
    lost = ctrl.lost.message if ctrl.lost else ""
    held = bool(out is not None and out.holding and not lost and lifted > LIFT_M - 0.015)
    cycle = (state["t_hold"] - state["t_goal"]) if state["t_hold"] is not None else math.nan
    return GraspRun(
        bool(out and out.success),
        bool(out and out.holding),
        int(out.code) if out else -1,
        out.message if out else "no outcome",
        lifted,
        held,
        drift,
        lost,
        cycle,
        ticks,
        sim.warnings(),
        penetration[0] * 1e3,
    )

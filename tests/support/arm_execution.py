"""A planned arm motion executed through whole-body control on the lockstep harness (full model,
MuJoCo), judged by simulator truth: a box on the table, a hand goal behind it, the collision-free
plan (forma_planning) followed by the WBC while it balances, or the straight Cartesian reach to the
same goal for comparison. Contacts of the arm with the box, the table and the robot's own body are
checked after every physics step. Shared by the system test (tests/system/test_arm_execution.py),
the bench (tests/bench/arm_execution_bench.py) and the acceptance trial (tests/accept/trials_planning.py).
"""

from __future__ import annotations

import dataclasses
import pathlib
import tempfile

import mujoco
import numpy as np
import pinocchio as pin

from forma_control.lockstep_stand import fallen, wbc_stand
from forma_control.wbc.arm_trajectory import ArmTrajectory, FollowStatus, FollowTolerances
from forma_description.poses import named_pose
from forma_planning import ArmPlanner, Box, Scene, SupportPlane
from forma_planning.arm_planner import OBSTACLE_PADDING_M

# A table higher and closer than the tabletop world's (0.75 m, 0.30 m away): the planner moves the arm
# alone, and the arm's reach with the spine upright ends 35 cm in front of the pelvis.
TABLE_TOP_Z_M = 0.80  # the table's top in the world [m]
TABLE_CENTER_XY_M = (0.54, 0.0)  # its front edge 24 cm in front of the feet's centre
TABLE_SIZE_XY_M = (0.6, 1.0)
BASE_AT_START_M = (0.049, 0.0, 1.002)  # the pelvis in the world as stand_balanced starts (sim truth) [m]
# the box as given to the planner is grown by this on every side: balance moves the pelvis and the
# shoulder while the arm reaches out (measured: 1.7 cm back), which a plan made with the body still
# cannot know; with the planner's 1 cm padding alone the palm grazed the box in one of four layouts
BALANCE_MARGIN_M = 0.02
# wall time: the IK and the search are bounded by it; on the shared 2-core machine under load a 2 s
# budget once left the IK a single attempt (planning figures: tests/bench/planning_bench.py)
PLANNING_TIMEOUT_S = 5.0
GOAL_DRAWS = 50000  # rejection sampling of a goal arm configuration per layout
SELF_CONTACT_M = 0.0  # an arm geom and a body geom closer than this count as touching [m]
ARM_BODY_PARTS = (
    "scapula", "clavicle", "shoulder", "upper_arm", "elbow", "forearm", "wrist", "palm",
    "index", "middle", "ring", "little", "thumb",
)  # fmt: skip

_WORLD = """<mujoco model="forma_arm_obstacle">
  <include file="forma_robot.xml"/>
  <worldbody>
    <geom name="floor" type="plane" size="10 10 0.05" friction="1.0 0.02 0.002"/>
    <body name="table" pos="{tx} {ty} 0">
      <geom name="table_top" type="box" size="{hx} {hy} 0.02" pos="0 0 {top_center}"/>
      <geom name="table_leg_fl" type="box" size="0.025 0.025 {leg}" pos="{lx} {ly} {leg}"/>
      <geom name="table_leg_fr" type="box" size="0.025 0.025 {leg}" pos="{lx} -{ly} {leg}"/>
      <geom name="table_leg_bl" type="box" size="0.025 0.025 {leg}" pos="-{lx} {ly} {leg}"/>
      <geom name="table_leg_br" type="box" size="0.025 0.025 {leg}" pos="-{lx} -{ly} {leg}"/>
    </body>
    <body name="obstacle" pos="{bx} {by} {bz}" euler="0 0 {byaw}">
      <geom name="obstacle" type="box" size="{bsx} {bsy} {bsz}" rgba="0.8 0.3 0.2 1"/>
    </body>
  </worldbody>
</mujoco>
"""


@dataclasses.dataclass(frozen=True)
class Layout:
    """A box standing on the table and the right palm's goal behind it (world frame, the robot's
    feet around the origin facing +x)."""

    box_center_xy_m: tuple[float, float]
    box_size_m: tuple[float, float, float]  # full extents [m]
    box_yaw_rad: float
    goal_xyz_m: tuple[float, float, float]  # the palm's goal: behind the box, above the table
    goal_rpy_rad: tuple[float, float, float]  # the palm's orientation in the world


@dataclasses.dataclass
class ExecutionOutcome:
    palm_error_m: float  # measured palm to goal at the end, by simulator truth
    contacts: list[str]  # "arm geom - other" pairs that touched, first time each
    fell: bool
    result: FollowStatus | None  # the trajectory's outcome (None: the straight reach)
    duration_s: float  # sim time from the command to the end


def draw_layout(planner: ArmPlanner, rng: np.random.Generator) -> Layout:
    """A goal for the right palm 14-26 cm above the table, 5-16 cm behind its front edge, that a
    collision-free arm configuration reaches, and a box on the table's edge (a wall 3-4 cm thick,
    12-20 cm wide) that rises 3-6 cm above the straight line from the hanging palm to the goal and
    stays 3 cm below the goal: the hand must go up, over it, and down behind."""
    start = dict(zip(planner.robot.joint_names, map(float, named_pose("stand_balanced", planner.robot)), strict=True))
    base = pin.SE3(np.eye(3), np.array(BASE_AT_START_M))
    table_only = Scene(planes=scene_in_base(None, base.translation, base.rotation).planes)
    checker = planner.checker("right_arm", start, table_only, OBSTACLE_PADDING_M)
    limits = planner.limits(planner.group_joints("right_arm"))
    hand = checker.model.getFrameId("right_hand")
    q_start = np.array([start[j] for j in planner.group_joints("right_arm")])
    pin.framesForwardKinematics(checker.model, checker.data, checker.model_q(q_start))
    palm_start = base * checker.data.oMf[hand]
    front_x = TABLE_CENTER_XY_M[0] - TABLE_SIZE_XY_M[0] / 2
    for _ in range(GOAL_DRAWS):
        q = rng.uniform(limits.lower_rad, limits.upper_rad)
        pin.framesForwardKinematics(checker.model, checker.data, checker.model_q(q))
        goal = base * checker.data.oMf[hand]
        x, y, z = goal.translation
        if not (front_x + 0.05 < x < front_x + 0.16 and -0.35 < y < -0.1 and 0.14 < z - TABLE_TOP_Z_M < 0.26):
            continue
        if not checker.is_free(q):
            continue
        depth, width = rng.uniform(0.03, 0.04), rng.uniform(0.12, 0.2)
        box_x = front_x + 0.01 + depth / 2  # across the line from the palm to the goal
        a = (box_x - palm_start.translation[0]) / (x - palm_start.translation[0])
        box_y = palm_start.translation[1] + a * (y - palm_start.translation[1])
        line_z = palm_start.translation[2] + a * (z - palm_start.translation[2])
        height = line_z - TABLE_TOP_Z_M + rng.uniform(0.03, 0.06)
        if not 0.05 < height < z - TABLE_TOP_Z_M - 0.03:
            continue
        layout = Layout(
            (float(box_x), float(box_y)),
            (float(depth), float(width), float(height)),
            float(rng.uniform(-0.3, 0.3)),
            tuple(map(float, goal.translation)),
            tuple(map(float, pin.rpy.matrixToRpy(goal.rotation))),
        )
        with_box = scene_in_base(layout, base.translation, base.rotation, BALANCE_MARGIN_M)
        if planner.checker("right_arm", start, with_box, 2 * OBSTACLE_PADDING_M).is_free(q):
            return layout
    raise RuntimeError(f"no goal over the table in {GOAL_DRAWS} draws")


def build_world(layout: Layout, directory: pathlib.Path) -> pathlib.Path:
    """The world file of a layout (the robot included from the description), written to `directory`."""
    sx, sy, sz = layout.box_size_m
    table_x, table_y = TABLE_CENTER_XY_M
    size_x, size_y = TABLE_SIZE_XY_M
    text = _WORLD.format(
        tx=table_x, ty=table_y, hx=size_x / 2, hy=size_y / 2, top_center=TABLE_TOP_Z_M - 0.02,
        leg=(TABLE_TOP_Z_M - 0.04) / 2, lx=size_x / 2 - 0.05, ly=size_y / 2 - 0.05,
        bx=layout.box_center_xy_m[0], by=layout.box_center_xy_m[1], bz=TABLE_TOP_Z_M + sz / 2,
        byaw=layout.box_yaw_rad, bsx=sx / 2, bsy=sy / 2, bsz=sz / 2,
    )  # fmt: skip
    path = directory / "arm_obstacle.xml"
    path.write_text(text)
    return path


class ContactWatch:
    """After every physics step: which arm geoms touch the world (MuJoCo's contacts) or another part
    of the robot (signed distance; the model has no robot-robot contacts). Robot pairs already
    touching at the start (neighbouring links) are left out, as the SRDF's adjacent pairs."""

    def __init__(self, sim, side: str = "right") -> None:
        m = sim.model
        self.sim = sim
        self.names = {g: m.geom(g).name for g in range(m.ngeom)}
        robot = [g for g in range(m.ngeom) if m.geom_contype[g] == 2]  # robot collision geoms
        body = {g: m.body(m.geom_bodyid[g]).name for g in robot}
        self.arm = {g for g in robot if body[g].startswith(f"{side}_") and any(p in body[g] for p in ARM_BODY_PARTS)}
        others = [g for g in robot if g not in self.arm]
        self._from_to = np.zeros(6)
        self.pairs = [(a, b) for a in sorted(self.arm) for b in others if self._distance(a, b) > SELF_CONTACT_M]
        self.touched: list[str] = []
        self._seen: set[str] = set()

    def _distance(self, a: int, b: int) -> float:
        return mujoco.mj_geomDistance(self.sim.model, self.sim.data, a, b, 0.05, self._from_to)

    def __call__(self, sim) -> None:
        d = sim.data
        for i in range(d.ncon):
            g1, g2 = int(d.contact[i].geom1), int(d.contact[i].geom2)
            if g1 in self.arm or g2 in self.arm:
                self._touch(g1, g2)
        for a, b in self.pairs:
            if self._distance(a, b) <= SELF_CONTACT_M:
                self._touch(a, b)

    def _touch(self, a: int, b: int) -> None:
        pair = f"{self.names[a]} - {self.names[b]}"
        if pair not in self._seen:
            self._seen.add(pair)
            self.touched.append(f"{pair} at {self.sim.time:.3f} s")


def scene_in_base(
    layout: Layout | None, base_position_m: np.ndarray, base_rotation: np.ndarray, margin_m: float = 0.0
) -> Scene:
    """The table and the box (None: the table alone) in base_link, from where the pelvis stands
    (what perception would give); the box grown by margin_m on every side."""
    base = pin.SE3(base_rotation, base_position_m).inverse()
    table_center = base * np.array([*TABLE_CENTER_XY_M, TABLE_TOP_Z_M])
    table = SupportPlane("table", (0.0, 0.0, 1.0), float(table_center[2]), tuple(table_center[:2]), TABLE_SIZE_XY_M)
    if layout is None:
        return Scene(planes=(table,))
    sz = layout.box_size_m[2]
    box_world = pin.SE3(
        pin.utils.rpyToMatrix(0.0, 0.0, layout.box_yaw_rad), np.array([*layout.box_center_xy_m, TABLE_TOP_Z_M + sz / 2])
    )
    box = base * box_world
    quat = pin.Quaternion(box.rotation).coeffs()  # (x, y, z, w)
    size = tuple(float(e) + 2 * margin_m for e in layout.box_size_m)
    return Scene(boxes=(Box("obstacle", tuple(box.translation), size, tuple(quat)),), planes=(table,))


def execute(
    layout: Layout,
    planner: ArmPlanner | None,
    settle_s: float = 1.0,
    tolerances: FollowTolerances | None = None,
    timeout_s: float = 8.0,
    stop_at_contact: bool = False,
    hold_s: float = 1.0,
) -> ExecutionOutcome:
    """Stand on the WBC in the layout's world, then reach the goal: planned (`planner`) and followed
    as a joint trajectory, or (None) as the straight Cartesian hand target (stop_at_contact: until the
    arm first touches something, for a comparison that only asks whether it does)."""
    with tempfile.TemporaryDirectory() as tmp:
        world = build_world(layout, pathlib.Path(tmp))
        sim, harness, controller = wbc_stand(world=str(world), pose="stand_balanced")
    harness.run(settle_s)
    watch = ContactWatch(sim)
    fell = [False]

    def observe(s) -> None:
        watch(s)
        fell[0] = fell[0] or fallen(s)

    base_position, base_quat_wxyz = sim.base_pose()
    w, x, y, z = base_quat_wxyz
    base_rotation = pin.Quaternion(w, x, y, z).toRotationMatrix()
    goal_world = pin.SE3(pin.utils.rpyToMatrix(*layout.goal_rpy_rad), np.array(layout.goal_xyz_m))
    # the goal in odom: the controller's world is where its odometry puts the pelvis
    odom_from_world = controller.measured_pose("base_link") * pin.SE3(base_rotation, base_position).inverse()
    goal_odom = odom_from_world * goal_world
    t0, result = sim.time, None
    if planner is None:
        controller.set_hand_target("right", goal_odom)
        end_s = sim.time + timeout_s
        while sim.time < end_s and not fell[0] and not (stop_at_contact and watch.touched):
            harness.step()
            observe(sim)
    else:
        start = dict(zip(sim.robot.joint_names, map(float, sim.joint_positions()), strict=True))
        goal_base = pin.SE3(base_rotation, base_position).actInv(goal_world)
        plan = planner.plan_to_pose(
            "right_arm",
            start,
            tuple(goal_base.translation),
            tuple(pin.Quaternion(goal_base.rotation).coeffs()),
            scene_in_base(layout, base_position, base_rotation, BALANCE_MARGIN_M),
            timeout_s=PLANNING_TIMEOUT_S,
        )
        controller.follow_arm_trajectory(ArmTrajectory.of(plan.trajectory), tolerances, goal_odom)
        end_s = sim.time + timeout_s
        while controller.arm_followers and sim.time < end_s and not fell[0]:
            harness.step()
            observe(sim)
        result = controller.arm_trajectory_status("right")
        harness.run(hold_s, observe)  # the palm's task closes what balance moved, then holds
    palm_world = sim.data.site_xpos[sim.model.site("right_hand").id]
    error = float(np.linalg.norm(palm_world - goal_world.translation))
    return ExecutionOutcome(error, watch.touched, fell[0], result, sim.time - t0)

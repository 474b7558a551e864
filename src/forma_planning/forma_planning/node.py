"""The planner node: serves `planning/reach` (forma_interfaces/Reach, the type of wbc/reach, so a
client switches by the action's name) and reaches around what perception sees.

Each goal is checked as whole-body control checks it (forma_control.wbc.io / targets), then:
- the straight reach is clear (forma_planning.straight: the palm's straight line, solved by IK step
  by step, keeps off every perceived obstacle): the goal goes to `wbc/reach` unchanged, its feedback
  and result relayed;
- it is not: the arm's path is planned around the obstacles (forma_planning.ArmPlanner) and sent as
  a joint trajectory to `wbc/follow_arm_trajectory`, the target as its hand_goal; the result is
  mapped to Reach's outcomes.
A goal whose line the arm alone cannot follow (out of its reach, a jump) with nothing perceived on it,
and that no configuration of the arm alone reaches, goes straight as well: whole-body control also
moves the spine and balance, and says itself if it cannot get there. A target pose blocked itself
by boxes within target_object_margin_m of it (every IK solution touches them) is tried again with
them left out: the client sends the hand beside them.
The result's reason starts with the way it went: "straight reach: ..." or "planned around <objects>: ...".

Inputs: joint_states (polled when a goal arrives: the arm's start and the frames), robot_description
(latched: the planner's model, built in a thread of its own, ~3 s), perception/objects and
perception/support_plane (polled: the newest of each; boxes and the table top's outline in its
header's frame, put into base_link with the measured kinematics). Boxes that overlap the robot
where it is now (the camera saw an arm, or what a hand holds) and obstacles the planning arm
touches now are left out: the robot is there already.

Threads: the executor runs the action server and its two clients (one ReentrantCallbackGroup: a
goal's coroutine awaits the underlying goal while others run). The straight check and the planning
run in a worker thread per goal (they take 0.1-5 s of CPU; the executor keeps serving meanwhile);
workers are daemons and are not waited for at shutdown. The node keeps the robot's clock (the
stamps of joint_states), like the WBC.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time

import numpy as np
import pinocchio as pin
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import PolygonStamped, PoseStamped
from rclpy.action import ActionClient, ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from forma_common import qos
from forma_common.direct import DirectSubscription
from forma_common.messages import stamp_s, to_time_msg
from forma_common.node import GoalResult, declare_params, on_robot_clock, run_node
from forma_common.params import param
from forma_control.errors import TargetRejected
from forma_control.wbc.io import ReachDefaults, reach_request
from forma_control.wbc.targets import TargetLimits, check_target, to_odom
from forma_description import RobotModel
from forma_description.frames import RobotFrames
from forma_interfaces.action import FollowArmTrajectory, Reach
from forma_interfaces.msg import DetectedObjectArray
from forma_planning.arm_planner import ArmPlanner, Plan
from forma_planning.errors import NoPlanError, PlanningError
from forma_planning.perceived import (
    PerceivedPlane,
    PerceivedScene,
    near_target,
    nearest,
    perceived_plane,
    perceived_scene,
    scene_in_base,
    support_plane_in_base,
)
from forma_planning.scene import Scene
from forma_planning.start_state import boxes_on_the_robot, free_start_nearby, objects_at_the_arm, without
from forma_planning.straight import straight_reach

HANDS = {"left": "left_hand", "right": "right_hand"}  # the palm frames
FOLLOW_TO_REACH = {
    FollowArmTrajectory.Result.SUCCEEDED: Reach.Result.REACHED,
    FollowArmTrajectory.Result.PATH_TOLERANCE_VIOLATED: Reach.Result.UNREACHABLE,  # held back on the way
    FollowArmTrajectory.Result.GOAL_TOLERANCE_VIOLATED: Reach.Result.TIMEOUT,  # not there in time
    FollowArmTrajectory.Result.CANCELED: Reach.Result.CANCELED,
    FollowArmTrajectory.Result.REJECTED: Reach.Result.REJECTED,
    FollowArmTrajectory.Result.CONTROLLER_STOPPED: Reach.Result.CANCELED,  # as wbc/reach says when the WBC stops
}
JOINT_STATES_MAX_AGE_S = 0.5  # [s wall] the newest joint_states must have arrived within this
PLANNER_WAIT_S = 30.0  # [s wall] a goal waits this long for the planner's model (built at start)
# a plan whose start is further than this from where the arm is when it is done is made again from
# there (a third of the trajectory follower's default path tolerance, 0.15 rad, which refuses it)
START_GAP_RAD = 0.05
REPLANS = 2


@dataclasses.dataclass(frozen=True)
class PlannerParams:
    reach_action: str = param("wbc/reach", "where a goal whose straight reach is clear goes (unchanged)")
    follow_action: str = param(
        "wbc/follow_arm_trajectory", "where a planned path goes (forma_interfaces/FollowArmTrajectory)"
    )
    planning_timeout_s: float = param(
        3.0,
        "longest inverse kinematics + search per goal (wall time); a goal's timeout_s, if shorter, caps it",
        unit="s", low=0.1, high=30.0,
    )  # fmt: skip
    object_margin_m: float = param(
        0.02,
        "perceived boxes are grown by this on every side: balance moves the shoulder while the arm moves, which a "
        "plan made with the body still cannot know",
        unit="m", low=0.0, high=0.2,
    )  # fmt: skip
    target_object_margin_m: float = param(
        0.15,
        "the box nearest the palm's target, if within this of it, is what the hand goes to: no obstacle for that goal "
        "(the task skills' pick: its pre-grasp pose 12 cm from the cup's box, every later pose nearer; more takes a "
        "box halfway along a 50 cm reach for its goal)",
        unit="m", low=0.0, high=0.3,
    )  # fmt: skip
    support_plane_lowered_m: float = param(
        0.02,
        "the perceived table top counts this much lower: a hand grasping what stands on it comes within a few cm "
        "of the top, which perception finds to about 1 cm",
        unit="m", low=0.0, high=0.2,
    )  # fmt: skip
    objects_max_age_s: float = param(
        5.0,
        "perception/objects and perception/support_plane stamped longer ago than this (robot time) are not used: "
        "the scene is then without them, and the result's reason says so",
        unit="s", low=0.1, high=3600.0,
    )  # fmt: skip
    server_timeout_s: float = param(
        2.0, "wbc/reach and wbc/follow_arm_trajectory must be served within this", unit="s", low=0.1, high=60.0
    )


@dataclasses.dataclass(frozen=True)
class Checked:
    """A goal that passed the checks, with what the worker needs."""

    side: str
    target_in_base: pin.SE3
    start_rad: dict[str, float]  # every joint from joint_states [rad]
    robot_now_s: float  # the stamp of that joint_states [s]
    planning_timeout_s: float
    perceived: PerceivedScene | None
    base_from_objects: np.ndarray | None  # 4 x 4 T_base_frame of perception's array
    plane: PerceivedPlane | None = None
    base_from_plane: np.ndarray | None = None  # 4 x 4 T_base_frame of the plane's outline


@dataclasses.dataclass(frozen=True)
class Route:
    """What the worker decided: the straight reach, a plan, or a Reach.Result that ends the goal."""

    straight: bool
    scene_note: str  # "planned around box-1, cup" / why the scene is empty
    plan: Plan | None = None
    result: Reach.Result | None = None


class PlannerNode(Node):
    """planning/reach: straight through wbc/reach when clear, else planned around the perceived objects."""

    PARAMS = ((PlannerParams, ""),)

    def __init__(self, node_name: str = "planner", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        on_robot_clock(self)  # its time is joint_states' stamps: no /clock wake-ups
        self.params = declare_params(self, PlannerParams, error=PlanningError)
        self.limits = TargetLimits()  # the WBC's defaults: the same targets pass here and there
        self.frames: RobotFrames | None = None
        self.prefix = ""
        self.planner: ArmPlanner | None = None
        self.planner_ready = threading.Event()
        self.planner_problem = ""
        self.plan_lock = threading.Lock()  # one plan at a time (OMPL's generator, the CPU)
        self.joint_states_wall_s = -math.inf  # when the newest joint_states was taken [s, monotonic]
        self.underlying: dict[bytes, object] = {}  # our goal id -> the wbc goal handle it runs
        self.closing = False  # destroy_node was called: workers hand nothing back
        self.group = ReentrantCallbackGroup()
        self._wake = GoalResult.waker(self)
        self.joints_in = DirectSubscription(self, JointState, "joint_states", qos.NEWEST)
        self.objects_in = DirectSubscription(self, DetectedObjectArray, "perception/objects", qos.EVENTS)
        self.plane_in = DirectSubscription(self, PolygonStamped, "perception/support_plane", qos.EVENTS)
        self.create_subscription(String, "robot_description", self._on_description, qos.LATCHED)
        self.reach_client = ActionClient(self, Reach, self.params.reach_action, callback_group=self.group)
        self.follow_client = ActionClient(
            self, FollowArmTrajectory, self.params.follow_action, callback_group=self.group
        )
        self.server = ActionServer(
            self, Reach, "planning/reach", execute_callback=self._execute,
            goal_callback=lambda _goal: GoalResponse.ACCEPT, cancel_callback=self._on_cancel,
            callback_group=self.group,
        )  # fmt: skip
        self.get_logger().info(
            f"planner: serving planning/reach (straight: {self.params.reach_action}, planned: "
            f"{self.params.follow_action}); waiting for robot_description"
        )

    # --- inputs -------------------------------------------------------------------------------------
    def _on_description(self, msg: String) -> None:
        if self.frames is not None:
            return  # the description does not change under a running node
        try:
            frames, self.prefix = RobotFrames(msg.data), RobotModel.from_urdf(msg.data).prefix
        except ValueError as exc:
            self.planner_problem = f"robot_description refused: {exc}"
            self.get_logger().error(self.planner_problem)
            return
        self.frames = frames
        threading.Thread(target=self._build_planner, args=(msg.data,), name="planner-model", daemon=True).start()

    def _build_planner(self, urdf_xml: str) -> None:
        """The planner's model (~3 s: the collision geometry, the SRDF): off the executor."""
        try:
            self.planner = ArmPlanner(urdf_xml=urdf_xml)
            self.get_logger().info("planner: ready (model, SRDF and joint limits loaded)")
        except Exception as exc:  # noqa: BLE001 - any failure must be the goals' reason, not a dead thread
            self.planner_problem = f"the planner cannot use this robot_description: {exc}"
            self.get_logger().error(self.planner_problem)
        self.planner_ready.set()

    def _joint_states(self) -> JointState:
        """The newest joint_states, refused when none arrived lately (the sim or driver stopped)."""
        if self.joints_in.take_newest() is not None:
            self.joint_states_wall_s = time.monotonic()
        msg = self.joints_in.latest
        if msg is None:
            raise TargetRejected("no joint_states yet: the arm's start and the frames are unknown")
        age = time.monotonic() - self.joint_states_wall_s
        if age > JOINT_STATES_MAX_AGE_S:
            raise TargetRejected(f"no joint_states for {age:.1f} s: is the robot (or sim) running?")
        return msg

    # --- the action -----------------------------------------------------------------------------------
    def _check(self, goal) -> Checked:
        """The goal checked as whole-body control checks it, in base_link (TargetRejected: why not)."""
        if self.frames is None:
            raise TargetRejected(self.planner_problem or "no robot_description yet")
        joints = self._joint_states()
        now_s = stamp_s(joints.header.stamp)
        request = reach_request(goal, now_s, ReachDefaults())
        target = check_target(request.target, now_s, self.limits, self.prefix)
        frame = target.frame_id.removeprefix(self.prefix)
        if frame == "odom":
            raise TargetRejected(
                "target in odom: the planner works in the robot's frames and has no odometry; send it in "
                f"{self.prefix}base_link or {self.prefix}torso (or to wbc/reach, without planning)"
            )
        self.frames.update(joints.name, joints.position)
        base_from_frame = pin.SE3(self.frames.transform(f"{self.prefix}base_link", target.frame_id))
        target_in_base = to_odom(target, base_from_frame, pin.SE3.Identity(), self.limits)  # (base as the origin)
        start = {n: float(q) for n, q in zip(joints.name, joints.position, strict=True)}
        bad = [n for n, q in start.items() if not math.isfinite(q)]
        if bad:
            raise TargetRejected(f"joint_states has non-finite positions: {', '.join(bad[:4])}")
        objects = self.objects_in.take_newest() or self.objects_in.latest
        perceived = perceived_scene(objects) if objects is not None else None
        outline = self.plane_in.take_newest() or self.plane_in.latest
        plane = perceived_plane(outline) if outline is not None else None
        timeout = min(self.params.planning_timeout_s, request.timeout_s if goal.timeout_s > 0.0 else math.inf)
        return Checked(
            request.side, target_in_base, start, now_s, timeout, perceived,
            self._base_from(perceived, "perception/objects"), plane, self._base_from(plane, "perception/support_plane"),
        )  # fmt: skip

    def _base_from(self, perceived: PerceivedScene | PerceivedPlane | None, topic: str) -> np.ndarray | None:
        """T_base_frame of what perception sent (TargetRejected for a frame the robot lacks)."""
        if perceived is None:
            return None
        frame = perceived.frame_id or f"{self.prefix}base_link"
        if not self.frames.has(frame):
            raise TargetRejected(f"{topic} is in frame {frame!r}, which the robot does not have")
        return self.frames.transform(f"{self.prefix}base_link", frame)

    def _on_cancel(self, handle) -> CancelResponse:
        under = self.underlying.get(bytes(handle.goal_id.uuid))
        if under is not None:
            under.cancel_goal_async()
        return CancelResponse.ACCEPT

    async def _execute(self, handle):
        goal = handle.request
        try:
            checked = self._check(goal)
        except TargetRejected as exc:
            return self._end(handle, Reach.Result.REJECTED, str(exc))
        for attempt in range(1 + REPLANS):
            done = GoalResult(self._wake)
            threading.Thread(target=self._route, args=(checked, done), name="planner-goal", daemon=True).start()
            route: Route = await done
            if route.result is not None:
                return self._end(handle, route.result.outcome, route.result.reason, route.result)
            if handle.is_cancel_requested:
                return self._end(handle, Reach.Result.CANCELED, f"{route.scene_note}: canceled before the arm moved")
            if route.straight:
                return await self._straight(handle, goal, checked, route)
            moved = self._moved_since(checked, route.plan)
            if not moved or attempt == REPLANS:  # (still moving: the follower says whether it can start)
                break
            self.get_logger().info(f"planning/reach {checked.side}: {moved} while planning; planning again from there")
            checked = dataclasses.replace(checked, start_rad=self._start_now(checked.start_rad))
        return await self._follow(handle, goal, checked, route)

    def _start_now(self, previous: dict[str, float]) -> dict[str, float]:
        """Every joint from the newest joint_states [rad] (the previous start where none came)."""
        try:
            joints = self._joint_states()
        except TargetRejected:
            return previous
        return {n: float(q) for n, q in zip(joints.name, joints.position, strict=True)}

    def _moved_since(self, checked: Checked, plan: Plan) -> str:
        """Whether the arm moved more than START_GAP_RAD from where it was planned from while it was
        planned (a body still settling after the stand-up, a push): "" if not, else which joint and how far."""
        now = self._start_now(checked.start_rad)
        gaps = [abs(now[j] - checked.start_rad[j]) for j in plan.joint_names]
        worst = int(np.argmax(gaps))
        if gaps[worst] <= START_GAP_RAD:
            return ""
        return f"{plan.joint_names[worst]} moved {gaps[worst]:.3f} rad"

    def _route(self, checked: Checked, done: GoalResult) -> None:
        """The worker: the scene, the straight check, the plan if needed. A worker still planning at
        shutdown (a daemon thread: nothing waits for it) hands nothing to the destroyed node."""
        try:
            route = self._decide(checked)
        except Exception as exc:  # noqa: BLE001 - a bug must end the goal with its reason, not hang it
            if self.closing:
                return
            self.get_logger().error(f"planning/reach failed: {exc!r}")
            route = Route(False, "", result=_result(Reach.Result.REJECTED, f"internal error: {exc!r}"))
        if not self.closing:
            done.finish(route)

    def _decide(self, c: Checked) -> Route:
        if not self.planner_ready.wait(PLANNER_WAIT_S) or self.planner is None:
            reason = self.planner_problem or f"the planner's model is not loaded after {PLANNER_WAIT_S:g} s"
            return Route(False, "", result=_result(Reach.Result.REJECTED, reason))
        group = f"{c.side}_arm"
        scene, note = Scene(), "no perception/objects yet"
        try:
            planes, plane_note = self._planes(c)
            scene = Scene(planes=planes)
            if c.perceived is not None:
                age_s = c.robot_now_s - c.perceived.stamp_s
                if age_s > self.params.objects_max_age_s:
                    note = f"perception/objects {age_s:.1f} s old, not used"
                else:
                    scene, goal_objects = scene_in_base(
                        c.perceived, c.base_from_objects, self.params.object_margin_m,
                        c.target_in_base.translation, self.params.target_object_margin_m, planes,
                    )  # fmt: skip
                    if goal_objects:
                        goal_note = f", {', '.join(goal_objects)} the hand's goal"
                    else:  # (what target_object_margin_m would have to be to take it)
                        name, distance = nearest(c.perceived, c.base_from_objects, c.target_in_base.translation)
                        goal_note = f", none the hand's goal (nearest {name} {distance * 100:.1f} cm away)"
                    note = f"{len(scene.boxes)} object(s) in the way{goal_note}"
            note += plane_note
            with self.plan_lock:
                on_robot = boxes_on_the_robot(self.planner, c.start_rad, scene)
                scene = without(scene, on_robot)
                at_arm = objects_at_the_arm(self.planner, group, c.start_rad, scene)
                scene = without(scene, at_arm)
                if on_robot or at_arm:
                    note += f", {', '.join((*on_robot, *at_arm))} at the robot (held, touched or itself seen) left out"
                if not scene.boxes and not scene.planes:  # nothing to plan around: the WBC's checks say the rest
                    return Route(True, f"straight reach ({note})")
                try:
                    return self._straight_or_planned(c, group, scene, note)
                except NoPlanError as exc:
                    near = [] if not exc.goal_blocked or c.perceived is None else near_target(
                        c.perceived, c.base_from_objects, c.target_in_base.translation,
                        self.params.target_object_margin_m,
                    )  # fmt: skip
                    near = [b.name for b in scene.boxes if b.name in near]
                    if not near:
                        raise
                    # the pose itself is blocked by objects at the target (every IK solution touched
                    # them, grown): the client sends the hand there, beside them; get there around the rest
                    scene = without(scene, tuple(near))
                    note += f", {', '.join(near)} at the target left out (every IK solution there touched them)"
                    self.get_logger().info(f"planning/reach {c.side}: {', '.join(near)} at the target left out")
                    return self._straight_or_planned(c, group, scene, note)
        except NoPlanError as exc:
            return Route(False, "", result=_result(Reach.Result.UNREACHABLE, f"no plan ({note}): {exc}"))
        except PlanningError as exc:
            return Route(False, "", result=_result(Reach.Result.REJECTED, f"refused by the planner ({note}): {exc}"))

    def _straight_or_planned(self, c: Checked, group: str, scene: Scene, note: str) -> Route:
        """The straight reach if its line is clear, else a plan around the scene (NoPlanError when
        none is found; a pose the arm alone reaches by no configuration, with nothing touched on
        the line, goes straight: whole-body control also moves the spine and balance)."""
        straight = straight_reach(self.planner, group, c.start_rad, c.target_in_base, scene)
        if straight.clear:
            return Route(True, f"straight reach ({note})")
        around = ", ".join(o.name for o in (*scene.boxes, *scene.planes))
        self.get_logger().info(f"planning/reach {c.side}: planning: {straight.reason}")
        fix = free_start_nearby(self.planner, group, c.start_rad, scene)
        start = fix.start_rad if fix is not None else c.start_rad  # (None: the planner says why)
        if fix is not None and fix.moved_rad > 0.0:
            self.get_logger().info(
                f"planning/reach {c.side}: the arm touches {', '.join(fix.touching)} by the collision "
                f"shapes; planning from a free state {fix.moved_rad:.3f} rad away"
            )
        quat = pin.Quaternion(c.target_in_base.rotation).normalized().coeffs()
        try:
            plan = self.planner.plan_to_pose(
                group, start, tuple(c.target_in_base.translation), tuple(map(float, quat)), scene,
                timeout_s=c.planning_timeout_s,
            )  # fmt: skip
        except NoPlanError as exc:
            if exc.out_of_reach and not straight.touches:
                return Route(True, f"straight reach ({note}; the arm alone cannot follow the line: {straight.reason})")
            raise
        why = f"planned around {around} (the straight reach: {straight.reason})"
        self.get_logger().info(
            f"planning/reach {c.side}: {why}; {plan.trajectory.time_s[-1]:.1f} s trajectory in "
            f"{plan.planning_time_s:.2f} s"
        )
        return Route(False, why, plan=plan)

    def _planes(self, c: Checked) -> tuple[tuple, str]:
        """The support plane in base_link, if perceived lately (PlanRequestError for a malformed one),
        and what the result's reason says about it."""
        if c.plane is None:
            return (), ", no support plane yet"
        age_s = c.robot_now_s - c.plane.stamp_s
        if age_s > self.params.objects_max_age_s:
            return (), f", the support plane {age_s:.1f} s old, not used"
        plane = support_plane_in_base(c.plane, c.base_from_plane, self.params.support_plane_lowered_m)
        if plane is None:
            return (), ", no support plane in view"
        return (plane,), f", the support plane at {plane.offset_m:+.2f} m (base_link)"

    async def _straight(self, handle, goal, c: Checked, route: Route):
        """The goal to wbc/reach as it came (a stamped target restamped with the robot's time now: the
        checks here took time, and it was fresh when it arrived); feedback and result relayed."""
        client = self.reach_client
        if not await self._served(client):
            served = f"{client._action_name} is not served: is the WBC running?"
            return self._end(handle, Reach.Result.REJECTED, f"{route.scene_note}: {served}")
        forward = Reach.Goal(
            hand=goal.hand, target=_restamped(goal.target, self._robot_now(c.robot_now_s)),
            position_tolerance_m=goal.position_tolerance_m, orientation_tolerance_rad=goal.orientation_tolerance_rad,
            timeout_s=goal.timeout_s, max_speed_m_s=goal.max_speed_m_s,
        )  # fmt: skip
        under = await client.send_goal_async(forward, feedback_callback=lambda f: handle.publish_feedback(f.feedback))
        if not under.accepted:
            refused = f"{client._action_name} refused the goal"
            return self._end(handle, Reach.Result.REJECTED, f"{route.scene_note}: {refused}")
        result = await self._run_underlying(handle, under)
        return self._end(handle, result.outcome, f"{route.scene_note}: {result.reason}", result)

    async def _follow(self, handle, goal, c: Checked, route: Route):
        """The plan to wbc/follow_arm_trajectory, the target as its hand_goal; Reach's outcome back."""
        client = self.follow_client
        if not await self._served(client):
            return self._end(
                handle,
                Reach.Result.REJECTED,
                f"{route.scene_note}: {client._action_name} is not served: is the WBC "
                "running (a version with arm trajectories)?",
            )
        follow = FollowArmTrajectory.Goal(
            trajectory=_trajectory_msg(route.plan),
            hand_goal=_restamped(goal.target, self._robot_now(c.robot_now_s)),
        )

        def feedback(f) -> None:
            distance, angle = self._palm_error(c.side, c.target_in_base)
            handle.publish_feedback(Reach.Feedback(position_error_m=distance, orientation_error_rad=angle))

        under = await client.send_goal_async(follow, feedback_callback=feedback)
        if not under.accepted:
            return self._end(handle, Reach.Result.REJECTED, f"{route.scene_note}: {client._action_name} refused it")
        result = await self._run_underlying(handle, under)
        outcome = FOLLOW_TO_REACH.get(result.outcome, Reach.Result.UNREACHABLE)
        distance, angle = self._palm_error(c.side, c.target_in_base)
        reason = "reached" if outcome == Reach.Result.REACHED else result.reason
        out = Reach.Result(distance_m=distance, orientation_error_rad=angle)
        return self._end(handle, outcome, f"{route.scene_note}: {reason}", out)

    async def _served(self, client) -> bool:
        """Wait for the server without blocking the executor (a goal's coroutine sleeps meanwhile)."""
        deadline = time.monotonic() + self.params.server_timeout_s
        while time.monotonic() < deadline:
            if client.server_is_ready():
                return True
            await _sleep(self, 0.05)
        return client.server_is_ready()

    async def _run_underlying(self, handle, under):
        key = bytes(handle.goal_id.uuid)
        self.underlying[key] = under
        try:
            if handle.is_cancel_requested:  # asked while the goal was on its way
                under.cancel_goal_async()
            response = await under.get_result_async()
        finally:
            self.underlying.pop(key, None)
        return response.result

    def _robot_now(self, fallback_s: float) -> float:
        """The newest joint_states' stamp (the robot's clock) [s]."""
        try:
            return stamp_s(self._joint_states().header.stamp)
        except TargetRejected:
            return fallback_s

    def _palm_error(self, side: str, target_in_base: pin.SE3) -> tuple[float, float]:
        """Palm to target [m, rad] from the newest joint_states (NaN without any)."""
        try:
            joints = self._joint_states()
        except TargetRejected:
            return math.nan, math.nan
        self.frames.update(joints.name, joints.position)
        palm = pin.SE3(self.frames.transform(f"{self.prefix}base_link", f"{self.prefix}{HANDS[side]}"))
        distance = float(np.linalg.norm(target_in_base.translation - palm.translation))
        angle = float(np.linalg.norm(pin.log3(palm.rotation.T @ target_in_base.rotation)))
        return distance, angle

    def _end(self, handle, outcome: int, reason: str, result: Reach.Result | None = None) -> Reach.Result:
        """Close the goal (succeed, canceled when asked, else abort) with the outcome and reason."""
        out = result if result is not None else Reach.Result(distance_m=math.nan, orientation_error_rad=math.nan)
        out.outcome, out.reason = outcome, reason
        if outcome == Reach.Result.REACHED:
            handle.succeed()
            self.get_logger().info(f"planning/reach {handle.request.hand}: {reason}")
        else:
            if outcome == Reach.Result.CANCELED and handle.is_cancel_requested:
                handle.canceled()
            else:
                handle.abort()
            self.get_logger().warning(f"planning/reach {handle.request.hand}: {reason}")
        return out

    def destroy_node(self) -> None:
        self.closing = True
        super().destroy_node()


def _result(outcome: int, reason: str) -> Reach.Result:
    return Reach.Result(outcome=outcome, reason=reason, distance_m=math.nan, orientation_error_rad=math.nan)


def _restamped(target: PoseStamped, now_s: float) -> PoseStamped:
    """A copy of the target stamped `now_s` (robot time): it was fresh when it arrived, and the checks
    here took time; a zero stamp ("now", for wbc/reach and the trajectory follower alike) stays zero."""
    stamp = target.header.stamp if stamp_s(target.header.stamp) == 0.0 else to_time_msg(now_s)
    out = PoseStamped(pose=target.pose)
    out.header.frame_id, out.header.stamp = target.header.frame_id, stamp
    return out


def _trajectory_msg(plan: Plan) -> JointTrajectory:
    trajectory = plan.trajectory
    msg = JointTrajectory(joint_names=list(plan.joint_names))
    for t, q, qd in zip(trajectory.time_s, trajectory.positions_rad, trajectory.velocities_rad_s, strict=True):
        sec, nanosec = divmod(int(round(float(t) * 1e9)), 1_000_000_000)
        msg.points.append(
            JointTrajectoryPoint(
                positions=[float(v) for v in q],
                velocities=[float(v) for v in qd],
                time_from_start=Duration(sec=sec, nanosec=nanosec),
            )
        )
    return msg


async def _sleep(node: Node, seconds: float) -> None:
    """Sleep inside a goal's coroutine: a one-shot wall timer completes a future."""
    from rclpy.task import Future

    future = Future()
    timer = node.create_timer(seconds, lambda: future.done() or future.set_result(None))
    try:
        await future
    finally:
        node.destroy_timer(timer)


def main(args=None) -> None:
    """Run the planner node alone: `ros2 run forma_planning planner_node`."""
    run_node(PlannerNode, (PlanningError,), args)

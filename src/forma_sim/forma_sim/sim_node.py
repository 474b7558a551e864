"""ROS 2 node serving the simulated robot: the hardware topics and services of DESIGN §4 (the
shared part lives in forma_hardware.hardware_node, so the bus driver serves exactly the same).

Threads: the physics loop runs in its own thread (taking commands, stepping, publishing state at
the control rate, pacing to the real-time factor); the camera renders in another, only while
someone subscribes; services and the rig's stand target run on the process's executor. A lock
guards the simulation between them. Commands and e-stop messages are taken by the physics thread
itself between periods (HardwareNode.take_commands), never by the executor.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from rclpy.clock import Clock, ClockType
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image
from std_srvs.srv import Trigger

from forma_common import qos
from forma_common.messages import key_values, to_time_msg
from forma_common.node import declare_params, run_node
from forma_common.params import param
from forma_common.scheduling import below_the_loop, pin_loop_thread
from forma_description import DescriptionError
from forma_description.poses import available_poses
from forma_hardware import HardwareError
from forma_hardware.hardware_node import HardwareNode
from forma_hardware.stop_latch import StopState
from forma_interfaces.srv import ApplyWrench, StepSimulation
from forma_sim.errors import SimError
from forma_sim.pacing import CommandPacer
from forma_sim.simulation import Simulation, build_hand_simulation, build_simulation

MODES = ("simtime", "realtime", "lockstep")
# Late by more than this many periods, the loop falls back to sim time instead of catching up: a
# catch-up steps periods back to back (25 of them after a 50 ms hiccup, as it did), and a controller
# that ticks once per period misses all but the newest. Sim time then runs a little slower than
# wall time on a loaded machine (DESIGN §5: fall back to sim time rather than miss deadlines).
CATCH_UP_PERIODS = 2


@dataclasses.dataclass(frozen=True)
class SimParams:
    world: str = param("tabletop", "MuJoCo world: a name in share/forma_sim/worlds or a path to an MJCF file")
    rig: str = param(
        "",
        "empty = the whole robot; left_hand / right_hand = that hand alone on the positioning stand (world "
        "hand_stand), for hand development and grasp tests",
        choices=("", "left_hand", "right_hand"),
    )
    stand_pose: list[float] = param(
        [0.35, 0.0, 0.95, 0.0], "rig only: stand position x, y, z [m] and yaw [rad] at start", low=-10.0, high=10.0
    )
    body: str = param("male", "body form of the robot description (body_forms.yaml)")
    height_m: float = param(1.73, "standing height; scales the description", unit="m", low=0.5, high=2.5)
    mass_kg: float = param(65.0, "total mass", unit="kg", low=5.0, high=300.0)
    physics_rate_hz: float = param(
        500.0, "physics rate; a whole multiple of control_rate_hz", unit="Hz", low=50.0, high=10000.0
    )
    control_rate_hz: float = param(
        500.0, "control period rate: hardware/robot_state, command intake, watchdogs", unit="Hz", low=10.0, high=2000.0
    )
    sensor_rate_hz: float = param(
        100.0,
        "rate of joint_states, imu/data and feet wrenches (at most every period); controllers read "
        "hardware/robot_state at the control rate",
        unit="Hz",
        low=0.1,
        high=2000.0,
    )
    mode: str = param(
        "simtime",
        "simtime: publish /clock, pace to real_time_factor, slow down rather than skip; realtime: stamp with wall "
        "time, no /clock; lockstep: step only on the sim/step service",
        choices=MODES,
    )
    real_time_factor: float = param(
        1.0, "target sim seconds per wall second in simtime/realtime; 0 = as fast as possible", low=0.0, high=100.0
    )
    hardware_config: str = param(
        "", "hardware contract file (gains, watchdogs, gate); empty = share/forma_hardware/hardware.yaml"
    )
    startup_state: str = param(
        "hold", "stop state at start: hold (stand until a reset) or damp", choices=("hold", "damp")
    )
    initial_pose: str = param("stand", "named pose (urdf/poses.yaml) the robot spawns in", choices=available_poses())
    clock_rate_hz: float = param(
        100.0,
        "/clock rate in simtime/lockstep; timers of use_sim_time nodes tick at most this often",
        unit="Hz",
        low=0.0,
        high=2000.0,
    )
    touch_rate_hz: float = param(100.0, "fingertip touch rate", unit="Hz", low=0.0, high=2000.0)
    command_pacing_s: float = param(
        1.0,
        "simtime only: hold the next period back while a live commander lags > 3 of its intervals (>= 6 ms), at most "
        "this long of wall time, so a busy machine slows sim time instead of missing control deadlines; 0 = off",
        unit="s",
        low=0.0,
        high=60.0,
    )
    command_pacing_groups: list[str] = param(
        ["body", "left_hand", "right_hand"],
        "simtime: the command groups whose commanders pace the simulation; a group left out is left to its "
        "hardware watchdog alone, as on the robot (a hands process that lags 0.25 s then latches its hands)",
    )
    state_rate_hz: float = param(50.0, "hardware/state and ground-truth pose rate", unit="Hz", low=0.0, high=2000.0)


@dataclasses.dataclass(frozen=True)
class CameraParams:
    """The head camera (parameters camera.*)."""

    width: int = param(320, "head camera image width", unit="px", low=16, high=4096)
    height: int = param(240, "head camera image height", unit="px", low=16, high=4096)
    rate_hz: float = param(
        15.0, "head camera rate (sim time); renders only while subscribed", unit="Hz", low=0.0, high=120.0
    )
    backend: str = param("egl", "offscreen OpenGL", choices=("egl", "osmesa"))


class SimNode(HardwareNode):
    """MuJoCo simulation of the Forma humanoid behind the hardware contract."""

    PARAMS = ((SimParams, ""), (CameraParams, "camera."))

    def __init__(self, node_name: str = "sim", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        # The sim is the clock: it stamps with sim time whatever use_sim_time says, and must not
        # subscribe to the /clock it publishes (a deployment's use_sim_time: true would cost it
        # an executor wake-up per /clock message, ~6 % of a core here).
        if self.get_parameter("use_sim_time").value:
            self.set_parameters([Parameter("use_sim_time", value=False)])
        self.hardware_id = "mujoco"
        p = self._declare_parameters()
        self.mode = p["mode"]
        self._wall = Clock(clock_type=ClockType.SYSTEM_TIME)
        if p["rig"]:  # one hand on the positioning stand (hand development, grasp tests)
            self.sim: Simulation = build_hand_simulation(
                side=p["rig"].removesuffix("_hand"),
                world=p["world"],
                body=p["body"],
                physics_rate_hz=p["physics_rate_hz"],
                control_rate_hz=p["control_rate_hz"],
                hardware_config=p["hardware_config"] or None,
            )
            self.sim.set_stand(*p["stand_pose"], jump=True)
            self._stand_pose = p["stand_pose"]
        else:
            self.sim = build_simulation(
                world=p["world"],
                body=p["body"],
                height_m=p["height_m"],
                mass_kg=p["mass_kg"],
                physics_rate_hz=p["physics_rate_hz"],
                control_rate_hz=p["control_rate_hz"],
                hardware_config=p["hardware_config"] or None,
                pose=p["initial_pose"],
                startup_state=StopState[p["startup_state"].upper()],
            )
        self.rtf_target = p["real_time_factor"]
        self.initial_pose = p["initial_pose"]
        self.robot = self.sim.robot
        n = len(self.robot.joints)
        self.get_logger().info(
            f"{self.robot.name}: {n} joints, world {p['world']!r}, physics {1 / self.sim.model.opt.timestep:.0f} Hz, "
            f"control {1 / self.sim.control_period_s:.0f} Hz, mode {self.mode}"
        )
        self._make_interfaces(p)
        self._stats = {"periods": 0, "overruns": 0, "rtf": 0.0, "render_ms": 0.0, "frames": 0}
        pacing = p["command_pacing_s"] if self.mode == "simtime" else 0.0
        self.pacer = None
        if pacing > 0:
            clock_period_s = self._every["clock"] * self.sim.control_period_s  # 0: no /clock
            self.pacer = CommandPacer(self.sim.control_period_s, pacing, clock_period_s=clock_period_s)
        self.paced_groups = frozenset(p["command_pacing_groups"])
        self._clock_sent_s = math.inf  # the newest /clock published [s] (none: paced by lag alone)
        self._last_reject_log = 0.0
        self._running = True
        self._camera_event = threading.Event()
        self._camera_snapshot: tuple[np.ndarray, float] | None = None
        self._camera_ready = threading.Event()
        self._camera_thread = threading.Thread(target=self._camera_loop, name="sim_camera", daemon=True)
        self._camera_thread.start()
        self._camera_ready.wait(timeout=60.0)  # the renderer exists before physics runs (see _camera_loop)
        self._physics_thread = None
        if self.mode != "lockstep":
            self._physics_thread = threading.Thread(target=self._physics_loop, name="sim_physics", daemon=True)
            self._physics_thread.start()
        else:
            # no physics thread: the executor takes commands and e-stops between sim/step calls
            self.create_timer(0.01, self.take_commands, clock=self._wall)
            self._publish_period_outputs()

    # --- set-up -----------------------------------------------------------------------------
    def _declare_parameters(self) -> dict:
        """The parameters as one dict (camera.* with their prefix), validated."""
        sim = declare_params(self, SimParams, error=SimError)
        camera = declare_params(self, CameraParams, prefix="camera.", error=SimError)
        out = dataclasses.asdict(sim) | {f"camera.{k}": v for k, v in dataclasses.asdict(camera).items()}
        if len(out["stand_pose"]) != 4:
            raise SimError(f"parameter stand_pose={out['stand_pose']}: 4 numbers x, y, z [m], yaw [rad]")
        out["stand_pose"] = [float(v) for v in out["stand_pose"]]
        return out

    def _make_interfaces(self, p: dict) -> None:
        self.init_hardware(self.sim.robot, self.sim.contract, self._now, self.sim.joint_positions)
        self.pub_clock = self.create_publisher(ClockMsg, "/clock", qos.SENSORS) if self.mode != "realtime" else None
        self.pub_base_truth = self.create_publisher(PoseStamped, "sim/base_pose_ground_truth", qos.SENSORS)
        self.pub_object_truth = {  # the world's loose objects, for tests (as the base's truth)
            name: self.create_publisher(PoseStamped, f"sim/objects/{name}/pose_ground_truth", qos.SENSORS)
            for name in self.sim.object_poses()
        }
        cam = "head_camera"
        self.pub_color = self.create_publisher(Image, f"{cam}/color/image_raw", qos.IMAGES)
        self.pub_depth = self.create_publisher(Image, f"{cam}/depth/image_raw", qos.IMAGES)
        self.pub_color_info = self.create_publisher(CameraInfo, f"{cam}/color/camera_info", qos.SENSORS)
        self.pub_depth_info = self.create_publisher(CameraInfo, f"{cam}/depth/camera_info", qos.SENSORS)
        self.camera_cfg = (p["camera.width"], p["camera.height"], p["camera.rate_hz"], p["camera.backend"])
        self.create_service(ApplyWrench, "sim/apply_wrench", self._on_apply_wrench)
        self.create_service(Trigger, "sim/reset", self._on_sim_reset)
        self.create_service(StepSimulation, "sim/step", self._on_step)
        if self.sim.stand_actuators:  # rig only: where the stand carrying the hand should go
            self.create_subscription(PoseStamped, "sim/stand_target", self._on_stand_target, 10)
        period = self.sim.control_period_s

        def every(rate_hz: float) -> int:
            return max(1, round(1.0 / (rate_hz * period))) if rate_hz > 0 else 0

        self._every = {
            "clock": every(p["clock_rate_hz"]),
            "sensor": every(p["sensor_rate_hz"]),
            "touch": every(p["touch_rate_hz"]),
            "state": every(p["state_rate_hz"]),
            "camera": every(p["camera.rate_hz"]),
            "diag": every(1.0),
        }

    # --- time ---------------------------------------------------------------------------------
    def _now(self) -> float:
        """The hardware clock: sim time, or wall time in realtime mode."""
        if self.mode == "realtime":
            return self._wall.now().nanoseconds * 1e-9
        return self.sim.time

    # --- physics loop ---------------------------------------------------------------------------
    def _physics_loop(self) -> None:
        pin_loop_thread()  # on the deployment's `cpus`, if any (the process's other threads float)
        period = self.sim.control_period_s
        next_deadline = time.monotonic()
        window_wall, window_sim = time.monotonic(), self.sim.time
        try:
            while self._running and rclpy.ok(context=self.context):
                if self.pacer is not None:
                    held_s = self._wait_for_commanders()
                    next_deadline += held_s  # held for a commander: sim time falls behind, no catch-up
                self._step_once()
                if self.rtf_target > 0:
                    next_deadline += period / self.rtf_target
                    if next_deadline - time.monotonic() < -CATCH_UP_PERIODS * period / self.rtf_target:
                        # behind: fall back to sim time rather than step a burst of periods to catch
                        # up (a controller answering each period would see several at once and skip)
                        self._stats["overruns"] += 1
                        next_deadline = time.monotonic()
                    self.sleep_until(next_deadline)  # e-stops engage at once; commands at the next step
                now = time.monotonic()
                if now - window_wall >= 1.0:
                    self._stats["rtf"] = (self.sim.time - window_sim) / (now - window_wall)
                    window_wall, window_sim = now, self.sim.time
        except Exception as exc:  # never die silently: say why, damp, stop
            if not self._running or not self.context.ok():
                return  # shutting down: the context went away under a publish
            self.get_logger().fatal(f"physics loop stopped: {exc!r}")
            with self.lock:
                self.sim.contract.fault(f"simulation error: {exc}", self.sim.time)
            raise

    def command_accepted(self, groups, stamp_s: float) -> None:
        if self.pacer is not None:
            paced = [g for g in groups if g in self.paced_groups]
            if paced:
                with self.lock:
                    self.pacer.note(paced, stamp_s)

    def after_reset(self) -> None:
        if self.pacer is not None:
            for group, state in self.sim.stop_states().items():
                if state == StopState.ACTIVE and group in self.paced_groups:
                    self.pacer.expect(group, self.sim.time)

    def _wait_for_commanders(self) -> float:
        """Hold the next period back while a live commander lags (see forma_sim.pacing); returns
        how long it held [s, wall]: 0 when nobody lagged (the time this check itself takes is no
        hold: counted as one, it stretched every period by ~0.15 ms, the simulation at 0.92x)."""
        since = time.monotonic()
        held = False
        while self._running:
            self.take_estops()  # (wait_for_inputs wakes for one too: engaged now, not after the period)
            self.take_commands()
            with self.lock:
                for group, state in self.sim.stop_states().items():
                    if state != StopState.ACTIVE:
                        self.pacer.forget(group)
                if self.pacer.may_step(self.sim.time, time.monotonic(), self._clock_sent_s):
                    return time.monotonic() - since if held else 0.0
                held = True
                if time.monotonic() - since > 2.0:
                    self.get_logger().warning(
                        f"sim time {self.sim.time:.3f} s held over 2 s for the commanders: "
                        f"{self.pacer.describe(self.sim.time, self._clock_sent_s)}",
                        throttle_duration_sec=5.0,
                    )
            self.wait_for_inputs(0.002)
        return time.monotonic() - since

    def _step_once(self, publish_all: bool = False) -> None:
        self.take_estops()  # one that came while the loop was busy: damp before this period's physics
        self.take_commands()
        with self.lock:
            self.sim.step_control(self._now())
        self._stats["periods"] += 1
        self._publish_period_outputs(publish_all)

    def _publish_period_outputs(self, publish_all: bool = False) -> None:
        """This period's outputs; publish_all: every stream whatever its rate (the last period of
        a lockstep sim/step: the caller waits for the state it stepped to)."""
        k = self._stats["periods"]
        with self.lock:
            sim = self.sim
            stamp = to_time_msg(self._now())
            q, qd, tau = sim.joint_positions(), sim.joint_velocities(), sim.joint_efforts()
            imu = sim.imu() if "imu_orientation" in sim._sensor else None  # a hand on the stand has none
            wrenches = {s: sim.foot_wrench(s) for s in sim.sole_sites}
            due = {what: publish_all or self._due(what, k) for what in ("touch", "sensor", "state")}
            due["diag"] = self._due("diag", k)
            touch = {s: sim.fingertip_forces(s) for s in sim.touch_sensors} if due["touch"] else None
            camera_due = self._due("camera", k) and (
                self.pub_color.get_subscription_count() + self.pub_depth.get_subscription_count() > 0
            )
            if camera_due and not self._camera_event.is_set():
                self._camera_snapshot = (sim.data.qpos.copy(), sim.time if self.mode != "realtime" else self._now())
                self._camera_event.set()
        if self.pub_clock is not None and (self._due("clock", k) or self.mode == "lockstep"):
            self.pub_clock.publish(ClockMsg(clock=stamp))
            self._clock_sent_s = stamp.sec + stamp.nanosec * 1e-9  # (pacing: what sim-time nodes can know)
        imu_values = None if imu is None else (imu.orientation_wxyz, imu.angular_velocity, imu.linear_acceleration)
        self.publish_period(stamp, q, qd, tau, imu_values, wrenches, standard=due["sensor"])
        if touch is not None:
            for side, forces in touch.items():
                self.publish_touch(stamp, side, forces)
        if due["state"]:
            self.publish_hardware_state(stamp)
            self._publish_base_truth(stamp)
        if due["diag"]:
            self._publish_diagnostics(stamp)

    def _due(self, what: str, k: int) -> bool:
        every = self._every[what]
        return every > 0 and k % every == 0

    def _publish_base_truth(self, stamp: Time) -> None:
        """Ground truth for whoever listens (tests, benches, the console's view): a topic nobody
        reads is skipped (the tabletop's objects were 300 messages a second for nobody)."""
        base_read = self.pub_base_truth.get_subscription_count() > 0
        objects_read = [n for n, pub in self.pub_object_truth.items() if pub.get_subscription_count() > 0]
        if not base_read and not objects_read:
            return
        with self.lock:
            base = self.sim.base_pose()
            objects = self.sim.object_poses() if objects_read else {}
        if base_read:
            self.pub_base_truth.publish(_world_pose(stamp, *base))
        for name in objects_read:
            if name in objects:
                self.pub_object_truth[name].publish(_world_pose(stamp, *objects[name]))

    def _publish_diagnostics(self, stamp: Time) -> None:
        with self.lock:
            warnings = self.sim.warnings()
            step_us = self.sim.step_time_us()
        s = self._stats
        physics = DiagnosticStatus(
            name=f"{self.get_name()}: physics",
            hardware_id=self.hardware_id,
            level=DiagnosticStatus.WARN if warnings else DiagnosticStatus.OK,
            message=f"real-time factor {s['rtf']:.2f}" + (f"; MuJoCo warnings {warnings}" if warnings else ""),
            values=key_values(
                (
                    ("sim_time_s", f"{self.sim.time:.3f}"),
                    ("real_time_factor", f"{s['rtf']:.3f}"),
                    ("overruns", s["overruns"]),
                    ("physics_step_us", f"{step_us:.0f}"),
                    ("camera_frames", s["frames"]),
                    ("camera_render_ms", f"{s['render_ms']:.1f}"),
                    ("periods_held_for_commanders", self.pacer.waits if self.pacer else 0),
                    ("commanders_taken_as_stopped", self.pacer.gave_up if self.pacer else 0),
                )
            ),
        )
        self.publish_diagnostics(stamp, [physics])

    # --- camera ------------------------------------------------------------------------------------
    def _camera_loop(self) -> None:
        import mujoco

        from forma_sim.camera import RgbdCamera

        below_the_loop()  # in a real-time process: preempted by the physics loop, not by the crowd (the GIL)
        width, height, rate, backend = self.camera_cfg
        # The renderer is made now, at start, not when the first subscriber appears: making it
        # (GL context, model upload) stalled the physics thread for ~0.3 s mid-run (measured: a
        # 337 ms hole in joint_states when a recorder subscribed to the camera).
        try:
            camera = RgbdCamera(self.sim.model, self.robot.prefix + "head_camera", width, height, backend)
            render_data = mujoco.MjData(self.sim.model)
            self._camera_info = self._make_camera_info(camera.intrinsics())
        except SimError as exc:
            self.get_logger().error(f"head camera disabled: {exc}")
            return
        finally:
            self._camera_ready.set()
        while self._running:
            if not self._camera_event.wait(timeout=0.2) or not self._running:
                continue
            qpos, t = self._camera_snapshot
            try:
                render_data.qpos[:] = qpos
                mujoco.mj_kinematics(self.sim.model, render_data)
                mujoco.mj_camlight(self.sim.model, render_data)
                t0 = time.monotonic()
                rgb, depth = camera.render(render_data)
                self._stats["render_ms"] = (time.monotonic() - t0) * 1e3
            except SimError as exc:
                self.get_logger().error(f"head camera disabled: {exc}", once=True)
                self._camera_event.clear()
                continue
            self._stats["frames"] += 1
            stamp = to_time_msg(t)
            frame = self.robot.prefix + "head_camera_color_optical_frame"
            color = Image(height=height, width=width, encoding="rgb8", is_bigendian=0, step=width * 3)
            color.header.stamp, color.header.frame_id = stamp, frame
            color.data = rgb.tobytes()
            depth_msg = Image(height=height, width=width, encoding="32FC1", is_bigendian=0, step=width * 4)
            depth_msg.header.stamp, depth_msg.header.frame_id = stamp, frame
            depth_msg.data = depth.tobytes()
            info = self._camera_info
            info.header.stamp, info.header.frame_id = stamp, frame
            self.pub_color.publish(color)
            self.pub_color_info.publish(info)
            self.pub_depth.publish(depth_msg)
            self.pub_depth_info.publish(info)
            self._camera_event.clear()
        if camera is not None:
            camera.close()

    @staticmethod
    def _make_camera_info(k) -> CameraInfo:
        info = CameraInfo(width=k.width, height=k.height, distortion_model="plumb_bob")
        info.d = [0.0] * 5
        info.k = [k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0]
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = [k.fx, 0.0, k.cx, 0.0, 0.0, k.fy, k.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
        return info

    # --- commands and services ---------------------------------------------------------------------
    def _on_apply_wrench(self, request: ApplyWrench.Request, response: ApplyWrench.Response):
        f, t = request.wrench.force, request.wrench.torque
        try:
            with self.lock:
                self.sim.apply_wrench(request.body, (f.x, f.y, f.z), (t.x, t.y, t.z), request.duration_s)
        except SimError as exc:
            response.success, response.message = False, str(exc)
            return response
        response.success, response.message = True, f"pushing {request.body} for {request.duration_s:.3f} s"
        return response

    def _on_sim_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """Back to the start (Simulation.restart): the world as loaded, the robot at its initial
        pose, the simulated hardware as at power-on. Refused while the e-stop is engaged: the
        supervisor that engaged it would engage it again at once (safety/reset releases it)."""
        with self.lock:
            if self.contract.estop_engaged:
                response.success = False
                response.message = (
                    "refused: the e-stop is engaged; release it first (safety/reset, or safety/estop false then "
                    "safety/reset), then call sim/reset again; the console's Reset simulation button does both"
                )
            else:
                self.sim.restart()
                if self.sim.stand_actuators:
                    self.sim.set_stand(*self._stand_pose, jump=True)
                self.contract = self.sim.contract
                if self.pacer is not None:
                    for group in self.sim.stop_states():
                        self.pacer.forget(group)
                response.success = True
                response.message = (
                    f"world and robot back at the start (pose {self.initial_pose!r}); the hardware holds it "
                    "until reset (the safety supervisor stands it up)"
                )
        self.get_logger().warning(f"sim/reset: {response.message}")
        if response.success:
            self.publish_hardware_state(to_time_msg(self._now()))
        return response

    def _on_stand_target(self, msg: PoseStamped) -> None:
        """Servo the rig's stand to a world position [m] and yaw [rad] (from the orientation)."""
        p, o = msg.pose.position, msg.pose.orientation
        yaw = math.atan2(2.0 * (o.w * o.z + o.x * o.y), 1.0 - 2.0 * (o.y * o.y + o.z * o.z))
        try:
            with self.lock:
                self.sim.set_stand(p.x, p.y, p.z, yaw)
        except SimError as exc:
            self.get_logger().warn(f"sim/stand_target refused: {exc}")

    def _on_step(self, request: StepSimulation.Request, response: StepSimulation.Response):
        if self.mode != "lockstep":
            response.success, response.message = False, f"sim/step only works in lockstep mode (mode is {self.mode})"
        elif request.periods > 100_000:
            response.success, response.message = False, "periods must be <= 100000 per call"
        else:
            for k in range(request.periods):
                self._step_once(publish_all=k == request.periods - 1)
            response.success, response.message = True, f"stepped {request.periods} periods"
        response.sim_time_s = self.sim.time
        return response

    # --- shutdown --------------------------------------------------------------------------------
    def destroy_node(self) -> None:
        self._running = False
        self._camera_event.set()
        self.wake_loop()
        for thread in (self._physics_thread, self._camera_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=2.0)
        super().destroy_node()


def _world_pose(stamp: Time, position, quat_wxyz) -> PoseStamped:
    truth = PoseStamped()
    truth.header.stamp, truth.header.frame_id = stamp, "world"
    truth.pose.position.x, truth.pose.position.y, truth.pose.position.z = (float(v) for v in position)
    o = truth.pose.orientation
    o.w, o.x, o.y, o.z = (float(v) for v in quat_wxyz)
    return truth


def main(args=None) -> None:
    """Run the sim node alone: `ros2 run forma_sim sim_node` / `sim_node` in the venv."""
    run_node(SimNode, (SimError, DescriptionError, HardwareError), args)


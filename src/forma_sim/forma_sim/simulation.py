"""The simulation core: MuJoCo physics behind the hardware contract, with no ROS in sight.

One control period = `substeps` physics steps. At each period the contract's watchdogs run and
its actuator setpoints (kp, kd, targets, feed-forward) are written into MuJoCo's actuators, which
then apply the PD law at every physics step, torques clipped to the effort limits, like a motor
driver. The sim node and the lockstep harness both drive this class.
"""

from __future__ import annotations

import dataclasses
import math

import mujoco
import numpy as np

from forma_description import RobotModel
from forma_description.mjcf import FREE_JOINT, STAND_JOINTS
from forma_description.robot_model import FINGERS
from forma_hardware import HardwareContract, JointCommand
from forma_hardware.config import HardwareConfig
from forma_hardware.stop_latch import StopState
from forma_sim.errors import SimError

MAX_PUSH_FORCE_N = 2000.0


def _has(accessor, name: str) -> bool:
    """Does the model have an element of this name? (MuJoCo's named accessors raise KeyError.)"""
    try:
        accessor(name)
        return True
    except KeyError:
        return False


MAX_PUSH_DURATION_S = 5.0


@dataclasses.dataclass(frozen=True)
class ImuReading:
    orientation_wxyz: np.ndarray  # base orientation in the world frame
    angular_velocity: np.ndarray  # [rad/s], IMU frame
    linear_acceleration: np.ndarray  # specific force [m/s^2], IMU frame (+9.81 z at rest)


@dataclasses.dataclass
class _Push:
    body_id: int
    wrench: np.ndarray  # force [N], torque [N m] in the world frame
    until_s: float


class Simulation:
    """MuJoCo model + data + hardware contract for one robot in one world."""

    def __init__(
        self,
        robot: RobotModel,
        model: mujoco.MjModel,
        hardware: HardwareConfig,
        control_rate_hz: float = 500.0,
        initial_pose: np.ndarray | None = None,
        startup_state: StopState = StopState.HOLD,
        external_actuation: bool = False,
    ) -> None:
        self.robot = robot
        self.external_actuation = external_actuation
        self.model = model
        self.data = mujoco.MjData(model)
        physics_hz = 1.0 / model.opt.timestep
        ratio = physics_hz / control_rate_hz
        if ratio < 1 or abs(ratio - round(ratio)) > 1e-6:
            raise SimError(
                f"physics rate {physics_hz:.0f} Hz must be a whole multiple of the control rate "
                f"{control_rate_hz:.0f} Hz"
            )
        self.substeps = int(round(ratio))
        self.control_period_s = 1.0 / control_rate_hz
        names = robot.joint_names
        self.actuator_ids = np.array([model.actuator(n).id for n in names])
        joint_ids = [model.joint(n).id for n in names]
        self.qpos_adr = np.array([model.jnt_qposadr[j] for j in joint_ids])
        self.dof_adr = np.array([model.jnt_dofadr[j] for j in joint_ids])
        self.base_body = model.body(robot.root_link).id
        # A humanoid floats (free joint); a hand on a stand has none. Sensors exist where the
        # description has their frames.
        self.floating = _has(model.joint, robot.prefix + FREE_JOINT)
        if self.floating:
            free = model.joint(robot.prefix + FREE_JOINT)
            self.base_qpos_adr, self.base_dof_adr = free.qposadr[0], free.dofadr[0]
        p = robot.prefix
        self._sensor = {
            s: model.sensor(p + s) for s in ("imu_orientation", "imu_gyro", "imu_accel") if _has(model.sensor, p + s)
        }
        for side in ("left", "right"):
            for what in ("force", "torque"):
                if _has(model.sensor, f"{p}{side}_foot_{what}"):
                    self._sensor[f"{side}_{what}"] = model.sensor(f"{p}{side}_foot_{what}")
        self.touch_sensors = {
            side: [model.sensor(f"{p}{side}_{f}_touch") for f in FINGERS]
            for side in ("left", "right")
            if _has(model.sensor, f"{p}{side}_thumb_touch")
        }
        self.sole_sites = {
            side: model.site(f"{p}{side}_sole").id for side in ("left", "right") if _has(model.site, f"{p}{side}_sole")
        }
        self.stand_actuators = [model.actuator(n).id for n in STAND_JOINTS if _has(model.actuator, n)]
        self.effort_limit = robot.limits_arrays()["effort"]
        self.initial_pose = np.zeros(len(names)) if initial_pose is None else np.asarray(initial_pose, float)
        self.reset(self.initial_pose)
        self._hardware, self._startup_state = hardware, startup_state
        self.contract = self._power_on_contract()
        self._applied_version = -1
        self._pushes: list[_Push] = []
        self._write_actuators()

    def _power_on_contract(self) -> HardwareContract:
        """The hardware contract as the robot powers on: every group in startup_state, holding
        the initial pose, no e-stop, no counts."""
        robot = self.robot
        return HardwareContract(
            robot.joint_names,
            [j.kind for j in robot.joints],
            [j.group for j in robot.joints],
            robot.limits_arrays(),
            self._hardware.gains,
            self._hardware.watchdogs,
            self._hardware.gate,
            startup_state=self._startup_state,
            initial_positions=self.initial_pose,
            now_s=self.time,
        )

    def restart(self) -> None:
        """Back to the start: the world as loaded (objects at their places), the robot at rest in
        its initial pose on the floor, the simulated hardware as at power-on (startup_state, no
        e-stop). Sim time runs on: nodes in sim time never see the clock jump back."""
        t = self.time
        self.reset(self.initial_pose)
        self.data.time = t
        mujoco.mj_forward(self.model, self.data)
        self.contract = self._power_on_contract()
        self._applied_version = -1
        self._write_actuators()

    # --- set-up ---------------------------------------------------------------------------
    def reset(
        self, joint_positions: np.ndarray, base_xy: tuple[float, float] = (0.0, 0.0), base_yaw: float = 0.0
    ) -> None:
        """Put the robot in a pose at rest; a floating robot stands with its soles on the floor,
        centred on base_xy (so a pose that leans the pelvis forward keeps the feet where another
        pose has them: the worlds place the table relative to the feet)."""
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[self.qpos_adr] = joint_positions
        if self.floating:
            a = self.base_qpos_adr
            d.qpos[a : a + 3] = (base_xy[0], base_xy[1], 1.0)
            d.qpos[a + 3 : a + 7] = (math.cos(base_yaw / 2), 0.0, 0.0, math.sin(base_yaw / 2))
            mujoco.mj_kinematics(m, d)
            if self.sole_sites:
                soles = np.array([d.site_xpos[s] for s in self.sole_sites.values()])
                d.qpos[a : a + 2] -= soles[:, :2].mean(axis=0) - np.asarray(base_xy, float)
                d.qpos[a + 2] -= soles[:, 2].min()
        mujoco.mj_forward(m, d)
        self._pushes = []

    def set_stand(self, x: float, y: float, z: float, yaw: float = 0.0, jump: bool = False) -> None:
        """Rig only: servo the stand carrying the robot's root to (x, y, z [m], yaw [rad]);
        jump=True puts it there at once (setting up a trial)."""
        if not self.stand_actuators:
            raise SimError("this model has no stand (build it with base='stand')")
        values = np.array([x, y, z, yaw], float)
        if not np.all(np.isfinite(values)):
            raise SimError("stand target must be finite")
        self.data.ctrl[self.stand_actuators] = values
        if jump:
            joints = [self.model.actuator_trnid[a, 0] for a in self.stand_actuators]
            self.data.qpos[[self.model.jnt_qposadr[j] for j in joints]] = values
            self.data.qvel[[self.model.jnt_dofadr[j] for j in joints]] = 0.0
            mujoco.mj_forward(self.model, self.data)

    # --- commands -------------------------------------------------------------------------
    def submit(self, command: JointCommand) -> None:
        """Hand a command to the hardware contract (raises CommandRejected with the reason)."""
        self.contract.submit(command, self.time)

    def apply_wrench(self, body: str, force_n, torque_nm, duration_s: float) -> None:
        """Push a body with a world-frame wrench at its centre of mass for duration_s [s]."""
        try:
            body_id = self.model.body(body).id
        except KeyError:
            raise SimError(f"unknown body {body!r}; e.g. torso, base_link, head, red_cup") from None
        wrench = np.concatenate([np.asarray(force_n, float), np.asarray(torque_nm, float)])
        if wrench.shape != (6,) or not np.all(np.isfinite(wrench)):
            raise SimError("wrench must be 3 finite force and 3 finite torque components")
        if np.linalg.norm(wrench[:3]) > MAX_PUSH_FORCE_N:
            raise SimError(f"force {np.linalg.norm(wrench[:3]):.0f} N exceeds {MAX_PUSH_FORCE_N:.0f} N")
        if not (math.isfinite(duration_s) and 0.0 < duration_s <= MAX_PUSH_DURATION_S):
            raise SimError(f"duration {duration_s} s outside (0, {MAX_PUSH_DURATION_S}] s")
        self._pushes.append(_Push(body_id, wrench, self.time + duration_s))

    # --- stepping -------------------------------------------------------------------------
    def step_control(self, contract_now_s: float | None = None) -> None:
        """Advance one control period: watchdogs, actuator setpoints, pushes, physics substeps.

        contract_now_s is the hardware clock for the watchdogs (default: sim time; the sim node
        passes wall time in realtime mode, where commands are stamped with wall time). With
        external actuation (the actuator emulator) the contract is bypassed: the emulated motor
        firmware writes the actuators through write_actuators().
        """
        if not self.external_actuation:
            self.contract.tick(self.time if contract_now_s is None else contract_now_s, self.joint_positions())
            self._write_actuators()
        self._apply_pushes()
        mujoco.mj_step(self.model, self.data, nstep=self.substeps)

    def write_actuators(self, kp, kd, position, velocity, effort, torque_limit=None) -> None:
        """Set every joint's PD law directly (joint order, joint units): for emulated motor
        firmware. torque_limit [N m] replaces the clipping range (never above the effort limit)."""
        ids = self.actuator_ids
        self.model.actuator_biasprm[ids, 1] = -np.asarray(kp)
        self.model.actuator_biasprm[ids, 2] = -np.asarray(kd)
        self.data.ctrl[ids] = np.asarray(kp) * position + np.asarray(kd) * velocity + np.asarray(effort)
        if torque_limit is not None:
            limit = np.minimum(np.asarray(torque_limit), self.effort_limit)
            self.model.actuator_forcerange[ids, 0] = -limit
            self.model.actuator_forcerange[ids, 1] = limit

    def run(self, seconds: float, controller=None) -> None:
        """Step for `seconds` of sim time; controller(sim) is called before every period."""
        for _ in range(int(round(seconds / self.control_period_s))):
            if controller is not None:
                controller(self)
            self.step_control()

    def _write_actuators(self) -> None:
        sp = self.contract.setpoints()
        if sp.version == self._applied_version:
            return
        ids = self.actuator_ids
        self.model.actuator_biasprm[ids, 1] = -sp.kp
        self.model.actuator_biasprm[ids, 2] = -sp.kd
        self.data.ctrl[ids] = sp.kp * sp.position + sp.kd * sp.velocity + sp.effort
        self._applied_version = sp.version

    def _apply_pushes(self) -> None:
        xfrc = self.data.xfrc_applied
        xfrc[:] = 0.0
        now = self.time
        self._pushes = [p for p in self._pushes if p.until_s > now]
        for p in self._pushes:
            xfrc[p.body_id] += p.wrench

    # --- state ------------------------------------------------------------------------------
    @property
    def time(self) -> float:
        return float(self.data.time)

    def joint_positions(self) -> np.ndarray:
        return self.data.qpos[self.qpos_adr].copy()

    def joint_velocities(self) -> np.ndarray:
        return self.data.qvel[self.dof_adr].copy()

    def joint_efforts(self) -> np.ndarray:
        """Actuator torques [N m] as applied (after clipping to the effort limits)."""
        return self.data.actuator_force[self.actuator_ids].copy()

    def imu(self) -> ImuReading:
        s = self._sensor
        return ImuReading(
            self.data.sensordata[s["imu_orientation"].adr[0] : s["imu_orientation"].adr[0] + 4].copy(),
            self._read(s["imu_gyro"]),
            self._read(s["imu_accel"]),
        )

    def foot_wrench(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """Force [N] and torque [N m] the foot passes to the leg, at and in the {side}_sole frame.

        Standing still, force z is about the load on this foot (positive up).
        """
        return -self._read(self._sensor[f"{side}_force"]), -self._read(self._sensor[f"{side}_torque"])

    def fingertip_forces(self, side: str) -> np.ndarray:
        """Normal contact force on each fingertip [N], in FINGERS order."""
        return np.array([self.data.sensordata[s.adr[0]] for s in self.touch_sensors[side]])

    def base_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Ground-truth pose of the root link [m], (w, x, y, z) in the world frame.

        For visualisation and tests only: controllers estimate the base from the IMU and legs.
        """
        if self.floating:
            a = self.base_qpos_adr
            return self.data.qpos[a : a + 3].copy(), self.data.qpos[a + 3 : a + 7].copy()
        return self.data.xpos[self.base_body].copy(), self.data.xquat[self.base_body].copy()

    def object_poses(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Ground-truth poses of the world's loose objects (bodies on a free joint other than the
        robot's root) [m], (w, x, y, z) in the world frame. For tests and acceptance trials only."""
        d = self.data
        return {name: (d.xpos[body].copy(), d.xquat[body].copy()) for name, body in self._loose_bodies()}

    def _loose_bodies(self) -> list[tuple[str, int]]:
        if not hasattr(self, "_loose"):  # the model's bodies never change: found once
            m = self.model
            self._loose = [
                (m.body(int(m.jnt_bodyid[j])).name, int(m.jnt_bodyid[j]))
                for j in range(m.njnt)
                if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE
                and not (self.floating and m.jnt_qposadr[j] == self.base_qpos_adr)
            ]
        return self._loose

    def stop_states(self) -> dict[str, StopState]:
        return {g: st.state for g, st in self.contract.latch.groups.items()}

    def warnings(self) -> dict[str, int]:
        """MuJoCo warnings raised so far (name -> count); a healthy model has none."""
        out = {}
        for i, w in enumerate(self.data.warning):
            if w.number:
                out[mujoco.mjtWarning(i).name] = int(w.number)
        return out

    def step_time_us(self) -> float:
        """Mean CPU time of one physics step since the last call [us] (MuJoCo's own timer; nan
        when no step ran): what the physics itself costs, apart from the node around it."""
        timer = self.data.timer[int(mujoco.mjtTimer.mjTIMER_STEP)]
        duration, number = float(timer.duration), int(timer.number)
        last_duration, last_number = getattr(self, "_step_timer_last", (0.0, 0))
        self._step_timer_last = (duration, number)
        if number <= last_number:
            return math.nan
        return (duration - last_duration) / (number - last_number) * 1e6

    def _read(self, sensor) -> np.ndarray:
        adr, dim = sensor.adr[0], sensor.dim[0]
        return self.data.sensordata[adr : adr + dim].copy()


def build_simulation(
    world: str = "tabletop",
    body: str = "male",
    height_m: float = 1.73,
    mass_kg: float = 65.0,
    physics_rate_hz: float = 500.0,
    control_rate_hz: float = 500.0,
    hardware_config: str | None = None,
    pose: str = "stand",
    startup_state: StopState = StopState.HOLD,
    external_actuation: bool = False,
) -> Simulation:
    """The robot of the given body form in a world, standing in a named pose."""
    from forma_description import expand_description
    from forma_description.poses import named_pose
    from forma_hardware.config import load_hardware_config
    from forma_sim.scene import build_model

    robot = RobotModel.from_urdf(expand_description(body, height_m, mass_kg))
    model = build_model(robot, world, physics_rate_hz)
    return Simulation(
        robot,
        model,
        load_hardware_config(hardware_config),
        control_rate_hz,
        named_pose(pose, robot),
        startup_state,
        external_actuation,
    )


# How the rig's stand carries the hand (roll, pitch, yaw of the palm frame on the stand [rad]):
#   palm_down: palm facing down, fingers forward (+x): a grasp from above.
#   palm_side: palm facing forward (+x), thumb up, fingers across (right hand: toward -y, left: +y):
#              a grasp from the side, the fingers wrapping around an upright object.
HAND_ORIENTATIONS = {
    "palm_down": {"right": (-math.pi / 2, 0.0, math.pi / 2), "left": (math.pi / 2, 0.0, math.pi / 2)},
    "palm_side": {"right": (0.0, -math.pi / 2, -math.pi / 2), "left": (0.0, -math.pi / 2, math.pi / 2)},
}
PALM_DOWN_RPY = HAND_ORIENTATIONS["palm_down"]


def build_hand_simulation(
    side: str = "right",
    world: str = "hand_stand",
    body: str = "male",
    physics_rate_hz: float = 500.0,
    control_rate_hz: float = 500.0,
    hardware_config: str | None = None,
    orientation: str = "palm_down",
) -> Simulation:
    """One hand of the robot on a positioning stand, fingers open (the `zero` pose), held in one
    of HAND_ORIENTATIONS (the stand turns only about z: a grasp from above and one from the side
    need different mounts)."""
    from forma_description import expand_description
    from forma_description.mjcf import MjcfOptions
    from forma_description.subtree import hand_urdf
    from forma_hardware.config import load_hardware_config
    from forma_sim.scene import build_model

    if orientation not in HAND_ORIENTATIONS:
        raise SimError(f"hand orientation {orientation!r}; valid: {', '.join(HAND_ORIENTATIONS)}")
    if side not in ("left", "right"):
        raise SimError(f"hand side {side!r}; valid: left, right")
    robot = RobotModel.from_urdf(hand_urdf(expand_description(body), side))
    options = MjcfOptions(base="stand", stand_rpy=HAND_ORIENTATIONS[orientation][side])
    model = build_model(robot, world, physics_rate_hz, options)
    return Simulation(robot, model, load_hardware_config(hardware_config), control_rate_hz, None, StopState.HOLD)

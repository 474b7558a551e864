"""The safety supervisor in the lockstep harness (forma_sim.lockstep): the same core and fall
detector as the supervisor node, with the hardware services carried out directly on the
simulation's hardware contract and the sensors read from what the hardware topics carry
(joint states, IMU, foot wrenches — never the simulator's ground truth).

Requests (e-stop, reset, set_mode) are queued and handled at the supervisor's next period, as the
node handles a message at its next callback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from forma_control.safety.fall_detection import BalanceModel, BalanceSample, FallDetector, FallLimits, FallVerdict
from forma_control.safety.supervisor import (
    DampHardware,
    EngageEStop,
    HardwareView,
    Mode,
    ReleaseEStop,
    Reply,
    ResetHardware,
    Supervisor,
    SupervisorConfig,
    Transition,
)
from forma_description.poses import named_pose
from forma_hardware import JointCommand


class LockstepSupervisor:
    """A lockstep controller (call it every control period): supervisor + fall detector.

    active_controller, if given, commands while the mode is ACTIVE (the WBC's place)."""

    def __init__(
        self,
        sim,
        config: SupervisorConfig = SupervisorConfig(),
        limits: FallLimits = FallLimits(),
        pose: str = "stand",
        groups: Sequence[str] = ("body",),
        active_controller: Callable | None = None,
        detect_falls: bool = True,
    ) -> None:
        robot = sim.robot
        self.sim = sim
        self.index = np.array([i for i, j in enumerate(robot.joints) if j.group in groups])
        names = [robot.joint_names[i] for i in self.index]
        limits_arr = robot.limits_arrays()
        self.core = Supervisor(
            config,
            names,
            named_pose(pose, robot)[self.index],
            limits_arr["lower"][self.index],
            limits_arr["upper"][self.index],
            groups,
            sim.time,
        )
        self.detector = FallDetector(BalanceModel(robot.urdf_xml, robot.prefix), limits)
        self.active_controller = active_controller
        self.detect_falls = detect_falls  # False: a baseline run with the supervisor blind to falls
        self.pending: list[Callable[[], Reply]] = []
        self.replies: list[Reply] = []
        self.log: list[Transition] = []
        self.verdicts: list[FallVerdict] = []
        self.last_command: JointCommand | None = None
        self.armed_last = False

    # --- requests (queued, as messages and service calls are) -----------------------------------
    def estop(self, engage: bool = True, reason: str = "test") -> None:
        self.pending.append(lambda: self.core.request_estop(engage, reason, self.sim.time))

    def reset(self) -> None:
        self.pending.append(lambda: self.core.request_reset(self.sim.time))

    def set_mode(self, mode: int, reason: str = "test") -> None:
        self.pending.append(lambda: self.core.request_mode(mode, reason, self.sim.time))

    @property
    def mode(self) -> Mode:
        return self.core.mode

    # --- the controller -------------------------------------------------------------------------
    def __call__(self, sim) -> JointCommand | None:
        now = sim.time
        for request in self.pending:
            reply = request()
            self.replies.append(reply)
            self._execute(reply.actions)
        self.pending.clear()
        self._execute(self.core.hardware_state(self._hardware_view(), now))
        fall, upright = self._fall(sim)
        st = self.detector.last_state
        actions, command = self.core.tick(
            now,
            sim.joint_positions()[self.index],
            (),
            fall,
            upright,
            body_rate_rad_s=st.tilt_rate_rad_s,
            lying=st.tilt_rad > self.detector.limits.tilt_limit_rad,
        )
        self._execute(actions)
        self.log += self.core.drain_transitions()
        if self.core.mode == Mode.ACTIVE and self.active_controller is not None:
            command = self.active_controller(sim)
        self.last_command = command if self.core.commanding else None
        return command

    def _fall(self, sim) -> tuple[FallVerdict | None, bool]:
        armed = self.core.fall_detection_armed
        if armed and not self.armed_last:
            self.detector.reset()
        self.armed_last = armed
        imu = sim.imu()
        sample = BalanceSample(
            stamp_s=sim.time,
            joint_names=sim.robot.joint_names,
            joint_positions=sim.joint_positions(),
            joint_velocities=sim.joint_velocities(),
            orientation_wxyz=imu.orientation_wxyz,
            angular_velocity_imu=imu.angular_velocity,
            foot_force_z_n={side: float(sim.foot_wrench(side)[0][2]) for side in ("left", "right")},
        )
        if armed and self.detect_falls:
            verdict = self.detector.update(sample)
            if verdict is not None:
                self.verdicts.append(verdict)
        else:
            self.detector.evaluate(sample)
            verdict = None
        st = self.detector.last_state
        upright = st.tilt_rad < self.detector.limits.tilt_limit_rad and len(st.loaded_feet) == 2
        return verdict, upright

    def _hardware_view(self) -> HardwareView:
        states = self.sim.contract.group_states()
        return HardwareView(
            stop_states={g: s for g, (s, _, _) in states.items()},
            reasons={g: r for g, (_, _, r) in states.items()},
            estop_engaged=self.sim.contract.estop_engaged,
            stamp_s=self.sim.time,
            causes=self.sim.contract.group_causes(),
        )

    def _execute(self, actions) -> None:
        contract, now = self.sim.contract, self.sim.time
        for action in actions:
            if isinstance(action, EngageEStop):
                contract.estop(True, action.reason, now)
            elif isinstance(action, ReleaseEStop):
                contract.estop(False, action.reason, now)
            elif isinstance(action, DampHardware):
                contract.estop(True, action.reason, now)
                contract.estop(False, action.reason, now)
            elif isinstance(action, ResetHardware):
                ok, message, _ = contract.reset(now, self.sim.joint_positions())
                self._execute(self.core.reset_done(ok, message, now))

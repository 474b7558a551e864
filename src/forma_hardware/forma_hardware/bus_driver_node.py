"""The motor-bus driver node: the "hardware" of DESIGN §4 on the real robot. Same topics and
services as the MuJoCo sim (forma_hardware.hardware_node), plus hardware/calibrate and
battery_state. The cycle runs in its own thread, paced to the wall clock (a real robot has no
sim time); cameras come from their vendors' drivers (see README).
"""

from __future__ import annotations

import dataclasses
import pathlib
import threading
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from sensor_msgs.msg import BatteryState
from std_srvs.srv import Trigger

from forma_common import qos
from forma_common.messages import key_values, to_time_msg
from forma_common.node import declare_params, run_node
from forma_common.params import param
from forma_common.scheduling import pin_loop_thread
from forma_description import DescriptionError, RobotModel, expand_description
from forma_description.poses import named_pose
from forma_hardware.bus.driver import BusDriver
from forma_hardware.bus.io import open_bus
from forma_hardware.bus.load import bus_load
from forma_hardware.bus.mapping import Calibration, calibrate
from forma_hardware.bus.topology import bus_names, bus_overrides, load_topology
from forma_hardware.config import load_hardware_config
from forma_hardware.errors import HardwareConfigError, HardwareError
from forma_hardware.hardware_node import HardwareNode
from forma_hardware.stop_latch import StopState

DEFAULT_CALIBRATION = pathlib.Path.home() / ".forma" / "calibration.yaml"


@dataclasses.dataclass(frozen=True)
class BusDriverParams:
    body: str = param("male", "body form of the robot description")
    height_m: float = param(1.73, "standing height", unit="m", low=0.5, high=2.5)
    mass_kg: float = param(65.0, "total mass", unit="kg", low=5.0, high=300.0)
    topology_file: str = param("", "bus topology; empty = share/forma_hardware/actuators.yaml")
    buses: list[str] = param(
        [""], "buses this process drives (empty = all); split buses across processes to hold the rate"
    )
    interface: str = param("", "override every bus's python-can interface (udp_multicast: the actuator emulator)")
    multicast_base: str = param("239.74.163.", "with interface udp_multicast: bus k on group <base><k+1>")
    control_rate_hz: float = param(
        500.0, "body cycle rate; buses with a lower rate_hz run every n-th cycle", unit="Hz", low=10.0, high=1000.0
    )
    sensor_rate_hz: float = param(
        100.0,
        "rate of joint_states, imu/data and feet wrenches (at most every cycle); hardware/robot_state goes out "
        "every cycle",
        unit="Hz",
        low=0.1,
        high=1000.0,
    )
    bus_rates: list[str] = param([""], "BUS=RATE_HZ overrides of actuators.yaml, e.g. left_hand=10")
    hardware_config: str = param("", "gains, watchdogs, gate; empty = share/forma_hardware/hardware.yaml")
    calibration_file: str = param(str(DEFAULT_CALIBRATION), "zero offsets written by hardware/calibrate")
    require_calibration: bool = param(True, "refuse reset until a calibration file exists")
    calibration_pose: str = param("zero", "named pose the robot is held in during calibration")
    startup_state: str = param(
        "damp", "stop state at start: damp (robot in its gantry) or hold", choices=("damp", "hold")
    )
    silent_cycles: int = param(
        0, "missed replies in a row that make a motor faulty; 0 = actuators.yaml's faults", low=0, high=10000
    )


class BusDriverNode(HardwareNode):
    """Drives the robot's motor buses through the hardware contract."""

    PARAMS = (BusDriverParams,)

    def __init__(self, node_name: str = "bus_driver", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.hardware_id = "motor_buses"
        p = dataclasses.asdict(declare_params(self, BusDriverParams, error=HardwareConfigError))
        self.sensor_every = max(1, round(p["control_rate_hz"] / p["sensor_rate_hz"]))  # at most every cycle
        robot = RobotModel.from_urdf(expand_description(p["body"], p["height_m"], p["mass_kg"], hardware="topic"))
        names = bus_names(p["topology_file"] or None)
        topology = load_topology(
            robot, p["topology_file"] or None, bus_overrides(p["interface"], p["multicast_base"], names)
        )
        if p["silent_cycles"]:
            faults = dataclasses.replace(topology.faults, silent_cycles=p["silent_cycles"])
            topology = dataclasses.replace(topology, faults=faults)
        wanted = [b for b in p["buses"] if b] or [b.name for b in topology.buses]
        self.calibration_path = pathlib.Path(p["calibration_file"]).expanduser()
        self.calibrated = self.calibration_path.is_file()
        calibration = Calibration.load(self.calibration_path) if self.calibrated else Calibration({})
        self.require_calibration = p["require_calibration"]
        self.calibration_pose = p["calibration_pose"]
        named_pose(self.calibration_pose, robot)  # fail now, not at calibration time
        ports = {}
        for name in wanted:
            b = topology.bus(name)
            try:
                ports[name] = open_bus(b)
            except Exception as exc:  # python-can raises various errors for a missing interface
                raise HardwareConfigError(
                    f"bus {name}: cannot open {b.interface} {b.channel}: {exc} (is the CAN interface up? "
                    "`ip link set can0 up type can bitrate 1000000 dbitrate 5000000 fd on`)"
                ) from exc
        self.driver = BusDriver(
            robot,
            topology,
            load_hardware_config(p["hardware_config"] or None),
            ports,
            calibration,
            p["control_rate_hz"],
            startup_state=StopState.DAMP,
            now_s=time.time(),
        )
        missing = self.driver.enable_motors()
        if missing:
            self.get_logger().error(
                f"{len(missing)} motor(s) did not answer 'enter motor mode': {', '.join(missing[:6])}"
            )
        if p["startup_state"] == "hold" and not missing:
            self.driver.hold_current_pose(time.time())
        self.init_hardware(
            robot, self.driver.contract, time.time, lambda: self.driver.q.copy(), self.driver.joint_names
        )
        self.pub_battery = self.create_publisher(BatteryState, "battery_state", qos.SENSORS)
        self.create_service(Trigger, "hardware/calibrate", self._on_calibrate)
        self.loads = {name: bus_load(topology.bus(name)) for name in wanted}
        self.durations: list[float] = []
        self.overruns = 0
        self.all_up = False
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="bus_cycle", daemon=True)
        self._thread.start()
        self.get_logger().info(
            f"driving {len(self.driver.joint_names)} joints on {', '.join(wanted)} at {p['control_rate_hz']:.0f} Hz"
            + ("" if self.calibrated else "; NOT CALIBRATED")
        )

    # --- the cycle ----------------------------------------------------------------------------------
    def _loop(self) -> None:
        pin_loop_thread()  # on the deployment's `cpus`, if any (the process's other threads float)
        period = self.driver.control_period_s
        deadline = time.monotonic()
        k = 0
        try:
            while self._running:
                self.take_commands()
                report = self.driver.cycle(time.time(), self.lock)
                with self.lock:
                    q, qd, tau = self.driver.q.copy(), self.driver.qd.copy(), self.driver.tau.copy()
                    sensors = dict(self.driver.sensors)
                self.durations.append(report.duration_s)
                for fault in report.faults:
                    self.get_logger().error(f"fault, damping: {fault}")
                self._publish(k, q, qd, tau, sensors)
                k += 1
                deadline += period
                delay = deadline - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    self.overruns += 1
                    if delay < -0.1:
                        deadline = time.monotonic()
        except Exception as exc:
            if self._running and self.context.ok():
                self.get_logger().fatal(f"bus cycle stopped: {exc!r}")
                with self.lock:
                    self.driver.contract.fault(f"driver error: {exc}", time.time())
            raise

    def _publish(self, k: int, q, qd, tau, sensors) -> None:
        stamp = to_time_msg(time.time())
        imu = None
        if "imu" in sensors:
            v = sensors["imu"]
            imu = (v[0:4], v[4:7], v[7:10])
        wrenches = {}
        for side in ("left", "right"):
            if f"ft_{side}" in sensors:
                v = sensors[f"ft_{side}"]
                wrenches[side] = (v[0:3], v[3:6])
        if self.all_up or not self.driver.motors_not_up():
            self.all_up = True  # positions of motors that never answered are unknown: publish none
            self.publish_period(stamp, q, qd, tau, imu, wrenches, standard=k % self.sensor_every == 0)
        rate = 1.0 / self.driver.control_period_s
        if k % max(1, round(rate / 50)) == 0:
            self.publish_hardware_state(stamp)
            for side in ("left", "right"):
                if f"touch_{side}" in sensors:
                    self.publish_touch(stamp, side, sensors[f"touch_{side}"])
        if k % max(1, round(rate)) == 0:
            self._publish_battery(stamp, sensors.get("power"))
            self._publish_diagnostics(stamp)

    def _publish_battery(self, stamp, power) -> None:
        if power is None:
            return
        msg = BatteryState(
            voltage=float(power[0]),
            current=-float(power[1]),
            percentage=float(power[2]),
            temperature=float(power[3]),
            present=True,
        )
        msg.header.stamp = stamp
        msg.power_supply_status = BatteryState.POWER_SUPPLY_STATUS_DISCHARGING
        if power[0] < self.driver.faults_cfg.battery_low_v:
            self.get_logger().warning(f"battery low: {power[0]:.1f} V", throttle_duration_sec=10.0)
        self.pub_battery.publish(msg)

    def _publish_diagnostics(self, stamp) -> None:
        d = self.driver
        durations = np.array(self.durations[-1000:]) * 1e6
        self.durations = self.durations[-1000:]
        with self.lock:
            hottest = int(np.argmax(d.temperature_c))
            statuses = [
                DiagnosticStatus(
                    name=f"{self.get_name()}: buses",
                    hardware_id=self.hardware_id,
                    level=DiagnosticStatus.ERROR
                    if d.fault_reason
                    else (
                        DiagnosticStatus.WARN
                        if d.lost_total.sum() or d.malformed_total or self.overruns
                        else DiagnosticStatus.OK
                    ),
                    message=d.fault_reason or f"{len(d.joint_names)} motors answering",
                    values=key_values(
                        (
                            ("cycle_p50_us", f"{np.percentile(durations, 50):.0f}" if len(durations) else "-"),
                            ("cycle_p99_us", f"{np.percentile(durations, 99):.0f}" if len(durations) else "-"),
                            ("overruns", self.overruns),
                            ("frames_lost", int(d.lost_total.sum())),
                            ("frames_malformed", d.malformed_total),
                            ("frames_unknown", d.unknown_frames),
                            ("torque_limited", d.torque_limited_total),
                            ("saturated", d.saturated_total),
                            ("hottest", f"{d.joint_names[hottest]} {d.temperature_c[hottest]:.0f} C"),
                            ("calibrated", self.calibrated),
                            *((f"load_{name}", f"{load * 100:.0f} %") for name, load in self.loads.items()),
                            # which bus: a bus whose replies miss the reply window leaves its joints stale
                            *(
                                (f"frames_lost_{b.spec.name}", int(d.lost_total[b.joint_index].sum()))
                                for b in d.buses
                            ),
                        )
                    ),
                )
            ]
        self.publish_diagnostics(stamp, statuses)

    # --- calibration and reset ----------------------------------------------------------------------
    def reset_refusal(self) -> str:
        not_up = self.driver.motors_not_up()
        if not_up:
            return f"{len(not_up)} motor(s) not answering, e.g. {', '.join(not_up[:4])}: check power and wiring"
        if self.require_calibration and not self.calibrated:
            return (
                f"not calibrated: hold the robot in the '{self.calibration_pose}' pose and call "
                "hardware/calibrate first"
            )
        return ""

    def after_reset(self) -> None:
        self.driver.clear_faults()

    def _on_calibrate(self, request: Trigger.Request, response: Trigger.Response):
        d = self.driver
        with self.lock:
            if any(st.state != StopState.DAMP for st in d.contract.latch.groups.values()):
                response.success = False
                response.message = "calibrate only while damped, with the robot held in the calibration pose"
                return response
            pose = named_pose(self.calibration_pose, self.robot)
            index = {j: i for i, j in enumerate(self.robot.joint_names)}
            cal = calibrate(
                [d.topology.motor(j) for j in d.joint_names],
                d.actuator_positions(),
                np.array([pose[index[j]] for j in d.joint_names]),
                self.calibration_pose,
            )
            if self.calibration_path.is_file():  # keep the offsets of joints other processes drive
                cal.offsets_rad = {**Calibration.load(self.calibration_path).offsets_rad, **cal.offsets_rad}
            cal.save(self.calibration_path)
            d.set_calibration(cal)
            self.calibrated = True
        response.success = True
        response.message = (
            f"calibrated {len(d.joint_names)} joints in pose '{self.calibration_pose}': {self.calibration_path}"
        )
        self.get_logger().info(response.message)
        return response

    def destroy_node(self) -> None:
        self._running = False
        self._thread.join(timeout=2.0)
        for b in self.driver.buses:
            b.port.close()
        super().destroy_node()


def main(args=None) -> None:
    """Run the bus driver alone: `ros2 run forma_hardware bus_driver_node`."""
    run_node(BusDriverNode, (HardwareError, DescriptionError), args)

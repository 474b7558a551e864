"""ROS node around the actuator emulator: serves the robot's motor buses (python-can udp_multicast
by default) with emulated firmware and MuJoCo as the plant; fault injection as a service.

It deliberately publishes no hardware topics: on the buses it is the robot, and the bus driver
serves joint_states & co. It does publish sim/base_pose_ground_truth for the browser view and
tests, and diagnostics of its own.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from std_msgs.msg import Header

from forma_common import qos
from forma_common.messages import key_values, to_time_msg
from forma_common.node import declare_params, run_node
from forma_common.params import param
from forma_description.poses import available_poses
from forma_hardware.bus.io import open_bus
from forma_hardware.bus.topology import bus_names, bus_overrides, load_topology
from forma_hardware.errors import HardwareConfigError
from forma_interfaces.srv import InjectFault
from forma_sim.actuator_emulator import ActuatorEmulator
from forma_sim.errors import SimError
from forma_sim.simulation import build_simulation


@dataclasses.dataclass(frozen=True)
class EmulatorParams:
    world: str = param("empty", "MuJoCo world of the plant")
    body: str = param("male", "body form of the robot description")
    height_m: float = param(1.73, "standing height", unit="m", low=0.5, high=2.5)
    mass_kg: float = param(65.0, "total mass", unit="kg", low=5.0, high=300.0)
    physics_rate_hz: float = param(500.0, "plant physics rate", unit="Hz", low=50.0, high=10000.0)
    topology_file: str = param("", "bus topology; empty = share/forma_hardware/actuators.yaml")
    interface: str = param("udp_multicast", "python-can interface of the emulated buses")
    multicast_base: str = param("239.74.163.", "bus k answers on group <multicast_base><k+1>")
    zero_offset_seed: int = param(
        0, "0: encoders zeroed at joint zero; n > 0: random true offsets (seed n) to calibrate", low=0
    )
    fault_seed: int = param(1, "seed of the random frame drops and bit errors", low=0)
    gantry: bool = param(True, "hold the robot still until a motor gets a stiff command")
    initial_pose: str = param("stand", "pose the robot hangs in before its motors take over", choices=available_poses())


class ActuatorEmulatorNode(Node):
    """The robot's motors and sensor boards on emulated buses, MuJoCo as the plant (hil)."""

    PARAMS = (EmulatorParams,)

    def __init__(self, node_name: str = "actuator_emulator", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        p = dataclasses.asdict(declare_params(self, EmulatorParams, error=SimError))
        self.sim = build_simulation(
            world=p["world"],
            body=p["body"],
            height_m=p["height_m"],
            mass_kg=p["mass_kg"],
            physics_rate_hz=p["physics_rate_hz"],
            control_rate_hz=p["physics_rate_hz"],
            pose=p["initial_pose"],
            external_actuation=True,
        )
        names = bus_names(p["topology_file"] or None)
        overrides = bus_overrides(p["interface"], p["multicast_base"], names)
        self.topology = load_topology(self.sim.robot, p["topology_file"] or None, overrides)
        ports = {b.name: open_bus(b) for b in self.topology.buses}
        offsets = {}
        if p["zero_offset_seed"]:
            rng = np.random.default_rng(p["zero_offset_seed"])
            offsets = {m.joint: float(rng.uniform(-3.0, 3.0)) for b in self.topology.buses for m in b.motors}
        self.emulator = ActuatorEmulator(self.sim, self.topology, ports, offsets, p["fault_seed"], p["gantry"])
        self.pub_truth = self.create_publisher(PoseStamped, "sim/base_pose_ground_truth", qos.SENSORS)
        self.pub_diag = self.create_publisher(DiagnosticArray, "diagnostics", qos.SENSORS)
        self.create_service(InjectFault, "emulator/inject_fault", self._on_inject)
        self._running = True
        self._steps = 0
        self._rate_mark = (time.monotonic(), 0)  # (wall time, plant steps) at the last diagnostics
        self._threads = [
            threading.Thread(target=self._physics_loop, name="emulator_physics", daemon=True),
            threading.Thread(target=self._bus_loop, name="emulator_buses", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(
            f"emulating {len(self.emulator.motors)} motors on {len(ports)} {p['interface']} buses "
            f"({', '.join(f'{b.name}={b.channel}' for b in self.topology.buses)})"
        )

    def _physics_loop(self) -> None:
        period = self.sim.control_period_s
        deadline = time.monotonic()
        while self._running:
            moving = self.emulator.step()
            self._steps += 1
            if moving and self._steps % 10 == 0:
                self._publish_truth()
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.05:
                deadline = time.monotonic()  # behind: the plant slows down rather than jumps

    def _bus_loop(self) -> None:
        while self._running:
            self.emulator.serve(time.monotonic() + 0.05)

    def _publish_truth(self) -> None:
        with self.emulator.lock:
            pos, quat = self.sim.base_pose()
        msg = PoseStamped()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = "world"
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in pos)
        o = msg.pose.orientation
        o.w, o.x, o.y, o.z = (float(v) for v in quat)
        self.pub_truth.publish(msg)

    def _publish_diagnostics(self) -> None:
        b = self.emulator.buses
        now, steps = time.monotonic(), self._steps
        # plant time over wall time since the last report: below 1 the plant runs slow, and every
        # commander that integrates wall-clock periods over-drives it (the rig, not the robot)
        realtime_factor = (steps - self._rate_mark[1]) * self.sim.control_period_s / max(now - self._rate_mark[0], 1e-9)
        self._rate_mark = (now, steps)
        with self.emulator.lock:
            hottest = max(self.emulator.motors, key=lambda m: m.reported_temperature())
            values = key_values(
                (
                    ("frames_in", b.frames_in),
                    ("frames_out", b.frames_out),
                    ("held_by_gantry", self.emulator.held_by_gantry),
                    ("hottest_motor", f"{hottest.spec.joint} {hottest.reported_temperature():.1f} C"),
                    ("battery_charge", f"{self.emulator.battery_charge:.3f}"),
                    ("realtime_factor", f"{realtime_factor:.2f}"),
                )
            )
        status = DiagnosticStatus(
            name=f"{self.get_name()}: buses",
            hardware_id="emulator",
            level=DiagnosticStatus.OK,
            message=f"{b.frames_in} frames answered",
            values=values,
        )
        self.pub_diag.publish(DiagnosticArray(header=Header(stamp=to_time_msg(time.time())), status=[status]))

    def _on_inject(self, request: InjectFault.Request, response: InjectFault.Response):
        if not math.isfinite(request.value):
            response.success, response.message = False, "value must be finite"
            return response
        try:
            with self.emulator.lock:
                response.message = self.emulator.buses.inject(request.fault, request.target, request.value)
            response.success = True
            self.get_logger().warning(f"fault injected: {response.message}")
        except HardwareConfigError as exc:
            response.success, response.message = False, str(exc)
        return response

    def destroy_node(self) -> None:
        self._running = False
        for thread in self._threads:
            thread.join(timeout=2.0)
        for port in self.emulator.buses.ports.values():
            port.close()
        super().destroy_node()


def main(args=None) -> None:
    """Run the actuator emulator alone: `ros2 run forma_sim actuator_emulator_node`."""
    run_node(ActuatorEmulatorNode, (SimError,), args)

"""config/actuators.yaml: actuator models, buses and the joint <-> actuator mapping, validated
against the robot description (every actuated joint on exactly one bus, its limits inside its
actuator's range)."""

from __future__ import annotations

import dataclasses
import math
import pathlib
from collections.abc import Mapping

import yaml

from forma_description import RobotModel
from forma_hardware.errors import HardwareConfigError
from forma_hardware.protocols.mit import MitError, MitRanges

UDP_BASE_PORT = 43113  # python-can's default udp_multicast port
SENSOR_BOARDS = ("imu", "power", "ft_left", "ft_right", "touch_left", "touch_right")
INTERFACES = ("socketcan", "udp_multicast", "virtual", "pcan", "kvaser", "slcan")


@dataclasses.dataclass(frozen=True)
class ActuatorModel:
    name: str
    ranges: MitRanges
    continuous_torque_nm: float
    derate_start_c: float
    derate_end_c: float
    fault_temperature_c: float

    def torque_limit_nm(self, temperature_c: float) -> float:
        """Peak torque derated with temperature: full below derate_start, continuous at derate_end."""
        peak = min(-self.ranges.t_min, self.ranges.t_max)
        if temperature_c <= self.derate_start_c:
            return peak
        if temperature_c >= self.derate_end_c:
            return self.continuous_torque_nm
        f = (temperature_c - self.derate_start_c) / (self.derate_end_c - self.derate_start_c)
        return peak + f * (self.continuous_torque_nm - peak)


@dataclasses.dataclass(frozen=True)
class MotorSpec:
    joint: str
    can_id: int
    model: ActuatorModel
    ratio: float  # joint = actuator / ratio
    direction: int  # +1 or -1


@dataclasses.dataclass(frozen=True)
class BusSpec:
    name: str
    interface: str
    channel: str
    bitrate: int
    data_bitrate: int
    fd: bool
    rate_hz: float
    motors: tuple[MotorSpec, ...]
    sensors: tuple[str, ...]
    udp_port: int = 0  # udp_multicast only: one port per bus (Linux delivers every group joined
    # on a port to every socket bound to it, so buses sharing a port would hear each other)


@dataclasses.dataclass(frozen=True)
class FaultConfig:
    silent_cycles: int = 5
    malformed_limit: int = 5
    under_voltage_v: float = 42.0
    over_voltage_v: float = 58.8
    battery_low_v: float = 44.0


@dataclasses.dataclass(frozen=True)
class BusTopology:
    buses: tuple[BusSpec, ...]
    master_id: int
    faults: FaultConfig

    def motor(self, joint: str) -> MotorSpec:
        for bus in self.buses:
            for m in bus.motors:
                if m.joint == joint:
                    return m
        raise HardwareConfigError(f"joint {joint} is on no bus")

    def bus(self, name: str) -> BusSpec:
        for b in self.buses:
            if b.name == name:
                return b
        raise HardwareConfigError(f"no bus {name!r}; buses: {', '.join(b.name for b in self.buses)}")


def default_topology_path() -> pathlib.Path:
    from forma_description.paths import share_dir

    return share_dir("forma_hardware") / "actuators.yaml"


def load_topology(
    robot: RobotModel, path: str | pathlib.Path | None = None, overrides: Mapping | None = None
) -> BusTopology:
    """Read and validate the topology; `overrides` replace bus fields by bus name (deployments
    use it to point every bus at the emulator: {"*": {"interface": "udp_multicast"}})."""
    path = pathlib.Path(path) if path else default_topology_path()
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise HardwareConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise HardwareConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return parse_topology(raw, robot, overrides or {})
    except HardwareConfigError as exc:
        raise HardwareConfigError(f"{path.name}: {exc}") from exc


def _model(name: str, raw) -> ActuatorModel:
    where = f"models.{name}"
    keys = {
        "p",
        "v",
        "kp_max",
        "kd_max",
        "t",
        "continuous_torque_nm",
        "derate_start_c",
        "derate_end_c",
        "fault_temperature_c",
    }
    if not isinstance(raw, Mapping) or set(raw) != keys:
        raise HardwareConfigError(f"{where}: expected exactly the keys {', '.join(sorted(keys))}")
    try:
        ranges = MitRanges(*raw["p"], *raw["v"], float(raw["kp_max"]), float(raw["kd_max"]), *raw["t"])
    except (TypeError, MitError) as exc:
        raise HardwareConfigError(f"{where}: {exc}") from exc
    model = ActuatorModel(
        name,
        ranges,
        float(raw["continuous_torque_nm"]),
        float(raw["derate_start_c"]),
        float(raw["derate_end_c"]),
        float(raw["fault_temperature_c"]),
    )
    if not (
        0 < model.continuous_torque_nm <= ranges.t_max
        and model.derate_start_c < model.derate_end_c <= model.fault_temperature_c
    ):
        raise HardwareConfigError(f"{where}: need 0 < continuous <= peak and derate_start < derate_end <= fault")
    return model


def parse_topology(raw, robot: RobotModel, overrides: Mapping) -> BusTopology:
    if not isinstance(raw, Mapping):
        raise HardwareConfigError("expected a mapping at the top level")
    known = {"models", "joint_models", "joint_mapping", "buses", "master_id", "faults"}
    unknown = set(raw) - known
    if unknown:
        raise HardwareConfigError(f"unknown key(s) {', '.join(sorted(unknown))}; valid: {', '.join(sorted(known))}")
    models = {name: _model(name, m) for name, m in (raw.get("models") or {}).items()}
    joint_models = raw.get("joint_models") or {}
    mapping = raw.get("joint_mapping") or {}
    for joint in mapping:
        if joint not in robot.joint_names:
            raise HardwareConfigError(f"joint_mapping.{joint}: not a joint of the robot")
    buses, seen = [], {}
    for bus_name, b in (raw.get("buses") or {}).items():
        where = f"buses.{bus_name}"
        b = {**b, **overrides.get("*", {}), **overrides.get(bus_name, {})}
        needed = {"interface", "channel", "bitrate", "data_bitrate", "fd", "rate_hz", "joints"}
        unknown_fields = set(b) - needed - {"sensors", "udp_port"}
        if unknown_fields:
            raise HardwareConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown_fields))}")
        missing = needed - set(b)
        if missing:
            raise HardwareConfigError(f"{where}: missing {', '.join(sorted(missing))}")
        if b["interface"] not in INTERFACES:
            raise HardwareConfigError(f"{where}.interface: {b['interface']!r}; valid: {', '.join(INTERFACES)}")
        if not (0 < float(b["rate_hz"]) <= 1000.0):
            raise HardwareConfigError(f"{where}.rate_hz: {b['rate_hz']} outside (0, 1000]")
        sensors = tuple(b.get("sensors") or ())
        for s in sensors:
            if s not in SENSOR_BOARDS:
                raise HardwareConfigError(f"{where}.sensors: unknown board {s!r}; boards: {', '.join(SENSOR_BOARDS)}")
        motors = []
        for k, joint in enumerate(b["joints"]):
            jw = f"{where}.joints[{k}]"
            if joint not in robot.joint_names:
                raise HardwareConfigError(f"{jw}: {joint!r} is not a joint of the robot")
            if joint in seen:
                raise HardwareConfigError(f"{jw}: {joint} is already on bus {seen[joint]}")
            seen[joint] = bus_name
            info = robot.joint(joint)
            model_name = joint_models.get(info.kind)
            if model_name not in models:
                raise HardwareConfigError(f"joint_models.{info.kind}: no actuator model for {joint}")
            model = models[model_name]
            m = mapping.get(joint, {})
            ratio, direction = float(m.get("ratio", 1.0)), int(m.get("direction", 1))
            if not (math.isfinite(ratio) and ratio > 0 and direction in (-1, 1)):
                raise HardwareConfigError(f"joint_mapping.{joint}: ratio must be > 0 and direction +1 or -1")
            r = model.ranges
            if info.effort / ratio > min(-r.t_min, r.t_max) + 1e-9:
                raise HardwareConfigError(
                    f"{joint}: effort limit {info.effort} N m exceeds model {model_name}'s torque"
                )
            if info.velocity * ratio > min(-r.v_min, r.v_max) + 1e-9:
                raise HardwareConfigError(f"{joint}: velocity limit exceeds model {model_name}'s range")
            if max(abs(info.lower), abs(info.upper)) * ratio > min(-r.p_min, r.p_max) - 0.5:
                raise HardwareConfigError(
                    f"{joint}: position range leaves < 0.5 rad of {model_name}'s range for offsets"
                )
            motors.append(MotorSpec(joint, k + 1, model, ratio, direction))
        buses.append(
            BusSpec(
                bus_name,
                str(b["interface"]),
                str(b["channel"]),
                int(b["bitrate"]),
                int(b["data_bitrate"]),
                bool(b["fd"]),
                float(b["rate_hz"]),
                tuple(motors),
                sensors,
                int(b.get("udp_port", 0)),
            )
        )
    missing = [j for j in robot.joint_names if j not in seen]
    if missing:
        raise HardwareConfigError(f"joint(s) on no bus: {', '.join(missing[:5])}")
    faults_raw = raw.get("faults") or {}
    try:
        faults = FaultConfig(**faults_raw)
    except TypeError as exc:
        raise HardwareConfigError(f"faults: {exc}") from exc
    return BusTopology(tuple(buses), int(raw.get("master_id", 0)), faults)


def bus_overrides(interface: str, multicast_base: str, bus_names: list[str], rates: list[str] = ()) -> dict:
    """Overrides of bus fields by bus name.

    interface: move every bus to another python-can interface, e.g. the emulator's udp_multicast
    (bus k gets the multicast group <multicast_base><k+1>, base like "239.74.163.", and its own
    UDP port UDP_BASE_PORT + k).
    rates: "bus=rate_hz" items, e.g. ["left_hand=10"] to slow the hands down on a small machine.
    """
    out: dict = {name: {} for name in bus_names}
    if interface == "udp_multicast":
        for k, name in enumerate(bus_names):
            out[name].update(interface=interface, channel=f"{multicast_base}{k + 1}", udp_port=UDP_BASE_PORT + k)
    elif interface:
        for name in bus_names:
            out[name].update(interface=interface, channel=f"{multicast_base}{name}")
    for item in rates:
        if not item:
            continue
        name, sep, rate = item.partition("=")
        if not sep or name not in out:
            raise HardwareConfigError(f"bus rate {item!r}: expected BUS=RATE_HZ with BUS one of {', '.join(bus_names)}")
        try:
            out[name]["rate_hz"] = float(rate)
        except ValueError:
            raise HardwareConfigError(f"bus rate {item!r}: {rate!r} is not a number") from None
    return {name: o for name, o in out.items() if o}


def bus_names(path: str | pathlib.Path | None = None) -> list[str]:
    """Bus names in file order (before validation), for building overrides."""
    path = pathlib.Path(path) if path else default_topology_path()
    return list((yaml.safe_load(path.read_text()) or {}).get("buses", {}))

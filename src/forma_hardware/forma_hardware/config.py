"""Loading config/hardware.yaml: gains, watchdogs and command-gate margins."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Mapping

import yaml

from forma_hardware.command_gate import GateLimits
from forma_hardware.errors import HardwareConfigError
from forma_hardware.gains import GainSchedule, load_gain_schedule
from forma_hardware.stop_latch import WatchdogConfig

TOP_LEVEL_KEYS = {"gains", "hold_gain_scale", "watchdogs", "command_gate"}


@dataclasses.dataclass(frozen=True)
class HardwareConfig:
    gains: GainSchedule
    watchdogs: Mapping[str, WatchdogConfig]
    gate: GateLimits


def default_config_path() -> pathlib.Path:
    """share/forma_hardware/hardware.yaml (a copy of config/hardware.yaml)."""
    from forma_description.paths import share_dir

    return share_dir("forma_hardware") / "hardware.yaml"


def load_hardware_config(path: str | pathlib.Path | None = None) -> HardwareConfig:
    """Read and validate a hardware config; errors name the file and the field."""
    path = pathlib.Path(path) if path else default_config_path()
    if not path.is_absolute() and not path.exists():
        path = default_config_path().parent / path  # a file shipped in share/forma_hardware
    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
    except OSError as exc:
        raise HardwareConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise HardwareConfigError(f"{path}: not valid YAML: {exc}") from exc
    if isinstance(raw, Mapping) and "extends" in raw:
        # A variant names its base file (relative to itself) and overrides some fields.
        base_path = path.parent / str(raw["extends"])
        if not base_path.is_file():
            base_path = default_config_path().parent / str(raw["extends"])
        base = load_raw(base_path)
        raw = _merge(base, {k: v for k, v in raw.items() if k != "extends"})
    try:
        return parse_hardware_config(raw)
    except HardwareConfigError as exc:
        raise HardwareConfigError(f"{path}: {exc}") from exc


def load_raw(path: pathlib.Path) -> dict:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise HardwareConfigError(f"{path}: cannot read: {exc.strerror}") from exc


def _merge(base, override):
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        return {**base, **{k: _merge(base.get(k), v) for k, v in override.items()}}
    return override


def parse_hardware_config(raw: object) -> HardwareConfig:
    if not isinstance(raw, Mapping):
        raise HardwareConfigError("expected a mapping at the top level")
    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        raise HardwareConfigError(
            f"unknown key(s) {', '.join(sorted(unknown))}; valid: {', '.join(sorted(TOP_LEVEL_KEYS))}"
        )
    for key in ("gains", "watchdogs"):
        if key not in raw:
            raise HardwareConfigError(f"missing `{key}:`")
    gains = load_gain_schedule(raw["gains"], raw.get("hold_gain_scale", 1.0))
    watchdogs = {}
    if not isinstance(raw["watchdogs"], Mapping):
        raise HardwareConfigError("watchdogs: expected a mapping of group -> {timeout_s, hold_to_damp_s}")
    for group, entry in raw["watchdogs"].items():
        if not isinstance(entry, Mapping) or set(entry) != {"timeout_s", "hold_to_damp_s"}:
            raise HardwareConfigError(f"watchdogs.{group}: expected exactly timeout_s and hold_to_damp_s")
        try:
            watchdogs[str(group)] = WatchdogConfig(float(entry["timeout_s"]), float(entry["hold_to_damp_s"]))
        except (TypeError, ValueError) as exc:
            raise HardwareConfigError(f"watchdogs.{group}: {exc}") from exc
    gate_raw = raw.get("command_gate", {}) or {}
    fields = {f.name for f in dataclasses.fields(GateLimits)}
    if not isinstance(gate_raw, Mapping) or set(gate_raw) - fields:
        raise HardwareConfigError(f"command_gate: valid keys are {', '.join(sorted(fields))}")
    try:
        gate = GateLimits(**{k: float(v) for k, v in gate_raw.items()})
    except (TypeError, ValueError) as exc:
        raise HardwareConfigError(f"command_gate: {exc}") from exc
    return HardwareConfig(gains=gains, watchdogs=watchdogs, gate=gate)

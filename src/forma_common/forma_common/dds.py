"""The DDS middleware's settings every Forma process starts with: Fast DDS's participant profile
(fastdds_profile.xml next to this file: a shared-memory segment large enough for the head
camera's images) unless the user names a profile of their own. Call before rclpy.init()."""

from __future__ import annotations

import os
import pathlib

PROFILE_FILE = pathlib.Path(__file__).with_name("fastdds_profile.xml")
PROFILE_VARIABLES = ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE")
FAST_DDS_RMWS = ("", "rmw_fastrtps_cpp", "rmw_fastrtps_dynamic_cpp")


def forma_dds_environment(environ: dict[str, str] | os._Environ) -> dict[str, str]:
    """The variables to add to `environ`: none if another middleware is chosen or a profile is set."""
    if environ.get("RMW_IMPLEMENTATION", "") not in FAST_DDS_RMWS:
        return {}
    if any(environ.get(name) for name in PROFILE_VARIABLES):
        return {}
    return {"FASTRTPS_DEFAULT_PROFILES_FILE": str(PROFILE_FILE)}


def use_forma_dds_profile() -> None:
    """This process's participants get Forma's Fast DDS profile (see the module's docstring)."""
    os.environ.update(forma_dds_environment(os.environ))

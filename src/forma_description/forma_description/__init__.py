"""Forma robot description: xacro expansion, the parsed robot model, and the MJCF builder.

The xacro files in share/forma_description/urdf are the one source of truth; the MuJoCo model,
the pinocchio model and the joint lists every node uses are derived from their expansion.
"""

from forma_description.errors import DescriptionError
from forma_description.robot_model import GROUPS, JointInfo, RobotModel
from forma_description.xacro_expand import (
    HARDWARE_PLUGINS,
    available_body_forms,
    expand_description,
)

__all__ = [
    "DescriptionError",
    "GROUPS",
    "HARDWARE_PLUGINS",
    "available_body_forms",
    "JointInfo",
    "RobotModel",
    "expand_description",
]

"""forma_moveit_config: the MoveIt 2 configuration of the Forma humanoid.

The SRDF (planning groups, end effectors, named states, the disabled-collision matrix) is generated
from the robot description by `python -m forma_moveit_config.collision_matrix`; the YAML files in
config/ are read into move_group's and moveit_py's parameters by `forma_moveit_config.params`.
Nothing here imports rclpy or MoveIt: it runs and is tested on the pip side.
"""

from forma_moveit_config.errors import MoveItConfigError

__all__ = ["MoveItConfigError"]

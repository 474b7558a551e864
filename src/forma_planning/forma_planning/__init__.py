"""forma_planning: collision-free joint-space planning for Forma's planning groups on the pip side
(no MoveIt): OMPL's RRTConnect, pinocchio + coal collision checking with the SRDF's
disabled-collision matrix and the perceived scene, time-parameterized within the joint limits.
Nothing here imports rclpy."""

from forma_planning.arm_planner import ArmPlanner, Plan
from forma_planning.errors import NoPlanError, PlanningError, PlanRequestError
from forma_planning.scene import Box, Scene, SupportPlane
from forma_planning.timing import Trajectory

__all__ = [
    "ArmPlanner",
    "Box",
    "NoPlanError",
    "Plan",
    "PlanRequestError",
    "PlanningError",
    "Scene",
    "SupportPlane",
    "Trajectory",
]

"""Plan and execute a reach of the right palm with moveit_py (MoveIt 2 Jazzy), on a ROS 2 install
beside move_group's controllers (README "On a ROS 2 install"):

    python3 $(ros2 pkg prefix --share forma_moveit_config)/examples/moveit_py_reach.py
    python3 .../moveit_py_reach.py --group left_arm --x 0.35 --y 0.15 --z 0.25

The goal is the palm frame (`<side>_hand`) at a point in the `torso` frame [m], palm facing down
(rotated half a turn about x); the plan starts at the current state (joint_states), runs on the
OMPL pipeline and executes on the group's trajectory controller. It never ran here (no MoveIt on
the pip side): written to the moveit_py API as bound in moveit2's `jazzy` branch.
"""

from __future__ import annotations

import argparse
import sys

import rclpy
from geometry_msgs.msg import PoseStamped
from moveit.planning import MoveItPy

from forma_moveit_config.params import moveit_py_parameters


def goal_pose(x: float, y: float, z: float, frame: str = "torso") -> PoseStamped:
    goal = PoseStamped()
    goal.header.frame_id = frame
    goal.pose.position.x, goal.pose.position.y, goal.pose.position.z = x, y, z
    goal.pose.orientation.x, goal.pose.orientation.w = 1.0, 0.0  # half a turn about x: palm down
    return goal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", default="right_arm", choices=["left_arm", "right_arm"])
    parser.add_argument("--x", type=float, default=0.35, help="palm target in torso, forward [m]")
    parser.add_argument("--y", type=float, default=-0.15, help="palm target in torso, left [m]")
    parser.add_argument("--z", type=float, default=-0.15, help="palm target in torso, up [m]")
    parser.add_argument("--plan-only", action="store_true", help="plan, do not execute")
    args = parser.parse_args(argv)
    palm = args.group.replace("_arm", "_hand")

    rclpy.init()
    robot = MoveItPy(node_name="forma_moveit_py_reach", config_dict=moveit_py_parameters())
    arm = robot.get_planning_component(args.group)
    arm.set_start_state_to_current_state()
    arm.set_goal_state(pose_stamped_msg=goal_pose(args.x, args.y, args.z), pose_link=palm)
    result = arm.plan()
    code = 0
    if not result:
        print(f"no plan for {palm} to ({args.x}, {args.y}, {args.z}) in torso: {result.error_code}", file=sys.stderr)
        code = 1
    elif args.plan_only:
        print(f"planned {result.trajectory.duration:.2f} s")
    else:
        status = robot.execute(result.trajectory, controllers=[])
        print(f"executed: {status.status}")
        code = 0 if status else 1
    robot.shutdown()
    rclpy.shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())

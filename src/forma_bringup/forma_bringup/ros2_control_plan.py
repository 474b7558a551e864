"""ros2_control over the topic hardware: the pure parts of launch/robot_ros2_control.launch.py and
of the CI tier that runs the real controller_manager against the MuJoCo sim, tested without ROS.

The topic hardware (joint_state_topic_hardware_interface/JointStateTopicSystem) bridges
controller_manager to a hardware node (the sim or the bus driver) through two JointState topics:
one topic hardware per command group (body, each hand) reads the node's joint_states (remapped to
hardware/joint_states) and publishes one command for its group's joints on hardware/joint_commands
every cycle, where the hardware contract checks it.
Nothing here imports rclpy or launch.
"""

from __future__ import annotations

from collections.abc import Mapping

from forma_bringup.gazebo_plan import ControllerSpawn, GazeboPlanError, controller_types

# Broadcasters of the description's <sensor> interfaces. A JointState has no field for an IMU or a
# wrench, so over the topic hardware they would broadcast nothing but NaN; the description drops
# the <sensor> blocks under hardware:=topic, and the hardware node publishes imu/data and
# feet/*/wrench itself (the same messages, one DDS hop sooner).
SENSOR_BROADCASTER_TYPES = (
    "imu_sensor_broadcaster/IMUSensorBroadcaster",
    "force_torque_sensor_broadcaster/ForceTorqueSensorBroadcaster",
)
# The hardware node's topics under ros2_control: joint_state_broadcaster owns joint_states, and
# the description controller_manager loads (hardware:=topic) is robot_state_publisher's, not the
# node's own copy.
HARDWARE_NODE_REMAPPINGS = {
    "joint_states": "hardware/joint_states",
    "robot_description": "hardware/robot_description",
}


def topic_controller_spawn(config: Mapping) -> ControllerSpawn:
    """The controllers to spawn over the topic hardware, in file order, all active: every one but
    the sensor broadcasters. The body's position, velocity and effort controllers are active
    together: they claim different interfaces of the same joints, and the body's topic hardware
    sends all three per joint in one message, which the hardware applies as one set of actuator
    targets (q*, qd*, feed-forward torque)."""
    types = controller_types(config)
    active = tuple(name for name, kind in types.items() if kind not in SENSOR_BROADCASTER_TYPES)
    if "joint_state_broadcaster" not in active:
        raise GazeboPlanError("controllers file: no joint_state_broadcaster (nothing would publish joint_states)")
    return ControllerSpawn(active=active, inactive=())


def spawner_failure(names: tuple[str, ...] | list[str], returncode: int | None) -> str:
    """Why the bringup must stop after a spawner exited ("" = it succeeded). The Jazzy spawner stops
    at its first failing controller and leaves the ones after it unloaded: never run half-started."""
    if returncode == 0:
        return ""
    return (
        f"spawner of {', '.join(names)} exited with code {returncode}: a controller failed to load, configure "
        "or activate, and the ones after it were never loaded; see the spawner's and controller_manager's output"
    )

"""The limbs' joint kinds in chain order, one list for every package that names an arm's joints
(whole-body reaching, the MoveIt planning groups, the planner): a joint is `<side>_<kind>`."""

from __future__ import annotations

ARM_JOINTS = (
    "scapula_elevation",
    "scapula_protraction",
    "shoulder_pitch",
    "shoulder_roll",
    "shoulder_yaw",
    "elbow",
    "forearm_yaw",
    "wrist_pitch",
    "wrist_yaw",
)  # scapula to wrist: the 9-DoF arm


def arm_joint_names(side: str, prefix: str = "") -> list[str]:
    """The arm's joints on `side` ("left" or "right"), shoulder blade first."""
    return [f"{prefix}{side}_{kind}" for kind in ARM_JOINTS]

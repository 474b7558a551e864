"""Walking to a pose on the floor (the wbc/walk_to action's logic, pure): the velocity command
that takes the robot there, turning toward a far goal and walking at it, steering, stepping
sideways and turning in place near it, from the robot's own odometry each tick. Arrived once the
robot stands still within the tolerances."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from forma_control.walk.gait import WalkSettings, relative

NEAR_M = 0.4  # closer than this the robot steps sideways and turns toward the final heading
FACE_GOAL_RAD = 0.25  # further away it turns in place until facing the goal within this
# walking at the goal it steers, at most this fast: straight walks veered off and stopped to turn
# in place again and again (3 m in 30-37 s; 15-23 s steering, no falls in 5 walks with pushes).
# (Once steered walks fell as they stopped; that was the pelvis rocking, since damped: walk.tilt_damping.)
STEER_RAD_S = 0.2
KEEP_WALKING_RAD = 0.35  # walking at the goal, it stops to turn in place only past this heading error
POSITION_GAIN = 0.8  # [1/s] speed per metre to go
TURN_GAIN = 1.2  # [1/s] turn rate per radian to go
MIN_SPEED_M_S = 0.06  # slower commands take steps too short to get anywhere
MIN_TURN_RAD_S = 0.12
STALL_S = 10.0  # no 5 cm / 0.1 rad of progress in this long: unreachable
STALL_PROGRESS_M = 0.05
STALL_PROGRESS_RAD = 0.1


@dataclasses.dataclass(frozen=True)
class WalkToGoal:
    """Where to stand: (x, y, yaw) in odom [m, m, rad], the tolerances and when to give up."""

    pose: np.ndarray
    position_tolerance_m: float
    yaw_tolerance_rad: float
    deadline_s: float  # robot time


def _toward(value: float, gain: float, limit: float, minimum: float) -> float:
    command = float(np.clip(gain * value, -limit, limit))
    if 0.0 < abs(command) < minimum:
        command = math.copysign(minimum, command)
    return command


def _motion(command: np.ndarray) -> str:
    """The kind of a command: walking forward or back (steering or not), stepping left or right,
    turning either way, or standing."""
    vx, vy, wz = command
    if vx:
        return "forward" if vx > 0 else "back"
    if vy:
        return "left" if vy > 0 else "right"
    if wz:
        return "turn left" if wz > 0 else "turn right"
    return "stand"


class WalkToProgress:
    """One goal under way: update() with the robot's pose each tick gives the state, the command
    and the errors."""

    def __init__(self, goal: WalkToGoal, limits: WalkSettings, now_s: float) -> None:
        self.goal = goal
        self.limits = limits
        self._best = (math.inf, math.inf)  # the smallest distance and yaw error seen
        self._progress_s = now_s  # when either last improved (by STALL_PROGRESS_M / _RAD)
        self._motion: str | None = None  # the kind of motion being walked (see _motion)
        self._stopping = False  # stopping to change the kind of motion

    def errors(self, pose: np.ndarray) -> tuple[float, float, np.ndarray]:
        """(distance [m], yaw error [rad], the goal in the robot's frame (x, y, yaw))."""
        rel = relative(np.asarray(pose, float), self.goal.pose)
        return math.hypot(rel[0], rel[1]), abs(rel[2]), rel

    def update(self, pose: np.ndarray, now_s: float, standing: bool) -> tuple[str, np.ndarray, float, float]:
        """state: "walking", "arrived", "timeout" or "unreachable"; the command (forward, sideways
        [m/s], turn [rad/s]); the distance and yaw error left."""
        g, lim = self.goal, self.limits
        distance, yaw_error, rel = self.errors(pose)
        there = distance <= g.position_tolerance_m and yaw_error <= g.yaw_tolerance_rad
        if there:
            return ("arrived" if standing else "walking"), np.zeros(3), distance, yaw_error
        if now_s >= g.deadline_s:
            return "timeout", np.zeros(3), distance, yaw_error
        # progress on either counts: turning to face the goal adds to the final heading's error
        # while the distance shrinks (a sum of the two read as a stall near the goal, measured)
        best_distance, best_yaw = self._best
        if distance < best_distance - STALL_PROGRESS_M:
            best_distance, self._progress_s = distance, now_s
        if yaw_error < best_yaw - STALL_PROGRESS_RAD:
            best_yaw, self._progress_s = yaw_error, now_s
        self._best = (best_distance, best_yaw)
        if now_s - self._progress_s > STALL_S:
            return "unreachable", np.zeros(3), distance, yaw_error
        # one motion at a time (the gait is surest on pure ones): far, face the goal, then walk at it
        # steering gently; near, step straight to it without turning; there, turn to the heading
        command = np.zeros(3)
        if distance > max(NEAR_M, g.position_tolerance_m):
            heading = math.atan2(rel[1], rel[0])
            # (stopping from full speed is the gait's riskiest moment: keep walking and steer)
            limit = KEEP_WALKING_RAD if self._motion == "forward" else FACE_GOAL_RAD
            if abs(heading) > limit:
                command[2] = _toward(heading, TURN_GAIN, lim.max_turn_rad_s, MIN_TURN_RAD_S)
            else:
                command[0] = _toward(distance, POSITION_GAIN, lim.max_forward_m_s, MIN_SPEED_M_S)
                command[2] = _toward(heading, TURN_GAIN, STEER_RAD_S, 0.0)
        elif distance > g.position_tolerance_m:  # the larger of the two errors first
            if abs(rel[0]) >= abs(rel[1]):
                command[0] = _toward(rel[0], POSITION_GAIN, lim.max_forward_m_s, MIN_SPEED_M_S)
            else:
                command[1] = _toward(rel[1], POSITION_GAIN, lim.max_sideways_m_s, MIN_SPEED_M_S)
        else:
            command[2] = _toward(rel[2], TURN_GAIN, lim.max_turn_rad_s, MIN_TURN_RAD_S)
        # a change of motion (turning, walking, sidestepping, or a reversal) only from standing
        # once it stops for a change, it stops: a stop revoked half-way (the heading error dipping
        # back under the limit) restarted the gait mid-stop and the robot fell (measured)
        motion = _motion(command)
        if self._stopping and not standing:
            return "walking", np.zeros(3), distance, yaw_error
        self._stopping = False
        if self._motion is not None and motion != self._motion and not standing:
            self._stopping = True
            return "walking", np.zeros(3), distance, yaw_error
        self._motion = motion
        return "walking", command, distance, yaw_error

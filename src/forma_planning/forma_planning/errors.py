"""Errors of the planning package: a request refused before planning, or no plan found in time."""


class PlanningError(ValueError):
    """Anything the planner says no to; the message is the reason, naming the bad value."""


class PlanRequestError(PlanningError):
    """The request is refused before planning: unknown group or joint, a non-finite value, a state
    outside the joint limits or in collision. Fix the request; retrying it as is fails the same way."""


class NoPlanError(PlanningError):
    """No collision-free path was found within the planning timeout (the goal may be unreachable
    from the start, or only through a passage too narrow to find in time)."""

    def __init__(
        self, message: str, planning_time_s: float, out_of_reach: bool = False, goal_blocked: bool = False
    ) -> None:
        super().__init__(message)
        self.planning_time_s = planning_time_s  # [s] wall time spent searching
        # a pose goal no configuration of the group's joints reached at all (none in collision either):
        # beyond the arm alone, which whole-body control (spine, balance) may still reach
        self.out_of_reach = out_of_reach
        # a pose goal the arm reached, but only touching an obstacle: the goal itself is blocked
        self.goal_blocked = goal_blocked

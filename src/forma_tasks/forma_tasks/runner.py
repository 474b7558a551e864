"""One instruction from text to result: parse, run the skill, and whatever happened leave the
robot standing, holding what it holds. Pure (the node and the lockstep harness give the robot)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from forma_tasks.errors import TaskCanceled, TaskError, TaskFailed
from forma_tasks.instructions import InstructionParser
from forma_tasks.robot import Robot
from forma_tasks.skills import SIDES, SKILLS, Memory, Task, hands_to_rest, stand_up

RECOVERY_S = 15.0  # robot time the clean-up after a failure or cancel may take


@dataclasses.dataclass(frozen=True)
class Outcome:
    success: bool
    message: str
    skill: str  # "" when the instruction was refused
    duration_s: float
    canceled: bool = False


class TaskRunner:
    def __init__(self, robot: Robot, parser: InstructionParser, default_timeout_s: float = 60.0) -> None:
        self.robot, self.parser = robot, parser
        self.memory = Memory()
        self.default_timeout_s = default_timeout_s

    def forget_body(self) -> None:
        """After a stand-up (a reset, a fall, an e-stop release) the hands hold nothing and rest where
        the stand-up put them: what the last instructions left is forgotten (measured before this:
        after sim/reset a pick was refused with "the left hand already holds the red cup")."""
        self.memory = Memory()

    def remember_rest(self) -> None:
        """The hands' poses now are their rest poses (call while standing with the arms down)."""
        for side in SIDES:
            self.memory.rest[side] = self.robot.frame(f"{side}_hand")

    def run(
        self,
        text: str,
        timeout_s: float = 0.0,
        feedback: Callable[[str, float], None] = lambda phase, progress: None,
        canceled: Callable[[], bool] = lambda: False,
    ) -> Outcome:
        start = self.robot.now()
        if not (math.isfinite(timeout_s) and timeout_s >= 0.0):
            return Outcome(False, f"timeout_s {timeout_s} must be a finite number >= 0 (0 = the default)", "", 0.0)
        try:
            instruction = self.parser.parse(text)
        except TaskError as exc:
            return Outcome(False, str(exc), "", 0.0)
        if not self.memory.rest:
            self.remember_rest()
        task = Task(self.robot, self.memory, start + (timeout_s or self.default_timeout_s), feedback, canceled)
        try:
            message = SKILLS[instruction.skill](task, instruction)
            feedback("done", 1.0)
            return Outcome(True, message, instruction.skill, self.robot.now() - start)
        except TaskFailed as exc:
            self._recover(task, feedback)
            return Outcome(False, str(exc), instruction.skill, self.robot.now() - start)
        except TaskCanceled as exc:
            self._recover(task, feedback)
            return Outcome(False, str(exc), instruction.skill, self.robot.now() - start, canceled=True)

    def _recover(self, task: Task, feedback) -> None:
        """Stop the reaches (the hands hold where they are), open an empty hand that moved, stand
        up, bring the empty hands back to rest. A failure here is logged in the message only."""
        task.stop_reaches()
        recovery = Task(self.robot, self.memory, self.robot.now() + RECOVERY_S, feedback)
        recovery.phase("recovering", 1.0)
        try:
            for side in SIDES:
                if side in self.memory.moved and side not in self.memory.held:
                    self.robot.hand(side, "open", timeout_s=2.0)
            stand_up(recovery)
            hands_to_rest(recovery)
        except (TaskFailed, TaskCanceled):
            pass

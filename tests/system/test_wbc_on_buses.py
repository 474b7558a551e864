"""Whole-body control through the motor-bus path, as the `robot` deployment runs it: the WBC's
position, velocity and feed-forward torque go through the bus driver's contract, the MIT frames
and the emulated motors' PD, and its state comes back from the motors' replies and the IMU and
foot F/T boards, one driver cycle late (tests/support/bus_rig.py). The robot holds its pose and
takes a push; an IMU read in the wrong frame or sign (tried: gyro negated, x and y swapped) tips
it over within a second."""

from __future__ import annotations

import pytest

from forma_control.lockstep_stand import fallen
from forma_control.wbc.controller import WbcSettings
from forma_control.wbc.lockstep import build_controller
from tests.support.bus_rig import BusRig

pytestmark = pytest.mark.system

RATE_HZ = 100.0  # the driver's and the WBC's: the real robot's is 500 Hz, slower is harder


@pytest.fixture()
def rig():
    r = BusRig(control_rate_hz=RATE_HZ)
    yield r
    r.close()


def test_the_wbc_stands_and_takes_a_push_through_the_bus_driver(rig):
    for _ in range(int(RATE_HZ)):  # 1 s on the pose (the supervisor's stand-up ramp ends there)
        rig.submit(rig.names, rig.pose)
        rig.cycle()
        rig.step_plant()
    controller, body = build_controller(rig.sim.robot, "stand_balanced", WbcSettings(rate_hz=RATE_HZ))
    joints = [rig.sim.robot.joint_names[i] for i in body]
    heights, late = [], None
    for k in range(int(8 * RATE_HZ)):
        rig.cycle()  # sends the answer to the previous cycle's state
        out = controller.tick(rig.sensors(joints))
        if late is not None:
            rig.submit(*late)
        late = (out.joint_names, out.position, out.velocity, out.effort)
        if k == int(3 * RATE_HZ):
            rig.sim.apply_wrench("torso", (60.0, 0.0, 0.0), (0.0, 0.0, 0.0), 0.2)  # 12 N s forward on the chest
        rig.step_plant()
        heights.append(rig.sim.base_pose()[0][2])
        assert not fallen(rig.sim), f"fell {k / RATE_HZ:.2f} s after the WBC took over"
    assert rig.faults == []
    assert max(heights) - min(heights) < 0.05, f"pelvis between {min(heights):.3f} and {max(heights):.3f} m"

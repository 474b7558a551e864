"""Shared fixtures. Tests run against the packages installed in the venv by `make setup`."""

from __future__ import annotations

import os
import sys

import pytest

# The pip venv holds every ROS package; nothing needs sourcing (see README).
os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)


@pytest.fixture(scope="session")
def robot():
    from forma_description import RobotModel, expand_description

    return RobotModel.from_urdf(expand_description())


@pytest.fixture(scope="session")
def urdf_xml(robot):
    return robot.urdf_xml

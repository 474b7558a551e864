"""Shared fixtures. Tests run against the packages installed in the venv by `make setup`."""

from __future__ import annotations

import os
import sys

import pytest

from tests.support.domains import new_domain_id

# The pip venv holds every ROS package; nothing needs sourcing (see README).
os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)


@pytest.fixture(scope="session")
def robot():
    from forma_description import RobotModel, expand_description

    return RobotModel.from_urdf(expand_description())


@pytest.fixture(scope="session")
def urdf_xml(robot):
    return robot.urdf_xml


@pytest.fixture
def domain_id() -> int:
    """A ROS domain of this test's own, for the deployment it launches, its probe and its in-process nodes."""
    return new_domain_id()


@pytest.fixture(scope="module")
def module_domain_id() -> int:
    """A ROS domain for a module's tests: for module-scoped fixtures that start a deployment."""
    return new_domain_id()

"""A secure launch on this install fails closed: `forma launch --secure` runs each process under its
enclave with DDS-Security enforced, and the Fast DDS of the pip wheels has no security plugins, so
the process refuses to create its node with rmw's reason and the deployment stops with it. It never
comes up unsecured. (On a ROS 2 install whose Fast DDS has the plugins the same launch runs secured:
docs/VERIFICATION.md says what was verified where.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.support.deployments import node, process, write_deployment

pytestmark = pytest.mark.integration
NO_PLUGINS = "doesn't have the security libraries"


def test_a_secure_launch_without_security_plugins_stops_with_the_reason(tmp_path, domain_id):
    path = write_deployment(tmp_path, "secured", [process("markers", node("teleop_markers"))])
    forma = shutil.which("forma") or os.path.join(os.path.dirname(sys.executable), "forma")
    keystore = tmp_path / "keystore"
    made = subprocess.run([forma, "security", "keystore", path, str(keystore)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain_id)}
    launch = [forma, "launch", path, "--secure", str(keystore), "--log-dir", str(tmp_path / "logs")]
    run = subprocess.run(launch, capture_output=True, text=True, env=env, timeout=120)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert NO_PLUGINS in output, output[-3000:]
    assert "required process markers exited" in output, output[-3000:]

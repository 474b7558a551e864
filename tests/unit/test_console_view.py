"""What the browser view shows, computed without a browser."""

from __future__ import annotations

import math

import numpy as np

from forma_console.view_model import JointStateMapper, hardware_status_markdown


def test_mapper_reorders_keeps_missing_and_ignores_unknown_and_nan():
    m = JointStateMapper(["a", "b", "c"])
    assert m.update(["c", "a", "zz"], [3.0, 1.0, 9.0]) == 2
    np.testing.assert_allclose(m.configuration, [1.0, 0.0, 3.0])
    assert m.update(["b", "a"], [2.0, math.nan]) == 1
    np.testing.assert_allclose(m.configuration, [1.0, 2.0, 3.0])
    assert m.update(["a"], [1.0, 2.0]) == 0  # malformed: lengths differ


def test_status_markdown_names_states_modes_and_reasons():
    text = hardware_status_markdown(["body", "left_hand"], [1, 0], [0, 2], ["no command for 0.10 s", ""], True, 3, 1)
    assert "**E-STOP ENGAGED**" in text
    assert "| body | HOLD | position | no command for 0.10 s |" in text
    assert "| left_hand | ACTIVE | damping |  |" in text
    assert "rejected: 3, clamped: 1" in text

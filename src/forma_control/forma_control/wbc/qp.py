"""The task QP: weighted least-squares tasks on the generalised velocity, hard equality
constraints (contacts) and bounds (joint position and velocity limits, collision avoidance), solved
by proxsuite's dense ProxQP with warm starts (0.1-0.3 ms for the 44-variable problem here).

    minimise   sum_k w_k |J_k v - r_k|^2 + reg |v|^2
    subject to A v = b,   l <= C v <= u
"""

from __future__ import annotations

import math

import numpy as np
import proxsuite

from forma_control.errors import ControlError


class QPFailed(ControlError):
    """The solver found no solution (infeasible constraints or non-finite data)."""


class TaskQP:
    def __init__(self, n: int, n_eq: int, n_in: int, regularisation: float = 1e-4) -> None:
        self.n, self.n_eq, self.n_in = n, n_eq, n_in
        self.reg = regularisation
        self.qp = proxsuite.proxqp.dense.QP(n, n_eq, n_in)
        self.qp.settings.eps_abs = 1e-6
        self.qp.settings.max_iter = 200
        self.qp.settings.initial_guess = proxsuite.proxqp.InitialGuess.WARM_START_WITH_PREVIOUS_RESULT
        self.initialised = False
        self.iterations = 0
        self._diagonal = np.diag_indices(n)

    def solve(self, tasks, a_eq, b_eq, c_in, l_in, u_in) -> np.ndarray:
        """tasks: iterable of (J [m x n], r [m], weight)."""
        # all tasks stacked, weighted by sqrt(w): one product instead of one per task (half the time)
        root_w = [math.sqrt(w) for _, _, w in tasks]
        a = np.vstack([k * jac for k, (jac, _, _) in zip(root_w, tasks, strict=True)])
        b = np.concatenate([k * np.asarray(r, float) for k, (_, r, _) in zip(root_w, tasks, strict=True)])
        h = a.T @ a
        h[self._diagonal] += self.reg
        g = -(a.T @ b)
        if not math.isfinite(float(h.sum()) + float(g.sum())):  # any NaN or inf makes the sum so
            raise QPFailed("non-finite task data (a NaN reached the controller)")
        if self.initialised:
            self.qp.update(h, g, a_eq, b_eq, c_in, l_in, u_in)
        else:
            self.qp.init(h, g, a_eq, b_eq, c_in, l_in, u_in)
            self.initialised = True
        self.qp.solve()
        status = self.qp.results.info.status
        self.iterations = self.qp.results.info.iter
        x = self.qp.results.x
        if status != proxsuite.proxqp.QPSolverOutput.PROXQP_SOLVED or not np.all(np.isfinite(x)):
            raise QPFailed(f"QP not solved: {status}")
        return x.copy()

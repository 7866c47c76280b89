"""Cancelling a solve from another thread: the token the solver checks between parts and inside CP-SAT.

Its own module so that the solver (which checks it) and the job runner (which owns it) do not import
each other.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # the web app imports this module at start; OR-Tools only when a solve runs
    from ortools.sat.python import cp_model


class Cancelled(Exception):
    """The solve was cancelled (shutdown, or the coordinator asked)."""


class CancelToken:
    """Shared by the event loop and the solver thread: the loop cancels, the thread checks and registers the
    CP-SAT solver it is running so that a cancel stops the search at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._solver: cp_model.CpSolver | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._solver is not None:
                self._solver.stop_search()

    def check(self) -> None:
        if self._cancelled:
            raise Cancelled()

    @contextlib.contextmanager
    def running(self, solver: cp_model.CpSolver) -> Iterator[None]:
        with self._lock:
            self.check()
            self._solver = solver
        try:
            yield
        finally:
            with self._lock:
                self._solver = None
        self.check()

"""Run a model to an end time, with scheduled callbacks and output writers.

The time step is the largest stable one (CFL and diffusion limits), shortened so that the run
lands exactly on every scheduled output time, source event and the stop time. A fixed ``dt`` may
be given instead; one that breaks a stability limit is refused before the first step.
"""

from __future__ import annotations

import logging
import math
import time as wallclock
from typing import Any, Mapping, Protocol

from .errors import ConfigError, NumericalInstabilityError
from .model import DispersionModel

log = logging.getLogger(__name__)


class Scheduled(Protocol):
    """A callback or writer: acts when its ``schedule`` is due.

    Optional hooks ``initialize(sim)`` (before the first step or after resuming) and
    ``finalize(sim)`` (after the last step) are called when present.
    """

    schedule: Any

    def __call__(self, sim: "Simulation") -> None: ...


class Simulation:
    """Advance ``model`` to ``stop_time`` seconds.

    Parameters
    ----------
    model:
        The dispersion model (its ``time`` is where the run starts).
    stop_time:
        End of the run (s of model time).
    dt:
        Fixed time step (s); None (default) chooses it adaptively from ``cfl``.
    cfl:
        Target Courant number of the adaptive step, in (0, 1].
    max_dt:
        Upper bound of the adaptive step (s).
    callbacks, writers:
        Named objects with a ``schedule`` (see :mod:`engine.schedules`), called after each step
        on which their schedule is due; writers are called at the start too.
    output:
        Optional :class:`~engine.output.RunOutput` that writers append to; it is finalised
        (written atomically) when the run ends.
    """

    def __init__(self, model: DispersionModel, stop_time: float, dt: float | None = None, cfl: float = 0.8,
                 max_dt: float = math.inf, callbacks: Mapping[str, Scheduled] | None = None,
                 writers: Mapping[str, Scheduled] | None = None, output: Any = None):
        if not stop_time > model.time:
            raise ConfigError("time.stop", f"must be after the model time {model.time} s, got {stop_time}")
        if dt is not None and not dt > 0:
            raise ConfigError("time.dt", f"must be > 0 s or null for adaptive steps, got {dt}")
        if not max_dt > 0:
            raise ConfigError("time.max_dt", f"must be > 0 s, got {max_dt}")
        self.model = model
        self.stop_time = float(stop_time)
        self.fixed_dt = dt
        self.cfl = cfl
        self.max_dt = max_dt
        self.callbacks = dict(callbacks or {})
        self.writers = dict(writers or {})
        self.output = output
        self.last_dt = 0.0
        self.wall_time = 0.0
        self.stopped_early = False
        self._stable_dt = self._check_stability()

    # --- time step ---------------------------------------------------------------------------
    def _check_stability(self) -> float:
        stable = self.model.stable_dt(self.cfl if self.fixed_dt is None else 1.0)
        if self.fixed_dt is not None and self.fixed_dt > stable * (1 + 1e-12):
            raise NumericalInstabilityError(
                f"time.dt = {self.fixed_dt:g} s breaks the stability limit of {stable:.4g} s "
                "(Courant number above 1 or explicit horizontal diffusion unstable); "
                "lower time.dt or leave it null for adaptive steps"
            )
        return stable

    def refresh_stability(self) -> None:
        """Recompute the stable step after the meteorology changed."""
        self._stable_dt = self._check_stability()

    def _event_times(self) -> list[float]:
        times = [self.stop_time]
        for item in list(self.writers.values()) + list(self.callbacks.values()):
            times.append(item.schedule.next_time(self.model.time))
        times.extend(t for t in self.model.injector.event_times() if t > self.model.time)
        return times

    def next_dt(self) -> tuple[float, float | None]:
        """The step to take now, and the event time it lands on exactly (None if it does not)."""
        t = self.model.time
        target = min(self._event_times())
        dt = self.fixed_dt if self.fixed_dt is not None else min(self._stable_dt, self.max_dt)
        remaining = target - t
        if dt >= remaining * (1 - 1e-9):
            return remaining, target
        return dt, None

    # --- running -----------------------------------------------------------------------------
    def _call_due(self, items: Mapping[str, Scheduled]) -> None:
        model = self.model
        for item in items.values():
            if item.schedule.due(model.time, model.iteration):
                item(self)

    def _hook(self, name: str) -> None:
        for item in list(self.writers.values()) + list(self.callbacks.values()):
            hook = getattr(item, name, None)
            if hook is not None:
                hook(self)

    def run(self, resume_from: str | None = None) -> "Simulation":
        """Run to ``stop_time``. ``resume_from`` names a checkpoint file to continue from."""
        if resume_from is not None:
            from .checkpoint import load_checkpoint  # noqa: PLC0415

            load_checkpoint(resume_from, self)
        fresh = self.model.iteration == 0 and resume_from is None
        self._hook("initialize")
        if fresh:
            self._call_due(self.writers)
        start = wallclock.perf_counter()
        try:
            while self.model.time < self.stop_time and not self.stopped_early:
                dt, landing = self.next_dt()
                self.model.step(dt)
                self.last_dt = dt
                if landing is not None:
                    self.model.time = landing  # exact, free of round-off in t + dt
                # Writers first: a checkpoint taken at an output time must include that record.
                self._call_due(self.writers)
                self._call_due(self.callbacks)
        finally:
            self.wall_time += wallclock.perf_counter() - start
        self._hook("finalize")
        if self.output is not None:
            self.output.finalize(self)
        return self

    def stop(self, reason: str) -> None:
        """Ask the run to end after the current step (used by callbacks)."""
        log.warning("stopping at t = %.6g s: %s", self.model.time, reason)
        self.stopped_early = True

    @property
    def throughput(self) -> float:
        """Cell-updates per second of wall time so far (member × species × cells × steps / s)."""
        if self.wall_time <= 0:
            return 0.0
        return self.model.cell_updates_per_step * self.model.iteration / self.wall_time

"""Run-time callbacks: a progress bar and a NaN/Inf guard.

Both read back from the device only on their own schedule, never every step.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .errors import NumericalInstabilityError
from .schedules import IterationInterval

log = logging.getLogger(__name__)


class ProgressBar:
    """A tqdm progress bar over model time, with the time step and throughput.

    Parameters
    ----------
    schedule:
        When to refresh the bar (every 10 iterations by default).
    enabled:
        False turns the bar off (it is also off when stderr is not a terminal and ``force`` is
        False, so logs from batch jobs stay readable).
    """

    def __init__(self, schedule=None, enabled: bool = True, force: bool = False):
        self.schedule = schedule or IterationInterval(10)
        self.enabled = enabled
        self.force = force
        self._bar = None

    def initialize(self, sim) -> None:
        if not self.enabled:
            return
        import sys  # noqa: PLC0415

        if not (self.force or sys.stderr.isatty()):
            return
        from tqdm import tqdm  # noqa: PLC0415

        self._bar = tqdm(total=sim.stop_time, initial=sim.model.time, unit="s", unit_scale=True,
                         desc="model time", dynamic_ncols=True, leave=True)

    def __call__(self, sim) -> None:
        if self._bar is None:
            return
        self._bar.n = sim.model.time
        self._bar.set_postfix(dt=f"{sim.last_dt:.3g}s", Mcells_per_s=f"{sim.throughput / 1e6:.1f}", refresh=False)
        self._bar.refresh()

    def finalize(self, sim) -> None:
        if self._bar is not None:
            self._bar.n = sim.model.time
            self._bar.close()
            self._bar = None


class NaNGuard:
    """Stops the run with a clear message when the state stops being finite.

    Every ``schedule`` it checks that all concentrations are finite and keeps a host copy of the
    last good state. On failure it writes that state (with its time) to ``dump_path`` when given
    and raises :class:`NumericalInstabilityError` naming the first species and cell affected.
    """

    def __init__(self, schedule=None, dump_path: str | Path | None = None):
        self.schedule = schedule or IterationInterval(20)
        self.dump_path = Path(dump_path) if dump_path is not None else None
        self._last_good: tuple[float, int, np.ndarray] | None = None

    def initialize(self, sim) -> None:
        self._remember(sim)

    def _remember(self, sim) -> None:
        model = sim.model
        host = model.grid.backend.to_host(model.state)
        if isinstance(model.state, np.ndarray) and np.shares_memory(host, model.state):
            # On the CPU that is the state itself, whose memory later steps reuse (the Numba step
            # writes each new state into the one before last): keep a copy.
            host = host.copy()
        self._last_good = (model.time, model.iteration, host)

    def __call__(self, sim) -> None:
        model = sim.model
        xp = model.grid.xp
        if bool(xp.isfinite(model.state).all()):
            self._remember(sim)
            return
        host = model.grid.backend.to_host(model.state)
        member, species, k, j, i = (int(v[0]) for v in np.nonzero(~np.isfinite(host)))
        saved = self._save()
        raise NumericalInstabilityError(
            f"non-finite concentration of {model.species_names[species]} (member {member}) in cell "
            f"(k={k}, j={j}, i={i}) at t = {model.time:.6g} s, iteration {model.iteration}; "
            f"last good state at t = {self._last_good[0]:.6g} s{saved}. "
            "Check the inputs for NaN, and lower time.cfl or time.dt"
        )

    def _save(self) -> str:
        if self.dump_path is None or self._last_good is None:
            return ""
        import h5py  # noqa: PLC0415

        from .atomic import atomic_path  # noqa: PLC0415

        time, iteration, state = self._last_good
        with atomic_path(self.dump_path) as tmp, h5py.File(tmp, "w") as f:
            f.create_dataset("state", data=state, compression="gzip")
            f.attrs["time"] = time
            f.attrs["iteration"] = iteration
        return f", saved to {self.dump_path}"

"""The dispersion model: grid, meteorology, species and sources, with the state they evolve."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import ConfigError
from .grid import Grid
from .meteorology import Diffusivity, Wind
from .sources import Source, SourceInjector
from .species import Species
from .transport import Transport

BUDGET_TERMS = ("emitted", "outflow", "deposited", "decayed")


class DispersionModel:
    """A kinematic tracer model: prescribed wind and diffusivity, evolving concentrations.

    Parameters
    ----------
    grid:
        The grid (carries the backend and dtype).
    wind:
        Face velocities for ``M`` members.
    diffusivity:
        Eddy diffusivities for 1 or ``M`` members.
    species:
        The transported species.
    sources:
        Emission sources (each for every member or for one).
    emission_factors:
        Optional ``(M, n_sources)`` multipliers of the source rates.
    limiter:
        Advection flux limiter (``mc`` default; see :mod:`engine.transport.advection`).
    vertical_diffusion:
        ``auto`` (default: forward Euler where the step is well inside its explicit limit,
        backward Euler otherwise), ``implicit`` or ``explicit`` (see :class:`Transport`).

    Attributes
    ----------
    state:
        Concentrations (kg/m³), ``(member, species, z, y, x)`` on the grid's backend.
    time:
        Model time (s since the start of the run).
    iteration:
        Number of steps taken.
    """

    def __init__(self, grid: Grid, wind: Wind, diffusivity: Diffusivity, species: Sequence[Species],
                 sources: Sequence[Source] = (), emission_factors: np.ndarray | None = None,
                 limiter: str = "mc", vertical_diffusion: str = "auto"):
        species = list(species)
        if not species:
            raise ConfigError("species", "at least one species must be transported")
        names = [s.name for s in species]
        if len(set(names)) != len(names):
            raise ConfigError("species", f"species names must be unique, got {names}")
        if wind.grid is not grid or diffusivity.grid is not grid:
            raise ConfigError("model", "wind and diffusivity must be built on the model's grid")
        self.grid = grid
        self.species = species
        self.members = wind.members
        self.transport = Transport(grid, wind, diffusivity, species, limiter, vertical_diffusion)
        self.injector = SourceInjector(grid, species, sources, self.members, emission_factors)
        self.state = grid.xp.zeros((self.members, len(species)) + grid.shape, dtype=grid.float_type)
        self.time = 0.0
        self.iteration = 0
        xp = grid.xp
        self._budget_device = {k: xp.zeros((self.members, len(species)), dtype=xp.float64)
                               for k in ("outflow", "deposited", "decayed")}
        self._emitted = np.zeros((self.members, len(species)))

    # --- properties ----------------------------------------------------------------------------
    @property
    def species_names(self) -> list[str]:
        return [s.name for s in self.species]

    @property
    def wind(self) -> Wind:
        return self.transport.wind

    @property
    def diffusivity(self) -> Diffusivity:
        return self.transport.diffusivity

    @property
    def sources(self) -> list[Source]:
        return self.injector.sources

    @property
    def cell_updates_per_step(self) -> int:
        return self.state.size

    # --- set-up --------------------------------------------------------------------------------
    def set_state(self, values) -> None:
        """Replace the concentrations (kg/m³); ``values`` broadcast to the state's shape."""
        xp = self.grid.xp
        new = xp.asarray(values, dtype=self.grid.float_type)
        self.state = xp.ascontiguousarray(xp.broadcast_to(new, self.state.shape)).copy()
        self.state *= xp.asarray(~self.grid.solid)

    def set_meteorology(self, wind: Wind, diffusivity: Diffusivity, rain_rate: float | None = None) -> None:
        """Switch wind and diffusivity (and the rain rate, mm/h, when given)."""
        if wind.members != self.members:
            raise ConfigError("met", f"new wind has {wind.members} members, the model {self.members}")
        self.transport.set_meteorology(wind, diffusivity)
        if rain_rate is not None:
            self.transport.set_rain(rain_rate)

    def set_sources(self, sources: Sequence[Source]) -> None:
        """Replace the sources by ones with the same names in the same order (e.g. stacks whose
        plume rise changed with the weather); emission factors and the mass budget carry on."""
        names = [s.name for s in sources]
        if names != [s.name for s in self.sources]:
            raise ConfigError("sources", f"new sources {names} must match the model's {[s.name for s in self.sources]}")
        self.injector = SourceInjector(self.grid, self.species, sources, self.members, self.injector.emission_factors)

    # --- time stepping -------------------------------------------------------------------------
    def stable_dt(self, cfl: float = 0.8) -> float:
        return self.transport.stable_dt(cfl)

    def step(self, dt: float) -> None:
        """Advance by ``dt`` seconds: inject sources, then transport."""
        if not dt > 0:
            raise ConfigError("time.dt", f"must be > 0 s, got {dt}")
        self._emitted += self.injector.inject(self.state, self.time, self.time + dt)
        self.state, outflow, deposited, decayed = self.transport.step(self.state, dt, self.iteration)
        self._budget_device["outflow"] += outflow
        self._budget_device["deposited"] += deposited
        self._budget_device["decayed"] += decayed
        self.time += dt
        self.iteration += 1

    # --- diagnostics ---------------------------------------------------------------------------
    def mass(self) -> np.ndarray:
        """Mass (kg) in the domain per member and species (host, float64)."""
        return self.grid.backend.to_host(self.transport.total_mass(self.state))

    def budget(self) -> dict[str, np.ndarray]:
        """Mass budget (kg) per member and species: emitted, inside, outflow, deposited, decayed
        and the residual ``emitted - inside - outflow - deposited - decayed`` relative to the
        initial mass. Reads back from the device: call on an output schedule, not every step."""
        to_host = self.grid.backend.to_host
        out = {"emitted": self._emitted.copy()}
        out.update({k: to_host(v) for k, v in self._budget_device.items()})
        out["inside"] = self.mass()
        return out

    # --- checkpoint support ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray | float | int]:
        """Everything needed to resume: host copies of the state and budget, time and iteration."""
        to_host = self.grid.backend.to_host
        state = to_host(self.state)
        if isinstance(self.state, np.ndarray) and np.shares_memory(state, self.state):  # CPU: steps reuse it
            state = state.copy()
        snapshot = {"state": state, "time": self.time, "iteration": self.iteration,
                    "emitted": self._emitted.copy()}
        snapshot.update({f"budget_{k}": to_host(v) for k, v in self._budget_device.items()})
        return snapshot

    def load_state_dict(self, snapshot: dict) -> None:
        xp = self.grid.xp
        state = np.asarray(snapshot["state"])
        if state.shape != self.state.shape or state.dtype != self.state.dtype:
            raise ConfigError(
                "checkpoint",
                f"holds a state {state.shape} {state.dtype}, the model needs {self.state.shape} {self.state.dtype}",
            )
        self.state = xp.asarray(state)
        self.time = float(snapshot["time"])
        self.iteration = int(snapshot["iteration"])
        self._emitted = np.asarray(snapshot["emitted"], dtype=np.float64).copy()
        for key in self._budget_device:
            self._budget_device[key] = xp.asarray(np.asarray(snapshot[f"budget_{key}"], dtype=np.float64))

"""Scheduled writers: copy the model's concentrations to the host and append them to the run file.

They are the only place fields leave the device during a run, and only when their schedule is due.
"""

from __future__ import annotations

from typing import Sequence

from ..errors import ConfigError
from ..sampling import PointSampler


class FieldWriter:
    """Writes 3D concentration fields on a schedule.

    Parameters
    ----------
    schedule:
        When to write (e.g. ``TimeInterval(600)``).
    species:
        Species to write (default: all).
    levels:
        Vertical level indices to write (default: all; ``[0]`` for ground level only). Written
        in increasing order.
    """

    def __init__(self, schedule, species: Sequence[str] | None = None, levels: Sequence[int] | None = None):
        self.schedule = schedule
        self.species = None if species is None else list(species)
        self.levels = None if levels is None else sorted(int(k) for k in levels)
        self._checked_for = None

    def initialize(self, sim) -> None:
        """Check the species and levels against the model (before the first record)."""
        model = sim.model
        names, nz = model.species_names, model.grid.nz
        if self.species is not None:
            unknown = [s for s in self.species if s not in names]
            if unknown or not self.species:
                raise ConfigError("output.fields.species", f"{unknown or 'an empty list'} not transported; "
                                                           f"known species: {', '.join(names)}")
        levels = self.levels
        if levels is not None:
            if not levels or levels[0] < 0 or levels[-1] >= nz or len(set(levels)) != len(levels):
                raise ConfigError("output.fields.levels", f"must be distinct level indices in 0..{nz - 1}, "
                                                          f"got {self.levels}")
        self._checked_for = model

    def __call__(self, sim) -> None:
        model = sim.model
        if self._checked_for is not model:
            self.initialize(sim)
        names = model.species_names
        chosen = list(range(len(names))) if self.species is None else [names.index(s) for s in self.species]
        levels = self.levels if self.levels is not None else list(range(model.grid.nz))
        state = model.state
        # Select on the device so only the written part crosses to the host.
        if len(chosen) != len(names):
            state = state[:, chosen]
        if len(levels) != model.grid.nz:
            state = state[:, :, levels]
        host = model.grid.backend.to_host(state)
        sim.output.append_fields(model.time, {names[s]: host[:, n] for n, s in enumerate(chosen)}, levels)


class ReceptorWriter:
    """Writes concentrations sampled at receptors (trilinear interpolation) on a schedule.

    Parameters
    ----------
    schedule:
        When to write (e.g. ``TimeInterval(60)``).
    sampler:
        The receptors, as a :class:`~engine.sampling.PointSampler` on the model's grid.
    """

    def __init__(self, schedule, sampler: PointSampler):
        self.schedule = schedule
        self.sampler = sampler

    def __call__(self, sim) -> None:
        model = sim.model
        values = model.grid.backend.to_host(self.sampler.sample(model.state))
        sim.output.append_receptors(model.time, values, self.sampler.names, self.sampler.points)

"""Emission sources: point (stack), area, volume and instantaneous puff.

Rates are kg/s per species, optionally modulated by a step-wise time profile. What a source emits
during a time step is the exact integral of its rate over the step, so the mass budget closes to
round-off whatever the step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .backend import scatter_add
from .errors import ConfigError
from .grid import Grid
from .sampling import point_weights
from .species import Species, species_index


@dataclass(frozen=True)
class EmissionProfile:
    """A dimensionless step-wise multiplier of the emission rate.

    ``factors[i]`` applies from ``times[i]`` (s) until ``times[i+1]``; before ``times[0]`` the
    factor is 0 and after the last time the last factor holds.
    """

    times: Sequence[float] = (0.0,)
    factors: Sequence[float] = (1.0,)

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype=np.float64)
        factors = np.asarray(self.factors, dtype=np.float64)
        if times.shape != factors.shape or times.ndim != 1 or times.size == 0:
            raise ConfigError("sources.profile", "times and factors must be lists of the same non-zero length")
        if np.any(np.diff(times) <= 0):
            raise ConfigError("sources.profile.times", "must increase strictly")
        if np.any(factors < 0):
            raise ConfigError("sources.profile.factors", "must be >= 0")

    def integral(self, t0: float, t1: float) -> float:
        """∫ factor dt over [t0, t1] (s). Plain floats: it runs for every source at every step,
        and a profile has a few entries, where array calls cost ten times the arithmetic."""
        times = self.times
        total = 0.0
        for n, (start, factor) in enumerate(zip(times, self.factors)):
            end = float(times[n + 1]) if n + 1 < len(times) else math.inf
            overlap = min(end, t1) - max(float(start), t0)
            if overlap > 0:
                total += overlap * float(factor)
        return total


def _check_rates(name: str, rates: Mapping[str, float], what: str) -> dict[str, float]:
    checked = {}
    for species, value in rates.items():
        value = float(value)
        if not np.isfinite(value) or value < 0:
            raise ConfigError(f"sources.{name}.{what}.{species}", f"must be a finite value >= 0, got {value}")
        checked[str(species)] = value
    if not checked:
        raise ConfigError(f"sources.{name}.{what}", "names no species")
    return checked


@dataclass(frozen=True)
class Source:
    """Base of every source: a name, the species it emits and when.

    ``rates`` are kg/s per species (for a puff: kg released at once). ``member`` restricts the
    source to one ensemble member (None: every member).
    """

    name: str
    rates: Mapping[str, float]
    start: float = 0.0
    stop: float = np.inf
    profile: EmissionProfile = field(default_factory=EmissionProfile)
    member: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rates", _check_rates(self.name, self.rates, "rates"))
        if self.stop <= self.start:
            raise ConfigError(f"sources.{self.name}.stop", f"must be after start ({self.start} s)")

    def emitted(self, t0: float, t1: float) -> dict[str, float]:
        """Mass (kg) of each species emitted during [t0, t1]."""
        a, b = max(t0, self.start), min(t1, self.stop)
        seconds = self.profile.integral(a, b) if b > a else 0.0
        return {s: rate * seconds for s, rate in self.rates.items()}

    def event_times(self) -> list[float]:
        """Times the simulation should land on exactly (none for continuous sources)."""
        return []

    def cells(self, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        """Flat cell indices into ``(nz, ny, nx)`` and the fraction of the mass each receives."""
        raise NotImplementedError


@dataclass(frozen=True)
class PointSource(Source):
    """A stack or vent at ``(x, y)`` releasing at effective height ``height`` (m above ground).

    The effective height is the stack height plus plume rise; the mass is spread trilinearly over
    the eight nearest cell centres (the adjoint of receptor sampling).
    """

    x: float = 0.0
    y: float = 0.0
    height: float = 0.0

    def cells(self, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        return point_weights(grid, self.x, self.y, self.height, what=f"sources.{self.name}")


def _overlap_1d(lo: float, hi: float, faces: np.ndarray) -> np.ndarray:
    """Length of [lo, hi] inside each interval between consecutive ``faces``."""
    return np.clip(np.minimum(faces[1:], hi) - np.maximum(faces[:-1], lo), 0, None)


def _box_cells(grid: Grid, name: str, box: tuple[float, float, float, float, float, float]):
    x0, x1, y0, y1, z0, z1 = box
    gx0, gx1, gy0, gy1, _, gz1 = grid.extent
    if not (gx0 <= x0 < x1 <= gx1 and gy0 <= y0 < y1 <= gy1 and 0 <= z0 <= z1 <= gz1):
        raise ConfigError(
            f"sources.{name}",
            f"box x {x0:g}–{x1:g}, y {y0:g}–{y1:g}, z {z0:g}–{z1:g} m must lie inside the domain "
            f"x {gx0:g}–{gx1:g}, y {gy0:g}–{gy1:g}, z 0–{gz1:g} with positive widths",
        )
    wx = _overlap_1d(x0, x1, grid.x_faces)
    wy = _overlap_1d(y0, y1, grid.y_faces)
    if z1 > z0:
        wz = _overlap_1d(z0, z1, grid.z_faces)
    else:  # a surface at height z0: the layer that contains it
        wz = np.zeros(grid.nz)
        wz[grid.cell_index(gx0, gy0, z0)[0]] = 1.0
    weights = wz[:, None, None] * wy[None, :, None] * wx[None, None, :]
    weights[grid.solid] = 0.0
    total = weights.sum()
    if total <= 0:
        raise ConfigError(f"sources.{name}", "lies entirely inside buildings or terrain")
    flat = np.flatnonzero(weights)
    return flat.astype(np.int64), weights.ravel()[flat] / total


@dataclass(frozen=True)
class AreaSource(Source):
    """A horizontal rectangle (m) emitting uniformly, at ``height`` m (0: the ground layer)."""

    x_min: float = 0.0
    x_max: float = 0.0
    y_min: float = 0.0
    y_max: float = 0.0
    height: float = 0.0

    def cells(self, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        box = (self.x_min, self.x_max, self.y_min, self.y_max, self.height, self.height)
        return _box_cells(grid, self.name, box)


@dataclass(frozen=True)
class VolumeSource(Source):
    """A box (m) emitting uniformly through its volume."""

    x_min: float = 0.0
    x_max: float = 0.0
    y_min: float = 0.0
    y_max: float = 0.0
    z_min: float = 0.0
    z_max: float = 0.0

    def cells(self, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
        if self.z_max <= self.z_min:
            raise ConfigError(f"sources.{self.name}.z_max", "must exceed z_min for a volume source")
        return _box_cells(grid, self.name, (self.x_min, self.x_max, self.y_min, self.y_max, self.z_min, self.z_max))


@dataclass(frozen=True)
class PuffSource(PointSource):
    """An instantaneous release: ``rates`` are masses (kg) released at ``start`` (s)."""

    def emitted(self, t0: float, t1: float) -> dict[str, float]:
        released = t0 <= self.start < t1
        return {s: (mass if released else 0.0) for s, mass in self.rates.items()}

    def event_times(self) -> list[float]:
        return [self.start]


class SourceInjector:
    """All sources of a model, compiled into scatter lists for fast injection.

    Parameters
    ----------
    grid, species:
        The model's grid and species.
    sources:
        The sources; each applies to every member or to ``source.member`` only.
    members:
        Number of ensemble members.
    emission_factors:
        Optional ``(members, n_sources)`` multipliers (ensemble emission perturbations, retrofits).
    """

    def __init__(self, grid: Grid, species: list[Species], sources: Sequence[Source], members: int,
                 emission_factors: np.ndarray | None = None):
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise ConfigError("sources", f"source names must be unique, got {names}")
        self.grid, self.species, self.sources, self.members = grid, species, list(sources), members
        n_species = len(species)
        factors = np.ones((members, len(sources))) if emission_factors is None else np.asarray(emission_factors, float)
        if factors.shape != (members, len(sources)):
            raise ConfigError("sources.emission_factors", f"shape {factors.shape} should be {(members, len(sources))}")
        self.emission_factors = factors
        # species_mask[n, s] = 1 where source n emits species s
        self._rate_columns = []
        for source in sources:
            columns = [species_index(species, name, f"sources.{source.name}.rates") for name in source.rates]
            self._rate_columns.append(columns)
        entry_member, entry_cell, entry_weight, entry_source = [], [], [], []
        volumes = grid.cell_volumes().ravel()
        for n, source in enumerate(sources):
            if source.member is not None and not 0 <= source.member < members:
                raise ConfigError(f"sources.{source.name}.member", f"must be in 0..{members - 1}")
            cells, weights = source.cells(grid)
            layer = cells // (grid.nx * grid.ny)
            for m in range(members) if source.member is None else [source.member]:
                entry_member.append(np.full(cells.size, m))
                entry_cell.append(cells)
                entry_weight.append(weights * factors[m, n] / volumes[layer])
                entry_source.append(np.full(cells.size, n))
        self._applies = np.zeros((members, len(sources)))
        for n, source in enumerate(sources):
            if source.member is None:
                self._applies[:, n] = factors[:, n]
            else:
                self._applies[source.member, n] = factors[source.member, n]
        cat = (lambda parts, dt: np.concatenate(parts).astype(dt)) if sources else (lambda parts, dt: np.zeros(0, dt))
        self._member = cat(entry_member, np.int64)
        self._cell = cat(entry_cell, np.int64)
        self._weight = cat(entry_weight, np.float64)
        self._source = cat(entry_source, np.int64)
        backend = grid.backend
        self._device_member = backend.asarray(self._member)
        self._device_cell = backend.asarray(self._cell)
        self._n_species = n_species

    def event_times(self) -> list[float]:
        return sorted({t for s in self.sources for t in s.event_times()})

    def masses(self, t0: float, t1: float) -> np.ndarray:
        """Host array ``(n_sources, n_species)`` of kg each source emits during [t0, t1]."""
        out = np.zeros((len(self.sources), self._n_species))
        for n, source in enumerate(self.sources):
            emitted = source.emitted(t0, t1)
            for column, name in zip(self._rate_columns[n], source.rates):
                out[n, column] = emitted[name]
        return out

    def inject(self, field, t0: float, t1: float) -> np.ndarray:
        """Add what every source emits during [t0, t1] to ``field`` (in place).

        Returns the host array ``(member, species)`` of kg emitted, for the mass budget.
        """
        masses = self.masses(t0, t1)
        emitted = self._applies @ masses
        if self._cell.size == 0 or not np.any(masses):
            return emitted
        amounts = masses[self._source] * self._weight[:, None]  # (entries, species) kg/m³
        device_amounts = self.grid.backend.asarray(amounts.astype(self.grid.float_type))
        members, n_species = field.shape[:2]
        flat = field.reshape(members, n_species, -1)
        species_axis = self.grid.xp.arange(n_species)
        scatter_add(
            flat,
            (self._device_member[:, None], species_axis[None, :], self._device_cell[:, None]),
            device_amounts,
        )
        return emitted

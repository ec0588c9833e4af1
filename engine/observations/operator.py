"""The observation operator: the state seen by the sensors, and its adjoint.

``H`` samples a state ``(member, species, z, y, x)`` at the sensor positions by trilinear
interpolation (the weights of :mod:`engine.sampling`, shared with point-source injection), giving
``(member, species, sensor)``. Sensors average over a window: :class:`WindowAverage` integrates the
samples taken during a run (piecewise linear in time, i.e. the trapezoidal rule) and returns each
sensor's mean over the window ending at an observation time; :class:`ObservationCallback` feeds
it from a :class:`~engine.simulation.Simulation` on a schedule.

Both steps are linear, and their transposes are exposed: :meth:`ObservationOperator.adjoint`
spreads sensor-space values onto cells (``Hᵀ``), and :meth:`WindowAverage.time_weights` gives the
weights of the stored samples in each mean. Injecting a mass ``m`` (kg) at a sensor's position
with a point source adds ``m Hᵀ / V`` (kg/m³): :meth:`ObservationOperator.inject` is exactly that.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..grid import Grid
from ..sampling import PointSampler
from .flags import flag_names
from .records import StationTable


class ObservationOperator:
    """Trilinear sampling of every species at each sensor, for every member.

    Parameters
    ----------
    grid:
        The model grid (its CRS is the stations' CRS).
    stations:
        Sensor positions (``x``, ``y`` m in the grid's CRS, ``z_agl`` m above the domain bottom).
        Every station must be usable: inside the domain and not in a solid cell (select them with
        ``stations.subset(stations.usable)`` after :func:`~engine.observations.check_stations`).
    species_names:
        Names along the state's species axis, in order.
    averaging_s:
        Averaging window (s) of each sensor: a scalar for all, ``(sensor,)`` values, or None for the
        table's ``averaging_s`` (NaN there means 0, an instantaneous reading).

    Attributes
    ----------
    sampler:
        The :class:`~engine.sampling.PointSampler` holding the weights ``(sensor, 8)``.
    averaging_s:
        ``(sensor,)`` windows (s).
    """

    def __init__(self, grid: Grid, stations: StationTable, species_names: Sequence[str],
                 averaging_s: float | Sequence[float] | np.ndarray | None = None):
        bad = [f"{name} ({', '.join(flag_names(q))})" for name, q in zip(stations.station_id, stations.qc) if q]
        unknown = [str(name) for name, x, y, z in zip(stations.station_id, stations.x, stations.y, stations.z_agl)
                   if not np.all(np.isfinite([x, y, z]))]
        if bad or unknown:
            raise ConfigError("observations.stations",
                              f"cannot sample {', '.join(bad + [u + ' (no position)' for u in unknown])}; "
                              "keep only usable stations: stations.subset(stations.usable)")
        if stations.crs not in ("local", grid.crs) and len(stations):
            raise ConfigError("observations.stations", f"stations are in {stations.crs}, the grid in {grid.crs}")
        self.grid = grid
        self.stations = stations
        self.species_names = [str(s) for s in species_names]
        if not self.species_names:
            raise ConfigError("observations.species", "names no species")
        points = [tuple(p) for p in stations.positions]
        self.sampler = PointSampler(grid, points, names=[f"stations.{s}" for s in stations.station_id])
        self.sampler.names = list(stations.station_id)
        if averaging_s is None:
            window = np.nan_to_num(stations.averaging_s, nan=0.0)
        else:
            window = np.broadcast_to(np.asarray(averaging_s, dtype=np.float64), (len(stations),)).copy()
        if np.any(~np.isfinite(window)) or np.any(window < 0):
            raise ConfigError("observations.averaging_s", f"windows must be finite and >= 0 s, got {window}")
        self.averaging_s = window
        volumes = grid.cell_volumes().ravel()
        layer = self.sampler.host_cells // (grid.nx * grid.ny)
        self._inverse_volume = grid.backend.asarray((1.0 / volumes[layer]).astype(grid.float_type))

    @property
    def n_sensors(self) -> int:
        return len(self.stations)

    @property
    def station_ids(self) -> list[str]:
        return list(self.stations.station_id)

    def species_index(self, name: str) -> int:
        """Position of species ``name`` on the species axis."""
        if name not in self.species_names:
            raise ConfigError("observations.species", f"{name!r} is not one of {', '.join(self.species_names)}")
        return self.species_names.index(name)

    def sample(self, state):
        """``H x``: values ``(member, species, sensor)`` (kg/m³) on the state's device.

        ``state`` is ``(member, species, z, y, x)``; a single field ``(z, y, x)`` is taken as one
        member and one species.
        """
        if state.ndim == 3:
            state = state[None, None]
        if state.shape[1] != len(self.species_names):
            raise ConfigError("observations.species", f"the state has {state.shape[1]} species, the operator "
                                                      f"{len(self.species_names)} ({', '.join(self.species_names)})")
        return self.sampler.sample(state)

    def adjoint(self, values):
        """``Hᵀ w``: spread ``(member, species, sensor)`` values onto ``(member, species, z, y, x)``.

        ⟨H x, w⟩ = ⟨x, Hᵀ w⟩ with the plain Euclidean inner products of both spaces.
        """
        xp = self.grid.xp
        values = xp.asarray(values)
        return self.sampler.adjoint(values.astype(self.grid.float_type))

    def inject(self, masses):
        """Concentration increments (kg/m³) from releasing ``masses`` (kg), ``(member, species,
        sensor)``, at the sensor positions: ``V⁻¹ Hᵀ m``, what a point source there would add."""
        xp = self.grid.xp
        masses = xp.asarray(masses).astype(self.grid.float_type)
        members, species = masses.shape[:2]
        per_corner = masses[:, :, :, None] * self._inverse_volume.reshape(1, 1, *self._inverse_volume.shape)
        # The sampler's adjoint multiplies by the weights; pre-scale each corner by 1/V instead.
        from ..backend import scatter_add  # noqa: PLC0415

        out = xp.zeros((members, species, self.grid.size), dtype=masses.dtype)
        contributions = per_corner * self.sampler.weights
        scatter_add(out, (slice(None), slice(None), self.sampler.cells.ravel()),
                    contributions.reshape(members, species, -1))
        return out.reshape((members, species) + self.grid.shape)

    def window_average(self) -> "WindowAverage":
        """A fresh :class:`WindowAverage` with this operator's windows."""
        return WindowAverage(self.averaging_s)


def _quadrature(times: np.ndarray, start: float, end: float) -> np.ndarray:
    """Weights ``c`` with ``Σ c_k f(t_k)`` = mean over [start, end] of the piecewise-linear
    interpolant of samples ``f(t_k)`` (its value at ``end`` when ``start == end``)."""
    weights = np.zeros(times.size)
    if times.size == 1 or end <= start:
        point = np.clip(end, times[0], times[-1])
        upper = int(np.clip(np.searchsorted(times, point, side="left"), 1, max(times.size - 1, 1)))
        if times.size == 1:
            weights[0] = 1.0
            return weights
        lower = upper - 1
        span = times[upper] - times[lower]
        share = 0.0 if span <= 0 else (point - times[lower]) / span
        weights[lower] += 1 - share
        weights[upper] += share
        return weights
    total = 0.0
    for k in range(times.size - 1):
        t0, t1 = times[k], times[k + 1]
        a, b = max(t0, start), min(t1, end)
        if b <= a or t1 <= t0:
            continue
        # ∫_a^b of the hat functions of t0 and t1 on [t0, t1].
        s0, s1 = (a - t0) / (t1 - t0), (b - t0) / (t1 - t0)
        length = b - a
        weights[k + 1] += length * (s0 + s1) / 2
        weights[k] += length * (1 - (s0 + s1) / 2)
        total += length
    if total <= 0:
        return _quadrature(times, end, end)
    return weights / total


class WindowAverage:
    """Each sensor's mean over its averaging window, from samples taken during a run.

    Parameters
    ----------
    averaging_s:
        ``(sensor,)`` windows (s); 0 gives the interpolated instantaneous value.

    Notes
    -----
    Between samples the signal is taken as linear in time, so the mean over ``[t - W, t]`` is the
    trapezoidal rule on the samples inside plus interpolated end points. A window that begins
    before the first sample is averaged over the part that was sampled.
    """

    def __init__(self, averaging_s: np.ndarray):
        self.averaging_s = np.asarray(averaging_s, dtype=np.float64).ravel()
        self._times: list[float] = []
        self._samples: list[np.ndarray] = []

    @property
    def times(self) -> np.ndarray:
        return np.asarray(self._times, dtype=np.float64)

    def add(self, time: float, samples) -> None:
        """Store host samples ``(member, species, sensor)`` taken at model ``time`` (s)."""
        if self._times and time <= self._times[-1]:
            if time == self._times[-1]:
                self._samples[-1] = np.asarray(samples, dtype=np.float64)
                return
            raise ValueError(f"sample time {time} s is before the last one ({self._times[-1]} s)")
        samples = np.asarray(samples, dtype=np.float64)
        if samples.shape[-1] != self.averaging_s.size:
            raise ValueError(f"samples have {samples.shape[-1]} sensors, the windows {self.averaging_s.size}")
        self._times.append(float(time))
        self._samples.append(samples)

    def forget_before(self, time: float) -> None:
        """Drop samples no longer needed by any window ending at or after ``time`` (s)."""
        keep_from = time - float(self.averaging_s.max(initial=0.0))
        times = self.times
        first = max(int(np.searchsorted(times, keep_from, side="right")) - 1, 0)
        del self._times[:first], self._samples[:first]

    def time_weights(self, end: float) -> np.ndarray:
        """``(sample, sensor)`` weights: mean_n = Σ_k w[k, n] · sample_k[..., n]."""
        if not self._times:
            raise ValueError("no samples stored yet")
        times = self.times
        return np.stack([_quadrature(times, end - w, end) for w in self.averaging_s], axis=1)

    def adjoint(self, weights: np.ndarray, end: float) -> np.ndarray:
        """Transpose of :meth:`mean`: sensor-space ``weights`` ``(member, species, sensor)`` spread
        over the stored samples, ``(sample, member, species, sensor)``; each slice then goes
        through :meth:`ObservationOperator.adjoint`."""
        c = self.time_weights(end)
        return c[:, None, None, :] * np.asarray(weights, dtype=np.float64)[None]

    def mean(self, end: float) -> np.ndarray:
        """``(member, species, sensor)`` means over the windows ending at ``end`` (s)."""
        weights = self.time_weights(end)
        stacked = np.stack(self._samples, axis=0)  # (sample, member, species, sensor)
        return np.einsum("kmsn,kn->msn", stacked, weights)


class ObservationCallback:
    """Samples the model state on a schedule into a :class:`WindowAverage` (a Simulation callback).

    Parameters
    ----------
    operator:
        The observation operator.
    schedule:
        When to sample, e.g. ``IterationInterval(1)`` (every step, exact trapezoidal means) or a
        ``TimeInterval`` shorter than the windows.
    """

    def __init__(self, operator: ObservationOperator, schedule):
        self.operator = operator
        self.schedule = schedule
        self.average = operator.window_average()

    def initialize(self, sim) -> None:
        self(sim)

    def __call__(self, sim) -> None:
        model = sim.model
        self.average.add(model.time, model.grid.backend.to_host(self.operator.sample(model.state)))

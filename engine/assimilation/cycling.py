"""Assimilation cycles as a :class:`~engine.simulation.Simulation` callback.

At each scheduled time the callback reads the observations valid then, predicts them from every
member with the observation operator, lets the filter analyse the state (and the log emission
factors of an :class:`~engine.assimilation.augmentation.EmissionAugmentation`), puts the analysis
back into the model and records innovation statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

from .filters import ObservationBatch


class ObservationFeed(Protocol):
    """What the callback asks for: at model time ``t`` (s), the observed values ``(species, sensor)``
    (kg/m³, NaN where missing or flagged) and their error standard deviations (same shape), or None."""

    def at(self, time: float) -> tuple[np.ndarray, np.ndarray] | None: ...


@dataclass
class ArrayFeed:
    """Observations held as arrays: ``times`` ``(T,)`` s, ``values`` and ``errors`` ``(T, species, sensor)``."""

    times: np.ndarray
    values: np.ndarray
    errors: np.ndarray

    def at(self, time: float):
        matches = np.flatnonzero(np.isclose(np.asarray(self.times, dtype=float), time, rtol=0, atol=1e-6 * max(1.0, abs(time))))
        if matches.size == 0:
            return None
        return self.values[matches[0]], self.errors[matches[0]]


@dataclass
class InnovationRecord:
    """Statistics of one analysis: time (s), number of observations, mean innovation ``y − Hx̄``
    (kg/m³), RMS innovation before and after the analysis, ensemble spread in observation space."""

    time: float
    count: int
    mean_innovation: float
    rms_innovation: float
    rms_residual: float
    spread: float


@dataclass
class AssimilationCallback:
    """Analyse the model's ensemble whenever ``schedule`` is due and the feed has observations.

    Parameters
    ----------
    schedule:
        When to analyse (e.g. ``TimeInterval(600.0)``).
    filter:
        An :class:`~engine.assimilation.filters.EnKF` or :class:`~engine.assimilation.filters.LETKF`.
    operator:
        Has ``sample(state) -> (member, species, sensor)``, e.g. :class:`~engine.sampling.PointSampler`.
    sensor_xy:
        Horizontal positions of the sensors ``(sensor, 2)`` (m).
    feed:
        An :class:`ObservationFeed`; species follow the model's order.
    augmentation:
        Optional log emission factors to estimate with the state.
    clip_negative:
        Set negative analysed concentrations to 0 (a linear update can undershoot near plume
        edges).
    window:
        Optional time average of the members' samples with ``mean(end) -> (member, species,
        sensor)`` and ``add(time, samples)`` (e.g. an ingest ``WindowAverage`` filled every step):
        the predicted observations are then each sensor's mean over its averaging window, as the
        records are, and the transform computed from them updates the current state (the
        ensemble's time correlations carry the window's information to its end). After the
        analysis the sample at the analysis time is replaced by the analysed one.
    """

    schedule: Any
    filter: Any
    operator: Any
    sensor_xy: np.ndarray
    feed: ObservationFeed
    augmentation: Any = None
    clip_negative: bool = True
    records: list = field(default_factory=list)
    on_analysis: Callable | None = None
    window: Any = None

    def initialize(self, sim) -> None:
        if self.augmentation is not None:
            self.augmentation.apply(sim.model)

    def __call__(self, sim) -> None:
        model = sim.model
        found = self.feed.at(model.time)
        if found is None:
            return
        values, errors = (np.asarray(a, dtype=np.float64) for a in found)
        if self.window is not None:
            predicted = np.asarray(self.window.mean(model.time), dtype=np.float64)
        else:
            predicted = model.grid.backend.to_host(self.operator.sample(model.state)).astype(np.float64)
        members = predicted.shape[0]
        usable = np.isfinite(values) & np.isfinite(errors) & (errors > 0)
        if not usable.any():
            return
        species_index, sensor_index = np.nonzero(usable)
        batch = ObservationBatch(
            values=values[usable], variances=errors[usable] ** 2,
            xy=np.asarray(self.sensor_xy, dtype=np.float64)[sensor_index],
            predicted=predicted.reshape(members, -1)[:, np.ravel_multi_index((species_index, sensor_index), values.shape)],
        )
        parameters = positions = None
        if self.augmentation is not None:
            parameters, positions = self.augmentation.log_factors, self.augmentation.positions(model)
        state, parameters = self.filter.analyse(model.state, batch, model.grid, parameters, positions)
        if self.clip_negative:
            xp = model.grid.xp
            state = xp.maximum(state, 0)
        model.state = model.grid.xp.ascontiguousarray(state)
        if self.augmentation is not None:
            self.augmentation.log_factors = parameters
            self.augmentation.history.append((model.time, parameters.copy()))
            self.augmentation.apply(model)
        after = model.grid.backend.to_host(self.operator.sample(model.state)).astype(np.float64)
        if self.window is not None:
            self.window.add(model.time, after)
            after = np.asarray(self.window.mean(model.time), dtype=np.float64)
            if hasattr(self.window, "forget_before"):
                self.window.forget_before(model.time)  # keeps what windows ending later still need
        after = after.reshape(members, -1)[:, np.ravel_multi_index((species_index, sensor_index), values.shape)]
        innovation = batch.values - batch.predicted.mean(axis=0)
        self.records.append(InnovationRecord(
            time=model.time, count=int(batch.values.size), mean_innovation=float(innovation.mean()),
            rms_innovation=float(np.sqrt(np.mean(innovation**2))),
            rms_residual=float(np.sqrt(np.mean((batch.values - after.mean(axis=0)) ** 2))),
            spread=float(np.sqrt(np.mean(batch.predicted.var(axis=0, ddof=1)))),
        ))
        if self.on_analysis is not None:
            self.on_analysis(sim, self)

"""Threat zones, arrival times, peaks and toxic loads of an accidental release.

Concentrations here are kg/m³ inside callbacks (on the grid's device) and ppm in the pure
functions that work on host series and maps; conversion is done by the caller with the
chemical's molar mass (:meth:`scenarios.chemicals.Chemical.kg_m3_to_ppm`).

* **Running means over AEGL durations.** An AEGL is a ceiling on the mean concentration over its
  duration *d*. At each time t the *d*-window mean is ``(S(t) − S(t−d)) / d`` with
  ``S(t) = ∫₀ᵗ C dt`` and ``C = 0`` before the release (the window may reach back before t = 0).
  A cell is inside the AEGL-k zone for duration d when the largest such mean reaches AEGL-k(d).
  Windows longer than the run are means over the run with ``C = 0`` after it (a lower bound).
* **Arrival time**: the first time C ≥ a threshold (NaN if never).
* **Toxic load**: ``L = ∫ Cⁿ dt`` (ppmⁿ·min), n from the chemical catalogue.
* **Exposure duration → AEGL duration** (:func:`governing_duration`): the KOSHA rule (10-min
  AEGL for exposures under 7 min, 30-min for 7–25 min), then the shortest AEGL duration that
  covers the exposure (25–60 min → 60-min, up to 4 h → 4-h, beyond → 8-h).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

import numpy as np

from engine.errors import ConfigError
from engine.schedules import TimeInterval

from .chemicals import AEGL_DURATIONS
from .standards import running_means

#: Exposures (s) up to which each AEGL duration applies: KOSHA's 7 and 25 min for the 10- and
#: 30-min values, then the shortest AEGL duration that covers the exposure (60 min, 4 h, 8 h).
GOVERNING_LIMITS = (420.0, 1500.0, 3600.0, 14400.0, math.inf)


def governing_duration(exposure: float) -> float:
    """The AEGL duration (s) whose values apply to an exposure of ``exposure`` s."""
    for limit, duration in zip(GOVERNING_LIMITS, AEGL_DURATIONS):
        if exposure < limit or (limit > 1500.0 and exposure <= limit):
            return duration
    return AEGL_DURATIONS[-1]


def window_samples(window: float, interval: float) -> int:
    """Samples of ``interval`` s in a ``window`` s (which must be a whole number of them)."""
    count = window / interval
    if abs(count - round(count)) > 1e-6 or round(count) < 1:
        raise ConfigError("release.sample_interval", f"{interval:g} s must divide every AEGL duration (600 s ...); "
                                                     "use 10, 20, 30, 60 or 120 s")
    return int(round(count))


def running_mean_series(series: np.ndarray, interval: float, window: float) -> np.ndarray:
    """Running ``window``-s means along the last axis of a series sampled every ``interval`` s
    from t = interval (value i is the mean over step i); zero before the series (no release yet).

    Returns one mean per sample (window ending at that sample).
    """
    w = window_samples(window, interval)
    series = np.asarray(series, dtype=np.float64)
    padded = np.concatenate([np.zeros(series.shape[:-1] + (w - 1,)), series], axis=-1)
    means, _ = running_means(padded, w)
    return means


def arrival_time(series: np.ndarray, times: np.ndarray, threshold: float) -> np.ndarray:
    """First time (s) the series reaches ``threshold`` along its last axis; NaN where never."""
    series = np.asarray(series)
    above = series >= threshold
    first = np.argmax(above, axis=-1)
    return np.where(above.any(axis=-1), np.asarray(times, dtype=float)[first], np.nan)


def toxic_load(series_ppm: np.ndarray, interval: float, exponent: float) -> np.ndarray:
    """``∫ Cⁿ dt`` in ppmⁿ·min of a series (ppm) of step means ``interval`` s apart (last axis)."""
    return np.sum(np.asarray(series_ppm, dtype=np.float64) ** exponent, axis=-1) * interval / 60.0


def threat_distance(mask: np.ndarray, x_centres: np.ndarray, y_centres: np.ndarray, x0: float, y0: float) -> float:
    """Largest distance (m) from (x0, y0) to the centre of a cell in ``mask`` ``(ny, nx)``; 0 if none."""
    if not np.any(mask):
        return 0.0
    yy, xx = np.meshgrid(y_centres, x_centres, indexing="ij")
    return float(np.sqrt((xx[mask] - x0) ** 2 + (yy[mask] - y0) ** 2).max())


def reaches_edge(mask: np.ndarray) -> bool:
    """Whether a zone touches the domain's edge (its distance is then a lower bound)."""
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def exceedance_probability(member_maps: np.ndarray, threshold: float, weights: np.ndarray | None = None) -> np.ndarray:
    """Fraction of members (axis 0; optionally weighted) whose map reaches ``threshold``."""
    reached = np.asarray(member_maps) >= threshold
    if weights is None:
        return reached.mean(axis=0)
    w = np.asarray(weights, dtype=float)
    return np.tensordot(w / w.sum(), reached.astype(float), axes=1)


class StepsLandingOn:
    """Due after every step; makes the run land on every multiple of ``interval`` s."""

    def __init__(self, interval: float):
        self.sampling = TimeInterval(interval)

    def due(self, time: float, iteration: int) -> bool:
        return True

    def next_time(self, time: float) -> float:
        return self.sampling.next_time(time)


class GroundThreat:
    """Per member, at the lowest level of species 0, kept on the device:

    ``peak`` (kg/m³), ``arrival`` (s, first step end with C ≥ ``arrival_threshold``; NaN never),
    ``load`` (∫ Cⁿ dt with C in ``units_per_kg_m3`` units, units·s), ``window_max[d]`` the largest
    ``d``-s running mean (kg/m³) for each duration in ``durations``.

    ``S = ∫ C dt`` is summed every step (right Riemann sum, as :class:`WindowMean`) and stored every
    ``interval`` s in a ring long enough for the longest window that fits the run.
    """

    def __init__(self, interval: float, durations, stop: float, arrival_threshold: float, exponent: float,
                 units_per_kg_m3: float):
        self.schedule = StepsLandingOn(interval)
        self.interval, self.durations = float(interval), [float(d) for d in durations]
        self.lags = {d: window_samples(d, interval) for d in self.durations}
        self.keep = min(max(self.lags.values()), int(math.ceil(stop / interval)))
        self.arrival_threshold, self.exponent, self.scale = arrival_threshold, exponent, units_per_kg_m3
        self.history: deque = deque(maxlen=self.keep + 1)
        self.integral = self.peak = self.arrival = self.load = None
        self.window_max: dict = {}

    def initialize(self, sim) -> None:
        if self.integral is not None:
            return
        xp, state = sim.model.grid.xp, sim.model.state
        shape = (state.shape[0],) + state.shape[3:]
        self.integral = xp.zeros(shape, dtype=xp.float64)
        self.peak = xp.zeros(shape, dtype=xp.float64)
        self.load = xp.zeros(shape, dtype=xp.float64)
        self.arrival = xp.full(shape, xp.nan, dtype=xp.float64)
        self.window_max = {d: xp.zeros(shape, dtype=xp.float64) for d in self.durations}
        self.history.append(self.integral.copy())

    def __call__(self, sim) -> None:
        xp, model = sim.model.grid.xp, sim.model
        c = model.state[:, 0, 0].astype(xp.float64)
        c = xp.maximum(c, 0.0)  # round-off negatives have no toxic meaning
        dt = sim.last_dt
        self.integral += c * dt
        self.peak = xp.maximum(self.peak, c)
        self.load += (c * self.scale) ** self.exponent * dt
        self.arrival = xp.where(xp.isnan(self.arrival) & (c >= self.arrival_threshold), model.time, self.arrival)
        if not self.schedule.sampling.due(model.time, model.iteration):
            return
        self.history.append(self.integral.copy())
        for d, lag in self.lags.items():
            # history[-1 - lag] is S(t - d); before the release S = 0.
            before = self.history[-1 - lag] if lag < len(self.history) else 0.0
            self.window_max[d] = xp.maximum(self.window_max[d], (self.integral - before) / d)

    def maps(self, to_host: Callable) -> dict[str, np.ndarray]:
        """Host arrays ``(member, ny, nx)``: peak, arrival, load, window_<d> (kg/m³, s, units·s)."""
        out = {"peak": to_host(self.peak), "arrival": to_host(self.arrival), "load": to_host(self.load),
               "integral": to_host(self.integral)}
        out.update({f"window_{int(d)}": to_host(m) for d, m in self.window_max.items()})
        return out


class ReceptorSeries:
    """Receptor concentrations (kg/m³, species 0): the mean over each ``interval`` s (∫ C dt /
    interval, summed every step) and the value at the interval's end, copied to the host then;
    ``peak`` (kg/m³) and ``load`` (∫ (C·scale)ⁿ dt, units·s) are updated every step."""

    def __init__(self, sampler, interval: float, exponent: float = 2.0, units_per_kg_m3: float = 1.0):
        self.schedule = StepsLandingOn(interval)
        self.sampler, self.interval = sampler, float(interval)
        self.exponent, self.scale = exponent, units_per_kg_m3
        self.times: list[float] = []
        self.values: list[np.ndarray] = []
        self.instant: list[np.ndarray] = []
        self.sum = self.peak = self.load = None

    def __call__(self, sim) -> None:
        xp = sim.model.grid.xp
        sample = xp.maximum(self.sampler.sample(sim.model.state)[:, 0].astype(xp.float64), 0.0)
        dt = sim.last_dt
        if self.peak is None:
            self.peak, self.load = xp.zeros_like(sample), xp.zeros_like(sample)
        self.peak = xp.maximum(self.peak, sample)
        self.load += (sample * self.scale) ** self.exponent * dt
        self.sum = sample * dt if self.sum is None else self.sum + sample * dt
        if not self.schedule.sampling.due(sim.model.time, sim.model.iteration):
            return
        to_host = sim.model.grid.backend.to_host
        self.times.append(float(sim.model.time))
        self.values.append(np.asarray(to_host(self.sum), dtype=np.float64) / self.interval)
        self.instant.append(np.asarray(to_host(sample), dtype=np.float64))
        self.sum = None

    def series(self) -> dict[str, np.ndarray]:
        """``times`` (T,) s; ``means`` and ``ends`` (member, receptor, T) kg/m³; ``peak`` (member,
        receptor) kg/m³; ``load`` (member, receptor) units·s."""
        to_host = self.sampler.grid.backend.to_host
        return {"times": np.asarray(self.times), "means": np.moveaxis(np.stack(self.values), 0, -1),
                "ends": np.moveaxis(np.stack(self.instant), 0, -1),
                "peak": np.asarray(to_host(self.peak), dtype=np.float64),
                "load": np.asarray(to_host(self.load), dtype=np.float64)}

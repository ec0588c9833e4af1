"""Twin experiments: a hidden truth run by the engine, noisy synthetic records, and the estimate.

``assimilation_twin`` compares a free ensemble with one that assimilates sensor records (and
corrects a biased emission rate); ``source_twin`` hides a release and locates it from backward
runs. Both are seeded and small enough for the test suite; the ``assimilate`` task and the
README figures use them too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..grid import Grid
from ..meteorology import Diffusivity, Wind, WindProfile
from ..model import DispersionModel
from ..sampling import PointSampler
from ..schedules import TimeInterval
from ..simulation import Simulation
from ..sources import PointSource
from ..species import Species
from .augmentation import EmissionAugmentation
from .cycling import ArrayFeed, AssimilationCallback


@dataclass
class TwinDomain:
    """A flat square domain with a steady log-profile wind (defaults keep runs to seconds)."""

    n: int = 40
    dx: float = 25.0
    z_faces: tuple = (0.0, 2.0, 5.0, 10.0, 20.0, 35.0, 60.0)
    speed: float = 3.0
    direction: float = 250.0
    kh: float = 10.0
    kz: float = 2.0
    backend: str = "numpy"
    dtype: str = "float64"

    def grid(self) -> Grid:
        return Grid(self.n, self.n, self.dx, self.dx, self.z_faces, backend=self.backend, dtype=self.dtype)

    def meteorology(self, grid: Grid, directions: list[float] | None = None):
        directions = directions or [self.direction]
        wind = Wind.from_profiles(grid, [WindProfile(self.speed, d, kind="log") for d in directions])
        return wind, Diffusivity.constant(grid, self.kh, self.kz, members=len(directions))


class _Recorder:
    """Writer that keeps the ensemble's values at the sensors on its schedule (before analyses)."""

    def __init__(self, schedule, sampler):
        self.schedule, self.sampler = schedule, sampler
        self.times, self.values = [], []

    def __call__(self, sim) -> None:
        self.times.append(sim.model.time)
        self.values.append(sim.model.grid.backend.to_host(self.sampler.sample(sim.model.state)))


def plume_sensors(source_xy, direction: float, distances, offsets_deg, height: float = 3.0):
    """Sensors downwind of a source: one per distance (m) and angular offset (degrees)."""
    towards = math.radians(direction + 180.0)
    points = []
    for d in distances:
        for offset in offsets_deg:
            angle = towards + math.radians(offset)
            points.append((source_xy[0] + d * math.sin(angle), source_xy[1] + d * math.cos(angle), height))
    return points


def _noisy(truth: np.ndarray, rng, relative: float, floor: float):
    sigma = np.sqrt((relative * truth) ** 2 + floor**2)
    return np.maximum(truth + sigma * rng.standard_normal(truth.shape), 0.0), sigma


def _run(model, stop, writers, callbacks=()):
    Simulation(model, stop_time=stop, writers=writers, callbacks=dict(callbacks)).run()


@dataclass
class AssimilationTwinResult:
    rmse_free: float
    rmse_assimilated: float
    true_rate: float
    prior_rate: float
    estimated_rate: float
    rate_spread: float
    sensors: np.ndarray = field(repr=False, default=None)
    check: np.ndarray = field(repr=False, default=None)
    innovations: list = field(repr=False, default_factory=list)
    rate_history: list = field(repr=False, default_factory=list)

    @property
    def rmse_reduction(self) -> float:
        return 1 - self.rmse_assimilated / self.rmse_free


def assimilation_twin(filter, members: int = 20, seed: int = 0, bias: float = 2.0, log_sigma: float = 0.7,
                      direction_sigma: float = 3.0, cycle: float = 120.0, duration: float = 1800.0,
                      true_rate: float = 1.0, relative_error: float = 0.1, domain: TwinDomain | None = None,
                      spinup_cycles: int = 2, on_analysis=None) -> AssimilationTwinResult:
    """Run truth, a free ensemble and an assimilating one; score at withheld check sensors.

    The ensemble's source is ``bias`` times too strong, with lognormal member factors (``log_sigma``)
    and wind directions perturbed by ``direction_sigma`` degrees. Sixteen sensors sit downwind; every
    fourth is withheld as a check sensor. The RMSE compares the forecast ensemble mean at the check
    sensors (just before each analysis, after ``spinup_cycles`` cycles) with the truth there.
    ``on_analysis(sim, callback)`` is called after every analysis (to record analysed fields).
    """
    domain = domain or TwinDomain()
    rng = np.random.default_rng(seed)
    grid = domain.grid()
    source_xy = (0.2 * domain.n * domain.dx, 0.35 * domain.n * domain.dx)
    species = [Species("SO2")]
    points = plume_sensors(source_xy, domain.direction, (150, 300, 450, 600), (-9, -3, 3, 9))
    check = np.arange(len(points)) % 4 == 2
    sampler = PointSampler(grid, points)
    schedule = TimeInterval(cycle)

    def source(rate):
        return [PointSource("stack", {"SO2": rate}, x=source_xy[0], y=source_xy[1], height=8.0)]

    wind, diffusivity = domain.meteorology(grid)
    truth = DispersionModel(grid, wind, diffusivity, species, source(true_rate))
    truth_recorder = _Recorder(schedule, sampler)
    _run(truth, duration, {"sensors": truth_recorder})
    truth_values = np.stack(truth_recorder.values)[:, 0]  # (time, species, sensor)
    floor = 0.02 * float(truth_values.max())
    observed, _ = _noisy(truth_values, rng, relative_error, floor)
    errors = np.sqrt((relative_error * observed) ** 2 + floor**2)
    observed[:, :, check] = np.nan
    feed = ArrayFeed(np.asarray(truth_recorder.times), observed, errors)

    directions = list(domain.direction + direction_sigma * rng.standard_normal(members))
    augmentation_seed = int(rng.integers(2**31))
    results = {}
    for label in ("free", "assimilated"):
        wind_m, diffusivity_m = domain.meteorology(grid, directions)
        augmentation = EmissionAugmentation.lognormal(["stack"], members, log_sigma,
                                                      np.random.default_rng(augmentation_seed))
        model = DispersionModel(grid, wind_m, diffusivity_m, species, source(bias * true_rate),
                                emission_factors=np.exp(augmentation.log_factors))
        recorder = _Recorder(schedule, sampler)
        callbacks = {}
        callback = None
        if label == "assimilated":
            callback = AssimilationCallback(schedule, filter, sampler, np.asarray(points)[:, :2], feed, augmentation,
                                            on_analysis=on_analysis)
            callbacks["assimilation"] = callback
        _run(model, duration, {"sensors": recorder}, callbacks)
        forecast = np.stack(recorder.values)[:, :, 0].mean(axis=1)  # (time, sensor)
        scored = slice(spinup_cycles + 1, None)  # the first record is t = 0
        error = forecast[scored][:, check] - truth_values[scored, 0][:, check]
        rates = augmentation.rates(model, "SO2")[:, 0]
        results[label] = (float(np.sqrt(np.mean(error**2))), rates, callback)
    rates = results["assimilated"][1]
    callback = results["assimilated"][2]
    history = [(t, float(np.mean(np.exp(p[:, 0]))) * bias * true_rate) for t, p in augmentation_history(callback)]
    return AssimilationTwinResult(
        rmse_free=results["free"][0], rmse_assimilated=results["assimilated"][0], true_rate=true_rate,
        prior_rate=float(np.mean(results["free"][1])), estimated_rate=float(np.mean(rates)),
        rate_spread=float(np.std(rates, ddof=1)), sensors=np.asarray(points), check=check,
        innovations=callback.records, rate_history=history)


def augmentation_history(callback) -> list:
    return list(callback.augmentation.history) if callback is not None and callback.augmentation else []

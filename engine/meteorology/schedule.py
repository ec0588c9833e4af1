"""Meteorology that changes with time: piecewise-constant winds and diffusivities (one per met
record), solved when first needed, re-used for repeated conditions, and switched by a simulation
callback at the record times."""

from __future__ import annotations

import bisect
import logging
from typing import Callable, Hashable, Sequence

from ..schedules import TIME_TOLERANCE, SpecifiedTimes
from .diffusivity import Diffusivity
from .wind import Wind

log = logging.getLogger(__name__)


class MeteorologySchedule:
    """Entry ``i`` holds from ``times[i]`` (s of model time) to the next time.

    ``solve(i)`` builds entry ``i``'s ``(Wind, Diffusivity)``; entries with equal ``keys[i]``
    share one solve (a cache), and nothing is solved before it is needed. ``rain`` gives each
    entry's rain rate (mm/h) when the record has one; ``sources`` each entry's sources when they
    change with the weather (stacks with plume rise), None when they do not.
    """

    def __init__(self, times: Sequence[float], keys: Sequence[Hashable],
                 solve: Callable[[int], tuple[Wind, Diffusivity]], rain: Sequence[float] | None = None,
                 sources: Sequence[Sequence] | None = None):
        if len(times) != len(keys) or not times:
            raise ValueError("one key per time, at least one")
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError("times must increase")
        self.times = [float(t) for t in times]
        self.rain = [float(r) for r in rain] if rain is not None else None
        if sources is not None and len(sources) != len(times):
            raise ValueError("one source list per time")
        self.sources = None if sources is None else [list(entry) for entry in sources]
        self.keys = list(keys)
        self._solve = solve
        self._cache: dict[Hashable, tuple[Wind, Diffusivity]] = {}
        self.solves = 0
        self.reuses = 0

    def index_at(self, time: float) -> int:
        """The entry in force at ``time`` (the first one before the first time)."""
        tolerance = TIME_TOLERANCE * max(1.0, abs(time))
        return max(bisect.bisect_right(self.times, time + tolerance) - 1, 0)

    def entry(self, index: int) -> tuple[Wind, Diffusivity]:
        key = self.keys[index]
        if key in self._cache:
            self.reuses += 1
        else:
            self._cache[key] = self._solve(index)
            self.solves += 1
        return self._cache[key]


class MeteorologySwitcher:
    """Simulation callback: at each record time (and when a run starts or resumes) give the model
    the meteorology in force (and the sources, when their plume rise follows the weather), then
    let the simulation recompute its stable step."""

    def __init__(self, schedule: MeteorologySchedule, name: str = "met record"):
        self.met = schedule
        self.name = name
        self.schedule = SpecifiedTimes(tuple(schedule.times[1:]))
        self.current: int | None = None

    def _apply(self, sim) -> None:
        if sim.model.time >= sim.stop_time * (1 - TIME_TOLERANCE):
            return  # the run ends here: no next hour to prepare
        index = self.met.index_at(sim.model.time)
        if index == self.current:
            return
        wind, diffusivity = self.met.entry(index)
        sim.model.set_meteorology(wind, diffusivity, None if self.met.rain is None else self.met.rain[index])
        if self.met.sources is not None:
            sim.model.set_sources(self.met.sources[index])
        sim.refresh_stability()
        self.current = index
        log.debug("t = %.0f s: meteorology record %d", sim.model.time, index)

    def initialize(self, sim) -> None:
        self.current = None  # the model may hold anything after a resume: set it
        self._apply(sim)

    def __call__(self, sim) -> None:
        self._apply(sim)

    def finalize(self, sim) -> None:
        log.info("%s: %d distinct wind solves, %d re-used", self.name, self.met.solves, self.met.reuses)

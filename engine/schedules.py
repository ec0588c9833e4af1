"""When callbacks and writers act: every N iterations or every T seconds of model time.

Schedules are stateless functions of the model's time and iteration, so a resumed run fires them
exactly as an uninterrupted one would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ConfigError

#: Relative tolerance (s/s) for deciding that a time lies on a schedule.
TIME_TOLERANCE = 1e-9


@dataclass(frozen=True)
class IterationInterval:
    """Act every ``n`` iterations (and at iteration 0 when ``at_start``)."""

    n: int
    at_start: bool = False

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ConfigError("schedule.iterations", f"must be >= 1, got {self.n}")

    def due(self, time: float, iteration: int) -> bool:
        if iteration == 0:
            return self.at_start
        return iteration % self.n == 0

    def next_time(self, time: float) -> float:
        return math.inf


@dataclass(frozen=True)
class TimeInterval:
    """Act every ``interval`` seconds of model time, starting at ``offset`` (s); the simulation
    shortens its time step to land exactly on these times."""

    interval: float
    offset: float = 0.0

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise ConfigError("schedule.interval", f"must be > 0 s, got {self.interval}")

    def _tolerance(self, time: float) -> float:
        return TIME_TOLERANCE * max(1.0, abs(time), self.interval)

    def due(self, time: float, iteration: int) -> bool:
        if time < self.offset - self._tolerance(time):
            return False
        n = round((time - self.offset) / self.interval)
        return abs(time - (self.offset + n * self.interval)) <= self._tolerance(time)

    def next_time(self, time: float) -> float:
        """The first scheduled time strictly after ``time``."""
        if time < self.offset - self._tolerance(time):
            return self.offset
        n = math.floor((time - self.offset) / self.interval + TIME_TOLERANCE * 10) + 1
        return self.offset + n * self.interval


@dataclass(frozen=True)
class SpecifiedTimes:
    """Act at the given times (s)."""

    times: tuple[float, ...]

    def due(self, time: float, iteration: int) -> bool:
        return any(abs(time - t) <= TIME_TOLERANCE * max(1.0, abs(t)) for t in self.times)

    def next_time(self, time: float) -> float:
        later = [t for t in self.times if t > time + TIME_TOLERANCE * max(1.0, abs(time))]
        return min(later) if later else math.inf

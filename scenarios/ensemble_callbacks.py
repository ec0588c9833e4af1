"""Callbacks of an ensemble run: time means over an averaging window, and one progress bar."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from engine.errors import ConfigError
from engine.schedules import TIME_TOLERANCE, IterationInterval
@dataclass(frozen=True)
class FromTime:
    """Due after every step; asks the simulation to land exactly on ``start`` (s)."""

    start: float

    def due(self, time: float, iteration: int) -> bool:
        return True

    def next_time(self, time: float) -> float:
        return self.start if time < self.start - TIME_TOLERANCE * max(1.0, self.start) else math.inf


class WindowMean:
    """Time means over [``start``, stop] of the ground level and of the receptors, kept on the device.

    Each step adds ``value(t_end) · dt`` (a right Riemann sum; the step never straddles ``start``
    because the schedule makes the run land on it).
    """

    def __init__(self, start: float, sampler=None):
        self.schedule = FromTime(start)
        self.start = start
        self.sampler = sampler
        self.ground = self.receptors = None
        self.seconds = 0.0

    def initialize(self, sim) -> None:
        if self.ground is None:
            xp, state = sim.model.grid.xp, sim.model.state
            self.ground = xp.zeros(state.shape[:2] + state.shape[3:], dtype=xp.float64)
            if self.sampler is not None:
                self.receptors = xp.zeros(state.shape[:2] + (len(self.sampler.names),), dtype=xp.float64)

    def __call__(self, sim) -> None:
        model = sim.model
        if model.time <= self.start + TIME_TOLERANCE * max(1.0, self.start):
            return
        dt = sim.last_dt
        self.ground += model.state[:, :, 0] * dt
        if self.receptors is not None:
            self.receptors += self.sampler.sample(model.state) * dt
        self.seconds += dt

    def means(self, to_host: Callable) -> tuple[np.ndarray, np.ndarray | None]:
        if self.seconds <= 0:
            raise ConfigError("ensemble.average_from", "the averaging window is empty: it must start before time.stop")
        ground = to_host(self.ground) / self.seconds
        receptors = None if self.receptors is None else to_host(self.receptors) / self.seconds
        return ground, receptors


class ChunkProgress:
    """One tqdm bar over member-seconds of model time for the whole ensemble (off when stderr is
    not a terminal, like the run task's bar)."""

    def __init__(self, total: float, enabled: bool = True):
        self.bar = None
        if enabled:
            from tqdm import tqdm  # noqa: PLC0415

            self.bar = tqdm(total=total, unit="member·s", unit_scale=True, desc="ensemble", dynamic_ncols=True,
                            disable=None)

    def callback(self, members: int, every: int = 5) -> "ProgressTick":
        """A callback advancing the bar by ``members`` × the model time a chunk covers."""
        return ProgressTick(self, members, IterationInterval(every))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class ProgressTick:
    """Moves a :class:`ChunkProgress` bar on its schedule and when the chunk ends."""

    def __init__(self, progress: ChunkProgress, members: int, schedule: IterationInterval):
        self.progress, self.members, self.schedule = progress, members, schedule
        self.shown = 0.0

    def __call__(self, sim) -> None:
        if self.progress.bar is not None:
            self.progress.bar.update((sim.model.time - self.shown) * self.members)
            self.shown = sim.model.time

    def finalize(self, sim) -> None:
        self(sim)

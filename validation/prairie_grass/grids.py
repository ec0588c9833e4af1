"""Per-arc grids: one domain for each arc of each run, sized to the arc and the run's weather.

Each arc gets its own simulation on a grid whose horizontal spacing scales with the arc radius
``r`` (``dx = r / n_r``) and with the lateral spread there (``dy = σy(r) / n_σ``): the 50-m arc is
resolved with metre-sized cells and the 800-m arc with cells fitted to its wider plume, which a
single uniform grid (the engine's grids are uniform horizontally) could not do at an affordable
size. The domain runs from a few cells upwind of the source to a few cells past the arc, and
crosswind over the part of the arc the plume can reach (``|θ| ≤ min(4 σy/r, 80°)``). Vertical
levels grow geometrically from ``dz_bottom`` (the release is at 0.46 m, the samplers at 1.5 m) up to
``8 z̄(r)`` (van Ulden's mean plume height at the arc, at least 10 m and at most the boundary-layer
height); the top is closed (zero flux), and :func:`~.simulate.simulate_arc` reports how little
reaches it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine import Grid
from engine.errors import ConfigError

from .met import RunMet

#: Named resolutions: each step refines every spacing by 1.5.
RESOLUTIONS = {
    "coarse": {"cells_per_radius": 16, "cells_per_sigma": 2.5, "dz_bottom": 0.25, "stretch": 1.35},
    "medium": {"cells_per_radius": 24, "cells_per_sigma": 3.75, "dz_bottom": 0.15, "stretch": 1.25},
    "fine": {"cells_per_radius": 36, "cells_per_sigma": 5.6, "dz_bottom": 0.10, "stretch": 1.17},
}
FINER = {"coarse": "medium", "medium": "fine", "fine": None}
MAX_HALF_ANGLE = 80.0  # deg
MIN_DEPTH = 10.0  # m
DEPTH_FACTOR = 8.0  # domain depth over the mean plume height at the arc


def check_resolution(name: str) -> dict:
    try:
        return RESOLUTIONS[name]
    except KeyError as exc:
        raise ConfigError("prairie_grass.resolution",
                          f"unknown resolution {name!r}; use {', '.join(RESOLUTIONS)}") from exc


def arc_spacing(radius: float) -> float:
    """Angular spacing (deg) of the samplers on an arc, as in the field: 2°, and 1° at 800 m."""
    return 1.0 if radius >= 800 else 2.0


def levels(depth: float, dz_bottom: float, stretch: float) -> np.ndarray:
    """Face heights from 0 growing by ``stretch`` from ``dz_bottom`` until ``depth`` is reached."""
    nz = max(4, math.ceil(math.log(1 + depth * (stretch - 1) / dz_bottom) / math.log(stretch)))
    return dz_bottom * np.concatenate([[0.0], np.cumsum(stretch ** np.arange(nz))])


@dataclass(frozen=True)
class ArcDomain:
    """A grid for one arc and the model samplers on it (azimuths relative to the plume axis)."""

    grid: Grid
    radius: float
    azimuth_deg: np.ndarray
    depth: float

    @property
    def points(self) -> list[tuple[float, float, float]]:
        theta = np.deg2rad(self.azimuth_deg)
        return [(self.radius * math.cos(t), self.radius * math.sin(t), 1.5) for t in theta]


def arc_domain(met: RunMet, radius: float, resolution: str, backend: str = "numpy",
               dtype: str = "float32") -> ArcDomain:
    """The grid of one arc (see the module notes)."""
    spec = check_resolution(resolution)
    dx = radius / spec["cells_per_radius"]
    sigma = float(met.sigma_y(radius))
    dy = sigma / spec["cells_per_sigma"]
    half_angle = min(math.degrees(4 * sigma / radius), MAX_HALF_ANGLE)
    step = arc_spacing(radius)
    n_side = int(math.ceil(half_angle / step))
    azimuth = step * np.arange(-n_side, n_side + 1)
    half_width = radius * math.sin(math.radians(min(n_side * step, 89.0))) + 3 * dy
    x_low = min(0.0, radius * math.cos(math.radians(n_side * step))) - 4 * dx
    # The source sits on a cell centre: x = 0 and y = 0 are centres.
    nx_up = math.ceil(-x_low / dx - 0.5)
    nx = nx_up + math.ceil((radius + 3 * dx) / dx + 0.5)
    ny_half = math.ceil(half_width / dy - 0.5)
    ny = 2 * ny_half + 1
    depth = float(np.clip(DEPTH_FACTOR * met.mean_plume_height(radius), MIN_DEPTH, met.h))
    z_faces = levels(depth, spec["dz_bottom"], spec["stretch"])
    grid = Grid(nx, ny, dx, dy, z_faces, origin=(-(nx_up + 0.5) * dx, -(ny_half + 0.5) * dy), dtype=dtype,
                backend=backend)
    return ArcDomain(grid, radius, azimuth, depth)

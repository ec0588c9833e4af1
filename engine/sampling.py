"""Trilinear point weights: the observation operator ``sample`` and its adjoint ``inject``.

A point's value is the trilinear interpolation of the eight surrounding cell centres (clamped at
the domain edges, renormalised over fluid cells next to solids). Injecting a mass ``m`` at the
point adds ``m * w / V`` to the same cells, so injection is the transpose of sampling weighted by
the inverse cell volume — checked by a dot-product test.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError
from .grid import Grid


def _axis_weights(coordinate: float, centres: np.ndarray) -> tuple[int, int, float]:
    """Lower index, upper index and weight of the upper one for linear interpolation."""
    n = centres.size
    if n == 1 or coordinate <= centres[0]:
        return 0, min(1, n - 1), 0.0
    if coordinate >= centres[-1]:
        return n - 2, n - 1, 1.0
    upper = int(np.searchsorted(centres, coordinate, side="right"))
    lower = upper - 1
    return lower, upper, float((coordinate - centres[lower]) / (centres[upper] - centres[lower]))


def point_weights(grid: Grid, x: float, y: float, z: float, what: str = "point") -> tuple[np.ndarray, np.ndarray]:
    """Flat cell indices ``(8,)`` into ``(nz, ny, nx)`` and weights ``(8,)`` summing to 1.

    Raises :class:`ConfigError` naming ``what`` if the point is outside the domain or every
    surrounding cell is solid.
    """
    if not grid.contains(x, y, z):
        x0, x1, y0, y1, z0, z1 = grid.extent
        raise ConfigError(
            what,
            f"position ({x:g}, {y:g}, {z:g}) m is outside the domain "
            f"x {x0:g}–{x1:g}, y {y0:g}–{y1:g}, z {z0:g}–{z1:g}; move it inside or enlarge the grid",
        )
    i0, i1, fx = _axis_weights(x, grid.x_centres)
    j0, j1, fy = _axis_weights(y, grid.y_centres)
    k0, k1, fz = _axis_weights(z, grid.z_centres)
    cells, weights = [], []
    for k, wk in ((k0, 1 - fz), (k1, fz)):
        for j, wj in ((j0, 1 - fy), (j1, fy)):
            for i, wi in ((i0, 1 - fx), (i1, fx)):
                cells.append((k * grid.ny + j) * grid.nx + i)
                weights.append(wk * wj * wi)
    cells_a = np.asarray(cells, dtype=np.int64)
    weights_a = np.asarray(weights, dtype=np.float64)
    weights_a[grid.solid.ravel()[cells_a]] = 0.0
    total = weights_a.sum()
    if total <= 0:
        raise ConfigError(what, f"position ({x:g}, {y:g}, {z:g}) m lies inside a building or terrain")
    return cells_a, weights_a / total


class PointSampler:
    """Samples ``(member, species, z, y, x)`` fields at fixed points: result ``(member, species, point)``."""

    def __init__(self, grid: Grid, points: list[tuple[float, float, float]], names: list[str] | None = None):
        self.grid = grid
        self.names = names or [f"point{i}" for i in range(len(points))]
        cells = np.zeros((len(points), 8), dtype=np.int64)
        weights = np.zeros((len(points), 8), dtype=np.float64)
        for n, (x, y, z) in enumerate(points):
            cells[n], weights[n] = point_weights(grid, x, y, z, what=f"receptors.{self.names[n]}")
        self.points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        self.host_cells, self.host_weights = cells, weights
        self.cells = grid.backend.asarray(cells)
        self.weights = grid.backend.asarray(weights.astype(grid.float_type))

    def sample(self, field):
        """Interpolated values ``(member, species, point)`` on the field's device."""
        members, species = field.shape[:2]
        flat = field.reshape(members, species, -1)
        if self.host_cells.size == 0:
            return flat[:, :, :0]
        return (flat[:, :, self.cells] * self.weights).sum(axis=-1)

    def adjoint(self, values):
        """Transpose of :meth:`sample`: spread ``(member, species, point)`` values onto cells."""
        from .backend import scatter_add  # noqa: PLC0415

        xp = self.grid.xp
        members, species = values.shape[:2]
        out = xp.zeros((members, species, self.grid.size), dtype=values.dtype)
        contributions = values[:, :, :, None] * self.weights
        scatter_add(out, (slice(None), slice(None), self.cells.ravel()), contributions.reshape(members, species, -1))
        return out.reshape((members, species) + self.grid.shape)

"""The computational grid: uniform horizontal spacing, optionally stretched vertical levels.

Cells are indexed ``(z, y, x)``; ``k = 0`` is the layer touching the ground (``z = 0``, the lowest
point of the domain; terrain and buildings are cells of the solid mask). Velocities live on cell
faces (Arakawa C grid), concentrations at cell centres.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .backend import resolve_backend
from .errors import ConfigError

DTYPES = {"float32": np.float32, "float64": np.float64}


def stretched_levels(nz: int, dz_bottom: float, ratio: float) -> np.ndarray:
    """Return ``nz + 1`` face heights (m) whose thickness grows geometrically from ``dz_bottom``."""
    if nz < 1:
        raise ConfigError("grid.nz", f"must be at least 1, got {nz}")
    if dz_bottom <= 0:
        raise ConfigError("grid.dz_bottom", f"must be > 0 metres, got {dz_bottom}")
    if ratio < 1:
        raise ConfigError("grid.stretch", f"must be >= 1 (1 means uniform levels), got {ratio}")
    thickness = dz_bottom * ratio ** np.arange(nz)
    return np.concatenate([[0.0], np.cumsum(thickness)])


@dataclass(frozen=True)
class BuildingBlock:
    """A building as the grid holds it: its footprint's columns ``(ny, nx)`` (bool), the ground
    it stands on and its height above that ground (m). Kept beside the solid mask for the
    building flow zones (:mod:`engine.meteorology.building_zones`)."""

    name: str
    columns: np.ndarray
    base: float
    height: float


@dataclass
class Grid:
    """A rectilinear grid in a projected CRS.

    Parameters
    ----------
    nx, ny:
        Number of cells in x (east) and y (north).
    dx, dy:
        Horizontal spacing (m).
    z_faces:
        ``nz + 1`` increasing heights of the horizontal cell faces (m above the domain bottom),
        starting at 0.
    origin:
        Projected coordinates (m) of the south-west corner of the domain.
    crs:
        Name of the projected CRS the origin is given in, e.g. ``"EPSG:5186"``.
    dtype:
        ``"float32"`` (default) or ``"float64"``: precision of every field.
    backend:
        A :class:`~engine.backend.Backend` or its name (``auto``, ``numpy``, ``numba``, ``cupy``).
    solid:
        Optional boolean array ``(nz, ny, nx)``: True where a cell is inside a building or terrain.
    """

    nx: int
    ny: int
    dx: float
    dy: float
    z_faces: Sequence[float]
    origin: tuple[float, float] = (0.0, 0.0)
    crs: str = "local"
    dtype: str = "float32"
    backend: Any = "auto"
    solid: np.ndarray | None = field(default=None, repr=False)
    buildings: list = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        for key, value in (("grid.nx", self.nx), ("grid.ny", self.ny)):
            if int(value) != value or value < 1:
                raise ConfigError(key, f"must be a whole number of cells >= 1, got {value}")
        for key, value in (("grid.dx", self.dx), ("grid.dy", self.dy)):
            if not np.isfinite(value) or value <= 0:
                raise ConfigError(key, f"must be a positive spacing in metres, got {value}")
        z = np.asarray(self.z_faces, dtype=np.float64)
        if z.ndim != 1 or z.size < 2:
            raise ConfigError("grid.z_faces", "needs at least two face heights (one layer)")
        if z[0] != 0.0 or np.any(np.diff(z) <= 0):
            raise ConfigError("grid.z_faces", "must start at 0 m and increase strictly")
        if self.dtype not in DTYPES:
            raise ConfigError("backend.dtype", f"must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        self.nx, self.ny = int(self.nx), int(self.ny)
        # Spacings are rounded to the working precision so that cell volumes are exact in it:
        # otherwise float32 fluxes divided by rounded thicknesses leak ~1e-9 of the mass per step.
        working = DTYPES[self.dtype]
        self.dx = float(working(self.dx))
        self.dy = float(working(self.dy))
        thickness = np.diff(z).astype(working).astype(np.float64)
        self.z_faces = np.concatenate([[0.0], np.cumsum(thickness)])
        self.origin = (float(self.origin[0]), float(self.origin[1]))
        self.backend = resolve_backend(self.backend)
        if self.solid is None:
            self.solid = np.zeros(self.shape, dtype=bool)
        else:
            self.solid = np.asarray(self.solid, dtype=bool)
            if self.solid.shape != self.shape:
                raise ConfigError("grid.solid", f"shape {self.solid.shape} differs from the grid {self.shape}")

    # --- sizes -----------------------------------------------------------------------------
    @property
    def nz(self) -> int:
        return self.z_faces.size - 1

    @property
    def shape(self) -> tuple[int, int, int]:
        """Cell-centred shape ``(nz, ny, nx)``."""
        return (self.nz, self.ny, self.nx)

    @property
    def size(self) -> int:
        return self.nx * self.ny * self.nz

    @property
    def xp(self) -> Any:
        """The array module of this grid's backend."""
        return self.backend.xp

    @property
    def float_type(self) -> type:
        return DTYPES[self.dtype]

    # --- coordinates (host arrays, metres) -----------------------------------------------------
    @property
    def dz(self) -> np.ndarray:
        """Layer thicknesses (m), shape ``(nz,)``, exactly representable in the grid's dtype."""
        return np.diff(self.z_faces).astype(self.float_type).astype(np.float64)

    @property
    def z_centres(self) -> np.ndarray:
        return 0.5 * (self.z_faces[1:] + self.z_faces[:-1])

    @property
    def x_centres(self) -> np.ndarray:
        return self.origin[0] + (np.arange(self.nx) + 0.5) * self.dx

    @property
    def y_centres(self) -> np.ndarray:
        return self.origin[1] + (np.arange(self.ny) + 0.5) * self.dy

    @property
    def x_faces(self) -> np.ndarray:
        return self.origin[0] + np.arange(self.nx + 1) * self.dx

    @property
    def y_faces(self) -> np.ndarray:
        return self.origin[1] + np.arange(self.ny + 1) * self.dy

    @property
    def extent(self) -> tuple[float, float, float, float, float, float]:
        """``(x_min, x_max, y_min, y_max, z_min, z_max)`` in metres."""
        return (
            self.origin[0], self.origin[0] + self.nx * self.dx,
            self.origin[1], self.origin[1] + self.ny * self.dy,
            0.0, float(self.z_faces[-1]),
        )

    def cell_volumes(self) -> np.ndarray:
        """Cell volumes (m³) on the host, shape ``(nz, 1, 1)`` for broadcasting."""
        return (self.dx * self.dy * self.dz)[:, None, None]

    def contains(self, x: float, y: float, z: float = 0.0) -> bool:
        x0, x1, y0, y1, z0, z1 = self.extent
        return x0 <= x <= x1 and y0 <= y <= y1 and z0 <= z <= z1

    def cell_index(self, x: float, y: float, z: float) -> tuple[int, int, int]:
        """Index ``(k, j, i)`` of the cell that contains a point (clipped to the domain)."""
        i = int(np.clip((x - self.origin[0]) // self.dx, 0, self.nx - 1))
        j = int(np.clip((y - self.origin[1]) // self.dy, 0, self.ny - 1))
        k = int(np.clip(np.searchsorted(self.z_faces, z, side="right") - 1, 0, self.nz - 1))
        return k, j, i

    # --- solids ----------------------------------------------------------------------------
    def add_box(self, x_min: float, x_max: float, y_min: float, y_max: float, height: float) -> None:
        """Mark as solid every cell whose centre lies inside a box standing on the ground."""
        xc, yc, zc = self.x_centres, self.y_centres, self.z_centres
        inside = (
            (zc < height)[:, None, None]
            & ((yc >= y_min) & (yc <= y_max))[None, :, None]
            & ((xc >= x_min) & (xc <= x_max))[None, None, :]
        )
        self.solid |= inside
        columns = (((self.y_centres >= y_min) & (self.y_centres <= y_max))[:, None]
                   & ((self.x_centres >= x_min) & (self.x_centres <= x_max))[None, :])
        if columns.any() and height > 0:
            self.buildings.append(BuildingBlock(f"box {len(self.buildings) + 1}", columns, 0.0, float(height)))

    def add_terrain(self, height: np.ndarray) -> None:
        """Mark as solid every cell whose centre is below the terrain height ``(ny, nx)`` (m)."""
        height = np.asarray(height, dtype=np.float64)
        if height.shape != (self.ny, self.nx):
            raise ConfigError("grid.terrain", f"shape {height.shape} differs from (ny, nx) = {(self.ny, self.nx)}")
        self.solid |= self.z_centres[:, None, None] < height[None, :, :]

    def open_faces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Host masks (1 open, 0 closed) of the x, y and z faces between two fluid cells.

        Domain-boundary faces count as open when the cell inside is fluid; the ground face
        (``k = 0``) is closed. Shapes: ``(nz, ny, nx+1)``, ``(nz, ny+1, nx)``, ``(nz+1, ny, nx)``.
        """
        fluid = ~self.solid
        fx = np.ones((self.nz, self.ny, self.nx + 1), dtype=bool)
        fx[:, :, 1:] &= fluid
        fx[:, :, :-1] &= fluid
        fy = np.ones((self.nz, self.ny + 1, self.nx), dtype=bool)
        fy[:, 1:, :] &= fluid
        fy[:, :-1, :] &= fluid
        fz = np.ones((self.nz + 1, self.ny, self.nx), dtype=bool)
        fz[1:] &= fluid
        fz[:-1] &= fluid
        fz[0] = False
        return fx, fy, fz

    def ground_adjacent(self) -> np.ndarray:
        """Host mask ``(nz, ny, nx)``: fluid cells whose lower face is the ground or a solid top."""
        below_solid = np.zeros(self.shape, dtype=bool)
        below_solid[0] = True
        below_solid[1:] = self.solid[:-1]
        return below_solid & ~self.solid

    def describe(self) -> str:
        x0, x1, y0, y1, _, z1 = self.extent
        return (
            f"{self.nx}×{self.ny}×{self.nz} cells, dx={self.dx:g} m, dy={self.dy:g} m, "
            f"dz={self.dz.min():.3g}–{self.dz.max():.3g} m, domain {x1 - x0:g}×{y1 - y0:g}×{z1:g} m, "
            f"{int(self.solid.sum())} solid cells, {self.dtype} on {self.backend.name}"
        )

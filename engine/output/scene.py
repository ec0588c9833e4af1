"""A run's 3D scene: grid, buildings and terrain, a concentration field and the wind.

The scene is what the VTK export and the 3D render share: plain host arrays, cell-centred, in
the grid's projected coordinates (m). It is built from a finished run file and, optionally, the
model's wind (the run file stores no wind).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .reader import open_run


@dataclass(frozen=True)
class Scene:
    """Cell-centred 3D arrays on a rectilinear grid.

    Attributes
    ----------
    x_faces, y_faces, z_faces:
        Cell faces (m): projected easting and northing, height above the domain floor.
    solid:
        ``(nz, ny, nx)`` bool, buildings and terrain.
    concentration:
        ``(nz, ny, nx)`` float, ``statistic`` over the written field times, in ``units``; zero in
        solid cells.
    species, units, statistic:
        What ``concentration`` holds.
    wind:
        ``(3, nz, ny, nx)`` velocity (m/s) at cell centres, the mean of the two faces of each
        axis, or None when the run's wind was not given.
    crs:
        The projected CRS of the coordinates.
    """

    x_faces: np.ndarray
    y_faces: np.ndarray
    z_faces: np.ndarray
    solid: np.ndarray
    concentration: np.ndarray
    species: str
    units: str
    statistic: str
    wind: np.ndarray | None
    crs: str

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.solid.shape


def centred_wind(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Face velocities of one member, ``(nz, ny, nx+1)``, ``(nz, ny+1, nx)``, ``(nz+1, ny, nx)``
    (m/s), averaged to cell centres: ``(3, nz, ny, nx)``."""
    return np.stack([0.5 * (u[..., 1:] + u[..., :-1]),
                     0.5 * (v[..., 1:, :] + v[..., :-1, :]),
                     0.5 * (w[1:] + w[:-1])]).astype(np.float32)


def scene_from_run(run_path: str | Path, wind=None, species: str | None = None, statistic: str = "max",
                   member: int = 0, units: str = "ug/m3") -> Scene:
    """The scene of a finished run.

    Parameters
    ----------
    run_path:
        A finished run file with 3D field output (every level).
    wind:
        The run's :class:`~engine.meteorology.Wind` (any backend), or None for a scene without wind.
    species:
        The species to show (default: the first with field output).
    statistic:
        ``max``, ``mean`` or ``last`` over the written field times.
    member:
        Ensemble member.
    units:
        Concentration units of the scene.
    """
    with open_run(run_path) as run:
        grid = run.grid
        if species is None:
            species = (run.field_species or run.species)[0]
        field = run.concentration(species, units=units, member=member)
        if field.values.shape[0] == 0:
            raise ConfigError("output.field_interval", f"{run_path} holds no field records of {species} for a 3D scene")
        nz = grid["solid"].shape[0]
        if field.values.shape[1] != nz:
            raise ConfigError("output.field_levels",
                              f"a 3D scene needs every level; {run_path} holds {field.values.shape[1]} of {nz} "
                              "(set output.field_levels=null)")
        reduce = {"max": field.max_over_time, "mean": field.mean_over_time, "last": field.last}[statistic]
        values = np.where(grid["solid"], 0.0, np.asarray(reduce().values, dtype=np.float64))
    velocity = None
    if wind is not None:
        u, v, w = (np.asarray(a[member]) for a in wind.host)
        velocity = centred_wind(u, v, w)
        velocity[:, grid["solid"]] = 0.0
    return Scene(x_faces=grid["x_faces"], y_faces=grid["y_faces"], z_faces=grid["z_faces"], solid=grid["solid"],
                 concentration=values.astype(np.float32), species=species, units=units, statistic=statistic,
                 wind=velocity, crs=grid["crs"])

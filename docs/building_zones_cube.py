"""The figure of the README section "Flow zones around buildings": the mass-consistent wind in the
vertical plane through a 20 m cube, without and with the building zones.

Run from the repository root: ``.venv/bin/python docs/building_zones_cube.py``.
"""

from __future__ import annotations

import numpy as np

from engine import Grid, Wind, WindProfile
from validation.plots import pyplot, save_png

OUTPUT = "docs/images/building_zones_cube.png"
PROFILE = WindProfile(5.0, 270.0, kind="log", reference_height=10.0, roughness_length=0.1)  # from the west


def cube_grid() -> Grid:
    """2.5 m cells around a 20 m cube standing at x 60–80 m, y 50–70 m."""
    grid = Grid(96, 48, 2.5, 2.5, np.arange(0.0, 82.5, 2.5), backend="numpy")
    grid.add_box(60.0, 80.0, 50.0, 70.0, 20.0)
    return grid


def main() -> str:
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(8, 5.6), sharex=True)
    for ax, zones in zip(axes, (False, True)):
        wind = Wind.mass_consistent(cube_grid(), [PROFILE], building_zones=zones)
        grid, (u, _, w) = wind.grid, (a[0] for a in wind.host)
        j = int(np.argmin(np.abs(grid.y_centres - 60.0)))  # the plane through the cube's centre
        u_cells = 0.5 * (u[:, j, 1:] + u[:, j, :-1])
        w_cells = 0.5 * (w[1:, j, :] + w[:-1, j, :])
        u_cells[grid.solid[:, j, :]] = np.nan
        mesh = ax.pcolormesh(grid.x_faces, grid.z_faces, u_cells, cmap="RdBu_r", vmin=-6, vmax=6)
        ax.streamplot(grid.x_centres, grid.z_centres, np.nan_to_num(u_cells), w_cells, color="k", density=1.2,
                      linewidth=0.6)
        ax.set_title(("with" if zones else "without") + " building zones", fontsize=10)
        ax.set_ylabel("z (m)")
        ax.set_aspect("equal")
        ax.set_xlim(20, 190)
        ax.set_ylim(0, 45)
    axes[1].set_xlabel("x (m)")
    fig.colorbar(mesh, ax=axes, label="u (m/s)", shrink=0.8)
    save_png(fig, OUTPUT)
    return OUTPUT


if __name__ == "__main__":
    print(main())

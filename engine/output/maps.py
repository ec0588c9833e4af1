"""Ground-level concentration map (PNG) with buildings, sources and receptors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import ConfigError
from .reader import open_run

#: Statistics over the written field times that a map can show.
STATISTICS = ("max", "mean", "last")
#: The colour scale spans three decades below the peak; lower values are left blank.
_DYNAMIC_RANGE = 1e-3


def plot_ground_map(run_path: str | Path, png_path: str | Path, species: str | None = None,
                    statistic: str = "max", member: int = 0, units: str = "ug/m3") -> Path:
    """Draw the ground-level (level 0) concentration of a finished run as a PNG.

    Parameters
    ----------
    run_path:
        A finished run file with field output.
    png_path:
        Where to write the PNG (atomically: an existing map is replaced only by a complete one).
    species:
        Species to draw (default: the first with field output).
    statistic:
        Over the written field times: ``max``, ``mean`` or ``last``.
    member:
        Ensemble member to draw.
    units:
        Concentration units of the colour bar (``ppm``/``ppb`` need a molar mass).

    Returns
    -------
    Path
        ``png_path``.

    Notes
    -----
    The colour scale is logarithmic from 1e-3 of the peak to the peak; buildings and terrain at
    ground level are grey, sources black triangles, receptors white circles. Axes are projected
    metres of the grid's CRS. If the lowest written level is not level 0, the map says which
    level it shows.
    """
    import matplotlib  # noqa: PLC0415 - plotting is loaded only when a map is drawn

    matplotlib.use("Agg")  # no display on clusters; must precede pyplot
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.colors import LogNorm  # noqa: PLC0415

    if statistic not in STATISTICS:
        raise ConfigError("output.map_statistic",
                          f"unknown statistic {statistic!r}; use one of {', '.join(STATISTICS)}")
    with open_run(run_path) as run:
        if species is None:
            species = (run.field_species or run.species)[0]
        if not 0 <= member < run.members:
            raise ConfigError("output.map_member", f"must be in 0..{run.members - 1}, got {member}")
        full = run.concentration(species, units=units, member=member)
        if full.values.shape[0] == 0:
            raise ConfigError("output.field_interval", f"{run_path} holds no field records of {species} to map")
        field = full.ground()
        level = int(full.coords["level"][0])
        reduce = {"max": field.max_over_time, "mean": field.mean_over_time, "last": field.last}[statistic]
        values = np.asarray(reduce().values, dtype=np.float64)
        grid = run.grid
        sources = run.sources()
        receptors = run.receptors(species).coords if run.has_receptors else None
    fig = _draw(plt, LogNorm, values, grid, sources, receptors, species, statistic, member, units, level)
    png_path = Path(png_path)
    try:
        with atomic_path(png_path, durable=False) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return png_path


def _pretty(units: str) -> str:
    """``ug/m3`` as ``µg/m³`` for labels."""
    return units.replace("ug/", "µg/").replace("m3", "m³")


def _draw(plt, LogNorm, values: np.ndarray, grid: dict, sources: dict, receptors: dict | None, species: str,
          statistic: str, member: int, units: str, level: int):
    """The figure: concentration, buildings, sources, receptors, axes and labels."""
    x_faces, y_faces = grid["x_faces"], grid["y_faces"]
    width, height = x_faces[-1] - x_faces[0], y_faces[-1] - y_faces[0]
    fig, ax = plt.subplots(figsize=(9, float(np.clip(9 * height / width, 3, 14)) + 1.2), dpi=110,
                           constrained_layout=True)
    finite = values[np.isfinite(values)]
    peak = float(finite.max()) if finite.size else 0.0
    if peak > 0:
        floor = peak * _DYNAMIC_RANGE
        shown = np.ma.masked_less(np.ma.masked_invalid(values), floor)
        image = ax.pcolormesh(x_faces, y_faces, shown, norm=LogNorm(vmin=floor, vmax=peak), cmap="magma_r",
                              shading="flat")
        fig.colorbar(image, ax=ax, shrink=0.8, label=f"{species} [{_pretty(units)}]")
    else:
        ax.text(0.5, 0.5, f"{species}: zero everywhere at this level", transform=ax.transAxes, ha="center")
    solid = grid["solid"][level].astype(float)
    if solid.any():
        ax.pcolormesh(x_faces, y_faces, np.ma.masked_equal(solid, 0), cmap="Greys", vmin=0, vmax=1.6,
                      shading="flat")
    names = list(sources.get("name", []))
    if names:
        xs, ys = np.asarray(sources["x"], dtype=float), np.asarray(sources["y"], dtype=float)
        placed = np.isfinite(xs) & np.isfinite(ys)
        ax.scatter(xs[placed], ys[placed], marker="^", s=80, c="black", edgecolors="white", zorder=3,
                   label="source")
        for name, x, y in zip(np.asarray(names)[placed], xs[placed], ys[placed]):
            ax.annotate(str(name), (x, y), xytext=(5, 5), textcoords="offset points", fontsize=8, zorder=4)
    if receptors is not None and len(receptors["receptor"]):
        ax.scatter(receptors["x"], receptors["y"], marker="o", s=50, c="white", edgecolors="black", zorder=3,
                   label="receptor")
        for name, x, y in zip(receptors["receptor"], receptors["x"], receptors["y"]):
            ax.annotate(str(name), (x, y), xytext=(5, -11), textcoords="offset points", fontsize=8, color="navy",
                        zorder=4)
    ax.set_aspect("equal")
    ax.set_xlim(x_faces[0], x_faces[-1])
    ax.set_ylim(y_faces[0], y_faces[-1])
    ax.set_xlabel(f"easting [m, {grid['crs']}]")
    ax.set_ylabel(f"northing [m, {grid['crs']}]")
    ax.ticklabel_format(useOffset=False, style="plain")
    where = "ground level" if level == 0 else f"level {level} (lowest written)"
    ax.set_title(f"{species} at {where}: {statistic} over the run, member {member}; peak {peak:.3g} {_pretty(units)}")
    return fig

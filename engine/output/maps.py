"""Ground-level concentration map (PNG) with buildings, sources and receptors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import ConfigError
from .reader import open_run

STATISTICS = ("max", "mean", "last")


def plot_ground_map(run_path: str | Path, png_path: str | Path, species: str | None = None,
                    statistic: str = "max", member: int = 0, units: str = "ug/m3") -> Path:
    """Draw the ground-level (lowest written level) concentration of a run.

    Parameters
    ----------
    run_path:
        A finished run file.
    png_path:
        Where to write the PNG (atomically).
    species:
        Species to draw (default: the first).
    statistic:
        Over the written field times: ``max``, ``mean`` or ``last``.
    member:
        Ensemble member to draw.
    units:
        Concentration units of the colour bar.
    """
    import matplotlib  # noqa: PLC0415 - plotting is optional at import time

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.colors import LogNorm  # noqa: PLC0415

    if statistic not in STATISTICS:
        raise ConfigError("output.map_statistic", f"unknown statistic {statistic!r}; use one of {', '.join(STATISTICS)}")
    with open_run(run_path) as run:
        species = species or run.species[0]
        if not 0 <= member < run.members:
            raise ConfigError("output.map_member", f"must be in 0..{run.members - 1}, got {member}")
        field = run.concentration(species, units=units, member=member).ground()
        values = {"max": field.values.max(axis=0), "mean": field.values.mean(axis=0), "last": field.values[-1]}[statistic]
        grid = run.grid
        sources = run.sources()
        try:
            receptors = run.receptors(species).coords
        except Exception:  # no receptors configured
            receptors = None
    x_faces, y_faces = grid["x_faces"], grid["y_faces"]
    aspect = (y_faces[-1] - y_faces[0]) / (x_faces[-1] - x_faces[0])
    # About 8 inches of map width beside the colour bar, plus room for the title and axis labels.
    fig, ax = plt.subplots(figsize=(10, 8 * aspect + 1.4), dpi=110, constrained_layout=True)
    peak = float(np.nanmax(values)) if values.size else 0.0
    if peak > 0:
        shown = np.ma.masked_less_equal(values, peak * 1e-3)
        image = ax.pcolormesh(x_faces, y_faces, shown, norm=LogNorm(vmin=peak * 1e-3, vmax=peak), cmap="magma_r",
                              shading="flat")
        fig.colorbar(image, ax=ax, shrink=0.8, label=f"{species} [{units}]")
    solid_ground = grid["solid"][0].astype(float)
    if solid_ground.any():
        ax.pcolormesh(x_faces, y_faces, np.ma.masked_equal(solid_ground, 0), cmap="Greys", vmin=0, vmax=1.4,
                      shading="flat")
    if len(sources.get("name", [])):
        ax.scatter(sources["x"], sources["y"], marker="^", s=70, c="black", edgecolors="white", zorder=3)
        for name, x, y in zip(sources["name"], sources["x"], sources["y"]):
            ax.annotate(str(name), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8)
    if receptors is not None:
        ax.scatter(receptors["x"], receptors["y"], marker="o", s=50, c="white", edgecolors="black", zorder=3)
        for name, x, y in zip(receptors["receptor"], receptors["x"], receptors["y"]):
            ax.annotate(str(name), (x, y), xytext=(4, -10), textcoords="offset points", fontsize=8, color="navy")
    ax.set_aspect("equal")
    ax.set_xlim(x_faces[0], x_faces[-1])
    ax.set_ylim(y_faces[0], y_faces[-1])
    ax.set_xlabel(f"easting [m, {grid['crs']}]")
    ax.set_ylabel(f"northing [m, {grid['crs']}]")
    ax.set_title(f"{species} at ground level, {statistic} over the run (member {member}); peak {peak:.3g} {units}")
    ax.ticklabel_format(useOffset=False, style="plain")
    png_path = Path(png_path)
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return png_path

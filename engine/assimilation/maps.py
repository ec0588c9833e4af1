"""Map of a source estimate: posterior probability per cell, the credible region, sensors, truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..grid import Grid
from .source_estimation import SourceEstimate


def plot_credible_region(estimate: SourceEstimate, grid: Grid, png_path: str | Path, sensors_xy=None,
                         truth_xy=None, probability: float = 0.9, title: str | None = None) -> Path:
    """Draw the posterior probability of the source cell, outline the ``probability`` credible
    region, and mark the sensors, the most probable position and (for twins) the true source.
    Written atomically."""
    import matplotlib  # noqa: PLC0415 - loads only when a map is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    shape = (grid.ny, grid.nx)
    probability_map = np.zeros(grid.ny * grid.nx)
    horizontal = np.asarray(estimate.cells) % (grid.nx * grid.ny)
    probability_map[horizontal] = estimate.cell_probability
    region = np.zeros(grid.ny * grid.nx, dtype=bool)
    region[horizontal] = estimate.credible_region(probability)
    x0, x1, y0, y1, _, _ = grid.extent
    fig, ax = plt.subplots(figsize=(6.4, 5.4), dpi=110)
    shown = np.ma.masked_less_equal(probability_map.reshape(shape), probability_map.max() * 1e-4)
    image = ax.imshow(shown, origin="lower", extent=(x0, x1, y0, y1), cmap="magma_r",
                      norm=matplotlib.colors.LogNorm(vmin=max(shown.min(), probability_map.max() * 1e-4),
                                                     vmax=probability_map.max()))
    fig.colorbar(image, ax=ax, label="posterior probability of the source cell")
    ax.contour(grid.x_centres, grid.y_centres, region.reshape(shape).astype(float), levels=[0.5], colors="tab:blue",
               linewidths=1.5)
    ax.plot([], [], color="tab:blue", label=f"{100 * probability:.0f} % credible region")
    if sensors_xy is not None:
        sensors_xy = np.asarray(sensors_xy)
        ax.scatter(sensors_xy[:, 0], sensors_xy[:, 1], marker="^", c="tab:green", s=30, label="sensors")
    best = estimate.position
    ax.scatter([best[0]], [best[1]], marker="x", c="tab:blue", s=60, label="most probable")
    if truth_xy is not None:
        ax.scatter([truth_xy[0]], [truth_xy[1]], marker="*", c="tab:red", s=90, label="true source")
    rate, rate_sd = estimate.rate_mean_std
    start, start_sd = estimate.start_mean_std
    ax.set_title(title or f"rate {rate:.3g} ± {rate_sd:.2g} kg/s, start {start:.0f} ± {start_sd:.0f} s")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.legend(loc="upper right", fontsize=7)
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return png_path

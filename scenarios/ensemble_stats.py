"""Ensemble statistics over the member axis, their HDF5 file and PNG maps.

Statistics treat every member as equally likely (random, Latin hypercube and Sobol designs draw
equal-probability members; record members are the hours of the period).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import h5py
import numpy as np

from engine.atomic import atomic_path
from engine.errors import ConfigError

#: The colour scale of concentration maps spans three decades below the peak.
DYNAMIC_RANGE = 1e-3


def ensemble_statistics(values: np.ndarray, percentiles: Sequence[float] = (50, 90, 95),
                        threshold: float | np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Mean, standard deviation, percentiles and exceedance probability over axis 0 (members).

    Parameters
    ----------
    values:
        ``(member, ...)`` array.
    percentiles:
        Percentiles in [0, 100], computed with linear interpolation between order statistics
        (NumPy's default: the p-th percentile of sorted ``v₀ ≤ … ≤ v_{M−1}`` lies at position
        ``p/100 · (M − 1)``).
    threshold:
        Value(s) broadcast against ``values[0]``; the exceedance probability is the fraction of
        members strictly above it.

    Returns
    -------
    dict
        ``mean``, ``std`` (population, ddof=0), ``p<p>`` per percentile and, with a threshold,
        ``exceedance_probability``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0 or values.shape[0] == 0:
        raise ConfigError("ensemble", "statistics need at least one member")
    for p in percentiles:
        if not 0 <= p <= 100:
            raise ConfigError("ensemble.percentiles", f"must lie in 0–100, got {p}")
    out = {"mean": values.mean(axis=0), "std": values.std(axis=0)}
    if len(percentiles):
        for p, field in zip(percentiles, np.percentile(values, list(percentiles), axis=0)):
            out[percentile_key(p)] = field
    if threshold is not None:
        out["exceedance_probability"] = (values > np.asarray(threshold)).mean(axis=0)
    return out


def percentile_key(p: float) -> str:
    return f"p{p:g}".replace(".", "_")


def write_statistics(path: str | Path, grid, species: Sequence[str], member_maps: np.ndarray,
                     stats: Mapping[str, Mapping[str, np.ndarray]], receptor_names: Sequence[str],
                     receptor_stats: Mapping[str, Mapping[str, np.ndarray]] | None, members: Sequence[Mapping],
                     thresholds: Mapping[str, float], units: str, attributes: Mapping[str, Any]) -> Path:
    """Write ``ensemble.h5`` atomically.

    Layout: ``/grid`` (x, y cell centres, m), ``/species/<name>/<statistic>`` ground-level maps
    ``(ny, nx)`` in ``units`` (attribute ``threshold``), ``/species/<name>/members`` the
    per-member ground maps ``member_maps[:, s]`` (``(member, species, ny, nx)`` in ``units``), ``/receptors`` (names, x, y, z; ``<name>/members`` ``(member,
    receptor)`` and statistics), ``/members`` (JSON of the perturbation dicts), root attributes.
    """
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            g = f.create_group("grid")
            g["x"] = grid.x_centres
            g["y"] = grid.y_centres
            g.attrs["crs"] = grid.crs
            g.attrs["ground_level_height_m"] = float(grid.z_centres[0])
            for s, name in enumerate(species):
                group = f.create_group(f"species/{name}")
                group.attrs["units"] = units
                if name in thresholds:
                    group.attrs["threshold"] = thresholds[name]
                for key, field in stats[name].items():
                    group.create_dataset(key, data=np.asarray(field, dtype=np.float32), compression="gzip")
                group.create_dataset("members", data=np.asarray(member_maps[:, s], dtype=np.float32),
                                     compression="gzip", chunks=(1,) + member_maps.shape[2:])
            if receptor_stats is not None:
                r = f.create_group("receptors")
                r["names"] = np.array(list(receptor_names), dtype=h5py.string_dtype())
                for name, block in receptor_stats.items():
                    group = r.create_group(name)
                    for key, value in block.items():
                        group[key] = np.asarray(value)
            f["members"] = json.dumps(list(members), default=float)
            for key, value in attributes.items():
                f.attrs[key] = value
    return Path(path)


def plot_species_maps(path: str | Path, grid, name: str, stats: Mapping[str, np.ndarray], units: str,
                      threshold: float | None, high: str, sources: Sequence[tuple[float, float]] = (),
                      receptors: Sequence[tuple[str, float, float]] = (), title: str = "") -> Path:
    """Three panels: ensemble mean, a high percentile and the probability of exceeding ``threshold``."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.colors import LogNorm  # noqa: PLC0415

    x = (grid.x_faces - grid.x_faces[0]) / 1000.0
    y = (grid.y_faces - grid.y_faces[0]) / 1000.0
    high_label = f"{high[1:].replace('_', '.')}th percentile" if high.startswith("p") else f"ensemble {high}"
    panels = [("mean", f"ensemble mean ({units})"), (high, f"{high_label} ({units})")]
    if "exceedance_probability" in stats:
        panels.append(("exceedance_probability", f"P(> {threshold:g} {units})"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), constrained_layout=True)
    top = float(max(np.max(stats[high]), 1e-30))
    for ax, (key, label) in zip(np.atleast_1d(axes), panels):
        field = np.asarray(stats[key])
        if key == "exceedance_probability":
            mesh = ax.pcolormesh(x, y, field, cmap="magma_r", vmin=0, vmax=1, shading="flat")
        else:
            shown = np.ma.masked_less_equal(field, top * DYNAMIC_RANGE)
            mesh = ax.pcolormesh(x, y, shown, cmap="viridis", norm=LogNorm(top * DYNAMIC_RANGE, top), shading="flat")
        fig.colorbar(mesh, ax=ax, shrink=0.85, label=label)
        ax.set_aspect("equal")
        ax.set_xlabel("x (km from the domain's west edge)")
        ax.set_ylabel("y (km)")
        for sx, sy in sources:
            ax.plot((sx - grid.x_faces[0]) / 1000, (sy - grid.y_faces[0]) / 1000, "^", color="red", ms=6)
        for rname, rx, ry in receptors:
            ax.plot((rx - grid.x_faces[0]) / 1000, (ry - grid.y_faces[0]) / 1000, "o", mfc="white", mec="k", ms=5)
            ax.annotate(rname, ((rx - grid.x_faces[0]) / 1000, (ry - grid.y_faces[0]) / 1000), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    fig.suptitle(title or f"{name}: ground-level time mean over the ensemble")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)

"""The release task's map (PNG) and printed summary."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from engine.atomic import atomic_path

from .chemicals import AEGL_LEVELS, Chemical
from .release_sources import ReleaseTerm

ZONE_COLOURS = {"AEGL-1": "#f2d024", "AEGL-2": "#f07f13", "AEGL-3": "#c41e1e"}


def duration_label(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds < 3600 * 4 else f"{seconds / 3600:g} h"


def plot_release(path: str | Path, grid, chemical: Chemical, zone: Mapping[str, Any], duration: float, x0: float,
                 y0: float, receptors: Sequence[Mapping[str, Any]], table: Mapping[str, Any],
                 ensemble: Mapping[str, Any] | None, term: ReleaseTerm) -> Path:
    """Threat zones (AEGL-1/2/3 at the governing duration) with source and receptors; with an
    ensemble, a second panel of the probability of exceeding AEGL-2 (contours 10/50/90 %)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.patches import Patch  # noqa: PLC0415

    x = (grid.x_faces - grid.x_faces[0]) / 1000.0
    y = (grid.y_faces - grid.y_faces[0]) / 1000.0
    xc = (grid.x_centres - grid.x_faces[0]) / 1000.0
    yc = (grid.y_centres - grid.y_faces[0]) / 1000.0
    panels = 2 if ensemble is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.4 * panels, 4.8), constrained_layout=True, squeeze=False)
    key = int(duration)
    ax = axes[0, 0]
    for level in AEGL_LEVELS:
        mask = zone[level][key]["mask"]
        ax.pcolormesh(x, y, np.ma.masked_where(~mask, np.ones(mask.shape)), cmap=matplotlib.colors.ListedColormap(
            [ZONE_COLOURS[level]]), vmin=0, vmax=1, shading="flat")
    handles = []
    for level in AEGL_LEVELS:
        z = zone[level][key]
        edge = " (reaches edge: ≥)" if z["edge"] else ""
        handles.append(Patch(color=ZONE_COLOURS[level], label=f"{level} {z['threshold_ppm']:g} ppm: "
                                                             f"{z['distance_m'] / 1000:.2f} km{edge}"))
    ax.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.9)
    ax.set_title(f"{chemical.key} threat zones, {duration_label(duration)} running mean", fontsize=10)
    second = axes[0, 1] if ensemble is not None else None
    if second is not None:
        p = ensemble["probability"]["AEGL-2"]
        mesh = second.pcolormesh(x, y, np.ma.masked_less_equal(p, 0), cmap="magma_r", vmin=0, vmax=1, shading="flat")
        if p.max() > 0.1:
            lines = second.contour(xc, yc, p, levels=[0.1, 0.5, 0.9], colors="k", linewidths=0.8)
            second.clabel(lines, fmt=lambda v: f"{v:.0%}", fontsize=7)
        fig.colorbar(mesh, ax=second, shrink=0.85, label="P(max running mean ≥ AEGL-2)")
        second.set_title(f"probability of exceeding AEGL-2, {len(ensemble['members'])} members", fontsize=10)
    for a in axes[0]:
        a.plot((x0 - grid.x_faces[0]) / 1000, (y0 - grid.y_faces[0]) / 1000, "^", color="k", ms=8)
        for r in receptors:
            rx, ry = (r["x"] - grid.x_faces[0]) / 1000, (r["y"] - grid.y_faces[0]) / 1000
            a.plot(rx, ry, "o", mfc="white", mec="k", ms=5)
            arrival = table.get(r["name"], {}).get("arrival_s", math.nan)
            text = r["name"] + ("" if math.isnan(arrival) else f" ({arrival / 60:.0f} min)")
            a.annotate(text, (rx, ry), fontsize=7, xytext=(3, 3), textcoords="offset points")
        a.set_xlim(x[0], x[-1])
        a.set_ylim(y[0], y[-1])
        a.set_aspect("equal")
        a.set_xlabel("x (km from the domain's west edge)")
        a.set_ylabel("y (km)")
    rate = "instantaneous" if term.rate is None else f"{term.rate:.3g} kg/s for {term.duration / 60:.0f} min"
    fig.suptitle(f"{chemical.name} ({chemical.key}), {term.mass:.0f} kg, {term.kind}: {rate}\n"
                 "passive gas: dense-gas effects not modelled", fontsize=9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)


def report_release(summary: Mapping[str, Any]) -> None:
    """Print the responder's summary: source term, distances per level, arrivals, files."""
    t, m = summary["term"], summary["met"]
    rate = "all at once" if t["rate_kg_s"] is None else f"{t['rate_kg_s']:.3g} kg/s for {t['duration_s'] / 60:.1f} min"
    print(f"{summary['chemical_name']} ({summary['chemical']}): {t['kind']} release of {t['mass_kg']:.4g} kg, {rate} "
          f"({t['regime']}); wind {m['speed']:g} m/s from {m['direction']:g} deg, stability {m['stability']}")
    print(f"threat zones from the {duration_label(summary['duration_s'])} running mean (AEGL values for that duration):")
    for level, distance in summary["distances"].items():
        edge = "  REACHES THE DOMAIN EDGE: at least this far" if summary["edge"][level] else ""
        print(f"  {level} {summary['thresholds'][level]:8.3g} ppm: {distance / 1000:6.2f} km{edge}")
    erpg = summary.get("erpg") or {}
    if erpg:
        text = ", ".join(f"{lv} {v['threshold_ppm']:g} ppm {v['distance_m'] / 1000:.2f} km{' (edge: >=)' if v['edge'] else ''}"
                         for lv, v in erpg.items())
        print(f"  ERPGs on the 60 min mean (ERPG-2 is the NICS endpoint): {text}")
    if summary["receptors"]:
        print(f"receptors (arrival = first time >= {summary['arrival_ppm']:g} ppm):")
        for name, r in summary["receptors"].items():
            arrival = "not reached" if math.isnan(r["arrival_s"]) else f"{r['arrival_s'] / 60:5.1f} min"
            levels = ", ".join(r["levels"]) or "below AEGL-1"
            print(f"  {name:18s} arrival {arrival:>11s}  peak {r['peak_ppm']:9.3g} ppm  "
                  f"toxic load {r['toxic_load']:9.3g}  ({levels})")
    p = summary.get("probability")
    if p:
        print(f"ensemble of {p['members']}: AEGL-2 distance median {p['distance_median_m'] / 1000:.2f} km, "
              f"90th percentile {p['distance_p90_m'] / 1000:.2f} km; highest probability {p['max_probability']:.0%}")
    print(f"dense-gas note ({summary['chemical']}): {summary['dense']} -- NOT modelled (passive gas)")
    print(f"model time {summary['stop_s']:g} s, {summary['total_time']:.1f} s in all")
    print(f"results: {summary['h5']}")
    print(f"map: {summary['png']}")

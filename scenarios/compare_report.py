"""Figures (PNG) and a self-contained HTML summary of a comparison, readable without Python."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from engine.atomic import atomic_path, atomic_write_text

from .compare import BASELINE, CompareResult


def _pyplot():
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    _pyplot().close(fig)
    return path


def plot_sites(result: CompareResult, table: Mapping[str, Any], path: Path) -> Path:
    """Per species: period mean (bars) and the highest percentile (black ticks) at every site."""
    plt = _pyplot()
    high = f"p{max(table['percentiles']):g}"
    n_species, n_sites, n_scen = len(result.species), len(result.site_names), len(result.scenarios)
    fig, axes = plt.subplots(n_species, 1, figsize=(2.2 + 1.6 * n_sites, 2.6 * n_species), squeeze=False,
                             constrained_layout=True)
    width = 0.8 / n_scen
    x = np.arange(n_sites)
    for ax, species in zip(axes[:, 0], result.species):
        for k, scenario in enumerate(result.scenarios):
            rows = [table["scenarios"][scenario]["sites"][species][s] for s in result.site_names]
            offset = x + (k - (n_scen - 1) / 2) * width
            ax.bar(offset, [r["mean"] for r in rows], width, label=scenario)
            ax.plot(offset, [r[high] for r in rows], "_", color="k", ms=12, mew=2)
        ax.set_xticks(x, result.site_names, fontsize=8)
        ax.set_ylabel(f"{species} (µg/m³)")
        ax.set_title(f"{species}: period mean (bars) and {high[1:]}th percentile of hours (ticks)", fontsize=9)
    axes[0, 0].legend(fontsize=8, ncols=min(n_scen, 4))
    return _save(fig, path)


def plot_exceedances(result: CompareResult, table: Mapping[str, Any], path: Path) -> Path:
    """Exceedances of the Korean standards, summed over the sites, per scenario and window."""
    plt = _pyplot()
    labels, counts = [], {s: [] for s in result.scenarios}
    for species in result.species:
        windows = sorted({w for s in result.scenarios for site in table["scenarios"][s]["sites"][species].values()
                          for w in site["exceedances"]}, key=lambda w: (w == "annual", len(w), w))
        for window in windows:
            labels.append(f"{species} {window}")
            for scenario in result.scenarios:
                sites = table["scenarios"][scenario]["sites"][species].values()
                counts[scenario].append(sum(site["exceedances"].get(window, {}).get("count", 0) for site in sites))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(labels) + 2), 3.4), constrained_layout=True)
    width = 0.8 / len(result.scenarios)
    x = np.arange(len(labels))
    for k, scenario in enumerate(result.scenarios):
        ax.bar(x + (k - (len(result.scenarios) - 1) / 2) * width, counts[scenario], width, label=scenario)
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("exceedances (windows), all sites")
    total = sum(sum(v) for v in counts.values())
    ax.set_title("Exceedances of the Korean ambient standards" + ("" if total else ": none in this period"), fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_costs(result: CompareResult, table: Mapping[str, Any], path: Path) -> Path:
    """Annualised cost against tonnes removed per year, and cost per tonne, per alternative."""
    plt = _pyplot()
    names = [s for s in result.scenarios if s != BASELINE]
    entries = [table["scenarios"][s] for s in names]
    currency = table["currency"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for name, entry in zip(names, entries):
        tonnes = sum(entry["removed_t_per_yr"].values())
        left.scatter(tonnes, entry["annual_cost"] / 1e6)
        left.annotate(name, (tonnes, entry["annual_cost"] / 1e6), fontsize=8, xytext=(4, 4), textcoords="offset points")
    left.set_xlabel("pollutant removed (t/yr, all species)")
    left.set_ylabel(f"annualised cost (million {currency}/yr)")
    per_tonne = [e["cost_per_tonne"] or 0.0 for e in entries]
    right.barh(names, np.array(per_tonne) / 1e6)
    right.set_xlabel(f"cost per tonne removed (million {currency}/t)")
    right.invert_yaxis()
    return _save(fig, path)


def plot_difference_maps(result: CompareResult, scenario: str, path: Path, run: Mapping[str, Any]) -> Path:
    """Baseline minus the alternative: reduction of the period-mean ground concentration per species."""
    plt = _pyplot()
    k = result.scenarios.index(scenario)
    grid = result.ensemble.grid
    x = (grid.x_faces - grid.x_faces[0]) / 1000.0
    y = (grid.y_faces - grid.y_faces[0]) / 1000.0
    n = len(result.species)
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 3.4), squeeze=False, constrained_layout=True)
    for ax, (i, species) in zip(axes[0], enumerate(result.species)):
        diff = result.ground[0, :, i].mean(axis=0) - result.ground[k, :, i].mean(axis=0)
        top = float(np.max(np.abs(diff))) or 1.0
        mesh = ax.pcolormesh(x, y, diff, cmap="RdBu_r", vmin=-top, vmax=top, shading="flat")
        fig.colorbar(mesh, ax=ax, shrink=0.85, label=f"{species} reduction (µg/m³)")
        for source in run.get("sources", []):
            if source.get("x") is not None:
                ax.plot((source["x"] - grid.x_faces[0]) / 1000, (source["y"] - grid.y_faces[0]) / 1000, "^", color="k", ms=5)
        for r in run.get("receptors", []):
            ax.plot((r["x"] - grid.x_faces[0]) / 1000, (r["y"] - grid.y_faces[0]) / 1000, "o", mfc="white", mec="k", ms=4)
        ax.set_aspect("equal")
        ax.set_xlabel("x (km)")
        ax.set_ylabel("y (km)")
    fig.suptitle(f"{scenario}: baseline minus alternative, period-mean ground level (red = cleaner air)", fontsize=10)
    return _save(fig, path)


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return html.escape(str(value))


def write_html(path: Path, result: CompareResult, table: Mapping[str, Any], figures: Mapping[str, Path],
               description: Sequence[str]) -> Path:
    """A single HTML file (figures embedded as base64 PNG) with the ranking and every table."""
    currency = table["currency"]
    high = f"p{max(table['percentiles']):g}"
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>plumetwin compare</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
             "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #bbb;padding:3px 8px;"
             "text-align:right}th{background:#eee}td:first-child,th:first-child{text-align:left}"
             "img{max-width:100%;display:block;margin:0.5em 0}</style></head><body>",
             "<h1>Retrofit comparison</h1>"]
    parts += [f"<p>{html.escape(line)}</p>" for line in description]
    parts.append("<h2>Ranking</h2><p>Fewest exceedances of the Korean standards first, then the lowest annualised "
                 f"cost per tonne removed ({currency}/t).</p><table><tr><th>rank</th><th>alternative</th>"
                 f"<th>exceedances</th><th>annual cost ({currency}/yr)</th><th>{currency} per tonne</th></tr>")
    for row in table["ranking"]:
        parts.append(f"<tr><td>{row['rank']}</td><td>{html.escape(row['scenario'])}</td><td>{row['exceedances']}</td>"
                     f"<td>{_fmt(row['annual_cost'], 4)}</td><td>{_fmt(row['cost_per_tonne'], 4)}</td></tr>")
    base_exceed = table["scenarios"][BASELINE]["exceedances_total"]
    parts.append(f"</table><p>Baseline exceedances: {base_exceed}.</p>")
    parts.append("<h2>Equipment and cost-effectiveness</h2><table><tr><th>alternative</th><th>equipment</th>"
                 f"<th>capital ({currency})</th><th>annual ({currency}/yr)</th><th>removed (t/yr)</th>"
                 f"<th>{currency}/t</th><th>{currency}/yr per µg/m³ of site-mean reduction</th></tr>")
    for name, entry in table["scenarios"].items():
        if name == BASELINE:
            continue
        equipment = "; ".join(f"{src}: {', '.join(map(str, devs))}" for src, devs in entry["equipment"].items())
        removed = ", ".join(f"{s} {v:.3g}" for s, v in entry["removed_t_per_yr"].items() if v > 0)
        per_ug = ", ".join(f"{s} {v:.3g}" for s, v in entry["cost_per_ug_m3"].items() if v is not None)
        parts.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(equipment)}</td>"
                     f"<td>{_fmt(entry['capital_cost'], 4)}</td><td>{_fmt(entry['annual_cost'], 4)}</td>"
                     f"<td>{html.escape(removed)}</td><td>{_fmt(entry['cost_per_tonne'], 4)}</td>"
                     f"<td>{html.escape(per_ug) or '–'}</td></tr>")
    parts.append("</table>")
    for key, title in (("sites", "Concentrations at the sensitive sites"), ("exceedances", "Exceedances"),
                       ("costs", "Cost against removal")):
        if key in figures:
            parts.append(f"<h2>{title}</h2>{_image(figures[key], title)}")
    for species in result.species:
        parts.append(f"<h3>{html.escape(species)} (µg/m³)</h3><table><tr><th>site</th><th>scenario</th><th>mean</th>"
                     f"<th>{high}</th><th>max</th><th>mean reduction</th><th>%</th><th>exceedances (count/windows)</th></tr>")
        for site in result.site_names:
            for scenario in result.scenarios:
                row = table["scenarios"][scenario]["sites"][species][site]
                counts = ", ".join(f"{w}: {v['count']}/{v['windows']}" for w, v in row["exceedances"].items()) or "–"
                parts.append(f"<tr><td>{html.escape(site)}</td><td>{html.escape(scenario)}</td><td>{_fmt(row['mean'])}</td>"
                             f"<td>{_fmt(row[high])}</td><td>{_fmt(row['max'])}</td><td>{_fmt(row['reduction_mean'])}</td>"
                             f"<td>{row['reduction_mean_percent']:.1f}</td><td>{html.escape(counts)}</td></tr>")
        parts.append("</table>")
    for name, figure in figures.items():
        if name.startswith("difference_"):
            parts.append(f"<h2>Difference map: {html.escape(name[len('difference_'):])}</h2>{_image(figure, name)}")
    parts.append("</body></html>")
    return atomic_write_text(path, "\n".join(parts))

"""The ``compare`` task: baseline and retrofit alternatives over one met ensemble → HTML, PNG, HDF5, JSON.

Configuration: a ``run``-style scenario plus a ``compare`` block (``conf/compare.yaml``).
Callable without Hydra: ``compare_task(plain_dict, "out/")``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

import engine
from engine.atomic import atomic_path, atomic_write_text
from engine.errors import ConfigError

from .compare import BASELINE, run_compare, summarise
from .compare_report import plot_costs, plot_difference_maps, plot_exceedances, plot_sites, write_html
from .ensemble_task import make_members, split_config

COMPARE_KEYS = ("alternatives", "met", "average_from", "percentiles", "background", "memory_budget_gb", "chunk")


def check_compare_block(block: dict) -> dict:
    unknown = sorted(set(block) - set(COMPARE_KEYS))
    if unknown:
        raise ConfigError(f"compare.{unknown[0]}", f"unknown key; use {', '.join(COMPARE_KEYS)}")
    alternatives = block.get("alternatives") or {}
    if not alternatives:
        raise ConfigError("compare.alternatives", "name at least one alternative, e.g. "
                                                  "{scrubbers: {dyeing_works: [wet_scrubber]}}")
    for name, alt in alternatives.items():
        if not isinstance(alt, dict) or not all(isinstance(v, list) for v in alt.values()):
            raise ConfigError(f"compare.alternatives.{name}", "map facilities to lists of equipment, "
                                                              "e.g. {central_boiler: [scr, wet_scrubber]}")
    met = dict(block.get("met") or {"method": "record"})
    met.setdefault("method", "record")
    met.setdefault("seed", 0)
    return {**block, "alternatives": alternatives, "met": met,
            "percentiles": [float(p) for p in block.get("percentiles") or (95, 99)]}


def write_compare_h5(path: Path, result, table: dict, attributes: dict) -> Path:
    """Period-mean ground maps per scenario and species, site values per met member, the table (JSON)."""
    grid = result.ensemble.grid
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f["grid/x"] = grid.x_centres
            f["grid/y"] = grid.y_centres
            f["sites/names"] = np.array(result.site_names, dtype=h5py.string_dtype())
            for k, scenario in enumerate(result.scenarios):
                group = f.create_group(f"scenarios/{scenario}")
                for i, species in enumerate(result.species):
                    group.create_dataset(f"ground_mean/{species}", data=result.ground[k, :, i].mean(axis=0).astype(np.float32),
                                         compression="gzip")
                    group[f"sites/{species}"] = result.sites[k, :, i]   # (met member, site), µg/m³
                    group[f"sites/{species}"].attrs["units"] = "ug/m3"
            f["met_members"] = json.dumps(result.met_members, default=float)
            f["table"] = json.dumps(table, default=float)
            for key, value in attributes.items():
                f.attrs[key] = value
    return path


def compare_task(cfg: Any, output_dir: str | Path | None = None, attributes: dict | None = None) -> dict[str, Any]:
    """Run the comparison; write ``<name>_compare.html`` (self-contained), its PNG figures,
    ``<name>_compare.h5`` and ``<name>_compare.json``.

    Returns
    -------
    dict
        ``name``, ``output_dir``, ``html``, ``h5``, ``json``, ``pngs``, ``ranking``,
        ``members`` (scenarios × met members), ``backend``, ``total_time`` (s).
    """
    started = time.perf_counter()
    run, block = split_config(cfg, "compare")
    block = check_compare_block(block)
    name = run.get("name", "compare")
    output_dir = Path(output_dir or (run.get("output") or {}).get("dir") or Path("results") / f"{name}_compare")
    met = block["met"]
    ens = {"method": met["method"], "seed": met["seed"], "members": met.get("members"),
           "record": met.get("record"), "perturbations": met.get("perturbations")}
    met_members = make_members(run, ens)
    if ens["method"] == "record":
        run["met"] = {**run["met"], "record": None}  # the hours are now the members
    budget = block.get("memory_budget_gb")
    result = run_compare(run, block["alternatives"], met_members, average_from=block.get("average_from"),
                         background=block.get("background"),
                         memory_budget=None if budget is None else int(float(budget) * 2**30), chunk=block.get("chunk"),
                         progress=bool((run.get("output") or {}).get("progress", True)))
    table = summarise(result, run, block["percentiles"])
    output_dir.mkdir(parents=True, exist_ok=True)
    figures = {"sites": plot_sites(result, table, output_dir / f"{name}_compare_sites.png"),
               "exceedances": plot_exceedances(result, table, output_dir / f"{name}_compare_exceedances.png"),
               "costs": plot_costs(result, table, output_dir / f"{name}_compare_costs.png")}
    for scenario in result.scenarios:
        if scenario != BASELINE:
            figures[f"difference_{scenario}"] = plot_difference_maps(
                result, scenario, output_dir / f"{name}_compare_difference_{scenario}.png", run)
    window = (result.ensemble.stop - result.ensemble.average_from) / 60
    labels = [m.get("label", "") for m in met_members]
    description = [
        f"{len(result.scenarios) - 1} alternative(s) against the baseline over {len(met_members)} met member(s) "
        f"({met['method']}{': ' + labels[0] + ' … ' + labels[-1] if met['method'] == 'record' else ''}); every "
        f"alternative sees the same weather. Each member is run from clean air for {result.ensemble.stop:g} s and "
        f"its concentration is the mean of the last {window:g} min.",
        "Concentrations are the contribution of the modelled sources at the sensitive sites (1.5 m above ground)"
        + (" plus the configured background." if block.get("background") else "; no background is added.")
        + " Exceedances count running 1-h, 8-h and 24-h windows (75 % of hours present) and the period mean "
          "against the annual standard (indicative over a short period); see scenarios/standards.py.",
        "Costs are planning assumptions (scenarios/catalogues/equipment.yaml), annualised over the device life; "
        "replace them with quotes before a decision.",
    ]
    html_path = write_html(output_dir / f"{name}_compare.html", result, table, figures, description)
    h5 = write_compare_h5(output_dir / f"{name}_compare.h5", result, table,
                          {"task": "compare", "name": name, "version": engine.__version__,
                           "run_config": json.dumps(run, default=str), "compare_config": json.dumps(block, default=str),
                           **(attributes or {})})
    json_path = atomic_write_text(output_dir / f"{name}_compare.json", json.dumps(table, indent=1, default=float))
    return {"name": name, "output_dir": str(output_dir), "html": str(html_path), "h5": str(h5), "json": str(json_path),
            "pngs": [str(p) for p in figures.values()], "ranking": table["ranking"],
            "baseline_exceedances": table["scenarios"][BASELINE]["exceedances_total"],
            "members": len(result.scenarios) * len(met_members), "backend": result.ensemble.backend,
            "currency": table["currency"], "total_time": time.perf_counter() - started}


def report_compare(summary: dict[str, Any]) -> None:
    print(f"{summary['name']}: {summary['members']} members on {summary['backend']} in {summary['total_time']:.1f} s; "
          f"baseline exceedances {summary['baseline_exceedances']}")
    for row in summary["ranking"]:
        per_tonne = "–" if row["cost_per_tonne"] is None else f"{row['cost_per_tonne'] / 1e6:.1f} M {summary['currency']}/t"
        print(f"  {row['rank']}. {row['scenario']:20s} exceedances {row['exceedances']:4d}  {per_tonne}")
    print(f"report: {summary['html']}")
    print(f"tables: {summary['json']}  fields: {summary['h5']}")

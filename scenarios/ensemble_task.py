"""The ``ensemble`` task: N perturbed members of one scenario → statistics in HDF5 and PNG maps.

Configuration: a ``run``-style scenario plus an ``ensemble`` block (``conf/ensemble.yaml``).
Callable without Hydra: ``ensemble_task(plain_dict, "out/")``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

import engine
from engine.app.validate import plain_config
from engine.errors import ConfigError
from engine.units import convert_concentration

from .catalogue import AVERAGING_HOURS, standards_for
from .ensemble import EnsembleResult, run_ensemble
from .ensemble_stats import ensemble_statistics, percentile_key, plot_species_maps, write_statistics
from .perturbations import record_members, sample_members
from .standards import count_exceedances


ENSEMBLE_KEYS = ("members", "method", "seed", "perturbations", "record", "average_from", "percentiles",
                 "thresholds", "units", "memory_budget_gb", "chunk", "released")


def split_config(cfg: Any, block: str) -> tuple[dict, dict]:
    """``(run dict, block dict)`` from a composed config: the task's own block taken out."""
    plain = dict(plain_config(cfg))
    own = plain.pop(block, None)
    if own is None:
        raise ConfigError(block, f"the configuration has no '{block}' block; start from conf/{block}.yaml")
    plain.pop("hydra", None)
    return plain, dict(own)


def check_ensemble_block(ens: Mapping[str, Any]) -> dict:
    unknown = sorted(set(ens) - set(ENSEMBLE_KEYS))
    if unknown:
        raise ConfigError(f"ensemble.{unknown[0]}", f"unknown key; use {', '.join(ENSEMBLE_KEYS)}")
    out = dict(ens)
    out.setdefault("method", "lhs")
    out.setdefault("seed", 0)
    out.setdefault("percentiles", [50, 90, 95])
    out.setdefault("units", "ug/m3")
    out.setdefault("thresholds", {})
    if out["method"] != "record" and not (isinstance(out.get("members"), int) and out["members"] >= 1):
        raise ConfigError("ensemble.members", f"must be a whole number >= 1, got {out.get('members')!r}")
    return out


def make_members(run: Mapping[str, Any], ens: Mapping[str, Any]) -> list[dict]:
    """The member perturbation dicts the block asks for (sampled, or one per hour of a record)."""
    if ens["method"] == "record":
        record = dict(ens.get("record") or {})
        path = (run.get("met") or {}).get("record") or record.get("path")
        if not path:
            raise ConfigError("ensemble.record.path", "method=record needs a met record CSV, e.g. "
                                                      "ensemble.record.path=scenarios/data/sinpyeong_spring_day_constructed.csv")
        from engine.app.build import data_path  # noqa: PLC0415

        met = run.get("met") or {}
        members = record_members(data_path(path), met.get("latitude", 35.09), met.get("longitude", 128.96),
                                 int(record.get("every_hours", 1)), int(record.get("first", 0)), record.get("count"))
        perturbations = ens.get("perturbations") or {}
        if any(perturbations.get(k) for k in ("emission_sigma",)):
            for member, extra in zip(members, sample_members({"emission_sigma": perturbations["emission_sigma"]},
                                                             len(members), "lhs", ens["seed"])):
                member["emission_factor"] = extra["emission_factor"]
        return members
    return sample_members(ens.get("perturbations"), int(ens["members"]), ens["method"], ens["seed"])


def resolve_thresholds(species: list[dict], thresholds: Mapping[str, Any], units: str) -> dict[str, float]:
    """Thresholds in ``units`` per species: a number, or the averaging window (``1h``, ``8h``,
    ``24h``, ``annual``) of the species' Korean standard (``scenarios/catalogues/species.yaml``)."""
    out = {}
    by_name = {s["name"]: s for s in species}
    for name, value in (thresholds or {}).items():
        if name not in by_name:
            raise ConfigError(f"ensemble.thresholds.{name}", f"is not a transported species ({', '.join(by_name)})")
        if isinstance(value, str):
            if value not in AVERAGING_HOURS:
                raise ConfigError(f"ensemble.thresholds.{name}", f"{value!r}: give a number ({units}) or one of "
                                                                 f"{', '.join(AVERAGING_HOURS)}")
            match = [s for s in standards_for(name) if s.averaging == value]
            if not match:
                raise ConfigError(f"ensemble.thresholds.{name}", f"{name} has no {value} Korean standard; give a number")
            ug = match[0].ug_m3
            out[name] = float(convert_concentration(ug, "ug/m3", units, by_name[name].get("molar_mass")))
        else:
            out[name] = float(value)
    return out


def in_units(values: np.ndarray, species: list[dict], units: str, axis: int = 1) -> np.ndarray:
    """kg/m³ → ``units``, species along ``axis``."""
    out = np.empty(values.shape, dtype=np.float64)
    for s, entry in enumerate(species):
        index = [slice(None)] * values.ndim
        index[axis] = s
        out[tuple(index)] = convert_concentration(values[tuple(index)], "kg/m3", units, entry.get("molar_mass"))
    return out


def ensemble_task(cfg: Any, output_dir: str | Path | None = None, attributes: dict | None = None) -> dict[str, Any]:
    """Run the ensemble and write ``ensemble.h5`` and ``<name>_ensemble_<species>.png``.

    Returns
    -------
    dict
        ``name``, ``output_dir``, ``h5``, ``pngs``, ``members``, ``chunk_size``, ``steps``,
        ``member_steps_per_second``, ``wall_time``, ``total_time`` (s), ``backend``, ``receptors``
        (per species and receptor: mean, high percentile, exceedance probability) and, for record
        members, ``exceedances`` of the Korean standards counted over the hours in time order.
    """
    started = time.perf_counter()
    run, ens = split_config(cfg, "ensemble")
    ens = check_ensemble_block(ens)
    name = run.get("name", "ensemble")
    output_dir = Path(output_dir or (run.get("output") or {}).get("dir") or Path("results") / f"{name}_ensemble")
    members = make_members(run, ens)
    if ens["method"] == "record":
        run["met"] = {**run["met"], "record": None}  # the hours are now the members
    budget = ens.get("memory_budget_gb")
    result = run_ensemble(run, members, average_from=ens.get("average_from"), released=ens.get("released"),
                          memory_budget=None if budget is None else int(float(budget) * 2**30), chunk=ens.get("chunk"),
                          progress=bool((run.get("output") or {}).get("progress", True)))
    species, units = run["species"], ens["units"]
    thresholds = resolve_thresholds(species, ens["thresholds"], units)
    percentiles = [float(p) for p in ens["percentiles"]]
    high = percentile_key(max(percentiles)) if percentiles else "mean"
    ground = in_units(result.ground, species, units)
    stats = {s["name"]: ensemble_statistics(ground[:, i], percentiles, thresholds.get(s["name"]))
             for i, s in enumerate(species)}
    receptor_stats, receptor_summary, exceedances = None, {}, {}
    if result.receptors is not None:
        at = in_units(result.receptors, species, units)
        receptor_stats = {}
        for i, s in enumerate(species):
            block = ensemble_statistics(at[:, i], percentiles, thresholds.get(s["name"]))
            block["members"] = at[:, i]
            receptor_stats[s["name"]] = block
            receptor_summary[s["name"]] = {
                r: {"mean": float(block["mean"][k]), high: float(block.get(high, block["mean"])[k]),
                    **({"exceedance_probability": float(block["exceedance_probability"][k])}
                       if "exceedance_probability" in block else {})}
                for k, r in enumerate(result.receptor_names)}
        if ens["method"] == "record":
            exceedances = record_exceedances(result, in_units(result.receptors, species, "ug/m3"), species)
    output_dir.mkdir(parents=True, exist_ok=True)
    h5 = write_statistics(output_dir / f"{name}_ensemble.h5", result.grid, result.species, ground, stats,
                          result.receptor_names, receptor_stats, result.members, thresholds, units,
                          {"task": "ensemble", "name": name, "method": ens["method"], "seed": int(ens["seed"]),
                           "averaging_from_s": result.average_from, "stop_s": result.stop,
                           "ensemble_config": json.dumps(ens, default=str), "run_config": json.dumps(run, default=str),
                           "version": engine.__version__, **(attributes or {})})
    sources = [(s["x"], s["y"]) for s in run.get("sources", []) if s.get("x") is not None]
    receptors = [(r["name"], r["x"], r["y"]) for r in run.get("receptors", [])]
    window = f"{(result.stop - result.average_from) / 60:g}-min mean"
    pngs = [str(plot_species_maps(output_dir / f"{name}_ensemble_{s['name']}.png", result.grid, s["name"],
                                  stats[s["name"]], units, thresholds.get(s["name"]), high, sources, receptors,
                                  title=f"{s['name']}: ground-level {window}, {len(members)} members ({ens['method']})"))
            for s in species]
    return {"name": name, "output_dir": str(output_dir), "h5": str(h5), "pngs": pngs, "members": len(members),
            "method": ens["method"], "chunk_size": result.chunk_size, "steps": result.steps,
            "member_steps_per_second": result.member_steps_per_second, "wall_time": result.wall_time,
            "total_time": time.perf_counter() - started, "backend": result.backend, "units": units,
            "thresholds": thresholds, "receptors": receptor_summary, "exceedances": exceedances}


def record_exceedances(result: EnsembleResult, at: np.ndarray, species: list[dict]) -> dict:
    """``at``: receptor means ``(member, species, receptor)`` in µg/m³. Exceedances of each species' Korean standards at each receptor, with the record members as
    the hourly series in time order (each hour run as its own steady period)."""
    hours = np.array([m.get("record_hour", i) for i, m in enumerate(result.members)], dtype=float)
    order = np.argsort(hours)
    span = int(round(hours[order][-1] - hours[order][0])) + 1
    series = np.full((at.shape[1], at.shape[2], span), np.nan)  # missing hours stay NaN
    slots = np.round(hours[order] - hours[order][0]).astype(int)
    series[:, :, slots] = np.moveaxis(at[order], 0, -1)
    out = {}
    for i, s in enumerate(species):
        for standard in standards_for(s["name"]):
            counted = count_exceedances(series[i], standard.averaging, standard.ug_m3)
            out.setdefault(s["name"], {})[standard.averaging] = {
                r: {"exceedances": int(counted["exceedances"][k]), "windows": int(counted["windows"][k]),
                    "max_mean_ug_m3": float(counted["max_mean"][k]), "standard_ug_m3": standard.ug_m3}
                for k, r in enumerate(result.receptor_names)}
    return out


def report_ensemble(summary: dict[str, Any]) -> None:
    print(f"{summary['name']}: {summary['members']} members ({summary['method']}) in chunks of "
          f"{summary['chunk_size']} on {summary['backend']}, {summary['member_steps_per_second']:.0f} member-steps/s, "
          f"{summary['total_time']:.1f} s in all")
    for species, receptors in summary["receptors"].items():
        for receptor, values in receptors.items():
            text = ", ".join(f"{k} {v:.3g}" for k, v in values.items())
            print(f"  {species:6s} {receptor:18s} {text} ({summary['units']})")
    for species, windows in summary.get("exceedances", {}).items():
        for window, receptors in windows.items():
            counts = ", ".join(f"{r} {v['exceedances']}/{v['windows']}" for r, v in receptors.items())
            print(f"  {species:6s} {window:6s} exceedances of the Korean standard over the hours: {counts}")
    print(f"statistics: {summary['h5']}")
    for png in summary["pngs"]:
        print(f"map: {png}")

"""The ``release`` task: an accidental toxic release → threat zones, arrivals, doses (HDF5, PNG).

Configuration: a ``run``-style scenario plus a ``release`` block (``conf/release.yaml``; presets
in ``conf/release_case/``). Callable without Hydra: ``release_task(plain_dict, "out/")``.

Steps: the chemical from the catalogue (:mod:`scenarios.chemicals`); the source term
(:mod:`scenarios.release_sources`); one run of the configured weather (the ensemble machinery
with a single unperturbed member) with the threat accumulators of :mod:`scenarios.threat`; then,
when ``release.ensemble.members`` > 0, the perturbed members for the probability of exceeding
AEGL-2. Concentrations are kg/m³ inside and ppm in the outputs (25 °C, 1 atm).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from engine.errors import ConfigError

from .chemicals import AEGL_DURATIONS, AEGL_LEVELS, ERPG_LEVELS, Chemical, get_chemical
from .ensemble import run_ensemble
from .ensemble_task import split_config
from .perturbations import sample_members
from .release_output import write_release
from .release_sources import ReleaseTerm, release_term
from .threat import (GroundThreat, ReceptorSeries, arrival_time, exceedance_probability, governing_duration, reaches_edge,
                     running_mean_series, threat_distance, window_samples)

RELEASE_KEYS = ("chemical", "x", "y", "height", "kind", "inventory", "rate", "duration", "orifice", "pool",
                "arrival_threshold", "exposure", "sample_interval", "ensemble")
ENSEMBLE_KEYS = ("members", "method", "seed", "perturbations", "memory_budget_gb", "chunk")
log = logging.getLogger(__name__)


def check_release_block(rel: Mapping[str, Any]) -> dict:
    unknown = sorted(set(rel) - set(RELEASE_KEYS))
    if unknown:
        raise ConfigError(f"release.{unknown[0]}", f"unknown key; use {', '.join(RELEASE_KEYS)}")
    out = dict(rel)
    for key in ("chemical", "x", "y", "height", "kind", "inventory"):
        if out.get(key) is None:
            raise ConfigError(f"release.{key}", "is required (see conf/release.yaml)")
    out.setdefault("arrival_threshold", "AEGL-1")
    out.setdefault("sample_interval", 60.0)
    ens = dict(out.get("ensemble") or {})
    bad = sorted(set(ens) - set(ENSEMBLE_KEYS))
    if bad:
        raise ConfigError(f"release.ensemble.{bad[0]}", f"unknown key; use {', '.join(ENSEMBLE_KEYS)}")
    members = ens.get("members") or 0
    if not isinstance(members, int) or members < 0:
        raise ConfigError("release.ensemble.members", f"must be a whole number >= 0, got {members!r}")
    out["ensemble"] = {"members": members, "method": ens.get("method") or "lhs", "seed": ens.get("seed", 0),
                       "perturbations": ens.get("perturbations") or {}, "memory_budget_gb": ens.get("memory_budget_gb"),
                       "chunk": ens.get("chunk")}
    window_samples(AEGL_DURATIONS[0], float(out["sample_interval"]))
    return out


def arrival_ppm(chemical: Chemical, threshold: Any) -> float:
    """The arrival threshold in ppm: a level name (its 10-min value) or a number of ppm."""
    if isinstance(threshold, str):
        if threshold not in AEGL_LEVELS:
            raise ConfigError("release.arrival_threshold", f"{threshold!r}; use {', '.join(AEGL_LEVELS)} or a number (ppm)")
        return chemical.aegl_ppm(threshold, AEGL_DURATIONS[0])
    value = float(threshold)
    if not value > 0:
        raise ConfigError("release.arrival_threshold", f"must be > 0 ppm, got {value:g}")
    return value


def release_run(run: Mapping[str, Any], rel: Mapping[str, Any], chemical: Chemical, term: ReleaseTerm) -> dict:
    """The run configuration with the chemical as its one species and the release as its source."""
    out = dict(run)
    out["species"] = [{"name": chemical.key, "molar_mass": chemical.molar_mass}]
    place = {"x": float(rel["x"]), "y": float(rel["y"]), "height": float(rel["height"])}
    if term.rate is None:
        source = {"name": "release", "kind": "puff", **place, "unit": "kg", "emissions": {chemical.key: float(term.mass)},
                  "start": 0.0}
    else:
        source = {"name": "release", "kind": "point", **place, "unit": "kg/s", "emissions": {chemical.key: float(term.rate)},
                  "start": 0.0, "stop": float(term.duration)}
    out["sources"] = [source]
    return out


def exposure_of(rel: Mapping[str, Any], term: ReleaseTerm, stop: float) -> float:
    """Exposure duration (s) for choosing the AEGL duration: the configured one, else the release
    duration (0 for a puff, whose cloud passes in minutes), never longer than the run."""
    if rel.get("exposure") is not None:
        return float(rel["exposure"])
    return min(term.duration, stop)


def simulate(run: dict, members: list[dict], chemical: Chemical, interval: float, durations, arrival: float,
             ensemble: Mapping[str, Any] | None = None, progress: bool = False) -> dict:
    """Run ``members`` with the threat accumulators; host maps and series, in ppm where concentrations.

    Returns ``maps`` {peak, arrival, load, integral, window_<d>} ``(member, ny, nx)``, ``receptors``
    (see :meth:`ReceptorSeries.series`, concentrations in ppm) or None, ``grid`` and ``result``.
    """
    stop = float(run["time"]["stop"])
    scale = float(chemical.kg_m3_to_ppm(1.0))
    threshold = float(chemical.ppm_to_kg_m3(arrival))
    n = chemical.toxic_load_exponent

    def callbacks(model, sampler, part):
        extra = {"threat": GroundThreat(interval, durations, stop, threshold, n, scale)}
        if sampler is not None:
            extra["receptor_series"] = ReceptorSeries(sampler, interval, n, scale)
        return extra

    ensemble = ensemble or {}
    budget = ensemble.get("memory_budget_gb")
    result = run_ensemble(run, members, average_from=0.0, progress=progress, chunk_callbacks=callbacks,
                          memory_budget=None if budget is None else int(float(budget) * 2**30), chunk=ensemble.get("chunk"))
    to_host = result.grid.backend.to_host
    parts = [extra["threat"].maps(to_host) for _, extra in result.chunk_callbacks]
    maps = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    for key in maps:
        if key == "peak" or key.startswith("window_"):
            maps[key] = maps[key] * scale
    maps["load"] = maps["load"] / 60.0  # ppm^n s -> ppm^n min
    receptors = None
    if result.receptor_names:
        blocks = [extra["receptor_series"].series() for _, extra in result.chunk_callbacks]
        receptors = {"times": blocks[0]["times"], "names": result.receptor_names}
        for key in ("means", "ends", "peak"):
            receptors[key] = np.concatenate([b[key] for b in blocks]) * scale
        receptors["load"] = np.concatenate([b["load"] for b in blocks]) / 60.0
    return {"maps": maps, "receptors": receptors, "grid": result.grid, "result": result}


def zones(window_maps: Mapping[str, np.ndarray], chemical: Chemical, grid, x0: float, y0: float) -> dict:
    """Per AEGL level and duration, and per ERPG level (60 min): the footprint ``(ny, nx)`` (max
    running mean ≥ threshold), its threat distance (m) and whether it reaches the domain edge."""
    out: dict[str, dict] = {}
    for level in AEGL_LEVELS:
        for d in AEGL_DURATIONS:
            value = chemical.aegl_ppm(level, d)
            mask = window_maps[f"window_{int(d)}"] >= value
            out.setdefault(level, {})[int(d)] = {
                "mask": mask, "threshold_ppm": value, "edge": reaches_edge(mask),
                "distance_m": threat_distance(mask, grid.x_centres, grid.y_centres, x0, y0)}
    # ERPGs are 1-h values: compared with the 60-min running mean (ERPG-2 is NICS's first endpoint).
    for level in ERPG_LEVELS:
        value = chemical.erpg[level]
        mask = window_maps["window_3600"] >= value
        out[level] = {3600: {"mask": mask, "threshold_ppm": value, "edge": reaches_edge(mask),
                             "distance_m": threat_distance(mask, grid.x_centres, grid.y_centres, x0, y0)}}
    return out


def receptor_table(receptors: Mapping[str, Any], chemical: Chemical, arrival: float, interval: float,
                   duration: float) -> dict:
    """Per receptor (member 0): arrival (s), peak (ppm), toxic load (ppmⁿ·min), the largest
    ``duration``-s running mean (ppm) and the AEGL levels it reaches."""
    times = receptors["times"]
    arrivals = arrival_time(receptors["ends"][0], times, arrival)
    means = running_mean_series(receptors["means"][0], interval, duration)
    top = means.max(axis=-1) if means.shape[-1] else np.zeros(len(receptors["names"]))
    table = {}
    for k, name in enumerate(receptors["names"]):
        reached = [lv for lv in AEGL_LEVELS if top[k] >= chemical.aegl_ppm(lv, duration)]
        table[name] = {"arrival_s": float(arrivals[k]), "peak_ppm": float(receptors["peak"][0, k]),
                       "toxic_load": float(receptors["load"][0, k]), "max_mean_ppm": float(top[k]),
                       "levels": reached}
    return table


def release_task(cfg: Any, output_dir: str | Path | None = None, attributes: dict | None = None) -> dict[str, Any]:
    """Run the release and write ``<name>_release.h5`` and ``<name>_release.png``.

    Returns
    -------
    dict
        ``name``, ``chemical``, ``term`` (kind, mass kg, rate kg/s, duration s, regime),
        ``duration_s`` (the governing AEGL duration), ``distances`` {level: m}, ``edge`` {level:
        bool}, ``erpg`` {ERPG-k: threshold_ppm, distance_m, edge} from the 60-min mean, ``receptors`` (arrival, peak, load, max mean, levels), ``probability`` (ensemble
        AEGL-2 summary or None), ``h5``, ``png``, ``wall_time`` (s) and ``total_time`` (s).
    """
    started = time.perf_counter()
    run, rel = split_config(cfg, "release")
    rel = check_release_block(rel)
    chemical = get_chemical(str(rel["chemical"]))
    speed = float((run.get("met") or {}).get("speed", 0.0))
    term = release_term(rel["kind"], rel["inventory"], rel.get("rate"), rel.get("duration"), rel.get("orifice"),
                        rel.get("pool"), chemical, speed)
    run = release_run(run, rel, chemical, term)
    name = run.get("name", "release")
    output_dir = Path(output_dir or (run.get("output") or {}).get("dir") or Path("results") / f"{name}_release")
    interval = float(rel["sample_interval"])
    duration = governing_duration(exposure_of(rel, term, float(run["time"]["stop"])))
    if duration > float(run["time"]["stop"]):
        log.warning("the %g-min AEGL window is longer than the run (time.stop=%g s): its means count zero "
                    "after the run and are lower bounds; raise time.stop", duration / 60, run["time"]["stop"])
    arrival = arrival_ppm(chemical, rel["arrival_threshold"])
    progress = bool((run.get("output") or {}).get("progress", False))
    base = simulate(run, [{"label": "configured"}], chemical, interval, AEGL_DURATIONS, arrival, progress=progress)
    grid = base["grid"]
    x0, y0 = float(rel["x"]), float(rel["y"])
    zone = zones({k: v[0] for k, v in base["maps"].items()}, chemical, grid, x0, y0)
    table = receptor_table(base["receptors"], chemical, arrival, interval, duration) if base["receptors"] else {}
    ensemble = None
    ens = rel["ensemble"]
    if ens["members"] > 0:
        members = sample_members(ens["perturbations"], ens["members"], ens["method"], ens["seed"])
        out = simulate(run, members, chemical, interval, [duration], arrival, ens, progress)
        window = out["maps"][f"window_{int(duration)}"]
        probability = {lv: exceedance_probability(window, chemical.aegl_ppm(lv, duration)) for lv in AEGL_LEVELS}
        distances = [threat_distance(window[m] >= chemical.aegl_ppm("AEGL-2", duration), grid.x_centres,
                                     grid.y_centres, x0, y0) for m in range(len(members))]
        ensemble = {"members": members, "probability": probability, "distances": np.asarray(distances),
                    "window": window, "wall_time": out["result"].wall_time}
    output_dir.mkdir(parents=True, exist_ok=True)
    h5 = write_release(output_dir / f"{name}_release.h5", grid, chemical, term, rel, base, zone, table, duration,
                       arrival, ensemble, {"task": "release", "name": name, "run_config": json.dumps(run, default=str),
                                           **(attributes or {})})
    from .release_report import plot_release  # noqa: PLC0415

    png = plot_release(output_dir / f"{name}_release.png", grid, chemical, zone, duration, x0, y0, run.get("receptors", []),
                       table, ensemble, term)
    summary_probability = None
    if ensemble is not None:
        d = ensemble["distances"]
        summary_probability = {"members": len(ensemble["members"]), "max_probability": float(ensemble["probability"]["AEGL-2"].max()),
                               "distance_median_m": float(np.median(d)), "distance_p90_m": float(np.percentile(d, 90)),
                               "wall_time": ensemble["wall_time"]}
    return {"name": name, "chemical": chemical.key, "chemical_name": chemical.name, "dense": chemical.dense,
            "term": {"kind": term.kind, "mass_kg": term.mass, "rate_kg_s": term.rate, "duration_s": term.duration,
                     "regime": term.regime},
            "met": {k: run["met"].get(k) for k in ("speed", "direction", "stability")},
            "duration_s": duration, "arrival_ppm": arrival,
            "thresholds": {lv: chemical.aegl_ppm(lv, duration) for lv in AEGL_LEVELS},
            "distances": {lv: zone[lv][int(duration)]["distance_m"] for lv in AEGL_LEVELS},
            "edge": {lv: zone[lv][int(duration)]["edge"] for lv in AEGL_LEVELS},
            "erpg": {lv: {k: zone[lv][3600][k] for k in ("threshold_ppm", "distance_m", "edge")} for lv in ERPG_LEVELS},
            "receptors": table, "probability": summary_probability, "output_dir": str(output_dir), "h5": str(h5),
            "png": str(png), "wall_time": base["result"].wall_time, "stop_s": float(run["time"]["stop"]),
            "total_time": time.perf_counter() - started}

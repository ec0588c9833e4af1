"""The Prairie Grass validation suite: ``run_suite(options, out_dir, backend) -> SuiteResult``.

Options: ``runs`` (list of run numbers or ``"all"``), ``resolution`` (``coarse`` | ``medium`` |
``fine``), ``bootstrap`` (resamples, default 1000), ``seed`` (default 0), ``convergence`` (also run
the next finer resolution — or, from ``fine``, the next coarser — and report the change).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from engine.errors import ConfigError
from validation.report_types import Figure, Section, SuiteResult, Table

from . import figures
from .data import EDGE_FRACTION, load_runs, select_runs
from .grids import FINER, check_resolution
from .met import CLASS_BOUNDS, ROUGHNESS_LENGTH, ustar_consistency
from .scoring import AIM, BAND, QUANTITIES, convergence, make_pairs, score
from .simulate import simulate_run

log = logging.getLogger(__name__)
NAME = "prairie_grass"
DEFAULTS = {"runs": "all", "resolution": "medium", "bootstrap": 1000, "seed": 0, "convergence": False}


def parse_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Options with defaults filled in, checked (unknown keys are an error)."""
    merged = dict(DEFAULTS)
    unknown = set(options or {}) - set(DEFAULTS)
    if unknown:
        raise ConfigError("prairie_grass", f"unknown option(s) {sorted(unknown)}; known: {', '.join(DEFAULTS)}")
    merged.update(options or {})
    check_resolution(merged["resolution"])
    runs = merged["runs"]
    if runs != "all" and (isinstance(runs, (str, bytes)) or not hasattr(runs, "__iter__")):
        raise ConfigError("prairie_grass.runs", f"must be 'all' or a list of run numbers, got {runs!r}")
    if int(merged["bootstrap"]) < 0:
        raise ConfigError("prairie_grass.bootstrap", f"must be >= 0 resamples, got {merged['bootstrap']}")
    merged["bootstrap"], merged["seed"] = int(merged["bootstrap"]), int(merged["seed"])
    merged["convergence"] = bool(merged["convergence"])
    return merged


def simulate_all(runs, resolution: str, backend: str) -> tuple[dict, float]:
    """Predictions of every run at one resolution and the wall time (s)."""
    start = time.perf_counter()
    predictions = {}
    for n, run in enumerate(runs, start=1):
        predictions[run.number] = simulate_run(run, resolution, backend)
        log.info("prairie grass %s: run %d done (%d/%d)", resolution, run.number, n, len(runs))
    return predictions, time.perf_counter() - start


def _interval(entry: dict) -> str:
    value, low, high = entry["value"], entry["low"], entry["high"]
    if value is None:
        return "n/a"
    if low is None or high is None:
        return f"{value:.2f}"
    return f"{value:.2f} [{low:.2f}, {high:.2f}]"


def _diagnostics(predictions: dict) -> dict:
    arcs = [p for arcs in predictions.values() for p in arcs.values()]
    flux = np.array([p.plane_flux_ratio for p in arcs])
    return {"arcs": len(arcs), "steady": int(sum(p.steady for p in arcs)),
            "plane_flux_over_emission": {"min": float(flux.min()), "max": float(flux.max())},
            "top_layer_over_sampler_max": float(max(p.top_ratio for p in arcs)),
            "cells": {"min": int(min(p.cells for p in arcs)), "max": int(max(p.cells for p in arcs))},
            "steps": {"min": int(min(p.steps for p in arcs)), "max": int(max(p.steps for p in arcs))}}


def _score_tables(scores: dict) -> list[Table]:
    tables = []
    for quantity, label in QUANTITIES.items():
        rows = []
        result = scores[quantity]
        for name, stats in [("all", result["overall"])] + list(result["classes"].items()):
            measures = ("fac2", "fb", "nmse", "mg", "vg", "r")
            rows.append([name, stats["runs"], stats["n"]] + [_interval(stats[m]) for m in measures])
        tables.append(Table(f"Prairie Grass {label}: statistics with bootstrap 95 % intervals",
                            ["class", "runs", "pairs", "FAC2", "FB", "NMSE", "MG", "VG", "R"], rows,
                            note="FB > 0: the model under-predicts. Classes: "
                                 + "; ".join(f"{n} {b}" for n, b in CLASS_BOUNDS) + "."))
    return tables


def run_suite(options: Mapping[str, Any], out_dir: Path, backend: str = "numpy") -> SuiteResult:
    """Simulate the selected Prairie Grass runs with the engine and score them (module notes)."""
    opts = parse_options(options)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    all_runs = load_runs()
    runs, excluded = select_runs(all_runs, opts["runs"])
    if not runs:
        raise ConfigError("prairie_grass.runs", f"none of the selected runs can be simulated: {excluded}")
    resolution = opts["resolution"]
    predictions, seconds = simulate_all(runs, resolution, backend)
    pairs = {q: make_pairs(runs, predictions, q) for q in QUANTITIES}
    scores: dict[str, Any] = {q: score(pairs[q], opts["bootstrap"], opts["seed"]) for q in QUANTITIES}
    arc_exclusions = {f"{run.number}@{arc.distance:g}m": arc.reason for run in runs for arc in run.arcs.values()
                      if arc.reason}
    scores.update({
        "resolution": resolution, "backend": backend, "wall_time_s": seconds,
        "runs_used": [run.number for run in runs], "runs_excluded": {str(k): v for k, v in excluded.items()},
        "arcs_flagged": arc_exclusions, "band_limits": BAND, "aim_limits": AIM,
        "roughness_length_m": ROUGHNESS_LENGTH,
        "ustar_profile_over_table": {"median": float(np.median([ustar_consistency(r) for r in runs])),
                                     "min": float(min(ustar_consistency(r) for r in runs)),
                                     "max": float(max(ustar_consistency(r) for r in runs))},
        "diagnostics": _diagnostics(predictions),
        "predictions": {str(run.number): {f"{d:g}": {"arc_max": p.arc_max, "cwic": p.cwic}
                                          for d, p in predictions[run.number].items()} for run in runs},
    })
    passed = all(all(scores[q]["band"].values()) for q in QUANTITIES)
    scores["passed"] = passed
    conv_rows = []
    if opts["convergence"]:
        other = FINER[resolution]
        pair = (resolution, other) if other else ("medium", "fine")
        finer_predictions, finer_seconds = simulate_all(runs, other or "medium", backend)
        coarse_p, fine_p = (predictions, finer_predictions) if other else (finer_predictions, predictions)
        scores["convergence"] = {"from": pair[0], "to": pair[1], "wall_time_s": finer_seconds,
                                 **convergence(coarse_p, fine_p)}
        for q in QUANTITIES:
            c = scores["convergence"][q]
            conv_rows.append([QUANTITIES[q], f"{pair[0]} → {pair[1]}", c["n"], c["median"], c["max"]])

    figure_list = []
    for q, label in QUANTITIES.items():
        s = scores[q]["overall"]
        title = f"Prairie Grass {q.replace('_', ' ')}: FAC2 {s['fac2']['value']:.2f}, FB {s['fb']['value']:+.2f}"
        figure_list.append(Figure(figures.scatter(pairs[q], out_dir / f"prairie_grass_{q}_scatter.png", title),
                                  f"Predicted against observed {label}, {s['n']} arcs of {s['runs']} runs; "
                                  "solid 1:1, dashed factor of 2."))
        figure_list.append(Figure(figures.quantile_quantile(pairs[q], out_dir / f"prairie_grass_{q}_qq.png",
                                                            f"Prairie Grass {q.replace('_', ' ')}: quantiles"),
                                  f"Quantile–quantile plot of the {label}: sorted predictions against sorted "
                                  "observations."))

    verdicts = []
    for q, label in QUANTITIES.items():
        band, aim = scores[q]["band"], scores[q]["aim"]
        verdicts.append(f"{label}: good-model band (|FB| ≤ 0.3, NMSE ≤ 1.5, FAC2 ≥ 0.5) "
                        f"{'holds' if all(band.values()) else 'fails'}; aim (FAC2 ≥ 0.75, |FB| ≤ 0.15) "
                        f"{'met' if all(aim.values()) else 'not met'}.")
    diagnostics = scores["diagnostics"]
    overview = Section("Prairie Grass: the engine against field measurements", paragraphs=[
        "Project Prairie Grass (O'Neill, Nebraska, 1956): continuous SO2 releases at 0.46 m, 10-min mean "
        "concentrations at 1.5 m on arcs at 50, 100, 200, 400 and 800 m. Each arc of each run is simulated "
        "to steady state with the engine's 3D advection–diffusion solver on its own grid (horizontal spacing "
        "scaled to the arc radius and plume width, vertical levels stretched from the ground).",
        "Meteorology: Monin–Obukhov similarity wind through the measured U(2 m) with the measured L and "
        f"z0 = {ROUGHNESS_LENGTH} m; Kz = κ u* z (1 − z/h)² / φh(z/L) (held above 0.1 h in unstable air); "
        "Kh(x, z) = u(z) · ½ dσy²/dx with σy = σθ x f_y(x/U) and Draxler's f_y (Ti = 1000 s), so the lateral "
        "spread follows the observed σθ at every distance. No parameter is fitted to the concentrations.",
        f"{len(runs)} runs simulated at the {resolution} resolution in {seconds:.0f} s ({backend}); "
        f"{len(excluded)} excluded. Mass flux through a crosswind plane over the emission rate: "
        f"{diagnostics['plane_flux_over_emission']['min']:.3f}–{diagnostics['plane_flux_over_emission']['max']:.3f}; "
        f"{diagnostics['steady']} of {diagnostics['arcs']} arcs reached the steady-state criterion.",
        *verdicts,
    ], tables=_score_tables(scores), figures=figure_list)
    exclusion_rows = [[number, reason] for number, reason in sorted(excluded.items())]
    exclusion_rows += [[key, reason] for key, reason in arc_exclusions.items()]
    tables = [Table("Excluded runs and flagged arcs", ["run / arc", "reason"], exclusion_rows,
                    note=f"Arc maxima need a value ≥ 0.1 mg/m³ not on an end sampler; crosswind integrals also "
                         f"need both end samplers below {EDGE_FRACTION:.0%} of the maximum.")]
    if conv_rows:
        tables.append(Table("Resolution convergence: relative change of the predictions",
                            ["quantity", "resolutions", "arcs", "median change", "largest change"], conv_rows))
    details = Section("Prairie Grass: exclusions and convergence", tables=tables)
    return SuiteResult(NAME, _json_ready(scores), [overview, details], passed)


def _json_ready(value):
    """Plain Python types throughout (NumPy scalars converted, non-finite floats to None)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    return value

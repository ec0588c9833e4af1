"""Scoring a run against any sensor record, as a validation suite.

The run is a plumetwin run file with receptors (one member, or several: an ensemble run); the
record is anything ``plumetwin ingest`` reads (:func:`engine.observations.read_sensor_records`),
cleaned to kg/m³ and UTC. Stations pair with receptors by name (``station_id`` = receptor name).

Pairing: each good observation (QC flag 0; flagged rows are counted, never scored) at time ``t``
with averaging window ``w`` pairs with the mean of the receptor samples in ``(t − w, t]``, the
window ending at the observation's time as ingest defines it. With no window (``w`` = 0 or not
stated), it pairs with the sample at ``t`` itself (within 1 s). Observations with no sample in
their window are left out.

Scores per species, overall and per station, of the members' mean against the observations:
FB, NMSE, MG, VG, FAC2, NAD, R with bootstrap intervals (:mod:`validation.bootstrap`); for more
than one member also the ensemble scores (:mod:`validation.ensemble_scores`). ``passed``: every
species' overall scores lie in the good-model band ``|FB| ≤ 0.3``, ``NMSE ≤ 1.5``, ``FAC2 ≥ 0.5``
(Chang & Hanna 2004).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from engine.errors import ConfigError
from engine.observations import read_sensor_records
from engine.observations.times import parse_time
from engine.output import open_run

from . import plots
from .bootstrap import confidence_intervals
from .ensemble_scores import ensemble_scores
from .metrics import ACCEPTANCE_BAND
from .report_types import Figure, Section, SuiteResult, Table

#: The acceptance band used for ``passed``: measure -> (low, high).
BAND = ACCEPTANCE_BAND
MAX_SERIES_FIGURES = 12
UG = 1e9  # kg/m³ → µg/m³ for the figures and tables


def pair_series(model_times: np.ndarray, model_values: np.ndarray, obs_times: np.ndarray,
                windows: np.ndarray) -> np.ndarray:
    """Model values paired with each observation.

    Parameters
    ----------
    model_times:
        Receptor sample times ``(n,)`` (s since any common origin).
    model_values:
        Samples ``(n, member)``.
    obs_times, windows:
        Observation times and averaging windows (s), ``(k,)``; a window of 0 or NaN means an
        instantaneous reading.

    Returns
    -------
    ``(member, k)``: the mean of the samples in ``(t − w, t]``, or the sample within 1 s of
    ``t`` for an instantaneous reading; NaN where there is none.
    """
    members = model_values.shape[1]
    out = np.full((members, obs_times.size), np.nan)
    for k, (t, w) in enumerate(zip(obs_times, windows)):
        if np.isfinite(w) and w > 0:
            inside = (model_times > t - w) & (model_times <= t)
        else:
            inside = np.abs(model_times - t) <= 1.0
            if np.count_nonzero(inside) > 1:
                inside = np.abs(model_times - t) == np.abs(model_times - t).min()
        if inside.any():
            out[:, k] = model_values[inside].mean(axis=0)
    return out


def _options(options: Mapping[str, Any]) -> dict[str, Any]:
    for key in ("run", "records"):
        if not options.get(key):
            raise ConfigError(f"suites.sensors.options.{key}", "is required: give the run file (.h5) and the "
                                                                "sensor record to score it against")
    run = Path(options["run"])
    if not run.is_file():
        raise ConfigError("suites.sensors.options.run", f"no run file {run}")
    return {"run": run, "records": options["records"], "stations": options.get("stations"),
            "mapping": options.get("mapping"), "start": str(options.get("start") or "1970-01-01T00:00:00+00:00"),
            "species": options.get("species"), "window_s": options.get("window_s"),
            "threshold": options.get("threshold"), "bootstrap": int(options.get("bootstrap", 500)),
            "seed": int(options.get("seed", 0))}


def collect_pairs(opts: dict[str, Any]) -> tuple[dict[str, dict[str, dict]], dict[str, int]]:
    """``{species: {station: {"time", "observed", "predicted" (member, k)}}}`` and flagged-row counts."""
    # a record that is itself a run file shares the run's clock
    records, _ = read_sensor_records(opts["records"], stations=opts["stations"], mapping=opts["mapping"],
                                     start=opts["start"])
    origin = parse_time(opts["start"])
    pairs: dict[str, dict[str, dict]] = {}
    flagged: dict[str, int] = {}
    with open_run(opts["run"]) as run:
        wanted = opts["species"] or [s for s in run.species if s in set(records.species.tolist())]
        for species in wanted:
            if species not in run.species:
                raise ConfigError("suites.sensors.options.species", f"{species} is not in {opts['run']}")
            series = run.receptors(species)
            model_times = series.coords["time"]
            names = [str(n) for n in series.coords["receptor"]]
            rows = records.species == species
            flagged[species] = int(np.count_nonzero(rows & (records.qc != 0)))
            good = rows & (records.qc == 0)
            for station in sorted(set(records.station_id[good].tolist()) & set(names)):
                at = good & (records.station_id == station)
                obs_times = (records.time[at] - origin).astype("timedelta64[s]").astype(np.float64)
                if opts["window_s"] is not None:
                    windows = np.full(obs_times.size, float(opts["window_s"]))
                else:
                    index = records.stations.index(station)
                    windows = np.full(obs_times.size, records.stations.averaging_s[index])
                predicted = pair_series(model_times, series.values[:, :, names.index(station)].astype(np.float64),
                                        obs_times, windows)
                pairs.setdefault(species, {})[station] = {"time": records.time[at], "observed": records.value[at],
                                                          "predicted": predicted}
    if not any(pairs.values()):
        raise ConfigError("suites.sensors.options", "no observation pairs with the run: check that station_id "
                                                    "matches the receptor names and that start puts the record "
                                                    "inside the run's time span")
    return pairs, flagged


def score_pairs(observed: np.ndarray, predicted: np.ndarray, bootstrap: int, seed: int,
                threshold: float | None) -> dict[str, Any]:
    """Metrics of the members' mean with bootstrap intervals; ensemble scores for several members."""
    mean = predicted.mean(axis=0)
    out: dict[str, Any] = {"n": int(np.count_nonzero(np.isfinite(observed) & np.isfinite(mean))),
                           "metrics": confidence_intervals(observed, mean, n=bootstrap, seed=seed, threshold=threshold)}
    if predicted.shape[0] > 1:
        out["ensemble"] = ensemble_scores(predicted, observed, threshold=threshold, seed=seed)
    return out


def _in_band(metrics: dict[str, dict[str, float]]) -> bool:
    return all(np.isfinite(metrics[name]["value"]) and low <= metrics[name]["value"] <= high
               for name, (low, high) in BAND.items())


def _row(label: str, scores: dict[str, Any]) -> list[Any]:
    m = scores["metrics"]
    cells = [label, scores["n"]]
    for name in ("fb", "nmse", "mg", "vg", "fac2", "nad", "r"):
        value, low, high = m[name]["value"], m[name]["low"], m[name]["high"]
        cells.append(f"{value:.3g} [{low:.3g}, {high:.3g}]" if np.isfinite(value) else "–")
    return cells


def run_suite(options: Mapping[str, Any], out_dir: Path, backend: str) -> SuiteResult:
    """Score ``options.run`` against ``options.records``; figures go into ``out_dir``.

    ``backend`` is unused: the suite reads results, it runs no model.
    """
    opts = _options(options)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs, flagged = collect_pairs(opts)
    scores: dict[str, Any] = {"run": str(opts["run"]), "records": str(opts["records"]), "species": {}}
    sections: list[Section] = []
    verdicts: list[bool] = []
    figures_left = MAX_SERIES_FIGURES
    for species, stations in pairs.items():
        observed = np.concatenate([p["observed"] for p in stations.values()])
        predicted = np.concatenate([p["predicted"] for p in stations.values()], axis=1)
        overall = score_pairs(observed, predicted, opts["bootstrap"], opts["seed"], opts["threshold"])
        per_station = {name: score_pairs(p["observed"], p["predicted"], opts["bootstrap"], opts["seed"],
                                         opts["threshold"]) for name, p in stations.items()}
        passed = _in_band(overall["metrics"])
        verdicts.append(passed)
        scores["species"][species] = {"overall": overall, "stations": per_station, "flagged_rows": flagged[species],
                                      "in_band": passed}
        columns = ["", "pairs", "FB", "NMSE", "MG", "VG", "FAC2", "NAD", "R"]
        rows = [_row("all stations", overall)] + [_row(name, s) for name, s in per_station.items()]
        tables = [Table(f"{species}: scores [95 % bootstrap interval, {opts['bootstrap']} resamples]", columns, rows,
                        note=f"{flagged[species]} flagged row(s) not scored")]
        members = predicted.shape[0]
        figures = [Figure(plots.scatter(out_dir / f"scatter_{species}.png", observed * UG, predicted.mean(axis=0) * UG,
                                        f"{species}: all stations", "µg/m³"),
                          f"{species}: predicted (member mean) against observed, with the factor-of-two lines.")]
        if members > 1:
            e = overall["ensemble"]
            tables.append(Table(f"{species}: ensemble of {members} members",
                                ["CRPS (µg/m³)", "fair CRPS (µg/m³)", "spread (µg/m³)", "RMSE of mean (µg/m³)",
                                 "spread ratio", "rank δ"],
                                [[e["crps"] * UG, e["crps_fair"] * UG, e["spread_skill"]["spread"] * UG,
                                  e["spread_skill"]["rmse"] * UG, e["spread_skill"]["ratio"],
                                  e["rank_histogram"]["delta"]]]))
            figures.append(Figure(plots.rank_histogram(out_dir / f"rank_{species}.png", e["rank_histogram"]["counts"],
                                                       f"{species}: rank histogram"),
                                  "Rank of each observation among the members (flat: reliable)."))
        for name, p in stations.items():
            if figures_left == 0:
                break
            figures_left -= 1
            band = (p["predicted"].min(axis=0) * UG, p["predicted"].max(axis=0) * UG) if members > 1 else None
            figures.append(Figure(plots.time_series(out_dir / f"series_{species}_{name}.png",
                                                    p["time"].astype("datetime64[s]").astype(object),
                                                    p["observed"] * UG, p["predicted"].mean(axis=0) * UG,
                                                    f"{species} at {name}", "µg/m³", band),
                                  f"{species} at {name}: observed and predicted (UTC)."))
        sections.append(Section(f"Sensors: {species}", [
            f"Run {opts['run'].name} against {Path(str(opts['records'])).name}: "
            f"{overall['n']} pairs at {len(stations)} station(s). Good-model band: |FB| ≤ 0.3, NMSE ≤ 1.5, "
            f"FAC2 ≥ 0.5 — {'inside' if passed else 'outside'}."], tables, figures))
    return SuiteResult("sensors", scores, sections, passed=all(verdicts) if verdicts else None)

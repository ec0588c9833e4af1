"""Baseline and retrofit alternatives over one met ensemble: the numbers a planner compares.

Every (alternative, met member) pair is one member of a single ensemble, so all alternatives see
exactly the same weather and are advanced together (:func:`scenarios.ensemble.run_ensemble`);
alternatives differ only in per-source, per-species emission factors. With met members that are
the hours of a record, the receptor values of one alternative form an hourly series in time
order, and the Korean standards are counted on it with their averaging windows
(:mod:`scenarios.standards`). Each hour is run as its own steady period from clean air (the
screening-model convention: no carry-over between hours).

Cost-effectiveness is given two ways: annualised cost per tonne of pollutant removed per year
(all species summed), and annualised cost per µg/m³ of reduction of the period-mean concentration
averaged over the sensitive sites, per species.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from engine.errors import ConfigError
from engine.units import convert_concentration

from .catalogue import equipment_annualisation, standards_for
from .ensemble import EnsembleResult, run_ensemble
from .retrofit import alternative_cost, remaining_fractions, removed_tonnes_per_year
from .standards import count_exceedances

BASELINE = "baseline"


@dataclass
class CompareResult:
    """Concentrations (µg/m³, background added) by scenario and met member.

    ``ground``: ``(scenario, met member, species, ny, nx)``; ``sites``: ``(scenario, met member,
    species, site)``; ``hourly``: whether the met members are consecutive hours (windows apply).
    """

    scenarios: list[str]
    alternatives: dict[str, dict]
    species: list[str]
    site_names: list[str]
    met_members: list[dict]
    ground: np.ndarray
    sites: np.ndarray
    hourly: bool
    ensemble: EnsembleResult
    table: dict = field(default_factory=dict)


def run_compare(run: Mapping[str, Any], alternatives: Mapping[str, Mapping[str, Sequence[str]]],
                met_members: Sequence[Mapping[str, Any]], average_from: float | None = None,
                background: Mapping[str, float] | None = None, memory_budget: int | None = None,
                chunk: int | None = None, progress: bool = True) -> CompareResult:
    """Run the baseline and every alternative over ``met_members`` (one ensemble)."""
    if BASELINE in alternatives:
        raise ConfigError(f"compare.alternatives.{BASELINE}", "is reserved for the scenario as it is; rename it")
    source_species = {s["name"]: list(s.get("emissions", {})) for s in run.get("sources", [])}
    fractions = {name: remaining_fractions(alt, source_species, f"compare.alternatives.{name}")
                 for name, alt in alternatives.items()}
    scenarios = [BASELINE, *alternatives]
    members = []
    for scenario in scenarios:
        for met in met_members:
            member = dict(met)
            member["source_factors"] = fractions.get(scenario, {})
            member["scenario"] = scenario
            members.append(member)
    result = run_ensemble(run, members, average_from=average_from, memory_budget=memory_budget, chunk=chunk,
                          progress=progress)
    if result.receptors is None:
        raise ConfigError("receptors", "compare needs sensitive sites: list them under receptors")
    species = run["species"]
    n, h = len(scenarios), len(met_members)
    ground = np.empty(result.ground.shape, dtype=np.float64)
    sites = np.empty(result.receptors.shape, dtype=np.float64)
    for i, s in enumerate(species):
        add = float((background or {}).get(s["name"], 0.0))
        ground[:, i] = convert_concentration(result.ground[:, i], "kg/m3", "ug/m3", s.get("molar_mass")) + add
        sites[:, i] = convert_concentration(result.receptors[:, i], "kg/m3", "ug/m3", s.get("molar_mass")) + add
    hours = [m.get("record_hour") for m in met_members]
    hourly = all(x is not None for x in hours)
    return CompareResult(scenarios, {k: dict(v) for k, v in alternatives.items()}, [s["name"] for s in species],
                         list(result.receptor_names), [dict(m) for m in met_members],
                         ground.reshape((n, h) + ground.shape[1:]), sites.reshape((n, h) + sites.shape[1:]),
                         hourly, result)


def hourly_series(result: CompareResult) -> np.ndarray:
    """``(scenario, species, site, hour)``: the met members put on an hourly axis in time order,
    NaN for hours of the span that were not run."""
    if not result.hourly:
        return np.moveaxis(result.sites, 1, -1)
    hours = np.array([m["record_hour"] for m in result.met_members], dtype=float)
    slots = np.round(hours - hours.min()).astype(int)
    series = np.full(result.sites.shape[:1] + result.sites.shape[2:] + (slots.max() + 1,), np.nan)
    series[..., slots] = np.moveaxis(result.sites, 1, -1)
    return series


def summarise(result: CompareResult, run: Mapping[str, Any], percentiles: Sequence[float] = (95, 99)) -> dict:
    """The comparison table: per scenario, species and site the mean and high percentiles over the
    met members, exceedances per standard, reductions against the baseline; per scenario the
    cost, tonnes removed and cost-effectiveness; and the ranking."""
    series = hourly_series(result)
    source_species = {s["name"]: list(s.get("emissions", {})) for s in run.get("sources", [])}
    _, _, currency = equipment_annualisation()
    table: dict[str, Any] = {"scenarios": {}, "currency": currency, "units": "ug/m3",
                             "percentiles": list(percentiles), "hourly": result.hourly}
    base = 0
    for k, scenario in enumerate(result.scenarios):
        entry: dict[str, Any] = {"sites": {}, "exceedances_total": 0}
        for i, species in enumerate(result.species):
            values = result.sites[k, :, i]                      # (met member, site)
            base_values = result.sites[base, :, i]
            high = np.percentile(values, percentiles, axis=0)
            base_high = np.percentile(base_values, percentiles, axis=0)
            for j, site in enumerate(result.site_names):
                row = {"mean": float(values[:, j].mean()), "max": float(values[:, j].max()),
                       **{f"p{p:g}": float(high[q, j]) for q, p in enumerate(percentiles)},
                       "reduction_mean": float(base_values[:, j].mean() - values[:, j].mean()),
                       **{f"reduction_p{p:g}": float(base_high[q, j] - high[q, j]) for q, p in enumerate(percentiles)}}
                base_mean = float(base_values[:, j].mean())
                row["reduction_mean_percent"] = 100.0 * row["reduction_mean"] / base_mean if base_mean > 0 else 0.0
                row["exceedances"] = {}
                for standard in standards_for(species):
                    if not result.hourly and standard.averaging in ("8h", "24h"):
                        continue  # sampled members are not consecutive hours: running windows do not apply
                    counted = count_exceedances(series[k, i, j], standard.averaging, standard.ug_m3)
                    row["exceedances"][standard.averaging] = {
                        "count": int(counted["exceedances"]), "windows": int(counted["windows"]),
                        "max_mean": float(counted["max_mean"]), "standard": standard.ug_m3}
                    entry["exceedances_total"] += int(counted["exceedances"])
                entry["sites"].setdefault(species, {})[site] = row
        fractions = ({} if scenario == BASELINE else
                     remaining_fractions(result.alternatives[scenario], source_species))
        cost = {"capital": 0.0, "annual": 0.0} if scenario == BASELINE else alternative_cost(result.alternatives[scenario])
        removed = removed_tonnes_per_year(run, fractions)
        total_removed = sum(removed.values())
        entry.update({"equipment": result.alternatives.get(scenario, {}), "capital_cost": cost["capital"],
                      "annual_cost": cost["annual"], "removed_t_per_yr": removed,
                      "cost_per_tonne": cost["annual"] / total_removed if total_removed > 0 else None})
        per_ug = {}
        for species in result.species:
            reduction = float(np.mean([entry["sites"][species][s]["reduction_mean"] for s in result.site_names]))
            per_ug[species] = cost["annual"] / reduction if reduction > 0 and cost["annual"] > 0 else None
        entry["cost_per_ug_m3"] = per_ug
        entry["site_mean_reduction"] = {
            species: float(np.mean([entry["sites"][species][s]["reduction_mean"] for s in result.site_names]))
            for species in result.species}
        table["scenarios"][scenario] = entry
    table["ranking"] = rank(table)
    return table


def rank(table: Mapping[str, Any]) -> list[dict]:
    """Alternatives ordered by (1) exceedances left (fewest first), then (2) annualised cost per
    tonne removed (cheapest first); the baseline is listed for reference, unranked."""
    rows = []
    for name, entry in table["scenarios"].items():
        if name == BASELINE:
            continue
        per_tonne = entry["cost_per_tonne"]
        rows.append({"scenario": name, "exceedances": entry["exceedances_total"],
                     "cost_per_tonne": per_tonne, "annual_cost": entry["annual_cost"]})
    rows.sort(key=lambda r: (r["exceedances"], np.inf if r["cost_per_tonne"] is None else r["cost_per_tonne"]))
    for position, row in enumerate(rows, start=1):
        row["rank"] = position
    return rows

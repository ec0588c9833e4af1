"""Pairs of observed and predicted ``C/Q``, the field's statistics with bootstrap intervals, the
good-model band and the resolution convergence.

Two kinds of pairs, as in the Prairie Grass literature: the arc maximum (s/m³) and the
crosswind-integrated concentration (s/m²) of every usable arc (:mod:`.data`). Statistics are
Chang & Hanna's (2004) FB, NMSE, MG, VG, FAC2, NAD and R (:mod:`validation.metrics`; FB > 0 means
the model under-predicts), with percentile bootstrap 95 % intervals over the pairs
(:mod:`validation.bootstrap`), overall and per stability class (:data:`.met.CLASS_BOUNDS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from validation.bootstrap import confidence_intervals
from validation.metrics import ACCEPTANCE_BAND, METRICS

from .data import Run
from .met import CLASS_BOUNDS, stability_class
from .simulate import ArcPrediction

QUANTITIES = {"arc_max": "arc maximum C/Q (s/m³)", "cwic": "crosswind-integrated C/Q (s/m²)"}
#: The good-model band this suite's verdict uses (Chang & Hanna 2004).
BAND = ACCEPTANCE_BAND
#: The project's aim.
AIM = {"fb": (-0.15, 0.15), "fac2": (0.75, 1.0)}


@dataclass
class Pairs:
    """Observed and predicted values of one quantity with their run, arc distance and class."""

    quantity: str
    run: np.ndarray
    distance: np.ndarray
    stability: np.ndarray
    observed: np.ndarray
    predicted: np.ndarray
    observed_raw: np.ndarray  # without the evaporation correction

    def subset(self, mask: np.ndarray) -> "Pairs":
        return Pairs(self.quantity, self.run[mask], self.distance[mask], self.stability[mask], self.observed[mask],
                     self.predicted[mask], self.observed_raw[mask])

    def __len__(self) -> int:
        return int(self.observed.size)


def make_pairs(runs: list[Run], predictions: dict[int, dict[float, ArcPrediction]], quantity: str) -> Pairs:
    """Every usable arc of ``runs`` that has a prediction."""
    rows = []
    for run in runs:
        for distance, prediction in sorted(predictions.get(run.number, {}).items()):
            arc = run.arcs.get(distance)
            if arc is None:
                continue
            if quantity == "arc_max" and arc.arc_max_ok:
                rows.append((run.number, distance, stability_class(run.obukhov), arc.arc_max, prediction.arc_max,
                             arc.arc_max_raw))
            elif quantity == "cwic" and arc.cwic_ok:
                rows.append((run.number, distance, stability_class(run.obukhov), arc.cwic, prediction.cwic,
                             arc.cwic_raw))
    columns = list(zip(*rows)) if rows else [[]] * 6
    return Pairs(quantity, np.asarray(columns[0], dtype=int), np.asarray(columns[1], dtype=float),
                 np.asarray(columns[2], dtype=object), *(np.asarray(c, dtype=float) for c in columns[3:]))


def _plain(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def statistics(pairs: Pairs, n: int, seed: int) -> dict:
    """``{measure: {value, low, high}}`` plus ``n`` (pairs) for one set of pairs."""
    intervals = confidence_intervals(pairs.observed, pairs.predicted, metrics=list(METRICS), n=n, seed=seed)
    out = {name: {k: _plain(v) for k, v in entry.items()} for name, entry in intervals.items()}
    out["n"] = len(pairs)
    out["runs"] = int(np.unique(pairs.run).size)
    return out


def verdict(stats: dict, limits: dict) -> dict[str, bool]:
    """Whether each measure's value lies within ``limits``."""
    return {name: bool(stats[name]["value"] is not None and low <= stats[name]["value"] <= high)
            for name, (low, high) in limits.items()}


def score(pairs: Pairs, n: int, seed: int) -> dict:
    """Overall and per-class statistics, band and aim verdicts, the uncorrected-observation
    sensitivity and the per-distance geometric mean of Cp/Co."""
    overall = statistics(pairs, n, seed)
    classes = {}
    for name, _ in CLASS_BOUNDS:
        part = pairs.subset(pairs.stability == name)
        if len(part):
            classes[name] = statistics(part, n, seed)
    raw = Pairs(pairs.quantity, pairs.run, pairs.distance, pairs.stability, pairs.observed_raw, pairs.predicted,
                pairs.observed_raw)
    by_distance = {}
    for distance in np.unique(pairs.distance):
        part = pairs.subset(pairs.distance == distance)
        ratio = part.predicted / part.observed
        by_distance[f"{distance:g}"] = {"n": len(part),
                                        "geometric_mean_cp_over_co": _plain(np.exp(np.mean(np.log(ratio)))),
                                        "fac2": _plain(np.mean((ratio >= 0.5) & (ratio <= 2)))}
    return {"overall": overall, "classes": classes, "band": verdict(overall, BAND), "aim": verdict(overall, AIM),
            "uncorrected_observations": {k: _plain(v["value"]) for k, v in statistics(raw, 0, seed).items()
                                         if isinstance(v, dict)},
            "by_distance": by_distance}


def convergence(coarse: dict[int, dict[float, ArcPrediction]], fine: dict[int, dict[float, ArcPrediction]]) -> dict:
    """Median and largest relative change ``|p_fine − p_coarse| / p_fine`` of the arc maxima and
    crosswind integrals, over every arc simulated at both resolutions."""
    out = {}
    for quantity in QUANTITIES:
        changes = []
        for run, arcs in coarse.items():
            for distance, prediction in arcs.items():
                finer = fine.get(run, {}).get(distance)
                if finer is not None:
                    a, b = getattr(prediction, quantity), getattr(finer, quantity)
                    changes.append(abs(b - a) / abs(b))
        changes = np.asarray(changes)
        out[quantity] = {"n": int(changes.size), "median": _plain(np.median(changes)) if changes.size else None,
                         "max": _plain(changes.max()) if changes.size else None}
    return out

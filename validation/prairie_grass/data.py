"""Reading the Project Prairie Grass tables and deriving the observed arc statistics.

Observed concentrations (mg/m³ in the files) are converted to kg/m³, multiplied by Barad's
Table 5.4 SO2 correction factor (as the data README documents) and normalised by the release rate
``Q`` (g/s → kg/s): ``C/Q`` in s/m³. Per arc, the arc maximum is the largest sampler value and the
crosswind-integrated concentration is the trapezoidal integral ``∫ C/Q r dθ`` (s/m²) over the
sampler azimuths, exactly as :func:`crosswind_integral` does for the model.

A run is used only when it has meteorology (L, u*, U at 2 m, σθ) and its release is at 0.46 m
(runs 65–68 were released at 1.5 m and have no meteorology either); an arc is scored only when its
values are usable (see :func:`arc_observation`).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import ConfigError

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "prairie_grass"
ARC_DISTANCES = (50.0, 100.0, 200.0, 400.0, 800.0)  # m
#: Barad's reliability threshold of the SO2 samplers (mg/m³), in kg/m³.
DETECTION_LIMIT = 0.1e-6
#: Sampler height (m) of every arc.
SAMPLER_HEIGHT = 1.5
#: An end sampler above this fraction of the arc maximum means the plume edge left the arc.
EDGE_FRACTION = 0.1
#: Values the data README names as suspect: (run, arc distance) -> reason (the arc is not scored).
SUSPECT_ARCS = {(58, 50.0): "one sampler reads exactly 1000 mg/m³, a saturation cap: the maximum is censored"}
#: Evaporation factors the data README names as typos: (run, arc distance) -> corrected factor.
FACTOR_TYPOS = {(12, 200.0): 0.90}

_MET_FIELDS = ("L_m", "ustar_mps", "sigma_theta_deg", "u2m_mps", "wind_dir_deg")


@dataclass(frozen=True)
class ArcObservation:
    """One arc of one run: sampler azimuths (deg) and ``C/Q`` (s/m³), with its usability."""

    distance: float
    azimuth_deg: np.ndarray
    c_over_q: np.ndarray
    c_over_q_raw: np.ndarray  # without the evaporation correction
    arc_max_ok: bool
    cwic_ok: bool
    reason: str = ""

    @property
    def arc_max(self) -> float:
        return float(np.max(self.c_over_q)) if self.c_over_q.size else float("nan")

    @property
    def arc_max_raw(self) -> float:
        return float(np.max(self.c_over_q_raw)) if self.c_over_q_raw.size else float("nan")

    @property
    def cwic(self) -> float:
        return crosswind_integral(self.azimuth_deg, self.c_over_q, self.distance)

    @property
    def cwic_raw(self) -> float:
        return crosswind_integral(self.azimuth_deg, self.c_over_q_raw, self.distance)


@dataclass
class Run:
    """One Prairie Grass release: emission, meteorology (None where missing) and its arcs."""

    number: int
    q: float  # kg/s
    release_height: float  # m
    obukhov: float | None  # m
    u_star: float | None  # m/s, as tabulated (von Kármán constant 0.35)
    u2: float | None  # m/s at 2 m
    sigma_theta_deg: float | None
    mixing_height: float | None  # m, None when not given (every stable run)
    wind_dir_deg: float | None
    arcs: dict[float, ArcObservation] = field(default_factory=dict)

    @property
    def has_met(self) -> bool:
        return None not in (self.obukhov, self.u_star, self.u2, self.sigma_theta_deg)


def crosswind_integral(azimuth_deg, values, radius: float) -> float:
    """Trapezoidal ``∫ values r dθ`` along an arc of ``radius`` m (azimuths in degrees, sorted
    here; gaps of missing samplers are bridged linearly)."""
    azimuth = np.asarray(azimuth_deg, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if azimuth.size < 2:
        return float("nan")
    order = np.argsort(azimuth)
    return float(np.trapezoid(values[order], np.deg2rad(azimuth[order])) * radius)


def _float(row: dict, key: str, path: Path, line: int) -> float | None:
    text = row.get(key, "")
    if text is None:
        raise ConfigError(f"{path.name}:{line}", f"column {key!r} is missing; the file must have the documented header")
    text = text.strip()
    if text == "":
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise ConfigError(f"{path.name}:{line}.{key}", f"{text!r} is not a number") from exc


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict]:
    if not path.is_file():
        raise ConfigError(str(path), "Prairie Grass table not found; it ships in validation/data/prairie_grass/")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(str(path), f"missing column(s) {missing}; see validation/data/prairie_grass/README.md")
        return list(reader)


def _unwrap(azimuth: np.ndarray) -> np.ndarray:
    """Azimuths made continuous across north (an arc spanning 348°…12° becomes −12°…12°)."""
    if azimuth.size and azimuth.max() - azimuth.min() > 180:
        return np.where(azimuth > 180, azimuth - 360, azimuth)
    return azimuth


def arc_observation(run: int, distance: float, azimuth: np.ndarray, conc: np.ndarray, factor: float,
                    q: float) -> ArcObservation:
    """Usability of one arc: missing values (−9) are dropped; the arc maximum needs a value above
    the detection limit not on an end sampler; the crosswind integral needs, in addition, both
    end samplers below :data:`EDGE_FRACTION` of the maximum (the whole plume crossed the arc)."""
    keep = conc >= 0
    azimuth, conc = _unwrap(azimuth[keep]), conc[keep]
    order = np.argsort(azimuth)
    azimuth, conc = azimuth[order], conc[order] * 1e-6  # mg/m³ -> kg/m³
    raw = conc / q
    corrected = raw * factor
    reason = ""
    max_ok = cwic_ok = True
    if conc.size < 3:
        return ArcObservation(distance, azimuth, corrected, raw, False, False, "fewer than 3 valid samplers")
    peak = int(np.argmax(conc))
    if (run, distance) in SUSPECT_ARCS:
        return ArcObservation(distance, azimuth, corrected, raw, False, False, SUSPECT_ARCS[(run, distance)])
    if conc[peak] < DETECTION_LIMIT:
        max_ok, cwic_ok, reason = False, False, "maximum below the 0.1 mg/m³ reliability threshold"
    elif peak in (0, conc.size - 1):
        max_ok, cwic_ok, reason = False, False, "maximum on an end sampler: the plume centre may lie off the arc"
    elif max(conc[0], conc[-1]) > EDGE_FRACTION * conc[peak]:
        cwic_ok, reason = False, f"an end sampler exceeds {EDGE_FRACTION:.0%} of the maximum: plume edge off the arc"
    return ArcObservation(distance, azimuth, corrected, raw, max_ok, cwic_ok, reason)


def load_runs(data_dir: Path = DATA_DIR) -> dict[int, Run]:
    """Every run of ``pg_runs.csv`` with its arcs from ``pg_arcs_long.csv`` (SI units)."""
    runs_path, arcs_path = data_dir / "pg_runs.csv", data_dir / "pg_arcs_long.csv"
    runs: dict[int, Run] = {}
    for line, row in enumerate(_read_csv(runs_path, ("run", "q_gps", "release_height_m") + _MET_FIELDS), start=2):
        number = int(row["run"])
        q = _float(row, "q_gps", runs_path, line)
        if q is None or not q > 0:
            raise ConfigError(f"{runs_path.name}:{line}.q_gps", f"run {number} needs a release rate > 0 g/s")
        zi = _float(row, "zi_m", runs_path, line)
        runs[number] = Run(
            number, q * 1e-3, _float(row, "release_height_m", runs_path, line),
            _float(row, "L_m", runs_path, line), _float(row, "ustar_mps", runs_path, line),
            _float(row, "u2m_mps", runs_path, line), _float(row, "sigma_theta_deg", runs_path, line),
            zi if zi is not None and zi > 0 else None, _float(row, "wind_dir_deg", runs_path, line))
    groups: dict[tuple[int, float], list[tuple[float, float, float]]] = {}
    for line, row in enumerate(_read_csv(arcs_path, ("run", "distance_m", "azimuth_deg", "conc_mg_m3",
                                                     "evap_corr_factor")), start=2):
        number = int(row["run"])
        if number not in runs:
            raise ConfigError(f"{arcs_path.name}:{line}.run", f"run {number} is not in {runs_path.name}")
        distance = _float(row, "distance_m", arcs_path, line)
        factor = _float(row, "evap_corr_factor", arcs_path, line)
        groups.setdefault((number, distance), []).append(
            (_float(row, "azimuth_deg", arcs_path, line), _float(row, "conc_mg_m3", arcs_path, line),
             math.nan if factor is None else factor))
    for (number, distance), rows in groups.items():
        values = np.asarray(rows, dtype=np.float64)
        factor = FACTOR_TYPOS.get((number, distance), float(np.nanmean(values[:, 2])) if np.isfinite(values[:, 2]).any()
                                  else 1.0)
        runs[number].arcs[distance] = arc_observation(number, distance, values[:, 0], values[:, 1], factor,
                                                      runs[number].q)
    return runs


def run_exclusion(run: Run) -> str | None:
    """Why a run is left out of the validation (None: it is used)."""
    if not run.has_met:
        return "no meteorology (L, u*, U, σθ) in this copy of the data"
    if run.release_height is None or abs(run.release_height - 0.46) > 1e-6:
        return f"release at {run.release_height} m, not the standard 0.46 m"
    if not any(arc.arc_max_ok for arc in run.arcs.values()):
        return "no usable arc"
    return None


def select_runs(runs: dict[int, Run], wanted="all") -> tuple[list[Run], dict[int, str]]:
    """The runs to simulate (ordered) and the excluded ones with their reasons; ``wanted`` is
    ``"all"`` or a list of run numbers (an unknown number is an error)."""
    if wanted == "all" or wanted is None:
        numbers = sorted(runs)
    else:
        numbers = sorted({int(n) for n in wanted})
        unknown = [n for n in numbers if n not in runs]
        if unknown:
            raise ConfigError("prairie_grass.runs",
                              f"unknown run(s) {unknown}; runs are {sorted(runs)[0]}–{sorted(runs)[-1]}")
    used, excluded = [], {}
    for number in numbers:
        reason = run_exclusion(runs[number])
        if reason is None:
            used.append(runs[number])
        else:
            excluded[number] = reason
    return used, excluded

"""The field's standard performance measures of dispersion models (Hanna's BOOT software).

For paired observed ``Co`` and predicted ``Cp`` concentrations (Chang & Hanna 2004, eqs. 1–7):

- fractional bias ``FB = (mean Co − mean Cp) / (½ (mean Co + mean Cp))`` (positive: the model
  under-predicts);
- normalised mean square error ``NMSE = mean((Co − Cp)²) / (mean Co · mean Cp)``;
- geometric mean bias ``MG = exp(mean ln Co − mean ln Cp)`` and geometric variance
  ``VG = exp(mean (ln Co − ln Cp)²)``;
- ``FAC2``, the fraction of pairs with ``0.5 ≤ Cp/Co ≤ 2``;
- normalised absolute difference ``NAD = mean |Co − Cp| / (mean Co + mean Cp)``;
- the correlation coefficient ``R``.

Edge cases, documented and tested:

- **NaN**: a pair with a NaN on either side is left out of every measure (``valid_pairs``).
- **Zeros and negatives**: the logarithmic MG and VG need positive values. As BOOT does, values
  below a ``threshold`` are raised to it (e.g. the instrument's detection limit); without a
  threshold, a non-positive value makes MG and VG ``nan`` (never a silently huge number).
  FAC2 counts a pair whose observed value is zero as within a factor of two only when the
  prediction is zero too (with a threshold: both below it). FB, NMSE, NAD and R take the values
  as they are; a zero denominator (e.g. every value zero) gives ``nan``.
- **Empty input** (no valid pair): every measure is ``nan``.

"Good model" band for rural field experiments (Chang & Hanna 2004): ``|FB| ≤ 0.3``,
``NMSE ≤ 1.5`` (≈ a factor of 2 scatter), ``0.7 ≤ MG ≤ 1.3``, ``VG ≤ 4``, ``FAC2 ≥ 0.5``
(:data:`GOOD_MODEL`).

References
----------
Chang, J. C. & Hanna, S. R. (2004). Air quality model performance evaluation. Meteorol. Atmos.
Phys. 87, 167–196.
Hanna, S. R. et al. (1991). Hazardous gas model evaluation with field observations. Atmos.
Environ. 27A, 2265–2285 (the BOOT software).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: The acceptance band of a "good" model in rural experiments: measure -> (low, high) limits.
GOOD_MODEL = {"fb": (-0.3, 0.3), "nmse": (0.0, 1.5), "mg": (0.7, 1.3), "vg": (0.0, 4.0), "fac2": (0.5, 1.0)}
#: The part of the band the validation suites pass or fail on (|FB| <= 0.3, NMSE <= 1.5, FAC2 >= 0.5).
ACCEPTANCE_BAND = {name: GOOD_MODEL[name] for name in ("fb", "nmse", "fac2")}


def valid_pairs(observed, predicted) -> tuple[np.ndarray, np.ndarray]:
    """Float64 copies of the pairs with no NaN on either side (shapes must match)."""
    co = np.asarray(observed, dtype=np.float64).ravel()
    cp = np.asarray(predicted, dtype=np.float64).ravel()
    if co.shape != cp.shape:
        raise ValueError(f"observed ({co.size} values) and predicted ({cp.size}) must pair up")
    keep = ~(np.isnan(co) | np.isnan(cp))
    return co[keep], cp[keep]


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0 else float("nan")


def fb(observed, predicted) -> float:
    """Fractional bias (dimensionless; 0 is perfect, positive means under-prediction)."""
    co, cp = valid_pairs(observed, predicted)
    if co.size == 0:
        return float("nan")
    return _ratio(co.mean() - cp.mean(), 0.5 * (co.mean() + cp.mean()))


def nmse(observed, predicted) -> float:
    """Normalised mean square error (0 is perfect; ``nan`` when the means' product is not positive)."""
    co, cp = valid_pairs(observed, predicted)
    if co.size == 0:
        return float("nan")
    scale = co.mean() * cp.mean()
    return float(np.mean((co - cp) ** 2) / scale) if scale > 0 else float("nan")


def _logs(observed, predicted, threshold: float | None):
    co, cp = valid_pairs(observed, predicted)
    if threshold is not None:
        co, cp = np.maximum(co, threshold), np.maximum(cp, threshold)
    if co.size == 0 or np.any(co <= 0) or np.any(cp <= 0):
        return None
    return np.log(co), np.log(cp)


def mg(observed, predicted, threshold: float | None = None) -> float:
    """Geometric mean bias (1 is perfect); values below ``threshold`` are raised to it."""
    logs = _logs(observed, predicted, threshold)
    return float("nan") if logs is None else float(np.exp(np.mean(logs[0] - logs[1])))


def vg(observed, predicted, threshold: float | None = None) -> float:
    """Geometric variance (1 is perfect); values below ``threshold`` are raised to it."""
    logs = _logs(observed, predicted, threshold)
    return float("nan") if logs is None else float(np.exp(np.mean((logs[0] - logs[1]) ** 2)))


def fac2(observed, predicted, threshold: float | None = None) -> float:
    """Fraction of pairs within a factor of two, ``0.5 ≤ Cp/Co ≤ 2``.

    A pair with ``Co = 0`` (or, with a threshold, both values below it) counts only when the
    prediction is zero (below the threshold) too.
    """
    co, cp = valid_pairs(observed, predicted)
    if co.size == 0:
        return float("nan")
    floor = 0.0 if threshold is None else float(threshold)
    both_low = (co <= floor) & (cp <= floor) if threshold is not None else (co == 0) & (cp == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = cp / co
    within = (co > 0) & (ratio >= 0.5) & (ratio <= 2.0)
    return float(np.mean(within | both_low))


def nad(observed, predicted) -> float:
    """Normalised absolute difference (0 is perfect)."""
    co, cp = valid_pairs(observed, predicted)
    if co.size == 0:
        return float("nan")
    return _ratio(float(np.mean(np.abs(co - cp))), co.mean() + cp.mean())


def r(observed, predicted) -> float:
    """Pearson correlation coefficient (``nan`` when either side has no variance)."""
    co, cp = valid_pairs(observed, predicted)
    if co.size < 2 or co.std() == 0 or cp.std() == 0:
        return float("nan")
    return float(np.corrcoef(co, cp)[0, 1])


#: Every measure by name, each ``f(observed, predicted) -> float``.
METRICS: dict[str, Callable[..., float]] = {"fb": fb, "nmse": nmse, "mg": mg, "vg": vg, "fac2": fac2,
                                            "nad": nad, "r": r}
_THRESHOLDED = {"mg", "vg", "fac2"}


def all_metrics(observed, predicted, threshold: float | None = None) -> dict[str, float]:
    """Every measure of :data:`METRICS` plus ``n`` (valid pairs); ``threshold`` as in :func:`mg`."""
    co, cp = valid_pairs(observed, predicted)
    out = {name: (f(co, cp, threshold) if name in _THRESHOLDED else f(co, cp)) for name, f in METRICS.items()}
    out["n"] = int(co.size)
    return out


def in_good_model_band(scores: dict[str, float]) -> dict[str, bool]:
    """Whether each measure of :data:`GOOD_MODEL` present in ``scores`` lies in its band."""
    return {name: bool(low <= scores[name] <= high) for name, (low, high) in GOOD_MODEL.items()
            if name in scores and np.isfinite(scores[name])}

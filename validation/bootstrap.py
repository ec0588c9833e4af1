"""Bootstrap confidence intervals of the performance measures, as the BOOT software reports them.

Pairs ``(Co, Cp)`` are resampled with replacement ``n`` times (seeded); each measure's interval is
the percentile interval of its resampled values. :func:`difference` resamples the same pairs for
two models at once and gives the interval of the difference of a measure between them: when it
excludes zero, the two models differ significantly at that level (Hanna et al. 1991).

References
----------
Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall, ch. 13.
Chang, J. C. & Hanna, S. R. (2004). Air quality model performance evaluation. Meteorol. Atmos.
Phys. 87, 167–196 (section 5.1).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .metrics import METRICS, _THRESHOLDED, valid_pairs


def _measure(name: str, co: np.ndarray, cp: np.ndarray, threshold: float | None) -> float:
    function = METRICS[name]
    return function(co, cp, threshold) if name in _THRESHOLDED else function(co, cp)


def _samples(size: int, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, size, size=(n, size))


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def confidence_intervals(observed, predicted, metrics: Iterable[str] | None = None, n: int = 1000, seed: int = 0,
                         level: float = 0.95, threshold: float | None = None) -> dict[str, dict[str, float]]:
    """``{measure: {"value", "low", "high"}}`` for each measure (default: all of them).

    ``value`` is the measure on the pairs themselves; ``low``/``high`` bound the ``level``
    percentile interval of ``n`` bootstrap resamples (NaN pairs are left out first; resamples
    where a measure is undefined are ignored).
    """
    names = list(metrics) if metrics is not None else list(METRICS)
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown measure(s) {unknown}; known: {', '.join(METRICS)}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    co, cp = valid_pairs(observed, predicted)
    out: dict[str, dict[str, float]] = {}
    draws = _samples(co.size, n, seed) if co.size else np.zeros((0, 0), dtype=int)
    for name in names:
        value = _measure(name, co, cp, threshold)
        resampled = np.array([_measure(name, co[i], cp[i], threshold) for i in draws])
        low, high = _interval(resampled, level) if resampled.size else (float("nan"), float("nan"))
        out[name] = {"value": value, "low": low, "high": high}
    return out


def difference(observed, predicted_a, predicted_b, metrics: Iterable[str] | None = None, n: int = 1000,
               seed: int = 0, level: float = 0.95, threshold: float | None = None) -> dict[str, dict[str, float]]:
    """Interval of ``measure(A) − measure(B)`` over common resamples of the same observations;
    ``significant`` is True when the interval excludes zero."""
    co = np.asarray(observed, dtype=np.float64).ravel()
    a = np.asarray(predicted_a, dtype=np.float64).ravel()
    b = np.asarray(predicted_b, dtype=np.float64).ravel()
    keep = ~(np.isnan(co) | np.isnan(a) | np.isnan(b))
    co, a, b = co[keep], a[keep], b[keep]
    names = list(metrics) if metrics is not None else list(METRICS)
    draws = _samples(co.size, n, seed)
    out: dict[str, dict[str, float]] = {}
    for name in names:
        value = _measure(name, co, a, threshold) - _measure(name, co, b, threshold)
        resampled = np.array([_measure(name, co[i], a[i], threshold) - _measure(name, co[i], b[i], threshold)
                              for i in draws])
        low, high = _interval(resampled, level)
        out[name] = {"value": value, "low": low, "high": high,
                     "significant": bool(np.isfinite(low) and (low > 0 or high < 0))}
    return out

"""Exceedances of ambient standards counted with running averaging windows.

Input is an hourly series (one value per hour, µg/m³, the last axis), NaN where the hour is
missing. Rules:

* A *w*-hour window ends at every hour ``i ≥ w − 1`` and covers hours ``i − w + 1 … i``
  (a running, or moving, average; 1-h windows are the hourly values themselves). Windows that
  would reach before the first hour of the series are **not formed**: a series of *T* hours has
  ``T − w + 1`` windows (none when ``T < w``).
* **Missing hours**: a window is valid when at least 75 % of its hours are present
  (``ceil(0.75 w)``: 1 of 1, 6 of 8, 18 of 24), and its mean is the mean of the present hours. An
  invalid window is neither an exceedance nor a compliance; it is counted as ``invalid``.
* An exceedance is a valid window mean **strictly above** the standard (the standard is a
  value that "must not be exceeded").
* ``annual``: the mean of the present hours of the whole series, valid when 75 % of the hours
  are present; over a period shorter than a year it is only an indication.

The 75 % rule follows common practice for averaging periods (e.g. the 6-of-8 and 18-of-24 hour
completeness rules of the US EPA and of Korean network operation guidance [R]).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.errors import ConfigError

#: Fraction of a window's hours that must be present for the window to count.
MIN_COVERAGE = 0.75


def required_hours(hours: int) -> int:
    """Present hours a ``hours``-long window needs (75 % rounded up)."""
    return max(1, math.ceil(MIN_COVERAGE * hours - 1e-12))


def running_means(series: np.ndarray, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """Running ``hours``-hour means along the last axis and whether each window is valid.

    Returns ``(means, valid)`` of shape ``(..., T − hours + 1)``; ``means`` is NaN where invalid.
    """
    if hours < 1:
        raise ConfigError("standards.hours", f"a window must be >= 1 h, got {hours}")
    series = np.asarray(series, dtype=np.float64)
    length = series.shape[-1]
    shape = series.shape[:-1] + (max(length - hours + 1, 0),)
    if length < hours:
        return np.full(shape, np.nan), np.zeros(shape, dtype=bool)
    present = np.isfinite(series)
    zero = np.zeros(series.shape[:-1] + (1,))
    sums = np.concatenate([zero, np.cumsum(np.where(present, series, 0.0), axis=-1)], axis=-1)
    counts = np.concatenate([zero, np.cumsum(present, axis=-1)], axis=-1)
    window_sum = sums[..., hours:] - sums[..., :-hours]
    window_count = counts[..., hours:] - counts[..., :-hours]
    valid = window_count >= required_hours(hours)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(valid, window_sum / np.where(window_count > 0, window_count, 1), np.nan)
    return means, valid


def count_exceedances(series: np.ndarray, averaging: str | int | None, limit: float) -> dict[str, Any]:
    """Exceedances of ``limit`` (same units as ``series``) with the standard's averaging window.

    Parameters
    ----------
    series:
        ``(..., T)`` hourly values, NaN where missing.
    averaging:
        ``"1h"``, ``"8h"``, ``"24h"`` (or the number of hours), or ``"annual"``/None for the
        mean of the whole series.
    limit:
        The standard.

    Returns
    -------
    dict
        ``exceedances`` and ``windows`` (valid windows), ``invalid`` (windows with too few hours),
        ``max_mean`` (largest valid window mean; NaN when none), each of shape ``series.shape[:-1]``.
    """
    series = np.asarray(series, dtype=np.float64)
    if averaging in ("annual", None):
        present = np.isfinite(series)
        count = present.sum(axis=-1)
        valid = count >= required_hours(series.shape[-1]) if series.shape[-1] else np.zeros(series.shape[:-1], bool)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(valid, np.where(present, series, 0.0).sum(axis=-1) / np.maximum(count, 1), np.nan)
        return {"exceedances": (valid & (mean > limit)).astype(int), "windows": valid.astype(int),
                "invalid": (~valid).astype(int), "max_mean": mean}
    hours = int(str(averaging).rstrip("h")) if isinstance(averaging, str) else int(averaging)
    means, valid = running_means(series, hours)
    exceed = valid & (np.nan_to_num(means, nan=-np.inf) > limit)
    with np.errstate(invalid="ignore"):
        top = np.where(valid.any(axis=-1), np.nanmax(np.where(valid, means, -np.inf), axis=-1), np.nan) \
            if means.shape[-1] else np.full(series.shape[:-1], np.nan)
    return {"exceedances": exceed.sum(axis=-1), "windows": valid.sum(axis=-1),
            "invalid": (~valid).sum(axis=-1), "max_mean": top}

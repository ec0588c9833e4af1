"""Spatial agreement of predicted and observed above-threshold areas (plume footprints).

- Figure of merit in space, ``FMS = |A_P ∩ A_O| / |A_P ∪ A_O|`` (Mosca et al. 1998), where
  ``A_P`` and ``A_O`` are the predicted and observed areas with values above a threshold and
  ``|·|`` sums cell areas (m²). 1 is a perfect overlap, 0 none.
- Measure of effectiveness (Warner et al. 2004), the pair ``(A_OV/A_O, A_OV/A_P)`` with
  ``A_OV = |A_P ∩ A_O|``: one minus the false-negative and one minus the false-positive
  fraction. ``(1, 1)`` is perfect.

Edge cases, documented and tested:

- "Above" is strict: ``value > threshold``; zeros and negatives are never above a threshold ≥ 0.
- **NaN**: a cell with a NaN on either side belongs to neither area (it is unobserved).
- **Empty footprints**: when both areas are empty FMS is ``nan`` (nothing to agree on, not a
  perfect score); an empty observed area makes the first MOE component ``nan``, an empty
  predicted area the second.
- Cell areas must be finite and ≥ 0 (else ``ValueError``); a scalar means equal cells.

References
----------
Mosca, S. et al. (1998). Atmospheric dispersion model evaluation in ETEX. Atmos. Environ. 32,
4307–4324.
Warner, S. et al. (2004). A comparison of two measure-of-effectiveness techniques for
hazardous-material transport models. J. Appl. Meteor. 43, 58–73.
"""

from __future__ import annotations

import numpy as np


def _areas(predicted, observed, threshold: float, cell_area) -> tuple[float, float, float]:
    pred = np.asarray(predicted, dtype=np.float64)
    obs = np.asarray(observed, dtype=np.float64)
    if pred.shape != obs.shape:
        raise ValueError(f"predicted {pred.shape} and observed {obs.shape} fields must have the same shape")
    area = np.broadcast_to(np.asarray(cell_area, dtype=np.float64), pred.shape)
    if not np.all(np.isfinite(area)) or np.any(area < 0):
        raise ValueError("cell areas must be finite and non-negative (m²)")
    seen = ~(np.isnan(pred) | np.isnan(obs))
    with np.errstate(invalid="ignore"):
        in_pred = seen & (pred > threshold)
        in_obs = seen & (obs > threshold)
    overlap = float(np.sum(area[in_pred & in_obs]))
    return overlap, float(np.sum(area[in_pred])), float(np.sum(area[in_obs]))


def figure_of_merit_in_space(predicted, observed, threshold: float, cell_area=1.0) -> float:
    """FMS of the areas where ``predicted`` and ``observed`` exceed ``threshold`` (``nan`` if both are empty)."""
    overlap, predicted_area, observed_area = _areas(predicted, observed, threshold, cell_area)
    union = predicted_area + observed_area - overlap
    return overlap / union if union > 0 else float("nan")


def measure_of_effectiveness(predicted, observed, threshold: float, cell_area=1.0) -> tuple[float, float]:
    """``(A_OV/A_O, A_OV/A_P)``: the observed area predicted, and the predicted area observed (fractions)."""
    overlap, predicted_area, observed_area = _areas(predicted, observed, threshold, cell_area)
    x = overlap / observed_area if observed_area > 0 else float("nan")
    y = overlap / predicted_area if predicted_area > 0 else float("nan")
    return x, y

"""Scores of an ensemble forecast against observations: rank histogram, CRPS, Brier score, spread–skill.

Every function takes ``ensemble`` shaped ``(member, case)`` (a case is one paired time and place)
and ``observed`` shaped ``(case,)``, in any consistent unit (kg/m³ inside plumetwin).

Edge cases, documented and tested:

- **NaN**: a case with a NaN observation or a NaN in any member is left out (``valid_cases``);
  the number of cases kept is returned as ``n``.
- **No valid case**: scores are ``nan`` (the rank histogram has zero counts).
- **Zeros and negatives** are ordinary values; ties between members and the observation (common
  when both are zero, away from a plume) are broken at random in the rank histogram with a seeded
  generator, so a tie does not pile up in the lowest rank.

References
----------
Hamill, T. M. (2001). Interpretation of rank histograms for verifying ensemble forecasts. Mon.
Wea. Rev. 129, 550–560.
Hersbach, H. (2000). Decomposition of the continuous ranked probability score for ensemble
prediction systems. Wea. Forecasting 15, 559–570.
Ferro, C. A. T. (2014). Fair scores for ensemble forecasts. Q. J. R. Meteorol. Soc. 140, 1917–1923.
Murphy, A. H. (1973). A new vector partition of the probability score. J. Appl. Meteor. 12, 595–600.
Fortin, V. et al. (2014). Why should ensemble spread match the RMSE of the ensemble mean? J.
Hydrometeor. 15, 1708–1713.
Candille, G. & Talagrand, O. (2005). Evaluation of probabilistic prediction systems for a scalar
variable. Q. J. R. Meteorol. Soc. 131, 2131–2150 (the reliability index δ).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def valid_cases(ensemble, observed) -> tuple[np.ndarray, np.ndarray]:
    """Float64 ``(member, case)`` and ``(case,)`` copies without cases holding a NaN."""
    members = np.asarray(ensemble, dtype=np.float64)
    obs = np.asarray(observed, dtype=np.float64).ravel()
    if members.ndim == 1:
        members = members[:, None]
    if members.ndim != 2 or members.shape[1] != obs.size:
        raise ValueError(f"ensemble must be (member, case) with {obs.size} cases, got shape {members.shape}")
    keep = ~(np.isnan(obs) | np.isnan(members).any(axis=0))
    return members[:, keep], obs[keep]


def rank_histogram(ensemble, observed, seed: int = 0) -> dict[str, Any]:
    """Counts of the observation's rank among the members (Talagrand diagram).

    The rank is the number of members below the observation, ``0 … M``; with ``k`` members equal
    to it, a uniformly drawn ``0 … k`` of them count as below (Hamill 2001), drawn from
    ``numpy.random.default_rng(seed)``.

    Returns
    -------
    dict
        ``counts`` (list of ``M + 1`` ints), ``n`` (cases), ``delta`` (Candille & Talagrand's
        ``δ = Σ (s_k − N/(M+1))² / (N M/(M+1))``: about 1 for a reliable ensemble, ``nan`` with
        no case).
    """
    members, obs = valid_cases(ensemble, observed)
    m, n = members.shape
    below = np.count_nonzero(members < obs, axis=0)
    ties = np.count_nonzero(members == obs, axis=0)
    rng = np.random.default_rng(seed)
    ranks = below + rng.integers(0, ties + 1) if n else below
    counts = np.bincount(ranks, minlength=m + 1)
    expected = n / (m + 1)
    delta = float(np.sum((counts - expected) ** 2) / (n * m / (m + 1))) if n else float("nan")
    return {"counts": [int(c) for c in counts], "n": int(n), "delta": delta}


def crps(ensemble, observed, fair: bool = False) -> float:
    """Mean continuous ranked probability score of the ensemble's empirical distribution (units of the data).

    Notes
    -----
    The energy form of the CRPS of the ensemble's step-function CDF (Hersbach 2000):
    ``CRPS = (1/M) Σ_i |x_i − y| − 1/(2 M²) Σ_ij |x_i − x_j|``. With ``fair=True`` the second
    term divides by ``2 M (M − 1)`` instead, the unbiased estimator of the CRPS of the
    distribution the members are drawn from (Ferro 2014); it needs ``M ≥ 2`` (else ``nan``).
    The pair sum is computed from the sorted members, ``Σ_ij |x_i − x_j| = 2 Σ_i (2i − M − 1) x_(i)``.
    """
    members, obs = valid_cases(ensemble, observed)
    m, n = members.shape
    if n == 0 or (fair and m < 2):
        return float("nan")
    spread_to_obs = np.mean(np.abs(members - obs), axis=0)
    ordered = np.sort(members, axis=0)
    weights = 2 * np.arange(1, m + 1) - m - 1
    pair_sum = 2 * np.sum(weights[:, None] * ordered, axis=0)
    denominator = 2 * m * (m - 1) if fair else 2 * m * m
    return float(np.mean(spread_to_obs - pair_sum / denominator))


def brier_score(ensemble, observed, threshold: float) -> dict[str, float]:
    """Brier score of the event ``value > threshold`` with its Murphy (1973) decomposition.

    The forecast probability of a case is the fraction of members above ``threshold``. It takes
    only the values ``k/M``, so binning by them makes the decomposition exact:
    ``BS = reliability − resolution + uncertainty``.

    Returns
    -------
    dict
        ``bs``, ``reliability``, ``resolution``, ``uncertainty``, ``base_rate`` (observed
        frequency of the event) and ``n``; ``nan`` with no case.
    """
    members, obs = valid_cases(ensemble, observed)
    m, n = members.shape
    if n == 0:
        nan = float("nan")
        return {"bs": nan, "reliability": nan, "resolution": nan, "uncertainty": nan, "base_rate": nan, "n": 0}
    above = np.count_nonzero(members > threshold, axis=0)
    probability = above / m
    event = (obs > threshold).astype(np.float64)
    base_rate = float(event.mean())
    reliability = resolution = 0.0
    for k in np.unique(above):
        in_bin = above == k
        frequency = event[in_bin].mean()
        reliability += in_bin.sum() * (k / m - frequency) ** 2
        resolution += in_bin.sum() * (frequency - base_rate) ** 2
    return {"bs": float(np.mean((probability - event) ** 2)), "reliability": float(reliability / n),
            "resolution": float(resolution / n), "uncertainty": base_rate * (1 - base_rate),
            "base_rate": base_rate, "n": int(n)}


def spread_skill(ensemble, observed) -> dict[str, float]:
    """Ensemble spread against the error of the ensemble mean.

    ``spread = sqrt(mean over cases of the members' variance (ddof 1))`` and ``rmse`` of the
    ensemble mean. For a reliable ensemble of ``M`` members ``rmse² = (M + 1)/M · spread²``
    (Fortin et al. 2014), so ``ratio = sqrt((M+1)/M) · spread / rmse`` is about 1; below 1 the
    ensemble is under-dispersive. ``nan`` with fewer than two members or no case; ``ratio`` is
    ``nan`` when ``rmse`` is 0.
    """
    members, obs = valid_cases(ensemble, observed)
    m, n = members.shape
    if n == 0 or m < 2:
        nan = float("nan")
        return {"spread": nan, "rmse": nan, "ratio": nan, "n": int(n), "members": int(m)}
    spread = float(np.sqrt(np.mean(np.var(members, axis=0, ddof=1))))
    rmse = float(np.sqrt(np.mean((members.mean(axis=0) - obs) ** 2)))
    ratio = float(np.sqrt((m + 1) / m) * spread / rmse) if rmse > 0 else float("nan")
    return {"spread": spread, "rmse": rmse, "ratio": ratio, "n": int(n), "members": int(m)}


def ensemble_scores(ensemble, observed, threshold: float | None = None, seed: int = 0) -> dict[str, Any]:
    """Every score above in one dict (the Brier score only when a ``threshold`` is given)."""
    out: dict[str, Any] = {"rank_histogram": rank_histogram(ensemble, observed, seed),
                           "crps": crps(ensemble, observed), "crps_fair": crps(ensemble, observed, fair=True),
                           "spread_skill": spread_skill(ensemble, observed)}
    if threshold is not None:
        out["brier"] = brier_score(ensemble, observed, threshold)
        out["brier"]["threshold"] = float(threshold)
    return out

"""Ensemble inflation: multiplicative (before the analysis) and relaxation to prior spread (after).

References
----------
Anderson, J. L. and Anderson, S. L. (1999). A Monte Carlo implementation of the nonlinear filtering
problem. Mon. Wea. Rev. 127, 2741–2758 (multiplicative inflation).
Whitaker, J. S. and Hamill, T. M. (2012). Evaluating methods to account for system errors in
ensemble data assimilation. Mon. Wea. Rev. 140, 3078–3089 (RTPS).
"""

from __future__ import annotations

from ..backend import array_module


def inflate(ensemble, factor: float):
    """Scale the anomalies of ``ensemble`` (member axis first) by ``factor`` about the mean."""
    if factor == 1.0:
        return ensemble
    mean = ensemble.mean(axis=0, keepdims=True)
    return (mean + factor * (ensemble - mean)).astype(ensemble.dtype, copy=False)


def relax_to_prior_spread(analysis, forecast, alpha: float):
    """RTPS: ``A_a ← A_a (1 + α (σ_f − σ_a) / σ_a)`` element by element (member axis first).

    Where the analysis spread is zero the anomalies stay zero (nothing to rescale).
    """
    if alpha == 0.0:
        return analysis
    xp = array_module(analysis)
    mean = analysis.mean(axis=0, keepdims=True)
    anomalies = analysis - mean
    sigma_a = anomalies.std(axis=0, ddof=1, keepdims=True)
    sigma_f = forecast.std(axis=0, ddof=1, keepdims=True)
    safe = xp.where(sigma_a > 0, sigma_a, 1)
    scale = xp.where(sigma_a > 0, 1 + alpha * (sigma_f - sigma_a) / safe, 1)
    return (mean + anomalies * scale).astype(analysis.dtype, copy=False)

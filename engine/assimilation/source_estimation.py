"""Bayesian source-term estimation: position, rate and start time of an unknown release.

Readings are modelled as ``y_ij = Q R_i(t_j − t₀, x) + ε_ij`` with ``R`` the continuous-release
response from backward runs (:mod:`engine.assimilation.backward`), ``Q`` (kg/s) the rate, ``t₀``
the start and ``x`` the source cell, and Gaussian errors of standard deviation
``σ_ij = sqrt((r y_ij)² + σ₀²)`` (a relative part for model error, a floor for the instrument).
For each candidate ``(x, t₀)`` the rate has the closed-form least-squares value
``Q̂ = gᵀWy / gᵀWg`` (``W = diag σ⁻²``), and with a uniform prior on ``0 ≤ Q ≤ Q_max`` it
integrates out exactly:
``p(y | x, t₀) ∝ exp(−χ²_min / 2) (gᵀWg)^{−1/2} [Φ((Q_max − Q̂)s) − Φ(−Q̂ s)] / Q_max`` with
``s = (gᵀWg)^{1/2}`` and Φ the normal distribution function — a proper prior, so cells that barely
reach a sensor cannot win by an absurd rate. Under
uniform priors on the cells and start times this is the posterior; its cell marginal gives the
credible region (the smallest set of cells holding the asked probability).

References
----------
Keats, A., Yee, E. and Lien, F.-S. (2007). Bayesian inference for source determination with
applications to a complex urban environment. Atmos. Environ. 41, 465–479.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass
class SourceEstimate:
    """Posterior summary of a release.

    ``posterior`` ``(start, cell)`` sums to 1; ``cell_probability`` ``(cell,)`` is its cell marginal;
    positions are those of the candidate ``cells`` (m).
    """

    cells: np.ndarray
    cell_xy: np.ndarray
    start_times: np.ndarray
    posterior: np.ndarray
    rate_map: np.ndarray
    rate_variance: np.ndarray

    @property
    def cell_probability(self) -> np.ndarray:
        return self.posterior.sum(axis=0)

    @property
    def best(self) -> tuple[int, int]:
        """Indices ``(start, cell)`` of the posterior mode."""
        s, c = np.unravel_index(int(np.argmax(self.posterior)), self.posterior.shape)
        return int(s), int(c)

    @property
    def position(self) -> tuple[float, float]:
        """Most probable position (m)."""
        return tuple(self.cell_xy[self.best[1]])

    @property
    def position_mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        p = self.cell_probability
        mean = p @ self.cell_xy
        return mean, np.sqrt(p @ (self.cell_xy - mean) ** 2)

    @property
    def rate(self) -> float:
        """Rate (kg/s) at the posterior mode."""
        s, c = self.best
        return float(self.rate_map[s, c])

    @property
    def rate_mean_std(self) -> tuple[float, float]:
        """Posterior mean and standard deviation of the rate (kg/s), mixing the candidates."""
        mean = float(np.sum(self.posterior * self.rate_map))
        second = float(np.sum(self.posterior * (self.rate_variance + self.rate_map**2)))
        return mean, float(np.sqrt(max(second - mean**2, 0.0)))

    @property
    def start_mean_std(self) -> tuple[float, float]:
        p = self.posterior.sum(axis=1)
        mean = float(p @ self.start_times)
        return mean, float(np.sqrt(p @ (self.start_times - mean) ** 2))

    def credible_region(self, probability: float = 0.9) -> np.ndarray:
        """Boolean ``(cell,)``: the smallest set of cells whose posterior mass reaches ``probability``."""
        p = self.cell_probability
        order = np.argsort(p)[::-1]
        count = int(np.searchsorted(np.cumsum(p[order]), probability) + 1)
        region = np.zeros(p.size, dtype=bool)
        region[order[:min(count, p.size)]] = True
        return region


def estimate_source(response: np.ndarray, observation_steps: np.ndarray, values: np.ndarray,
                    start_steps: np.ndarray, dt: float, cells: np.ndarray, cell_xy: np.ndarray,
                    relative_error: float = 0.3, error_floor: float = 1e-9, max_rate: float = 100.0) -> SourceEstimate:
    """Posterior over source cell and start time, with the rate marginalised.

    Parameters
    ----------
    response:
        ``(sensor, lags + 1, cell)`` from :func:`~engine.assimilation.backward.continuous_release_response`,
        computed backwards from the last observation step.
    observation_steps:
        Step counts ``(time,)`` of the readings; they must differ from the last by even numbers.
    values:
        Readings ``(sensor, time)`` (kg/m³); NaN entries are ignored.
    start_steps:
        Candidate start steps ``(start,)``.
    dt:
        The step (s), to turn steps into times.
    cells, cell_xy:
        Candidate cells (flat indices) and their horizontal centres ``(cell, 2)`` (m).
    relative_error, error_floor:
        ``r`` and ``σ₀`` (kg/m³) of the error model.
    max_rate:
        ``Q_max`` (kg/s), the upper end of the uniform prior on the rate.
    """
    from scipy.special import log_ndtr  # noqa: PLC0415

    observation_steps = np.asarray(observation_steps, dtype=np.int64)
    last = int(observation_steps.max())
    if np.any((last - observation_steps) % 2):
        raise ConfigError("source_estimation.observation_steps",
                          "readings must lie an even number of steps before the last one (sweep-order parity)")
    values = np.asarray(values, dtype=np.float64)
    usable = np.isfinite(values)
    if not usable.any():
        raise ConfigError("source_estimation.values", "no finite readings to invert")
    sigma2 = (relative_error * np.where(usable, values, 0)) ** 2 + error_floor**2
    weight = np.where(usable, 1 / sigma2, 0.0)  # (sensor, time)
    y = np.where(usable, values, 0.0)
    lags = observation_steps[None, :] - np.asarray(start_steps)[:, None]  # (start, time)
    if lags.max() >= response.shape[1]:
        raise ConfigError("source_estimation", f"the backward runs cover {response.shape[1] - 1} steps; "
                                               f"a start {lags.max()} steps before a reading needs more")
    lags = np.clip(lags, 0, None)
    sensors = np.arange(response.shape[0])
    # g[start, sensor, time, cell]
    g = response[sensors[None, :, None], lags[:, None, :], :]
    wg = g * weight[None, :, :, None]
    gwg = np.einsum("astc,astc->ac", wg, g)
    gwy = np.einsum("astc,st->ac", wg, y)
    ywy = float(np.sum(weight * y * y))
    reached = gwg > 0
    safe = np.where(reached, gwg, 1.0)
    unclipped = gwy / safe
    chi2 = ywy - gwy**2 / safe
    scale = np.sqrt(safe)
    mass = _log_normal_interval(-unclipped * scale, (max_rate - unclipped) * scale, log_ndtr)
    log_post = np.where(reached, -0.5 * chi2 - np.log(scale) + mass, -np.inf)
    rate = np.clip(np.where(reached, unclipped, 0.0), 0.0, max_rate)
    log_post -= log_post.max()
    posterior = np.exp(log_post)
    posterior /= posterior.sum()
    return SourceEstimate(np.asarray(cells), np.asarray(cell_xy, dtype=np.float64),
                          np.asarray(start_steps) * dt, posterior, rate, np.where(gwg > 0, 1 / safe, 0.0))


def _log_normal_interval(a: np.ndarray, b: np.ndarray, log_ndtr) -> np.ndarray:
    """``log(Φ(b) − Φ(a))`` for ``a < b``, accurate in both tails (Φ(b) − Φ(a) = Φ(−a) − Φ(−b))."""
    upper_tail = a > 0  # both in the upper tail: difference of two small complements
    high = np.where(upper_tail, log_ndtr(-a), log_ndtr(b))
    low = np.where(upper_tail, log_ndtr(-b), log_ndtr(a))
    with np.errstate(divide="ignore"):
        return high + np.log1p(-np.exp(np.minimum(low - high, 0.0)))

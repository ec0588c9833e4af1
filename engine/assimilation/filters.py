"""Ensemble filters in ensemble space: the stochastic EnKF and the LETKF.

Every filter is a small dataclass whose fields are its tuning parameters, over pure functions
that turn observation-space quantities — the predicted observations ``(member, obs)``, the
observed values and their error variances — into an ``(member, member)`` transform ``T``:
the analysis of any quantity carried by the ensemble (fields, log emission rates) is

    x_a[i] = mean(x_f) + Σ_j T[j, i] (x_f[j] − mean(x_f)),

so only members × sensors arrays are needed to find ``T`` and the full state is touched once,
where it lives, to apply it. The member axis comes first throughout.

References
----------
Evensen, G. (2009). Data Assimilation: The Ensemble Kalman Filter, 2nd ed., Springer (stochastic
EnKF with perturbed observations, ensemble-space form).
Hunt, B. R., Kostelich, E. J. and Szunyogh, I. (2007). Efficient data assimilation for
spatiotemporal chaos: a local ensemble transform Kalman filter. Physica D 230, 112–126.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import array_module
from ..errors import ConfigError
from .inflation import relax_to_prior_spread
from .localisation import gaspari_cohn, horizontal_distances


@dataclass(frozen=True)
class ObservationBatch:
    """The observations of one analysis time, flattened over sensors and species.

    ``values`` (kg/m³) and ``variances`` ((kg/m³)²) are ``(obs,)``, ``xy`` the sensors' horizontal
    positions ``(obs, 2)`` (m), ``predicted`` the ensemble's values at them ``(member, obs)``.
    """

    values: np.ndarray
    variances: np.ndarray
    xy: np.ndarray
    predicted: np.ndarray

    def __post_init__(self) -> None:
        n = np.asarray(self.values).shape[0]
        if np.asarray(self.variances).shape != (n,) or np.asarray(self.xy).shape != (n, 2):
            raise ConfigError("observations", "values, variances and xy must describe the same observations")
        if np.asarray(self.predicted).ndim != 2 or np.asarray(self.predicted).shape[1] != n:
            raise ConfigError("observations", f"predicted must be (member, {n})")
        if np.any(~(np.asarray(self.variances) > 0)):
            raise ConfigError("observations.variances", "observation error variances must be > 0")


def _check_members(predicted: np.ndarray) -> int:
    members = predicted.shape[0]
    if members < 2:
        raise ConfigError("assimilation.members", f"an ensemble filter needs at least 2 members, got {members}")
    return members


def etkf_transforms(predicted: np.ndarray, values: np.ndarray, variances: np.ndarray,
                    localisation: np.ndarray | None = None, inflation: float = 1.0) -> np.ndarray:
    """ETKF transforms ``(points, member, member)``, one per row of ``localisation`` ``(points, obs)``.

    Notes
    -----
    With inflated anomalies ``Y`` of the predicted observations, ``d = y − ȳ`` and the localised
    precision ``R⁻¹ ρ`` (R-localisation, Hunt et al. 2007, sect. 2.3):
    ``P̃ = [(M−1) I + Y R⁻¹ρ Yᵀ]⁻¹``, ``w̄ = P̃ Y R⁻¹ρ d``, ``W = [(M−1) P̃]^{1/2}`` (symmetric),
    and ``T = λ (w̄ 1ᵀ + W)`` with ``λ`` the multiplicative inflation.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    members = _check_members(predicted)
    mean = predicted.mean(axis=0)
    anomalies = inflation * (predicted - mean)
    innovation = np.asarray(values, dtype=np.float64) - mean
    if localisation is None:
        localisation = np.ones((1, predicted.shape[1]))
    precision = np.asarray(localisation, dtype=np.float64) / np.asarray(variances, dtype=np.float64)
    if predicted.shape[1] < members:
        return inflation * _sensor_space_transforms(anomalies, innovation, precision)
    weighted = anomalies[None, :, :] * precision[:, None, :]  # (P, M, p)
    matrix = weighted @ anomalies.T  # (P, M, M)
    matrix += (members - 1) * np.eye(members)
    eigenvalues, vectors = np.linalg.eigh(matrix)
    inverse = (vectors / eigenvalues[:, None, :]) @ np.swapaxes(vectors, 1, 2)
    root = (vectors * np.sqrt((members - 1) / eigenvalues)[:, None, :]) @ np.swapaxes(vectors, 1, 2)
    mean_weights = (inverse @ (weighted @ innovation)[:, :, None])[:, :, 0]  # (P, M)
    return inflation * (root + mean_weights[:, :, None])


def _sensor_space_transforms(anomalies: np.ndarray, innovation: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """The ETKF transforms through the ``(obs, obs)`` eigenproblem when there are fewer
    observations than members: with ``Z = (R⁻¹ρ)^{1/2} Yᵀ = U Σ Vᵀ``, ``P̃⁻¹ = (M−1) I + V Σ² Vᵀ``,
    so ``P̃ = [I − V Σ²/(M−1+Σ²) Vᵀ] / (M−1)`` and ``W = I + V [((M−1)/(M−1+Σ²))^{1/2} − 1] Vᵀ``."""
    members = anomalies.shape[0]
    root_precision = np.sqrt(precision)  # (P, p)
    z = root_precision[:, :, None] * anomalies.T[None, :, :]  # (P, p, M)
    squares, u = np.linalg.eigh(z @ np.swapaxes(z, 1, 2))  # (P, p), (P, p, p)
    squares = np.maximum(squares, 0.0)
    significant = squares > 1e-12 * np.maximum(squares.max(axis=1, keepdims=True), np.finfo(float).tiny)
    inverse_root = np.where(significant, 1 / np.sqrt(np.where(significant, squares, 1.0)), 0.0)
    v = (np.swapaxes(z, 1, 2) @ u) * inverse_root[:, None, :]  # (P, M, p), orthonormal columns
    rhs = (np.swapaxes(z, 1, 2) @ (root_precision * innovation)[:, :, None])[:, :, 0]  # Y R⁻¹ρ d, (P, M)
    shrink = np.where(significant, squares / (members - 1 + squares), 0.0)
    projected = np.einsum("amk,am->ak", v, rhs)
    mean_weights = (rhs - np.einsum("amk,ak->am", v, shrink * projected)) / (members - 1)
    factor = np.where(significant, np.sqrt((members - 1) / (members - 1 + squares)) - 1, 0.0)
    root = np.eye(members)[None] + (v * factor[:, None, :]) @ np.swapaxes(v, 1, 2)
    return root + mean_weights[:, :, None]


def enkf_transform(predicted: np.ndarray, values: np.ndarray, variances: np.ndarray,
                   rng: np.random.Generator, inflation: float = 1.0) -> np.ndarray:
    """Stochastic EnKF transform ``(member, member)`` with perturbed observations.

    Notes
    -----
    Each member assimilates ``y + ε_i`` with ``ε_i ~ N(0, R)`` (centred over members so the mean
    update is that of the Kalman filter). With inflated anomalies ``Y`` and ``C = YᵀY/(M−1) + R``,
    ``x_a[i] = x_f[i] + Σ_j A[j] (Y[j] · C⁻¹ (y + ε_i − Hx_f[i])) / (M−1)``, i.e.
    ``T = λ (I + Y C⁻¹ Dᵀ / (M−1))`` with ``D`` the members' innovations.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    members = _check_members(predicted)
    variances = np.asarray(variances, dtype=np.float64)
    mean = predicted.mean(axis=0)
    anomalies = inflation * (predicted - mean)
    perturbations = rng.standard_normal(predicted.shape) * np.sqrt(variances)
    perturbations -= perturbations.mean(axis=0)
    innovations = np.asarray(values, dtype=np.float64) + perturbations - (mean + anomalies)
    covariance = anomalies.T @ anomalies / (members - 1) + np.diag(variances)
    gain_terms = anomalies @ np.linalg.solve(covariance, innovations.T) / (members - 1)
    return inflation * (np.eye(members) + gain_terms)


def apply_transform(ensemble, transform):
    """``x̄ + Tᵀ A`` for one transform ``(M, M)`` and an ensemble with the member axis first."""
    xp = array_module(ensemble)
    mean = ensemble.mean(axis=0, keepdims=True)
    anomalies = (ensemble - mean).reshape(ensemble.shape[0], -1)
    t = xp.asarray(transform.T.astype(ensemble.dtype))
    return (mean + (t @ anomalies).reshape(ensemble.shape)).astype(ensemble.dtype, copy=False)


def apply_column_transforms(fields, transforms, columns, chunk: int = 4096):
    """Apply one transform per horizontal column: ``fields`` ``(M, S, Z, Y, X)``,
    ``transforms`` ``(n, M, M)`` for the flat column indices ``columns`` ``(n,)``; other columns
    keep their forecast. Works in chunks of columns to bound the temporary memory."""
    xp = array_module(fields)
    members = fields.shape[0]
    flat = fields.reshape(members, -1, fields.shape[3] * fields.shape[4])
    out = flat.copy()
    mean = flat.mean(axis=0)
    for start in range(0, len(columns), chunk):
        cols = xp.asarray(columns[start:start + chunk])
        t = xp.asarray(np.swapaxes(transforms[start:start + chunk], 1, 2).astype(fields.dtype))
        local = flat[:, :, cols]  # (M, L, n)
        local_mean = mean[:, cols]
        anomalies = xp.moveaxis(local - local_mean, 2, 0)  # (n, M, L)
        updated = t @ anomalies  # (n, M, L)
        out[:, :, cols] = xp.moveaxis(updated, 0, 2) + local_mean
    return out.reshape(fields.shape)


@dataclass(frozen=True)
class EnKF:
    """Stochastic ensemble Kalman filter with perturbed observations (global, no localisation).

    Parameters
    ----------
    inflation:
        Multiplicative inflation of the forecast anomalies (1: none).
    rtps:
        Relaxation to prior spread ``α`` in [0, 1] (0: none).
    seed:
        Seed of the observation perturbations (each analysis draws anew from one generator).
    """

    inflation: float = 1.0
    rtps: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        _check_tuning(self.inflation, self.rtps)
        object.__setattr__(self, "_rng", np.random.default_rng(self.seed))

    def analyse(self, fields, observations: ObservationBatch, grid: Any = None, parameters=None,
                parameter_xy=None):
        """Analysed ``(fields, parameters)``; ``parameters`` ``(M, k)`` (log emission rates) or None."""
        transform = enkf_transform(observations.predicted, observations.values, observations.variances,
                                   self._rng, self.inflation)
        new_fields = relax_to_prior_spread(apply_transform(fields, transform), fields, self.rtps)
        new_parameters = None
        if parameters is not None:
            new_parameters = relax_to_prior_spread(apply_transform(parameters, transform), parameters, self.rtps)
        return new_fields, new_parameters


@dataclass(frozen=True)
class LETKF:
    """Local ensemble transform Kalman filter with Gaspari–Cohn localisation of ``R⁻¹``.

    Every horizontal column is analysed with the sensors within ``2 radius`` of it, each weighted
    by the taper of its distance; emission parameters are analysed at their source's position.
    Columns beyond every sensor's reach keep their forecast.

    Parameters
    ----------
    radius:
        Gaspari–Cohn half-width ``c`` (m); the taper is zero beyond ``2c``.
    inflation:
        Multiplicative inflation of the forecast anomalies (1: none).
    rtps:
        Relaxation to prior spread ``α`` in [0, 1] (0: none).
    chunk:
        Columns analysed together (bounds the temporary memory: chunk × M × M).
    """

    radius: float = 500.0
    inflation: float = 1.0
    rtps: float = 0.0
    chunk: int = 4096

    def __post_init__(self) -> None:
        _check_tuning(self.inflation, self.rtps)
        if not self.radius > 0:
            raise ConfigError("assimilation.filter.radius", f"must be > 0 m, got {self.radius}")

    def _local_transforms(self, observations: ObservationBatch, points_xy: np.ndarray):
        taper = gaspari_cohn(horizontal_distances(points_xy, observations.xy), self.radius)
        reached = np.flatnonzero(taper.max(axis=1) > 0)
        transforms = np.empty((reached.size,) + (observations.predicted.shape[0],) * 2)
        for start in range(0, reached.size, self.chunk):
            part = reached[start:start + self.chunk]
            transforms[start:start + part.size] = etkf_transforms(
                observations.predicted, observations.values, observations.variances, taper[part], self.inflation)
        return reached, transforms

    def analyse(self, fields, observations: ObservationBatch, grid: Any, parameters=None, parameter_xy=None):
        """Analysed ``(fields, parameters)``; ``parameters`` ``(M, k)`` at ``parameter_xy`` ``(k, 2)``."""
        xx, yy = np.meshgrid(grid.x_centres, grid.y_centres)
        columns, transforms = self._local_transforms(observations, np.stack([xx.ravel(), yy.ravel()], axis=1))
        new_fields = apply_column_transforms(fields, transforms, columns, self.chunk)
        new_fields = relax_to_prior_spread(new_fields, fields, self.rtps)
        new_parameters = None
        if parameters is not None:
            parameters = np.asarray(parameters, dtype=np.float64)
            new_parameters = parameters.copy()
            reached, param_transforms = self._local_transforms(observations, np.asarray(parameter_xy).reshape(-1, 2))
            for n, transform in zip(reached, param_transforms):
                new_parameters[:, n] = apply_transform(parameters[:, n:n + 1], transform)[:, 0]
            new_parameters = relax_to_prior_spread(new_parameters, parameters, self.rtps)
        return new_fields, new_parameters


def _check_tuning(inflation: float, rtps: float) -> None:
    if not inflation >= 1.0:
        raise ConfigError("assimilation.filter.inflation", f"must be >= 1 (1: none), got {inflation}")
    if not 0.0 <= rtps <= 1.0:
        raise ConfigError("assimilation.filter.rtps", f"must be in [0, 1], got {rtps}")


FILTERS = {"enkf": EnKF, "letkf": LETKF}

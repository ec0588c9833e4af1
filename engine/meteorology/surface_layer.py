"""Monin–Obukhov similarity in the surface layer: stability functions, friction velocity, the
Obukhov length of a Pasquill–Gifford class, and stability-corrected wind and temperature profiles.

``u(z) = (u*/κ) [ln(z/z0) − ψm(z/L) + ψm(z0/L)]`` with Businger–Dyer functions: for stable air
(``L > 0``) ``φ = 1 + 5ζ`` and ``ψ = −5ζ``; for unstable air ``φm = (1 − 16ζ)^(−1/4)``,
``φh = (1 − 16ζ)^(−1/2)`` and Paulson's integrals. ``L = ∞`` (class D) is the neutral log law.

References
----------
Dyer, A. J. (1974). A review of flux-profile relationships. Boundary-Layer Meteorol. 7, 363–372.
Paulson, C. A. (1970). The mathematical representation of wind speed and temperature profiles in
the unstable atmospheric surface layer. J. Appl. Meteorol. 9, 857–861.
Golder, D. (1972). Relations among stability parameters in the surface layer. Boundary-Layer
Meteorol. 3, 47–58 (coefficients as tabulated in Seinfeld & Pandis, Atmospheric Chemistry and
Physics, 2nd ed., Table 16.4).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .profiles import VON_KARMAN

GRAVITY = 9.80665  # m/s²
STABILITY_CLASSES = ("A", "B", "C", "D", "E", "F")  # Pasquill–Gifford, very unstable to stable

#: Default mixing heights (m) per class when none is given.
DEFAULT_MIXING_HEIGHT = {"A": 1500.0, "B": 1200.0, "C": 1000.0, "D": 800.0, "E": 400.0, "F": 200.0}
#: The surface layer, where similarity profiles hold, is the lowest tenth of the mixed layer.
SURFACE_LAYER_FRACTION = 0.1

#: 1/L = a + b log10(z0) (1/m), Golder (1972).
GOLDER_COEFFICIENTS = {
    "A": (-0.096, 0.029), "B": (-0.037, 0.029), "C": (-0.002, 0.018),
    "D": (0.0, 0.0), "E": (0.004, -0.018), "F": (0.035, -0.036),
}


def obukhov_length(stability: str, roughness_length: float) -> float:
    """Obukhov length L (m) from a Pasquill–Gifford class (Golder 1972); ``inf`` for class D."""
    try:
        a, b = GOLDER_COEFFICIENTS[str(stability).upper()]
    except KeyError as exc:
        raise ConfigError("met.stability", f"unknown class {stability!r}; use A, B, C, D, E or F") from exc
    if not roughness_length > 0:
        raise ConfigError("met.roughness_length", f"must be > 0 m, got {roughness_length}")
    inverse = a + b * np.log10(roughness_length)
    return np.inf if inverse == 0 else 1.0 / inverse


def _zeta(z, obukhov: float):
    z = np.asarray(z, dtype=np.float64)
    return np.zeros_like(z) if np.isinf(obukhov) else z / obukhov


def phi_heat(zeta):
    """Dimensionless temperature gradient φh(ζ) (Dyer 1974)."""
    zeta = np.asarray(zeta, dtype=np.float64)
    return np.where(zeta >= 0, 1 + 5 * zeta, (1 - 16 * np.minimum(zeta, 0)) ** -0.5)


def psi_momentum(zeta):
    """Integrated stability correction ψm(ζ) for momentum (Paulson 1970 with Dyer's φm)."""
    zeta = np.asarray(zeta, dtype=np.float64)
    x = (1 - 16 * np.minimum(zeta, 0)) ** 0.25
    unstable = 2 * np.log((1 + x) / 2) + np.log((1 + x * x) / 2) - 2 * np.arctan(x) + np.pi / 2
    return np.where(zeta >= 0, -5 * zeta, unstable)


def psi_heat(zeta):
    """Integrated stability correction ψh(ζ) for heat: ``2 ln((1 + x²)/2)`` unstable, ``−5ζ`` stable."""
    zeta = np.asarray(zeta, dtype=np.float64)
    x2 = (1 - 16 * np.minimum(zeta, 0)) ** 0.5
    return np.where(zeta >= 0, -5 * zeta, 2 * np.log((1 + x2) / 2))


def friction_velocity(speed: float, z_ref: float, roughness_length: float, obukhov: float) -> float:
    """u* (m/s) from the wind speed at ``z_ref`` with the Monin–Obukhov stability correction."""
    if not z_ref > roughness_length > 0:
        raise ConfigError("met.reference_height", f"must exceed the roughness length {roughness_length} m (> 0)")
    denominator = (np.log(z_ref / roughness_length) - psi_momentum(_zeta(z_ref, obukhov))
                   + psi_momentum(_zeta(roughness_length, obukhov)))
    return float(VON_KARMAN * speed / denominator)


def similarity_speed(z, speed_ref: float, z_ref: float, roughness_length: float, obukhov: float):
    """Stability-corrected log-law speed (m/s) at heights ``z`` (m) through ``speed_ref`` at
    ``z_ref``; zero at and below ``z0``."""
    u_star = friction_velocity(speed_ref, z_ref, roughness_length, obukhov)
    z = np.asarray(z, dtype=np.float64)
    height = np.maximum(z, roughness_length)
    speed = u_star / VON_KARMAN * (np.log(height / roughness_length) - psi_momentum(_zeta(height, obukhov))
                                   + psi_momentum(_zeta(roughness_length, obukhov)))
    return np.where(z > roughness_length, speed, 0.0)


def temperature_scale(u_star: float, obukhov: float, temperature: float) -> float:
    """θ* = u*² T / (κ g L) (K): the surface-layer temperature scale (0 when neutral)."""
    return 0.0 if np.isinf(obukhov) else u_star**2 * temperature / (VON_KARMAN * GRAVITY * obukhov)


def potential_temperature(z, temperature_ref: float, z_ref: float, u_star: float, obukhov: float):
    """θ(z) = θ(z_ref) + (θ*/κ) [ln(z/z_ref) − ψh(z/L) + ψh(z_ref/L)] (K) at heights ``z`` (m)."""
    z = np.asarray(z, dtype=np.float64)
    theta_star = temperature_scale(u_star, obukhov, temperature_ref)
    return temperature_ref + theta_star / VON_KARMAN * (
        np.log(z / z_ref) - psi_heat(_zeta(z, obukhov)) + psi_heat(_zeta(z_ref, obukhov)))

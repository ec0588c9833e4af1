"""Vertical profiles of the mean wind speed and the conversion of direction to components."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

VON_KARMAN = 0.4

#: Power-law exponents by Pasquill–Gifford class (US EPA ISC3 user guide, Table 1-2).
POWER_LAW_EXPONENTS = {
    "rural": {"A": 0.07, "B": 0.07, "C": 0.10, "D": 0.15, "E": 0.35, "F": 0.55},
    "urban": {"A": 0.15, "B": 0.15, "C": 0.20, "D": 0.25, "E": 0.30, "F": 0.30},
}


def power_law_exponent(stability: str, terrain: str = "urban") -> float:
    """Exponent ``p`` of ``u(z) = u_ref (z/z_ref)^p`` for a Pasquill–Gifford class (ISC3 table)."""
    try:
        return POWER_LAW_EXPONENTS[terrain][stability.upper()]
    except KeyError as exc:
        raise ConfigError(
            "met.stability", f"unknown class {stability!r} or terrain {terrain!r}: classes A–F, terrain urban|rural"
        ) from exc


def power_law_speed(z, speed_ref: float, z_ref: float, exponent: float):
    """Wind speed (m/s) at heights ``z`` (m) from the power law."""
    z = np.maximum(np.asarray(z, dtype=np.float64), 1e-3)
    return speed_ref * (z / z_ref) ** exponent


def log_law_speed(z, speed_ref: float, z_ref: float, roughness_length: float):
    """Neutral logarithmic profile ``u(z) = (u*/κ) ln(z/z0)`` through ``speed_ref`` at ``z_ref``.

    Heights below ``z0`` get zero speed.
    """
    if roughness_length <= 0:
        raise ConfigError("met.roughness_length", f"must be > 0 m, got {roughness_length}")
    if z_ref <= roughness_length:
        raise ConfigError("met.reference_height", f"must exceed the roughness length {roughness_length} m")
    z = np.asarray(z, dtype=np.float64)
    friction_velocity = VON_KARMAN * speed_ref / np.log(z_ref / roughness_length)
    return np.where(z > roughness_length, friction_velocity / VON_KARMAN * np.log(np.maximum(z, roughness_length) / roughness_length), 0.0)


def wind_components(speed, direction_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """East and north components (m/s) of a wind blowing *from* ``direction_deg`` (meteorological,
    degrees clockwise from north): a 270° wind blows from the west towards +x."""
    theta = np.deg2rad(direction_deg)
    speed = np.asarray(speed, dtype=np.float64)
    return -speed * np.sin(theta), -speed * np.cos(theta)

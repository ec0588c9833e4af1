"""Unit conversion at the edges: concentrations and emission rates.

Inside the engine concentrations are kg/m³ and rates kg/s. Mixing ratios use the ideal gas law:
``C [kg/m³] = x · M · p / (R T)`` with ``x`` the mole fraction (1 ppm = 1e-6); at 25 °C and
1 atm, 1 ppm of SO2 (64.07 g/mol) is 2.62 mg/m³.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError

GAS_CONSTANT = 8.314462618  # J/(mol K)

_MASS_UNITS = {"kg/m3": 1.0, "g/m3": 1e-3, "mg/m3": 1e-6, "ug/m3": 1e-9}
_MIXING_UNITS = {"ppm": 1e-6, "ppb": 1e-9}
_RATE_UNITS = {"kg/s": 1.0, "g/s": 1e-3, "kg/h": 1 / 3600.0, "t/yr": 1000.0 / (365 * 86400.0)}


def _normalise(unit: str) -> str:
    return unit.strip().replace("µ", "u").replace("μ", "u").replace("³", "3").replace(" ", "").replace("m-3", "/m3")


def concentration_units() -> list[str]:
    return list(_MASS_UNITS) + list(_MIXING_UNITS)


def _to_kg_per_m3(unit: str, molar_mass: float | None, temperature: float, pressure: float) -> float:
    """Factor turning a value in ``unit`` into kg/m³."""
    key = _normalise(unit)
    if key in _MASS_UNITS:
        return _MASS_UNITS[key]
    if key in _MIXING_UNITS:
        if molar_mass is None or not molar_mass > 0:
            raise ConfigError("units", f"converting {unit!r} needs the species' molar mass (kg/mol)")
        return _MIXING_UNITS[key] * molar_mass * pressure / (GAS_CONSTANT * temperature)
    raise ConfigError("units", f"unknown concentration unit {unit!r}; use one of {', '.join(concentration_units())}")


def convert_concentration(values, from_units: str, to_units: str, molar_mass: float | None = None,
                          temperature: float = 298.15, pressure: float = 101325.0):
    """Convert concentrations between kg/m3, g/m3, mg/m3, ug/m3, ppm and ppb.

    ``molar_mass`` (kg/mol) is needed for ppm/ppb; ``temperature`` (K) and ``pressure`` (Pa)
    default to 25 °C and 1 atm, the convention of Korean and US standards.
    """
    factor = (_to_kg_per_m3(from_units, molar_mass, temperature, pressure)
              / _to_kg_per_m3(to_units, molar_mass, temperature, pressure))
    return np.asarray(values) * factor


def convert_rate(value: float, from_units: str) -> float:
    """An emission rate in kg/s, from kg/s, g/s, kg/h or t/yr (365-day year)."""
    key = _normalise(from_units)
    if key not in _RATE_UNITS:
        raise ConfigError("unit", f"unknown emission-rate unit {from_units!r}; use one of {', '.join(_RATE_UNITS)}")
    return float(value) * _RATE_UNITS[key]

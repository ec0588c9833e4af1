"""Unit conversion at the edges: concentrations and emission rates.

Inside the engine concentrations are kg/m³ and rates kg/s; other units exist only in
configurations, reports and plots. Mixing ratios use the ideal gas law:
``C [kg/m³] = x · M · p / (R T)`` with ``x`` the mole fraction (1 ppm = 1e-6), ``M`` the molar
mass (kg/mol), ``p`` the pressure (Pa) and ``T`` the temperature (K); at 25 °C and 1 atm, 1 ppm of
SO2 (64.07 g/mol) is 2.62 mg/m³.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError

#: Molar gas constant (J mol⁻¹ K⁻¹), exact since the 2019 SI redefinition.
GAS_CONSTANT = 8.314462618

#: kg/m³ per unit.
_MASS_UNITS = {"kg/m3": 1.0, "g/m3": 1e-3, "mg/m3": 1e-6, "ug/m3": 1e-9}
#: Mole fraction per unit.
_MIXING_UNITS = {"ppm": 1e-6, "ppb": 1e-9}
#: kg/s per unit; a year is 365 days, the usual convention of emission inventories.
_RATE_UNITS = {"kg/s": 1.0, "g/s": 1e-3, "kg/h": 1 / 3600.0, "t/yr": 1000.0 / (365 * 86400.0)}


def _normalise(unit: str) -> str:
    """Canonical spelling: ``µg/m³``, ``ug m-3`` and ``UG/M3`` all become ``ug/m3``."""
    key = str(unit).strip().lower()
    for old, new in (("µ", "u"), ("μ", "u"), ("³", "3"), ("m^3", "m3"), (" ", ""), ("m-3", "/m3"),
                     ("s-1", "/s"), ("h-1", "/h"), ("yr-1", "/yr"), ("//", "/")):
        key = key.replace(old, new)
    return key


def concentration_units() -> list[str]:
    """Names of the supported concentration units."""
    return list(_MASS_UNITS) + list(_MIXING_UNITS)


def rate_units() -> list[str]:
    """Names of the supported emission-rate units."""
    return list(_RATE_UNITS)


def _check_unit(unit: str) -> str:
    key = _normalise(unit)
    if key not in _MASS_UNITS and key not in _MIXING_UNITS:
        raise ConfigError("units", f"unknown concentration unit {unit!r}; use one of "
                                   f"{', '.join(concentration_units())}")
    return key


def _to_kg_per_m3(key: str, unit: str, molar_mass: float | None, temperature: float, pressure: float) -> float:
    """Factor turning a value in ``unit`` (already checked as ``key``) into kg/m³."""
    if key in _MASS_UNITS:
        return _MASS_UNITS[key]
    if molar_mass is None or not np.isfinite(molar_mass) or not molar_mass > 0:
        raise ConfigError(
            "units",
            f"converting {unit!r} needs the species' molar mass (kg/mol, e.g. 0.06407 for SO2), got "
            f"{molar_mass}; give the species a molar_mass or use a mass unit ({', '.join(_MASS_UNITS)})",
        )
    return _MIXING_UNITS[key] * molar_mass * pressure / (GAS_CONSTANT * temperature)


def convert_concentration(values, from_units: str, to_units: str, molar_mass: float | None = None,
                          temperature: float = 298.15, pressure: float = 101325.0):
    """Convert concentrations between kg/m3, g/m3, mg/m3, ug/m3, ppm and ppb.

    Parameters
    ----------
    values:
        Scalar or array in ``from_units``.
    from_units, to_units:
        Unit names (``µg/m³``, ``ug m-3`` and similar spellings are accepted).
    molar_mass:
        kg/mol; needed only when exactly one side is a mixing ratio (ppm, ppb).
    temperature:
        K, for mixing ratios; default 25 °C, the convention of Korean and US standards.
    pressure:
        Pa, for mixing ratios; default 1 atm.

    Returns
    -------
    numpy.ndarray
        ``values`` in ``to_units`` (a 0-d array for a scalar); float32 input stays float32.

    Raises
    ------
    ConfigError
        For an unknown unit (listing the supported ones) or a missing molar mass.
    """
    source, target = _check_unit(from_units), _check_unit(to_units)
    if not (temperature > 0 and pressure > 0):
        raise ConfigError("units", f"temperature ({temperature} K) and pressure ({pressure} Pa) must be > 0")
    values = np.asarray(values)
    if source == target:
        return values.copy()
    if source in _MIXING_UNITS and target in _MIXING_UNITS:
        # ppm ↔ ppb is a ratio of mole fractions: no molar mass involved.
        return values * (_MIXING_UNITS[source] / _MIXING_UNITS[target])
    factor = (_to_kg_per_m3(source, from_units, molar_mass, temperature, pressure)
              / _to_kg_per_m3(target, to_units, molar_mass, temperature, pressure))
    return values * factor


def convert_rate(value: float, from_units: str) -> float:
    """An emission rate in kg/s.

    Parameters
    ----------
    value:
        The rate in ``from_units``.
    from_units:
        ``kg/s``, ``g/s``, ``kg/h`` or ``t/yr`` (tonnes per 365-day year).

    Raises
    ------
    ConfigError
        For an unknown unit, listing the supported ones.
    """
    key = _normalise(from_units)
    if key not in _RATE_UNITS:
        raise ConfigError("unit", f"unknown emission-rate unit {from_units!r}; use one of {', '.join(_RATE_UNITS)}")
    return float(value) * _RATE_UNITS[key]

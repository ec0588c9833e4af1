"""The chemicals catalogue (``scenarios/catalogues/chemicals.yaml``): thresholds and properties.

Each entry has AEGL-1/2/3 at the five AEGL durations (10 min, 30 min, 60 min, 4 h, 8 h) and
ERPG-1/2/3 in ppm, the molar mass (kg/mol) and the physical properties the source models of
:mod:`scenarios.release_sources` need (normal boiling point K, saturated vapour pressure at 25 °C
Pa, liquid density kg/m³, heat-capacity ratio), the toxic-load exponent ``n`` and a note on
whether the released cloud is dense. Concentrations convert ppm ↔ kg/m³ at the file's reference
conditions (25 °C, 1 atm): ``C = x · M · p / (R T)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engine.errors import ConfigError
from engine.units import convert_concentration

from .catalogue import _load, _number

#: AEGL durations (s), the columns of every AEGL row.
AEGL_DURATIONS = (600.0, 1800.0, 3600.0, 14400.0, 28800.0)
AEGL_LEVELS = ("AEGL-1", "AEGL-2", "AEGL-3")
ERPG_LEVELS = ("ERPG-1", "ERPG-2", "ERPG-3")
REQUIRED = ("molar_mass", "aegl", "erpg", "normal_boiling_point_k", "vapour_pressure_25c_pa", "liquid_density",
            "heat_capacity_ratio", "toxic_load_exponent", "dense")
#: Exponent used when an entry gives none (a stated assumption, see the catalogue README).
DEFAULT_TOXIC_LOAD_EXPONENT = 2.0


@dataclass(frozen=True)
class Chemical:
    """One catalogued chemical.

    ``aegl[level]`` is a tuple of five ppm values at :data:`AEGL_DURATIONS`; ``erpg[level]`` ppm;
    ``molar_mass`` kg/mol; ``normal_boiling_point`` K; ``vapour_pressure_25c`` Pa;
    ``liquid_density`` kg/m³; ``heat_capacity_ratio`` cp/cv; ``toxic_load_exponent`` n;
    ``temperature``/``pressure`` the reference conditions (K, Pa) of ppm conversions.
    """

    key: str
    name: str
    molar_mass: float
    aegl: dict[str, tuple[float, ...]]
    erpg: dict[str, float]
    normal_boiling_point: float
    vapour_pressure_25c: float
    liquid_density: float
    heat_capacity_ratio: float
    toxic_load_exponent: float
    toxic_load_source: str
    dense: str
    sources: dict[str, str]
    tag: str
    temperature: float = 298.15
    pressure: float = 101325.0

    def aegl_ppm(self, level: str, duration: float) -> float:
        """The ``level`` AEGL (ppm) for an exposure of exactly one of the AEGL durations (s)."""
        if level not in self.aegl:
            raise ConfigError("release.level", f"{level!r}; use one of {', '.join(AEGL_LEVELS)}")
        for column, seconds in enumerate(AEGL_DURATIONS):
            if abs(seconds - duration) < 1e-6:
                return self.aegl[level][column]
        raise ConfigError("release.duration", f"{duration:g} s is not an AEGL duration; use one of "
                                              f"{', '.join(f'{d:g}' for d in AEGL_DURATIONS)} s")

    def ppm_to_kg_m3(self, ppm):
        """Mixing ratio (ppm) → kg/m³ at the reference conditions."""
        return convert_concentration(ppm, "ppm", "kg/m3", self.molar_mass, self.temperature, self.pressure)

    def kg_m3_to_ppm(self, concentration):
        """kg/m³ → ppm at the reference conditions."""
        return convert_concentration(concentration, "kg/m3", "ppm", self.molar_mass, self.temperature, self.pressure)

    def vapour_pressure(self, temperature: float) -> float:
        """Saturated vapour pressure (Pa) at ``temperature`` (K).

        Notes
        -----
        Clausius–Clapeyron through the two catalogued points, (T_b, 1 atm) and (298.15 K, p_25):
        ``ln p = ln p_atm + (ΔH/R)(1/T_b − 1/T)`` with ``ΔH/R = ln(p_25/p_atm) / (1/T_b − 1/298.15)``
        (a constant heat of vaporisation; good within tens of kelvin of the two points).
        """
        atm = 101325.0
        slope = math.log(self.vapour_pressure_25c / atm) / (1 / self.normal_boiling_point - 1 / 298.15)
        return atm * math.exp(slope * (1 / self.normal_boiling_point - 1 / float(temperature)))


def _row(path: Path, where: str, values, count: int) -> tuple[float, ...]:
    if not isinstance(values, (list, tuple)) or len(values) != count:
        raise ConfigError(f"{path.name}: {where}", f"give {count} values (ppm at 10 min, 30 min, 60 min, 4 h, 8 h), "
                                                   f"got {values!r}")
    return tuple(_number(path, f"{where}[{i}]", v, 0.0) for i, v in enumerate(values))


@lru_cache(maxsize=8)
def load_chemicals(name: str = "chemicals.yaml") -> dict[str, Chemical]:
    """Chemicals by key (``Cl2``, ``NH3`` ...), checked: every field present, numbers in range,
    AEGL-1 ≤ AEGL-2 ≤ AEGL-3 at every duration."""
    path, data = _load(name)
    conditions = data.get("reference_conditions") or {}
    temperature = _number(path, "reference_conditions.temperature_k", conditions.get("temperature_k", 298.15), 1.0)
    pressure = _number(path, "reference_conditions.pressure_pa", conditions.get("pressure_pa", 101325.0), 1.0)
    durations = [60.0 * float(d) for d in data.get("durations_min") or []]
    if durations != list(AEGL_DURATIONS):
        raise ConfigError(f"{path.name}: durations_min", "must be [10, 30, 60, 240, 480] (the AEGL columns)")
    out: dict[str, Chemical] = {}
    for key, entry in (data.get("chemicals") or {}).items():
        where = f"chemicals.{key}"
        missing = [field for field in REQUIRED if entry.get(field) is None]
        if missing:
            raise ConfigError(f"{path.name}: {where}.{missing[0]}", "is missing; every chemical needs "
                                                                    f"{', '.join(REQUIRED)}")
        aegl = {}
        for level in AEGL_LEVELS:
            if level not in entry["aegl"]:
                raise ConfigError(f"{path.name}: {where}.aegl.{level}", "is missing")
            aegl[level] = _row(path, f"{where}.aegl.{level}", entry["aegl"][level], len(AEGL_DURATIONS))
        for low, high in zip(AEGL_LEVELS, AEGL_LEVELS[1:]):
            if any(a > b for a, b in zip(aegl[low], aegl[high])):
                raise ConfigError(f"{path.name}: {where}.aegl", f"{low} exceeds {high} at some duration")
        erpg = {level: _number(path, f"{where}.erpg.{level}", (entry["erpg"] or {}).get(level), 0.0)
                for level in ERPG_LEVELS}
        out[key] = Chemical(
            key=key, name=str(entry.get("name", key)),
            molar_mass=_number(path, f"{where}.molar_mass", entry["molar_mass"], 1e-3, 1.0),
            aegl=aegl, erpg=erpg,
            normal_boiling_point=_number(path, f"{where}.normal_boiling_point_k", entry["normal_boiling_point_k"], 1.0, 1000),
            vapour_pressure_25c=_number(path, f"{where}.vapour_pressure_25c_pa", entry["vapour_pressure_25c_pa"], 1e-3),
            liquid_density=_number(path, f"{where}.liquid_density", entry["liquid_density"], 100.0, 30000.0),
            heat_capacity_ratio=_number(path, f"{where}.heat_capacity_ratio", entry["heat_capacity_ratio"], 1.0001, 1.7),
            toxic_load_exponent=_number(path, f"{where}.toxic_load_exponent", entry["toxic_load_exponent"], 0.5, 5.0),
            toxic_load_source=str(entry.get("toxic_load_source", "")), dense=str(entry["dense"]),
            sources={str(k): str(v) for k, v in (entry.get("sources") or {}).items()}, tag=str(entry.get("tag", "")),
            temperature=temperature, pressure=pressure)
    if not out:
        raise ConfigError(f"{path.name}: chemicals", "lists no chemical")
    return out


def get_chemical(key: str, catalogue: str = "chemicals.yaml") -> Chemical:
    """The catalogued chemical ``key``; an unknown key is an error listing the known ones."""
    chemicals = load_chemicals(catalogue)
    if key not in chemicals:
        folded = {k.lower(): k for k in chemicals}
        hint = f" (did you mean {folded[str(key).lower()]}?)" if str(key).lower() in folded else ""
        raise ConfigError("release.chemical", f"{key!r} is not in {catalogue}{hint}; known chemicals: "
                                              f"{', '.join(sorted(chemicals))}")
    return chemicals[key]

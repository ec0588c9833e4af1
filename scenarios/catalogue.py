"""Catalogues as data files: species (standards), reduction equipment and the park's facilities.

The files live in ``scenarios/catalogues/`` (versions and sources in its README). Each loader
checks the file and raises :class:`~engine.errors.ConfigError` naming the file, the entry and the
field. Units at the edge: standards in ppm or µg/m³ as published, converted here to µg/m³ at
25 °C and 1 atm; molar masses in kg/mol; costs in the file's currency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ConfigError
from engine.units import convert_concentration

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogues"
#: Averaging windows of the standards, in hours ("annual" is the whole period's mean).
AVERAGING_HOURS = {"1h": 1, "8h": 8, "24h": 24, "annual": None}


@dataclass(frozen=True)
class Standard:
    """An ambient standard: ``averaging`` (1h, 8h, 24h, annual), ``value`` in ``unit``, and the
    same value in µg/m³ (``ug_m3``) at 25 °C and 1 atm."""

    species: str
    averaging: str
    value: float
    unit: str
    ug_m3: float
    compliance: str = ""

    @property
    def hours(self) -> int | None:
        return AVERAGING_HOURS[self.averaging]


@dataclass(frozen=True)
class SpeciesEntry:
    name: str
    molar_mass: float | None
    standards: tuple[Standard, ...]
    source: str
    tag: str


@dataclass(frozen=True)
class Equipment:
    """A reduction device: removal fraction per species, capital (currency) and annual operating cost."""

    key: str
    name_ko: str
    removal: dict[str, float]
    capital_cost: float
    annual_operating_cost: float
    source: str
    tag: str
    typical: str = ""


@dataclass(frozen=True)
class Facility:
    key: str
    industry: str
    x: float
    y: float
    stack_height: float
    emissions: dict[str, float]
    operating_hours_per_year: float
    installed: tuple[str, ...] = ()
    candidates: tuple[str, ...] = field(default_factory=tuple)


def _load(name: str | Path) -> tuple[Path, dict]:
    path = Path(name) if Path(name).is_absolute() or Path(name).exists() else CATALOGUE_DIR / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"catalogue {path}", f"cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"catalogue {path.name}", f"is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or "version" not in data:
        raise ConfigError(f"catalogue {path.name}", "must be a mapping with a 'version' field")
    return path, data


def _number(path: Path, where: str, value: Any, low: float = 0.0, high: float = math.inf) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{path.name}: {where}", f"{value!r} is not a number") from None
    if not (math.isfinite(number) and low <= number <= high):
        raise ConfigError(f"{path.name}: {where}", f"{number:g} is outside {low:g}–{high:g}")
    return number


@lru_cache(maxsize=8)
def load_species(name: str = "species.yaml") -> dict[str, SpeciesEntry]:
    """Species by name, with their standards converted to µg/m³."""
    path, data = _load(name)
    conditions = data.get("reference_conditions") or {}
    temperature = float(conditions.get("temperature_k", 298.15))
    pressure = float(conditions.get("pressure_pa", 101325.0))
    out: dict[str, SpeciesEntry] = {}
    for key, entry in (data.get("species") or {}).items():
        where = f"species.{key}"
        molar = entry.get("molar_mass")
        molar = None if molar is None else _number(path, f"{where}.molar_mass", molar, 1e-3, 1.0)
        standards = []
        for i, s in enumerate(entry.get("standards") or []):
            averaging = str(s.get("averaging"))
            if averaging not in AVERAGING_HOURS:
                raise ConfigError(f"{path.name}: {where}.standards[{i}].averaging",
                                  f"{averaging!r}; use one of {', '.join(AVERAGING_HOURS)}")
            value = _number(path, f"{where}.standards[{i}].value", s.get("value"))
            unit = str(s.get("unit"))
            try:
                ug = float(convert_concentration(value, unit, "ug/m3", molar, temperature, pressure))
            except ConfigError as exc:
                raise ConfigError(f"{path.name}: {where}.standards[{i}].unit", str(exc)) from None
            standards.append(Standard(key, averaging, value, unit, ug, str(s.get("compliance", ""))))
        out[key] = SpeciesEntry(key, molar, tuple(standards), str(entry.get("source", "")), str(entry.get("tag", "")))
    return out


def standards_for(species: str, catalogue: str = "species.yaml") -> tuple[Standard, ...]:
    """The Korean ambient standards of ``species`` (empty when it has none or is not catalogued)."""
    entry = load_species(catalogue).get(species)
    return () if entry is None else entry.standards


@lru_cache(maxsize=8)
def load_equipment(name: str = "equipment.yaml") -> dict[str, Equipment]:
    path, data = _load(name)
    out = {}
    for key, entry in (data.get("equipment") or {}).items():
        where = f"equipment.{key}"
        removal = {s: _number(path, f"{where}.removal.{s}", v, 0.0, 1.0) for s, v in (entry.get("removal") or {}).items()}
        if not removal:
            raise ConfigError(f"{path.name}: {where}.removal", "lists no species")
        out[key] = Equipment(key, str(entry.get("name_ko", "")), removal,
                             _number(path, f"{where}.capital_cost", entry.get("capital_cost")),
                             _number(path, f"{where}.annual_operating_cost", entry.get("annual_operating_cost")),
                             str(entry.get("source", "")), str(entry.get("tag", "")), str(entry.get("typical", "")))
    return out


def equipment_annualisation(name: str = "equipment.yaml") -> tuple[int, float, str]:
    """``(years, discount rate, currency)`` for annualising capital costs."""
    path, data = _load(name)
    block = data.get("annualisation") or {}
    years = int(_number(path, "annualisation.years", block.get("years", 10), 1, 100))
    rate = _number(path, "annualisation.discount_rate", block.get("discount_rate", 0.0), 0.0, 1.0)
    return years, rate, str(data.get("currency", ""))


def annual_cost(device: Equipment, catalogue: str = "equipment.yaml") -> float:
    """Capital recovered over the device's life (capital recovery factor) plus operating cost, per year.

    ``CRF = r (1+r)^n / ((1+r)^n − 1)`` (``1/n`` when r = 0).
    """
    years, rate, _ = equipment_annualisation(catalogue)
    crf = 1.0 / years if rate == 0 else rate * (1 + rate) ** years / ((1 + rate) ** years - 1)
    return device.capital_cost * crf + device.annual_operating_cost


@lru_cache(maxsize=8)
def load_facilities(name: str = "facilities.yaml") -> dict[str, Facility]:
    path, data = _load(name)
    equipment = load_equipment()
    out = {}
    for key, entry in (data.get("facilities") or {}).items():
        where = f"facilities.{key}"
        for listed in ("installed", "candidates"):
            for item in entry.get(listed) or []:
                if item not in equipment:
                    raise ConfigError(f"{path.name}: {where}.{listed}", f"{item!r} is not in equipment.yaml; "
                                                                        f"use one of {', '.join(equipment)}")
        out[key] = Facility(key, str(entry.get("industry", "")), _number(path, f"{where}.x", entry.get("x"), -math.inf),
                            _number(path, f"{where}.y", entry.get("y"), -math.inf),
                            _number(path, f"{where}.stack_height", entry.get("stack_height")),
                            {s: _number(path, f"{where}.emissions.{s}", v) for s, v in (entry.get("emissions") or {}).items()},
                            _number(path, f"{where}.operating_hours_per_year", entry.get("operating_hours_per_year", 8760),
                                    0, 8784),
                            tuple(entry.get("installed") or ()), tuple(entry.get("candidates") or ()))
    return out

"""Retrofits as what-ifs: equipment fitted to facilities, a function from scenario to scenario.

An *alternative* is a mapping ``{facility (source name): [equipment key, ...]}``. Devices in
series each remove their fraction of what reaches them, so the remaining fraction of species
``s`` is ``Π (1 − η_s)`` over the devices (``η_s`` from ``scenarios/catalogues/equipment.yaml``).
"""

from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

from engine.errors import ConfigError
from engine.units import convert_rate

from .catalogue import Equipment, Facility, annual_cost, load_equipment, load_facilities


def devices(names: Sequence[str | Equipment], where: str) -> list[Equipment]:
    """Equipment objects from catalogue keys (or Equipment given directly)."""
    catalogue = load_equipment()
    out = []
    for name in names:
        if isinstance(name, Equipment):
            out.append(name)
        elif name in catalogue:
            out.append(catalogue[name])
        else:
            raise ConfigError(where, f"{name!r} is not in scenarios/catalogues/equipment.yaml; use one of "
                                     f"{', '.join(catalogue)}")
    return out


def remaining_fractions(alternative: Mapping[str, Sequence[str | Equipment]], source_species: Mapping[str, Sequence[str]],
                        where: str = "compare.alternatives",
                        facilities: Mapping[str, Facility] | None = None) -> dict[str, dict[str, float]]:
    """``{source: {species: fraction still emitted}}`` for the sources an alternative retrofits.

    ``source_species`` maps each source of the scenario to the species it emits. Equipment that a
    facility already has (``installed`` in facilities.yaml) is refused: its effect is already in
    the emissions.
    """
    facilities = load_facilities() if facilities is None else facilities
    out: dict[str, dict[str, float]] = {}
    for source, names in (alternative or {}).items():
        key = f"{where}.{source}"
        if source not in source_species:
            raise ConfigError(key, f"is not a source of the scenario; sources: {', '.join(source_species)}")
        fitted = devices(list(names), key)
        installed = set(facilities[source].installed) if source in facilities else set()
        again = sorted(installed & {d.key for d in fitted})
        if again:
            raise ConfigError(key, f"{again[0]} is already installed at {source} (facilities.yaml); its removal "
                                   "is already in the emissions")
        fractions = {}
        for species in source_species[source]:
            remaining = 1.0
            for device in fitted:
                remaining *= 1.0 - device.removal.get(species, 0.0)
            fractions[species] = remaining
        out[source] = fractions
    return out


def retrofit(run: Mapping[str, Any], alternative: Mapping[str, Sequence[str | Equipment]]) -> dict:
    """The scenario with the alternative's equipment fitted: a new run dict whose retrofitted
    sources emit ``Π (1 − η)`` of each species (the input is not changed)."""
    scenario = copy.deepcopy(dict(run))
    species_of = {s["name"]: list(s.get("emissions", {})) for s in scenario.get("sources", [])}
    fractions = remaining_fractions(alternative, species_of)
    for source in scenario.get("sources", []):
        for species, fraction in fractions.get(source["name"], {}).items():
            source["emissions"][species] = source["emissions"][species] * fraction
    return scenario


def alternative_cost(alternative: Mapping[str, Sequence[str | Equipment]], where: str = "compare.alternatives") -> dict:
    """Capital and annualised cost of an alternative (currency of equipment.yaml, per year)."""
    capital = annualised = 0.0
    for source, names in (alternative or {}).items():
        for device in devices(list(names), f"{where}.{source}"):
            capital += device.capital_cost
            annualised += annual_cost(device)
    return {"capital": capital, "annual": annualised}


def removed_tonnes_per_year(run: Mapping[str, Any], fractions: Mapping[str, Mapping[str, float]],
                            facilities: Mapping[str, Facility] | None = None) -> dict[str, float]:
    """Tonnes per year removed, per species: rate × (1 − fraction) × operating hours.

    Rates are the scenario's (g/s unless the source gives another unit); operating hours come
    from facilities.yaml (8760 h for a source that is not in the inventory).
    """
    facilities = load_facilities() if facilities is None else facilities
    out: dict[str, float] = {}
    for source in run.get("sources", []):
        if source["name"] not in fractions:
            continue
        hours = facilities[source["name"]].operating_hours_per_year if source["name"] in facilities else 8760.0
        kg_per_s = convert_rate(1.0, source.get("unit") or "g/s")
        for species, fraction in fractions[source["name"]].items():
            removed = source["emissions"][species] * kg_per_s * (1.0 - fraction) * hours * 3600.0 / 1000.0
            out[species] = out.get(species, 0.0) + removed
    return out

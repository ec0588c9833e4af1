"""What the ingest knows about species: molar masses (kg/mol) for ppm/ppb ↔ kg/m³, and the
plausible ranges the range check and the header check use.

Ranges are in each species' customary unit and are deliberately wide: they catch unit slips
and broken sensors, not pollution episodes (Seoul's PM10 reached 962 µg/m³ in a dust storm;
AirKorea's instruments span 0–1 ppm for SO2/NO2/O3 and 0–50 ppm for CO). ``typical`` is the
ambient range used to test whether a column holds what its header says (ambient CO2 is
400–1000 ppm, so a "CO2" column of 0.003–0.094 ppm is something else).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpeciesInfo:
    """Molar mass (kg/mol; None for particles), plausible ``limits`` and ambient ``typical``
    ranges (low, high) in ``unit``."""

    molar_mass: float | None
    unit: str
    limits: tuple[float, float]
    typical: tuple[float, float]


#: Molar masses from IUPAC standard atomic weights.
SPECIES: dict[str, SpeciesInfo] = {
    "SO2": SpeciesInfo(0.06407, "ppm", (0.0, 2.0), (0.0, 0.2)),
    "NO2": SpeciesInfo(0.04601, "ppm", (0.0, 2.0), (0.0, 0.3)),
    "NO": SpeciesInfo(0.03001, "ppm", (0.0, 2.0), (0.0, 0.5)),
    "NOX": SpeciesInfo(0.04601, "ppm", (0.0, 4.0), (0.0, 0.8)),
    "O3": SpeciesInfo(0.04800, "ppm", (0.0, 1.0), (0.0, 0.2)),
    "CO": SpeciesInfo(0.02801, "ppm", (0.0, 50.0), (0.0, 10.0)),
    "CO2": SpeciesInfo(0.04401, "ppm", (300.0, 5000.0), (380.0, 1000.0)),
    "NH3": SpeciesInfo(0.01703, "ppm", (0.0, 100.0), (0.0, 0.5)),
    "H2S": SpeciesInfo(0.03408, "ppm", (0.0, 100.0), (0.0, 0.05)),
    "BENZENE": SpeciesInfo(0.07811, "ppm", (0.0, 100.0), (0.0, 0.01)),
    "PM10": SpeciesInfo(None, "ug/m3", (0.0, 2000.0), (0.0, 300.0)),
    "PM2.5": SpeciesInfo(None, "ug/m3", (0.0, 1000.0), (0.0, 200.0)),
}


def species_info(name: str) -> SpeciesInfo | None:
    """The catalogue entry of ``name`` (case-insensitive; ``PM25`` and ``PM2_5`` are PM2.5)."""
    key = str(name).strip().upper().replace("PM25", "PM2.5").replace("PM2_5", "PM2.5")
    return SPECIES.get(key)

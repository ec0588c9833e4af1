"""Transported species and their physical properties."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class Species:
    """A transported species.

    Parameters
    ----------
    name:
        Name used in configs and output (``SO2``, ``PM2.5``...).
    molar_mass:
        kg/mol, for ppm ↔ kg/m³ conversion; None for particulate matter.
    decay_rate:
        First-order loss rate (1/s), e.g. chemical conversion; 0 for none.
    deposition_velocity:
        Dry deposition velocity at the ground (m/s); 0 for none.
    background:
        Concentration of air entering the domain (kg/m³).
    scavenging_coefficient, scavenging_exponent:
        Wet scavenging ``Λ = a R^b`` (1/s) under a rain rate ``R`` (mm/h); ``a`` is the rate at
        1 mm/h (0: none). ADMS's defaults for gases and particles are a = 1e-4 1/s, b = 0.64.
    """

    name: str
    molar_mass: float | None = None
    decay_rate: float = 0.0
    deposition_velocity: float = 0.0
    background: float = 0.0
    scavenging_coefficient: float = 0.0
    scavenging_exponent: float = 0.64

    def scavenging_rate(self, rain_rate: float) -> float:
        """Λ (1/s) under ``rain_rate`` mm/h."""
        if rain_rate <= 0 or self.scavenging_coefficient == 0:
            return 0.0
        return self.scavenging_coefficient * rain_rate**self.scavenging_exponent

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("species.name", "must not be empty")
        for field_name in ("decay_rate", "deposition_velocity", "background", "scavenging_coefficient",
                           "scavenging_exponent"):
            value = getattr(self, field_name)
            if value < 0:
                raise ConfigError(f"species.{self.name}.{field_name}", f"must be >= 0, got {value}")
        if self.molar_mass is not None and self.molar_mass <= 0:
            raise ConfigError(f"species.{self.name}.molar_mass", f"must be > 0 kg/mol, got {self.molar_mass}")


def species_index(species: list[Species], name: str, where: str) -> int:
    """Position of species ``name``; a clear error naming ``where`` if it is not transported."""
    names = [s.name for s in species]
    if name not in names:
        raise ConfigError(where, f"species {name!r} is not transported; known species: {', '.join(names)}")
    return names.index(name)

"""Briggs plume rise for hot or fast stack gases: the effective release height of a point source.

The formulas and their switches are those of the U.S. EPA's ISC3 model (which AERMOD keeps for
its stable and near-field rise): buoyancy and momentum fluxes from the stack exit conditions,
a crossover temperature difference that decides which dominates, final rise and the distance to
it for unstable–neutral (classes A–D) and stable (E, F) air, the gradual ("2/3 law") rise before
it, and stack-tip downwash.

References
----------
Briggs, G. A. (1975). Plume rise predictions. In Lectures on Air Pollution and Environmental
Impact Analyses, AMS, 59–111.
U.S. EPA (1995). User's guide for the Industrial Source Complex (ISC3) dispersion models,
Vol. II, EPA-454/B-95-003b, section 1.1.4 (equations 1-5 to 1-42).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from .surface_layer import GRAVITY, STABILITY_CLASSES

#: Potential temperature gradient (K/m) of stable air per class (ISC3).
STABLE_LAPSE = {"E": 0.020, "F": 0.035}


@dataclass(frozen=True)
class Stack:
    """A stack's geometry and exit conditions (SI units).

    Attributes: ``height`` above ground (m), inner ``diameter`` at the top (m), ``exit_velocity``
    (m/s) and ``exit_temperature`` of the gas (K).
    """

    height: float
    diameter: float
    exit_velocity: float
    exit_temperature: float

    def __post_init__(self):
        for name in ("height", "diameter", "exit_temperature"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"stack.{name}", f"must be a positive number, got {value!r}")
        if not (math.isfinite(self.exit_velocity) and self.exit_velocity >= 0):
            raise ConfigError("stack.exit_velocity", f"must be >= 0 m/s, got {self.exit_velocity!r}")
        if self.exit_temperature < 200 or self.exit_temperature > 2000:
            raise ConfigError("stack.exit_temperature", f"{self.exit_temperature!r} K is implausible; "
                              "give it in kelvin (°C + 273.15)")


def buoyancy_flux(stack: Stack, ambient_temperature: float) -> float:
    """Briggs buoyancy flux ``F_b = g v d² (T_s − T_a) / (4 T_s)`` (m⁴/s³), 0 for gas no warmer than air."""
    excess = max(stack.exit_temperature - ambient_temperature, 0.0)
    return GRAVITY * stack.exit_velocity * stack.diameter**2 * excess / (4 * stack.exit_temperature)


def momentum_flux(stack: Stack, ambient_temperature: float) -> float:
    """Momentum flux ``F_m = v² d² T_a / (4 T_s)`` (m⁴/s²)."""
    return stack.exit_velocity**2 * stack.diameter**2 * ambient_temperature / (4 * stack.exit_temperature)


def stability_parameter(stability: str, ambient_temperature: float) -> float:
    """``s = g (dθ/dz) / T_a`` (1/s²) of stable air (classes E and F)."""
    return GRAVITY * STABLE_LAPSE[stability] / ambient_temperature


@dataclass(frozen=True)
class PlumeRise:
    """Final rise ``final`` (m) above the (downwash-corrected) stack top ``release_height`` (m),
    reached at ``distance_to_final`` (m) downwind; ``dominated_by`` is ``"buoyancy"`` or
    ``"momentum"``; the fluxes (m⁴/s³, m⁴/s²) and the conditions it was computed for."""

    final: float
    distance_to_final: float
    dominated_by: str
    release_height: float
    buoyancy_flux: float
    momentum_flux: float
    wind_speed: float
    ambient_temperature: float
    stability: str

    @property
    def effective_height(self) -> float:
        """Release height plus final rise (m): the height a point source is injected at."""
        return self.release_height + self.final


def _check(wind_speed: float, ambient_temperature: float, stability: str) -> str:
    if not (math.isfinite(wind_speed) and wind_speed > 0):
        raise ConfigError("met.speed", f"plume rise needs a wind speed > 0 m/s at stack height, got {wind_speed!r}")
    if not (math.isfinite(ambient_temperature) and 200 < ambient_temperature < 350):
        raise ConfigError("met.temperature", f"{ambient_temperature!r} K is not an air temperature; give kelvin")
    stability = str(stability).upper()
    if stability not in STABILITY_CLASSES:
        raise ConfigError("met.stability", f"unknown class {stability!r}; use A, B, C, D, E or F")
    return stability


def downwash_height(stack: Stack, wind_speed: float) -> float:
    """Stack-tip downwash: ``h + 2 d (v/u − 1.5)`` when the exit velocity is below 1.5 u (m)."""
    if stack.exit_velocity >= 1.5 * wind_speed:
        return stack.height
    return max(stack.height + 2 * stack.diameter * (stack.exit_velocity / wind_speed - 1.5), 0.0)


def briggs_rise(stack: Stack, wind_speed: float, ambient_temperature: float, stability: str,
                downwash: bool = True) -> PlumeRise:
    """Final Briggs plume rise for a stack in a wind ``wind_speed`` (m/s, at stack height) of air at
    ``ambient_temperature`` (K) and Pasquill–Gifford class ``stability``."""
    stability = _check(wind_speed, ambient_temperature, stability)
    u, d, v, ts = wind_speed, stack.diameter, stack.exit_velocity, stack.exit_temperature
    fb, fm = buoyancy_flux(stack, ambient_temperature), momentum_flux(stack, ambient_temperature)
    excess = ts - ambient_temperature
    release = downwash_height(stack, u) if downwash else stack.height
    momentum_unstable = 3 * d * v / u
    if stability in STABLE_LAPSE:
        s = stability_parameter(stability, ambient_temperature)
        crossover = 0.019582 * ts * v * math.sqrt(s)
        if fb > 0 and excess >= crossover:
            return PlumeRise(2.6 * (fb / (u * s)) ** (1 / 3), 2.0715 * u / math.sqrt(s), "buoyancy", release, fb, fm, u, ambient_temperature,
                             stability)
        rise = min(1.5 * (fm / (u * math.sqrt(s))) ** (1 / 3), momentum_unstable)
        return PlumeRise(rise, 0.5 * math.pi * u / math.sqrt(s), "momentum", release, fb, fm, u, ambient_temperature,
                         stability)
    if fb < 55:
        crossover = 0.0297 * ts * v ** (1 / 3) / d ** (2 / 3)
    else:
        crossover = 0.00575 * ts * v ** (2 / 3) / d ** (1 / 3)
    if fb > 0 and excess >= crossover:
        if fb < 55:
            return PlumeRise(21.425 * fb**0.75 / u, 49 * fb**0.625, "buoyancy", release, fb, fm, u, ambient_temperature,
                             stability)
        return PlumeRise(38.71 * fb**0.6 / u, 119 * fb**0.4, "buoyancy", release, fb, fm, u, ambient_temperature,
                             stability)
    # Momentum rise is complete within a few stack diameters: ISC3 uses 4 d (v + 3u)² / (v u).
    distance = 4 * d * (v + 3 * u) ** 2 / (v * u) if v > 0 else 0.0
    return PlumeRise(momentum_unstable, distance, "momentum", release, fb, fm, u, ambient_temperature,
                         stability)


def gradual_rise(rise: PlumeRise, distance: float, stack: Stack) -> float:
    """Rise (m) ``distance`` metres downwind, before the final rise is reached (capped by it).

    Buoyant plumes follow Briggs' 2/3 law ``1.60 F_b^(1/3) x^(2/3) / u``; momentum jets
    ``(3 F_m x / (β² u²))^(1/3)`` with the entrainment ``β = 1/3 + u/v`` (neutral–unstable) or
    ``(3 F_m sin(x √s / u) / (β² u √s))^(1/3)`` (stable).
    """
    if not distance >= 0:
        raise ConfigError("distance", f"must be >= 0 m, got {distance!r}")
    if distance >= rise.distance_to_final:
        return rise.final
    u = rise.wind_speed
    if rise.dominated_by == "buoyancy":
        return min(1.60 * rise.buoyancy_flux ** (1 / 3) * distance ** (2 / 3) / u, rise.final)
    beta = 1 / 3 + u / stack.exit_velocity
    if rise.stability in STABLE_LAPSE:
        root_s = math.sqrt(stability_parameter(rise.stability, rise.ambient_temperature))
        value = 3 * rise.momentum_flux * math.sin(distance * root_s / u) / (beta**2 * u * root_s)
    else:
        value = 3 * rise.momentum_flux * distance / (beta**2 * u**2)
    return min(max(value, 0.0) ** (1 / 3), rise.final)

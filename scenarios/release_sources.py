"""Source terms of accidental releases: how much leaves, how fast, for how long (SI units).

Four kinds, each giving a :class:`ReleaseTerm` (a rate in kg/s over a duration in s, or a mass
in kg released at once):

* ``instantaneous``: the whole ``mass`` (kg) at once (a burst vessel);
* ``continuous``: ``rate`` (kg/s) for ``duration`` (s) — the US RMP / Korean NICS worst case
  releases the whole inventory in 10 minutes, ``rate = inventory / 600 s``;
* ``orifice``: gas flowing out of a hole in a pressurised vessel, :func:`orifice_gas_rate`;
* ``pool``: evaporation of a liquid pool, :func:`pool_evaporation_rate` (US EPA RMP guidance)
  or :func:`mackay_matsugu_rate`.

Rates are held constant at their initial value until the inventory is gone (duration =
inventory / rate), which over-states the rate of a vessel whose pressure falls — the usual
screening choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.errors import ConfigError
from engine.units import GAS_CONSTANT

ATMOSPHERE = 101325.0          # Pa
#: Discharge coefficient of a sharp-edged orifice (TNO Yellow Book, CPR 14E, ch. 2) [R].
SHARP_EDGED_CD = 0.62
#: Depth (m) the RMP guidance spreads an undiked liquid spill to [R].
RMP_POOL_DEPTH = 0.01
KINDS = ("instantaneous", "continuous", "orifice", "pool")

_LB = 0.45359237               # kg per lb
_FT2 = 0.09290304              # m² per ft²
_MMHG = 133.322387             # Pa per mmHg


@dataclass(frozen=True)
class ReleaseTerm:
    """What enters the atmosphere: ``kind``; ``mass`` (kg) released; ``rate`` (kg/s) and
    ``duration`` (s) for a continuous release (``rate`` None for an instantaneous one);
    ``regime`` a note (``choked``/``subcritical`` for an orifice, the pool's area...)."""

    kind: str
    mass: float
    rate: float | None
    duration: float
    regime: str = ""


def _positive(key: str, value: float, unit: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, f"{value!r} is not a number ({unit})") from None
    if not (math.isfinite(number) and number > 0):
        raise ConfigError(key, f"must be a positive number of {unit}, got {number:g}")
    return number


def critical_pressure_ratio(gamma: float) -> float:
    """Ambient-to-vessel pressure ratio below which orifice flow is choked: ``(2/(γ+1))^(γ/(γ−1))``."""
    return (2.0 / (gamma + 1.0)) ** (gamma / (gamma - 1.0))


def orifice_gas_rate(diameter: float, pressure: float, temperature: float, molar_mass: float, gamma: float,
                     discharge_coefficient: float = SHARP_EDGED_CD, ambient_pressure: float = ATMOSPHERE
                     ) -> tuple[float, str]:
    """Mass flow (kg/s) of an ideal gas out of a round hole, and ``"choked"`` or ``"subcritical"``.

    Parameters
    ----------
    diameter: hole diameter (m). pressure: absolute vessel pressure (Pa). temperature: gas
    temperature in the vessel (K). molar_mass: kg/mol. gamma: cp/cv. discharge_coefficient: Cd.
    ambient_pressure: Pa.

    Notes
    -----
    Isentropic flow through the hole (A = π d²/4), with ρ₀ = p M/(R T):

    choked (p_a/p ≤ (2/(γ+1))^(γ/(γ−1))):
        ṁ = Cd A p √( γ M/(R T) · (2/(γ+1))^((γ+1)/(γ−1)) )
    subcritical:
        ṁ = Cd A p √( 2 M/(R T) · γ/(γ−1) · [ (p_a/p)^(2/γ) − (p_a/p)^((γ+1)/γ) ] )

    The two agree at the critical ratio. Reference: CCPS (1999) Guidelines for Consequence
    Analysis of Chemical Releases, §2.1.2; TNO Yellow Book (CPR 14E) ch. 2 [R].
    """
    diameter = _positive("release.orifice.diameter", diameter, "m")
    pressure = _positive("release.orifice.pressure", pressure, "Pa (absolute)")
    temperature = _positive("release.orifice.temperature", temperature, "K")
    cd = _positive("release.orifice.discharge_coefficient", discharge_coefficient, "(0-1]")
    if cd > 1:
        raise ConfigError("release.orifice.discharge_coefficient", f"must be in (0, 1], got {cd:g}")
    if pressure <= ambient_pressure:
        raise ConfigError("release.orifice.pressure", f"{pressure:g} Pa is not above the ambient {ambient_pressure:g} "
                                                      "Pa: nothing flows out (give the absolute pressure)")
    area = math.pi * diameter**2 / 4.0
    ratio = ambient_pressure / pressure
    g = gamma
    if ratio <= critical_pressure_ratio(g):
        flux = math.sqrt(g * molar_mass / (GAS_CONSTANT * temperature) * (2 / (g + 1)) ** ((g + 1) / (g - 1)))
        return cd * area * pressure * flux, "choked"
    bracket = ratio ** (2 / g) - ratio ** ((g + 1) / g)
    flux = math.sqrt(2 * molar_mass / (GAS_CONSTANT * temperature) * g / (g - 1) * bracket)
    return cd * area * pressure * flux, "subcritical"


def pool_area(mass: float, liquid_density: float, depth: float = RMP_POOL_DEPTH) -> float:
    """Area (m²) of ``mass`` kg of liquid spread to ``depth`` m (RMP guidance: 1 cm undiked)."""
    return _positive("release.inventory", mass, "kg") / (liquid_density * _positive("release.pool.depth", depth, "m"))


def pool_evaporation_rate(area: float, wind_speed: float, molar_mass: float, vapour_pressure: float,
                          temperature: float) -> float:
    """Evaporation rate (kg/s) of a liquid pool by the US EPA RMP guidance.

    Notes
    -----
    US EPA (2009) Risk Management Program Guidance for Offsite Consequence Analysis, eq. 3-7/D-1 [R],
    in its own units:

        QR [lb/min] = 0.284 · u^0.78 · MW^(2/3) · A [ft²] · VP [mmHg] / (82.05 · T [K])

    with u the wind speed (m/s) and MW in g/mol. It is the Mackay–Matsugu mass-transfer form with
    the constants folded in; here inputs and output are SI (m², m/s, kg/mol, Pa, K, kg/s).
    """
    area = _positive("release.pool.area", area, "m²")
    wind_speed = _positive("met.speed", wind_speed, "m/s")
    mw = molar_mass * 1000.0
    lb_per_min = 0.284 * wind_speed**0.78 * mw ** (2 / 3) * (area / _FT2) * (vapour_pressure / _MMHG) / (82.05 * temperature)
    return lb_per_min * _LB / 60.0


def mackay_matsugu_rate(area: float, wind_speed: float, molar_mass: float, vapour_pressure: float,
                        temperature: float, schmidt: float = 0.8) -> float:
    """Evaporation rate (kg/s) of a pool by Mackay & Matsugu (1973).

    Notes
    -----
    ``k_m = 0.0048 u^(7/9) Z^(−1/9) Sc^(−2/3)`` (m/s; u m/s at 10 m, Z the pool's along-wind
    length taken as √A, m) and ``E = k_m A M p_v / (R T)``. Mackay, D. & Matsugu, R. S. (1973),
    Can. J. Chem. Eng. 51, 434–439 [R].
    """
    area = _positive("release.pool.area", area, "m²")
    wind_speed = _positive("met.speed", wind_speed, "m/s")
    length = math.sqrt(area)
    k_m = 0.0048 * wind_speed ** (7 / 9) * length ** (-1 / 9) * schmidt ** (-2 / 3)
    return k_m * area * molar_mass * vapour_pressure / (GAS_CONSTANT * temperature)


def release_term(kind: str, inventory: float, rate: float | None = None, duration: float | None = None,
                 orifice: dict | None = None, pool: dict | None = None, chemical=None,
                 wind_speed: float | None = None) -> ReleaseTerm:
    """The :class:`ReleaseTerm` of one release block (see ``conf/release.yaml``).

    ``inventory`` (kg) bounds every release. ``continuous``: ``rate`` (kg/s), or ``inventory /
    duration`` when ``rate`` is None; ``duration`` (s) defaults to ``inventory / rate``.
    ``orifice`` needs ``diameter`` (m), ``pressure`` (Pa absolute), ``temperature`` (K) and
    optionally ``discharge_coefficient``; ``pool`` takes ``area`` (m², None: the inventory spread
    1 cm deep), ``temperature`` (K) and ``method`` (``rmp`` or ``mackay_matsugu``).
    ``chemical`` is a :class:`~scenarios.chemicals.Chemical`; ``wind_speed`` (m/s) drives a pool.
    """
    if kind not in KINDS:
        raise ConfigError("release.kind", f"{kind!r}; use one of {', '.join(KINDS)}")
    inventory = _positive("release.inventory", inventory, "kg")
    if kind == "instantaneous":
        return ReleaseTerm(kind, inventory, None, 0.0, "puff")
    if kind == "continuous":
        if rate is None:
            duration = _positive("release.duration", duration, "s (or give release.rate)")
            return ReleaseTerm(kind, inventory, inventory / duration, duration, "inventory over the duration")
        rate = _positive("release.rate", rate, "kg/s")
        spent = inventory / rate
        duration = spent if duration is None else min(_positive("release.duration", duration, "s"), spent)
        return ReleaseTerm(kind, rate * duration, rate, duration, "given rate")
    if kind == "orifice":
        o = dict(orifice or {})
        flow, regime = orifice_gas_rate(o.get("diameter"), o.get("pressure"), o.get("temperature"),
                                        chemical.molar_mass, chemical.heat_capacity_ratio,
                                        o.get("discharge_coefficient") or SHARP_EDGED_CD)
        spent = inventory / flow
        duration = spent if duration is None else min(_positive("release.duration", duration, "s"), spent)
        return ReleaseTerm(kind, flow * duration, flow, duration, regime)
    p = dict(pool or {})
    temperature = _positive("release.pool.temperature", p.get("temperature") or 298.15, "K")
    area = p.get("area") or pool_area(inventory, chemical.liquid_density, p.get("depth") or RMP_POOL_DEPTH)
    pressure = chemical.vapour_pressure(temperature)
    if pressure >= ATMOSPHERE:
        raise ConfigError("release.pool.temperature", f"{chemical.key} boils at {chemical.normal_boiling_point:g} K; "
                                                      f"at {temperature:g} K it is not a pool but a boiling or flashing "
                                                      "release: use kind=continuous (RMP: inventory in 10 min)")
    method = p.get("method") or "rmp"
    if method == "rmp":
        flow = pool_evaporation_rate(area, wind_speed, chemical.molar_mass, pressure, temperature)
    elif method == "mackay_matsugu":
        flow = mackay_matsugu_rate(area, wind_speed, chemical.molar_mass, pressure, temperature)
    else:
        raise ConfigError("release.pool.method", f"{method!r}; use rmp or mackay_matsugu")
    spent = inventory / flow
    duration = spent if duration is None else min(_positive("release.duration", duration, "s"), spent)
    return ReleaseTerm(kind, flow * duration, flow, duration, f"pool {area:.0f} m², {method}")

"""Checks of a run configuration that need no grid: types, ranges, names and units.

Each failure raises one :class:`~engine.errors.ConfigError` whose message starts with the key path
(``grid.dx``, ``sources[2].unit (stack_C)``) and says what to do. Checks that need the grid (is a
source inside the domain?) are made by :mod:`engine.app.build` before anything is computed.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Iterable

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ..backend import BACKEND_NAMES
from ..errors import ConfigError
from ..grid import DTYPES
from ..meteorology.surface_layer import GOLDER_COEFFICIENTS
from ..meteorology.profiles import POWER_LAW_EXPONENTS
from ..meteorology.wind import PROFILE_KINDS
from ..output.maps import STATISTICS as MAP_STATISTICS
from ..transport.advection import LIMITERS
from ..transport.step import VERTICAL_SCHEMES
from ..units import concentration_units, convert_rate
from .schema import RunConfig

SOURCE_KINDS = ("point", "area", "volume", "puff")
RATE_UNITS = ("kg/s", "g/s", "kg/h", "t/yr")
#: kg per unit of a puff's released mass.
MASS_UNITS = {"kg": 1.0, "g": 1e-3}
DIFFUSIVITY_KINDS = ("constant", "stability")
WIND_MODELS = ("profile", "mass_consistent")
SIDES = ("west", "east", "south", "north", "top")
#: Fields each source kind needs, beyond the name and emissions.
SOURCE_FIELDS = {
    "point": ("x", "y", "height"),
    "puff": ("x", "y", "height"),
    "area": ("x_min", "x_max", "y_min", "y_max", "height"),
    "volume": ("x_min", "x_max", "y_min", "y_max", "z_min", "z_max"),
}


#: ``output.render``: ``auto`` renders when it can, ``true`` insists, ``false`` never renders.
RENDER_CHOICES = ("auto", "true", "false")


# --- from whatever the caller has to a typed RunConfig -------------------------------------------
def plain_config(cfg: Any) -> dict:
    """A plain, resolved ``dict`` from a DictConfig or any mapping.

    Tasks defined above the engine (``scenarios/``, ``validation/``) call this on what the CLI
    hands them, so they never need OmegaConf themselves.
    """
    if isinstance(cfg, DictConfig):
        try:
            return OmegaConf.to_container(cfg, resolve=True)
        except OmegaConfBaseException as exc:
            raise omegaconf_error(exc) from None
    if isinstance(cfg, dict):
        return cfg
    try:
        return dict(cfg)
    except (TypeError, ValueError):
        raise ConfigError("config", f"expected a mapping of settings, got {type(cfg).__name__}") from None


def to_run_config(cfg: Any) -> RunConfig:
    """A :class:`RunConfig` (dataclass tree) from a RunConfig, a DictConfig or a plain dict.

    The input is merged onto the schema, so unknown keys and wrong types are refused here too
    when the caller did not compose with Hydra; a value left ``???`` is refused by name.
    """
    if isinstance(cfg, RunConfig):
        node = OmegaConf.structured(cfg)
    else:
        if not isinstance(cfg, (DictConfig, dict)):
            raise ConfigError("config", f"expected a RunConfig, DictConfig or dict, got {type(cfg).__name__}")
        try:
            # Through a plain container: merging a DictConfig would carry over keys that Hydra let
            # in with `+key=value` and that the dataclasses would then silently drop.
            plain = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
            node = OmegaConf.merge(OmegaConf.structured(RunConfig), plain)
        except OmegaConfBaseException as exc:
            raise omegaconf_error(exc) from None
    missing = sorted(OmegaConf.missing_keys(node))
    if missing:
        raise ConfigError(missing[0], "is required but has no value; set it, e.g. plumetwin run "
                                      f"{missing[0]}=<value>")
    try:
        return OmegaConf.to_object(node)
    except OmegaConfBaseException as exc:  # an interpolation that does not resolve
        raise omegaconf_error(exc) from None


def omegaconf_error(exc: OmegaConfBaseException) -> ConfigError:
    """A ConfigError keyed like the OmegaConf error (unknown key, wrong type...)."""
    message = (getattr(exc, "msg", None) or str(exc)).strip().splitlines()[0]
    key = getattr(exc, "full_key", None) or "config"
    if "is not in struct" in message:  # a new entry of a free-form mapping such as emissions
        override = re.sub(r"\[(\d+)\]", r".\1", str(key))  # sources[0].x -> sources.0.x
        hint = f"; add a new entry with a leading +, e.g. +{override}=<value>"
    elif "not in" in message:  # a key the dataclass schema does not have
        hint = "; check the spelling (`plumetwin run --cfg job` prints every valid key)"
    else:
        hint = ""
    return ConfigError(str(key), message + hint)


# --- small checks ---------------------------------------------------------------------------------
def _finite(key: str, value: Any, what: str = "a number") -> float:
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(key, f"must be {what}, got {value!r}")
    return float(value)


def _positive(key: str, value: Any, unit: str) -> float:
    if value is None or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0:
        raise ConfigError(key, f"must be > 0 {unit}, got {value!r}")
    return float(value)


def _non_negative(key: str, value: Any, unit: str) -> float:
    value = _finite(key, value, f"a finite value >= 0 {unit}")
    if value < 0:
        raise ConfigError(key, f"must be >= 0 {unit}, got {value!r}")
    return value


def _one_of(key: str, value: Any, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(key, f"unknown value {value!r}; use one of {', '.join(allowed)}")
    return value


def _unique_names(group: str, items: list) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if not item.name or not str(item.name).strip():
            raise ConfigError(f"{group}[{i}].name", "must not be empty")
        if item.name in seen:
            raise ConfigError(f"{group}[{i}].name", f"{item.name!r} is already used by {group}[{seen[item.name]}]; "
                                                    "names must be unique")
        seen[item.name] = i


def item_key(group: str, index: int, name: str, field: str = "") -> str:
    """``sources[2].unit (stack_C)``: the key path of a list entry's field, with its name."""
    return f"{group}[{index}]{'.' + field if field else ''} ({name})"


# --- the checks -----------------------------------------------------------------------------------
def check_config(cfg: RunConfig) -> None:
    """Every check that needs no grid, cheapest and most basic first."""
    if not cfg.name or any(c in cfg.name for c in "/\\") or cfg.name.strip() != cfg.name:
        raise ConfigError("name", "must be a plain file-name stem (no slashes or spaces at the ends), "
                                  f"got {cfg.name!r}")
    _one_of("limiter", cfg.limiter, LIMITERS)
    _one_of("vertical_diffusion", cfg.vertical_diffusion, VERTICAL_SCHEMES)
    _one_of("backend.name", cfg.backend.name, BACKEND_NAMES)
    _one_of("backend.dtype", cfg.backend.dtype, DTYPES)
    check_grid(cfg)
    check_time(cfg)
    check_met(cfg)
    check_species(cfg)
    check_sources(cfg)
    check_receptors(cfg)
    check_output(cfg)
    if cfg.resume is not None and not Path(cfg.resume).is_file():
        raise ConfigError("resume", f"checkpoint file {cfg.resume} does not exist; give the path of a "
                                    "<name>.checkpoint.h5 written by an earlier run, or null")


def check_grid(cfg: RunConfig) -> None:
    g = cfg.grid
    for key, value in (("grid.nx", g.nx), ("grid.ny", g.ny), ("grid.nz", g.nz)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(key, f"must be a whole number of cells >= 1, got {value!r}")
    for key, value in (("grid.dx", g.dx), ("grid.dy", g.dy), ("grid.dz_bottom", g.dz_bottom)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(key, f"must be a positive spacing in metres, got {value!r}")
    stretch = _finite("grid.stretch", g.stretch)
    if stretch < 1:
        raise ConfigError("grid.stretch", f"must be >= 1 (1 means uniform levels), got {stretch!r}")
    if not math.isfinite(g.dz_bottom * stretch ** g.nz):
        raise ConfigError("grid.stretch", f"{stretch} ** {g.nz} levels overflows; use a ratio closer to 1")
    _finite("grid.origin_x", g.origin_x)
    _finite("grid.origin_y", g.origin_y)
    for i, side in enumerate(g.closed_boundaries):
        _one_of(f"grid.closed_boundaries[{i}]", side, SIDES)
    _unique_names("grid.buildings", g.buildings)
    for i, b in enumerate(g.buildings):
        for name in ("x_min", "x_max", "y_min", "y_max"):
            _finite(item_key("grid.buildings", i, b.name, name), getattr(b, name), "a coordinate in metres")
        if not (b.x_min < b.x_max and b.y_min < b.y_max):
            raise ConfigError(item_key("grid.buildings", i, b.name),
                              "needs x_min < x_max and y_min < y_max, "
                              f"got x {b.x_min:g}–{b.x_max:g}, y {b.y_min:g}–{b.y_max:g}")
        _positive(item_key("grid.buildings", i, b.name, "height"), b.height, "m")


def check_time(cfg: RunConfig) -> None:
    t = cfg.time
    if not isinstance(t.stop, (int, float)) or not math.isfinite(t.stop) or t.stop <= 0:
        raise ConfigError("time.stop", f"must be > 0 s of model time, got {t.stop!r}")
    if t.dt is not None:
        _positive("time.dt", t.dt, "s (or null for adaptive steps)")
    if not isinstance(t.cfl, (int, float)) or not 0 < t.cfl <= 1:
        raise ConfigError("time.cfl", f"must be in (0, 1], got {t.cfl!r}")
    _positive("time.max_dt", t.max_dt, "s")


def check_met(cfg: RunConfig) -> None:
    m = cfg.met
    _one_of("met.profile", m.profile, PROFILE_KINDS)
    _one_of("met.wind_model", m.wind_model, WIND_MODELS)
    _positive("met.vertical_weight", m.vertical_weight, "")
    if m.building_zones and m.wind_model != "mass_consistent":
        raise ConfigError("met.building_zones", "needs met.wind_model=mass_consistent: the zones are put into the "
                                                "initial wind that the adjustment makes divergence-free")
    _one_of("met.stability", m.stability, tuple(GOLDER_COEFFICIENTS))
    _one_of("met.terrain", m.terrain, tuple(POWER_LAW_EXPONENTS))
    _positive("met.reference_height", m.reference_height, "m")
    _positive("met.roughness_length", m.roughness_length, "m")
    if m.obukhov_length is not None and (m.obukhov_length == 0 or math.isnan(m.obukhov_length)):
        raise ConfigError("met.obukhov_length", f"must be non-zero (m: < 0 unstable, > 0 stable, inf neutral) or "
                                                f"null for the stability class's, got {m.obukhov_length!r}")
    if not m.rain_rate >= 0:
        raise ConfigError("met.rain_rate", f"must be >= 0 mm/h, got {m.rain_rate!r}")
    if not -90 <= m.latitude <= 90 or not -180 <= m.longitude <= 180:
        raise ConfigError("met.latitude", f"({m.latitude}, {m.longitude}) is not a latitude/longitude in degrees")
    if not 200 < m.temperature < 350:
        raise ConfigError("met.temperature", f"{m.temperature!r} K is not an air temperature; give kelvin "
                                             "(°C + 273.15)")
    if m.roughness_length >= m.reference_height:
        raise ConfigError("met.roughness_length", f"must be below met.reference_height ({m.reference_height:g} m), "
                                                  f"got {m.roughness_length:g}")
    if m.exponent is not None:
        _non_negative("met.exponent", m.exponent, "")
    d = m.diffusivity
    _one_of("met.diffusivity.kind", d.kind, DIFFUSIVITY_KINDS)
    _non_negative("met.diffusivity.kh", d.kh, "m²/s")
    _non_negative("met.diffusivity.kz", d.kz, "m²/s")
    if d.mixing_height is not None:
        _positive("met.diffusivity.mixing_height", d.mixing_height, "m (or null for the class default)")
    # Stability-class diffusivities scale with the friction velocity: a calm gives none.
    speed_rule = "> 0 m/s for stability diffusivities" if d.kind == "stability" else ">= 0 m/s"
    for key, speed, direction in member_winds(cfg):
        speed = _finite(f"{key}.speed", speed, "a finite wind speed in m/s")
        if speed < 0 or (d.kind == "stability" and speed == 0):
            raise ConfigError(f"{key}.speed", f"must be {speed_rule}, got {speed:g}")
        _finite(f"{key}.direction", direction, "a direction in degrees from north")


def member_winds(cfg: RunConfig) -> list[tuple[str, float, float]]:
    """``(key, speed m/s, direction deg)`` of every ensemble member (the base wind if none)."""
    m = cfg.met
    if m.members is None:
        return [("met", m.speed, m.direction)]
    if len(m.members) == 0:
        raise ConfigError("met.members", "is an empty list; give one entry per member, or null for one member")
    return [(f"met.members[{i}]", m.speed if e.speed is None else e.speed,
             m.direction if e.direction is None else e.direction) for i, e in enumerate(m.members)]


def check_species(cfg: RunConfig) -> None:
    if not cfg.species:
        raise ConfigError("species", "must list at least one transported species")
    _unique_names("species", cfg.species)
    for i, s in enumerate(cfg.species):
        if s.molar_mass is not None:
            _positive(item_key("species", i, s.name, "molar_mass"), s.molar_mass, "kg/mol (or null for particles)")
        _non_negative(item_key("species", i, s.name, "decay_rate"), s.decay_rate, "1/s")
        _non_negative(item_key("species", i, s.name, "deposition_velocity"), s.deposition_velocity, "m/s")
        _non_negative(item_key("species", i, s.name, "background"), s.background, "kg/m³")


def source_factor(index: int, source) -> float:
    """kg/s (kg for a puff) per unit of the source's emissions; refuses unknown units."""
    if source.kind == "puff":
        unit = source.unit or "kg"
        if unit not in MASS_UNITS:
            raise ConfigError(item_key("sources", index, source.name, "unit"),
                              f"a puff releases masses: use one of {', '.join(MASS_UNITS)}, got {unit!r}")
        return MASS_UNITS[unit]
    unit = source.unit or "g/s"
    if unit not in RATE_UNITS:
        raise ConfigError(item_key("sources", index, source.name, "unit"),
                          f"unknown emission unit {unit!r}; use one of {', '.join(RATE_UNITS)}")
    return convert_rate(1.0, unit)


def check_sources(cfg: RunConfig) -> None:
    _unique_names("sources", cfg.sources)
    species = [s.name for s in cfg.species]
    for i, src in enumerate(cfg.sources):
        key = lambda field="", i=i, src=src: item_key("sources", i, src.name, field)  # noqa: E731
        _one_of(key("kind"), src.kind, SOURCE_KINDS)
        for name in SOURCE_FIELDS[src.kind]:
            _finite(key(name), getattr(src, name), f"given (in m) for a {src.kind} source")
        if not src.emissions:
            raise ConfigError(key("emissions"), f"names no species; give rates such as {{{species[0]}: 1.0}}")
        for name, value in src.emissions.items():
            if name not in species:
                raise ConfigError(key(f"emissions.{name}"), f"species {name!r} is not transported; known species: "
                                                            f"{', '.join(species)} (add it to species or remove it)")
            _non_negative(key(f"emissions.{name}"), value, "")
        source_factor(i, src)
        _finite(key("start"), src.start, "a time in s")
        if src.stop is not None and not (isinstance(src.stop, (int, float)) and src.stop > src.start):
            raise ConfigError(key("stop"), f"must be after start ({src.start:g} s), or null for no end; "
                                           f"got {src.stop!r}")
        times, factors = src.profile_times, src.profile_factors
        if (times is None) != (factors is None):
            raise ConfigError(key("profile_times"), "profile_times and profile_factors must be given together")
        if times is not None:
            if len(times) == 0 or len(times) != len(factors):
                raise ConfigError(key("profile_factors"), f"needs one factor per time: {len(times)} times, "
                                                          f"{len(factors)} factors")
            if any(b <= a for a, b in zip(times, times[1:])):
                raise ConfigError(key("profile_times"), f"must increase strictly, got {list(times)}")
            if any(not math.isfinite(f) or f < 0 for f in factors):
                raise ConfigError(key("profile_factors"), f"must be finite and >= 0, got {list(factors)}")


def check_receptors(cfg: RunConfig) -> None:
    _unique_names("receptors", cfg.receptors)
    for i, r in enumerate(cfg.receptors):
        for name in ("x", "y", "z"):
            _finite(item_key("receptors", i, r.name, name), getattr(r, name), "a coordinate in metres")


def check_output(cfg: RunConfig) -> None:
    o = cfg.output
    species = [s.name for s in cfg.species]
    _positive("output.field_interval", o.field_interval, "s")
    _positive("output.receptor_interval", o.receptor_interval, "s")
    for key, value in (("output.checkpoint_every", o.checkpoint_every), ("output.nan_check_every", o.nan_check_every)):
        if value < 0:
            raise ConfigError(key, f"must be a number of iterations >= 0 (0 turns it off), got {value}")
    if o.field_levels is not None:
        if not o.field_levels:
            raise ConfigError("output.field_levels", "is empty; give level indices such as [0, 1], or null for all")
        for i, level in enumerate(o.field_levels):
            if not 0 <= level < cfg.grid.nz:
                raise ConfigError(f"output.field_levels[{i}]",
                                  f"level {level} is not in 0..{cfg.grid.nz - 1} (grid.nz)")
        if 0 not in o.field_levels:
            raise ConfigError("output.field_levels",
                              f"must include level 0 for the ground map, got {list(o.field_levels)}")
    if o.field_species is not None:
        if not o.field_species:
            raise ConfigError("output.field_species", "is empty; give species names, or null for all")
        for i, name in enumerate(o.field_species):
            if name not in species:
                raise ConfigError(f"output.field_species[{i}]", f"species {name!r} is not transported; "
                                                                f"known species: {', '.join(species)}")
    shown = species if o.field_species is None else list(o.field_species)
    if o.map_species is not None and o.map_species not in shown:
        raise ConfigError("output.map_species", f"species {o.map_species!r} is not in the field output; "
                                                f"use one of {', '.join(shown)} (or null for the first)")
    _one_of("output.map_statistic", o.map_statistic, MAP_STATISTICS)
    _one_of("output.map_units", o.map_units, concentration_units())
    render = _one_of("output.render", str(o.render).lower(), RENDER_CHOICES)
    for key, wanted in (("output.vtk", o.vtk), ("output.render", render == "true")):
        if wanted and o.field_levels is not None:
            raise ConfigError(key, "the 3D scene needs every level written; set output.field_levels=null "
                                   f"(now {list(o.field_levels)}) or {key}=false")
    mapped = next(s for s in cfg.species if s.name == (o.map_species or shown[0]))
    if o.map_units in ("ppm", "ppb") and mapped.molar_mass is None:
        raise ConfigError("output.map_units", f"{o.map_units} needs the molar mass of {mapped.name}, which has none "
                                              "(a particle); use ug/m3 or mg/m3")

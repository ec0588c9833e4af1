"""From a run configuration to engine objects: grid, meteorology, model and simulation.

:func:`build` validates the whole configuration before computing anything: first the checks of
:mod:`engine.app.validate`, then those that need the grid (sources and receptors inside the domain
and outside buildings). The output file is created last, so a configuration error never leaves a
result file behind. Emission units are converted to kg/s here, at the edge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from ..backend import resolve_backend
from ..callbacks import NaNGuard, ProgressBar
from ..checkpoint import Checkpointer
from ..errors import BackendUnavailableError, ConfigError
from ..grid import Grid, stretched_levels
from ..meteorology import Diffusivity, Wind, WindProfile, stability_diffusivity
from ..meteorology.plume_rise import Stack, briggs_rise
from ..meteorology.records import read_met_record
from ..meteorology.schedule import MeteorologySchedule, MeteorologySwitcher
from ..model import DispersionModel
from ..output import FieldWriter, ReceptorWriter, RunOutput
from ..sampling import PointSampler, point_weights
from ..schedules import TIME_TOLERANCE, IterationInterval, TimeInterval
from ..simulation import Simulation
from ..spatial import add_buildings, add_terrain_file, read_buildings
from ..sources import AreaSource, EmissionProfile, PointSource, PuffSource, Source, VolumeSource
from ..species import Species
from .schema import RunConfig
from .validate import check_config, item_key, member_winds, source_factor, to_run_config

log = logging.getLogger(__name__)


@dataclass
class BuiltRun:
    """Everything :func:`build` made; ``simulation.run()`` computes.

    ``output_path``, ``checkpoint_path`` and ``map_path`` are None when built without an output
    directory (then nothing is written).
    """

    config: RunConfig
    grid: Grid
    model: DispersionModel
    sampler: PointSampler | None
    simulation: Simulation
    output_path: Path | None = None
    checkpoint_path: Path | None = None
    map_path: Path | None = None
    map_species: str = ""


@dataclass(frozen=True)
class IntervalAndEnd:
    """Every ``interval`` seconds and at ``end`` (s), so the last state is always recorded
    whether or not the run length is a multiple of the interval."""

    interval: TimeInterval
    end: float

    def _at_end(self, time: float) -> bool:
        return abs(time - self.end) <= TIME_TOLERANCE * max(1.0, abs(self.end))

    def due(self, time: float, iteration: int) -> bool:
        return self.interval.due(time, iteration) or self._at_end(time)

    def next_time(self, time: float) -> float:
        end = self.end if time < self.end and not self._at_end(time) else np.inf
        return min(self.interval.next_time(time), end)


def data_path(name: str) -> Path:
    """A data file named in the config: absolute, or relative to the working directory, or else to
    the project (so the configs shipped in ``conf/`` work from any directory)."""
    path = Path(name)
    if path.is_absolute() or path.exists():
        return path
    project = Path(__file__).resolve().parents[2] / path
    return project if project.exists() else path


def _rekey(exc: ConfigError, engine_prefix: str, key: str) -> ConfigError:
    """The engine's error with its key (``sources.NAME...``) replaced by the config key path."""
    detail = str(exc)[len(exc.key) + 2:]
    return ConfigError(key, detail) if exc.key.startswith(engine_prefix) else exc


# --- pieces ---------------------------------------------------------------------------------------
def build_grid(cfg: RunConfig) -> Grid:
    """The grid with its stretched levels and buildings, on the configured backend."""
    g = cfg.grid
    try:
        backend = resolve_backend(cfg.backend.name)
    except BackendUnavailableError as exc:
        raise ConfigError("backend.name", str(exc)) from None
    grid = Grid(nx=g.nx, ny=g.ny, dx=g.dx, dy=g.dy, z_faces=stretched_levels(g.nz, g.dz_bottom, g.stretch),
                origin=(g.origin_x, g.origin_y), crs=g.crs, dtype=cfg.backend.dtype, backend=backend)
    x0, x1, y0, y1, _, z1 = grid.extent
    for i, b in enumerate(g.buildings):
        if b.x_max <= x0 or b.x_min >= x1 or b.y_max <= y0 or b.y_min >= y1:
            raise ConfigError(item_key("grid.buildings", i, b.name),
                              f"box x {b.x_min:g}–{b.x_max:g}, y {b.y_min:g}–{b.y_max:g} m lies outside the domain "
                              f"x {x0:g}–{x1:g}, y {y0:g}–{y1:g}; move it inside or remove it")
        if b.height >= z1:
            raise ConfigError(item_key("grid.buildings", i, b.name, "height"),
                              f"{b.height:g} m reaches the domain top ({z1:g} m); raise grid.nz or grid.stretch")
        before = int(grid.solid.sum())
        grid.add_box(b.x_min, b.x_max, b.y_min, b.y_max, b.height)
        if int(grid.solid.sum()) == before:
            # A box between cell centres vanishes silently; say so, it is usually a unit slip.
            log.warning("grid.buildings[%d] (%s) covers no cell centre and has no effect at dx=%g m", i, b.name, g.dx)
    heights = None
    if g.terrain_file:
        heights = add_terrain_file(grid, data_path(g.terrain_file))
        log.info("terrain from %s: %.0f–%.0f m", g.terrain_file, heights.min(), heights.max())
    if g.buildings_file:
        footprints = read_buildings(data_path(g.buildings_file))
        cells = add_buildings(grid, footprints, source=f"grid.buildings_file {Path(g.buildings_file).name}",
                              ground=heights)
        log.info("buildings from %s: %d footprints, %d solid cells", g.buildings_file, len(footprints), cells)
    return grid


def wind_profile(m, speed: float, direction: float) -> WindProfile:
    """The configured profile for one member's speed and direction."""
    return WindProfile(speed=speed, direction=direction, kind=m.profile, reference_height=m.reference_height,
                       roughness_length=m.roughness_length, exponent=m.exponent, stability=m.stability,
                       terrain=m.terrain, obukhov_length=m.obukhov_length,
                       mixing_height=m.diffusivity.mixing_height)


@dataclass(frozen=True)
class BaseWeather:
    """The weather plume rise and the first hour use: speed (m/s at the reference height),
    direction (degrees), class and air temperature (K) — the config's, or a record's first row."""

    speed: float
    direction: float
    stability: str
    temperature: float
    mixing_height: float | None


def base_weather(cfg: RunConfig, records=None) -> BaseWeather:
    m = cfg.met
    if records:
        r = records[0]
        return BaseWeather(r.wind_speed, r.wind_direction, r.stability, r.temperature,
                           r.mixing_height if r.mixing_height is not None else m.diffusivity.mixing_height)
    return BaseWeather(m.speed, m.direction, m.stability, m.temperature, m.diffusivity.mixing_height)


def build_meteorology(cfg: RunConfig, grid: Grid, weather: BaseWeather | None = None) -> tuple[Wind, Diffusivity]:
    """One wind profile (and diffusivity) per ensemble member, in ``weather`` when given (one member)."""
    m = cfg.met
    if weather is not None:
        m = replace(m, speed=weather.speed, direction=weather.direction, stability=weather.stability,
                    temperature=weather.temperature,
                    diffusivity=replace(m.diffusivity, mixing_height=weather.mixing_height))
    profiles, parts = [], []
    for _, speed, direction in (member_winds(cfg) if weather is None else [(0, m.speed, m.direction)]):
        profiles.append(wind_profile(m, speed, direction))
        if m.diffusivity.kind == "stability":
            parts.append(stability_diffusivity(grid, m.stability, max(speed, MINIMUM_RECORD_WIND), m.reference_height,
                                               m.roughness_length, m.diffusivity.mixing_height,
                                               obukhov=m.obukhov_length))
    walls = list(cfg.grid.closed_boundaries)
    if m.wind_model == "mass_consistent":
        wind = Wind.mass_consistent(grid, profiles, closed_boundaries=walls, vertical_weight=m.vertical_weight,
                                    building_zones=m.building_zones)
        for i, r in enumerate(wind.adjustment):
            log.log(logging.DEBUG if weather is not None else logging.INFO,
                    "wind member %d: mass-consistent, divergence %.2e -> %.2e 1/s (%d CG iterations, %.2f s)",
                    i, r.divergence_before, r.divergence_after, r.iterations, r.seconds)
    else:
        wind = Wind.from_profiles(grid, profiles, closed_boundaries=walls)
    if m.diffusivity.kind == "constant":
        diffusivity = Diffusivity.constant(grid, m.diffusivity.kh, m.diffusivity.kz)  # shared by all members
    elif len(parts) == 1:
        diffusivity = parts[0]
    else:
        diffusivity = Diffusivity.from_members(grid, parts)
    return wind, diffusivity


def build_species(cfg: RunConfig) -> list[Species]:
    return [Species(s.name, molar_mass=s.molar_mass, decay_rate=s.decay_rate,
                    deposition_velocity=s.deposition_velocity, background=s.background,
                    scavenging_coefficient=s.scavenging_coefficient, scavenging_exponent=s.scavenging_exponent)
            for s in cfg.species]


def build_sources(cfg: RunConfig, grid: Grid, weather: BaseWeather | None = None, quiet: bool = False) -> list[Source]:
    """Engine sources with rates in kg/s (puffs: kg), each checked against the grid; stacks rise
    in ``weather`` (the base weather when None). ``quiet`` logs the plume rise at debug level."""
    sources: list[Source] = []
    for i, s in enumerate(cfg.sources):
        key = item_key("sources", i, s.name)
        factor = source_factor(i, s)
        rates = {name: float(value) * factor for name, value in s.emissions.items()}
        profile = (EmissionProfile() if s.profile_times is None
                   else EmissionProfile(tuple(s.profile_times), tuple(s.profile_factors)))
        common = dict(name=s.name, rates=rates, start=s.start, stop=np.inf if s.stop is None else s.stop,
                      profile=profile)
        if s.kind in ("point", "puff"):
            height = s.height
            if stack_given(s, key):
                height = effective_stack_height(cfg, s, key, grid, weather or base_weather(cfg), quiet)
            # Checked here, with the config key, rather than when the model compiles its sources.
            point_weights(grid, s.x, s.y, height, what=key)
            kind = PointSource if s.kind == "point" else PuffSource
            source = kind(**common, x=s.x, y=s.y, height=height)
        elif s.kind == "area":
            source = AreaSource(**common, x_min=s.x_min, x_max=s.x_max, y_min=s.y_min, y_max=s.y_max, height=s.height)
        else:
            source = VolumeSource(**common, x_min=s.x_min, x_max=s.x_max, y_min=s.y_min, y_max=s.y_max,
                                  z_min=s.z_min, z_max=s.z_max)
        try:
            source.cells(grid)
        except ConfigError as exc:
            raise _rekey(exc, f"sources.{s.name}", key) from None
        sources.append(source)
    return sources


#: Briggs' formulas divide by the wind speed; ISC3 and AERMOD hold it at 1 m/s or more.
MINIMUM_RISE_WIND = 1.0


def stack_given(s, key: str) -> bool:
    """Whether a source has stack exit conditions; all three or none."""
    values = {name: getattr(s.stack, name) for name in ("diameter", "exit_velocity", "exit_temperature")}
    missing = [name for name, value in values.items() if value is None]
    if missing and len(missing) < len(values):
        raise ConfigError(f"{key}.stack.{missing[0]}", "is required with the other stack exit conditions "
                                                       "(diameter m, exit_velocity m/s, exit_temperature K)")
    return not missing


def effective_stack_height(cfg: RunConfig, s, key: str, grid: Grid, weather: BaseWeather, quiet: bool = False) -> float:
    """Stack height plus Briggs final plume rise (m) in ``weather``."""
    m = replace(cfg.met, speed=weather.speed, direction=weather.direction, stability=weather.stability,
                temperature=weather.temperature)
    try:
        stack = Stack(height=s.height, diameter=s.stack.diameter, exit_velocity=s.stack.exit_velocity,
                      exit_temperature=s.stack.exit_temperature)
    except ConfigError as exc:
        raise ConfigError(f"{key}.{exc.key}", str(exc)[len(exc.key) + 2:]) from None
    profile = wind_profile(m, m.speed, m.direction)
    speed = max(float(profile.speed_at(np.array([s.height]))[0]), MINIMUM_RISE_WIND)
    rise = briggs_rise(stack, speed, m.temperature, m.stability)
    top = float(grid.z_faces[-1])
    if rise.effective_height >= top:
        raise ConfigError(f"{key}.height", f"stack {s.height:g} m + plume rise {rise.final:.1f} m reaches the "
                                           f"domain top ({top:g} m); raise grid.nz or grid.stretch")
    log.log(logging.DEBUG if quiet else logging.INFO,
            "plume rise: %s %.0f m stack (downwash: %.1f m) + %.1f m %s rise in %.1f m/s, class %s -> %.1f m",
             s.name, s.height, rise.release_height, rise.final, rise.dominated_by, speed, m.stability,
             rise.effective_height)
    return rise.effective_height


def build_sampler(cfg: RunConfig, grid: Grid) -> PointSampler | None:
    """Receptors as a point sampler (None when there are none)."""
    if not cfg.receptors:
        return None
    for i, r in enumerate(cfg.receptors):
        point_weights(grid, r.x, r.y, r.z, what=item_key("receptors", i, r.name))
    return PointSampler(grid, [(r.x, r.y, r.z) for r in cfg.receptors], names=[r.name for r in cfg.receptors])


#: Calm hours of a record still get turbulence: stability diffusivities are computed from at
#: least this reference wind (m/s); the wind itself stays as recorded.
MINIMUM_RECORD_WIND = 0.5


def build_met_schedule(cfg: RunConfig, grid: Grid, records) -> MeteorologySchedule:
    """One wind and diffusivity per record, solved when the run reaches it; identical hours share
    one solve (keyed on the rounded speed, direction, class, mixing height and temperature).
    Stacks with exit conditions get each hour's plume rise, computed (and checked against the
    domain top) here, before the run starts."""
    weathers = [base_weather(cfg, [record]) for record in records]
    keys = [(round(w.speed / 0.05), round(w.direction / 0.5) % 720, w.stability, w.mixing_height,
             round(w.temperature, 1)) for w in weathers]
    rising = any(s.kind in ("point", "puff") and stack_given(s, item_key("sources", i, s.name))
                 for i, s in enumerate(cfg.sources))
    sources = ([build_sources(cfg, grid, weather, quiet=True) for weather in weathers] if rising else None)
    for n, first in enumerate(sources[0] if sources else []):
        heights = [getattr(hour[n], "height", None) for hour in sources]
        if isinstance(first, PointSource) and len(set(heights)) > 1:
            log.info("plume rise: %s's effective height follows the record, %.1f–%.1f m",
                     first.name, min(heights), max(heights))
    return MeteorologySchedule([r.time for r in records], keys,
                               lambda index: build_meteorology(cfg, grid, weathers[index]),
                               rain=[r.rain_rate if r.rain_rate is not None else cfg.met.rain_rate for r in records],
                               sources=sources)


def read_records(cfg: RunConfig):
    """The met record's rows (None without one), checked to cover the run."""
    m = cfg.met
    if not m.record:
        return None
    if m.members:
        raise ConfigError("met.members", "an ensemble and a met record together are not supported yet; "
                                         "drop met.members or met.record")
    records = read_met_record(data_path(m.record), m.latitude, m.longitude)
    log.info("met record %s: %d rows drive the wind speed and direction, stability, temperature and mixing "
             "height hour by hour (met.speed, met.direction, met.stability and met.temperature are not used)",
             Path(m.record).name, len(records))
    spacing = records[-1].time - records[-2].time if len(records) > 1 else 3600.0
    covered = records[-1].time + spacing
    if cfg.time.stop > covered * (1 + 1e-12):
        raise ConfigError("time.stop", f"{cfg.time.stop:g} s runs past the met record {Path(m.record).name}, which "
                                       f"covers {covered:g} s from {records[0].timestamp.isoformat()}")
    return records


def build_model(cfg: RunConfig) -> tuple[DispersionModel, PointSampler | None]:
    """Grid, meteorology, species, sources and receptors: the model, not yet run."""
    model, sampler, _ = build_model_and_met(cfg)
    return model, sampler


def build_model_and_met(cfg: RunConfig):
    """:func:`build_model` plus the met schedule of a recorded period (None without one)."""
    grid = build_grid(cfg)
    records = read_records(cfg)
    schedule = build_met_schedule(cfg, grid, records) if records else None
    if schedule is not None:
        wind, diffusivity = schedule.entry(schedule.index_at(0.0))
    else:
        wind, diffusivity = build_meteorology(cfg, grid)
    species = build_species(cfg)
    sources = build_sources(cfg, grid, base_weather(cfg, records))
    sampler = build_sampler(cfg, grid)
    model = DispersionModel(grid, wind, diffusivity, species, sources, limiter=cfg.limiter,
                            vertical_diffusion=cfg.vertical_diffusion)
    model.transport.set_rain(schedule.rain[0] if schedule is not None else cfg.met.rain_rate)
    return model, sampler, schedule


# --- the whole run ----------------------------------------------------------------------------------
def build(cfg: Any, output_dir: str | Path | None = None, attributes: dict | None = None) -> BuiltRun:
    """Validate ``cfg`` and build a ready-to-run simulation.

    Parameters
    ----------
    cfg:
        A :class:`~engine.app.schema.RunConfig`, a composed DictConfig or a plain dict.
    output_dir:
        Where ``<name>.h5`` (and a checkpoint, a NaN dump) go; None builds a simulation that
        writes nothing (for inspection and tests).
    attributes:
        Extra root attributes of the HDF5 file.

    Raises
    ------
    ConfigError
        On the first invalid value, naming its key, before any time step or file.
    """
    config = to_run_config(cfg)
    check_config(config)
    model, sampler, met_schedule = build_model_and_met(config)
    o, t = config.output, config.time
    callbacks: dict[str, Any] = {}
    if met_schedule is not None:
        callbacks["meteorology"] = MeteorologySwitcher(met_schedule, f"met record {Path(config.met.record).name}")
    writers: dict[str, Any] = {}
    output_path = checkpoint_path = map_path = None
    map_species = o.map_species or (o.field_species[0] if o.field_species else config.species[0].name)
    if output_dir is not None:
        out = Path(output_dir)
        output_path = out / f"{config.name}.h5"
        map_path = out / f"{config.name}_ground_{map_species}.png"
        fields = IntervalAndEnd(TimeInterval(o.field_interval), float(t.stop))
        writers["fields"] = FieldWriter(fields, species=None if o.field_species is None else list(o.field_species),
                                        levels=None if o.field_levels is None else list(o.field_levels))
        if sampler is not None:
            writers["receptors"] = ReceptorWriter(TimeInterval(o.receptor_interval), sampler)
        if o.checkpoint_every > 0:
            checkpoint_path = out / f"{config.name}.checkpoint.h5"
            callbacks["checkpoint"] = Checkpointer(IterationInterval(o.checkpoint_every), checkpoint_path)
        if o.nan_check_every > 0:
            callbacks["nan_guard"] = NaNGuard(IterationInterval(o.nan_check_every), out / f"{config.name}.lastgood.h5")
        callbacks["progress"] = ProgressBar(IterationInterval(10), enabled=o.progress)
    elif o.nan_check_every > 0:
        callbacks["nan_guard"] = NaNGuard(IterationInterval(o.nan_check_every))
    # The simulation checks a fixed dt against the stability limits: still before any output.
    simulation = Simulation(model, stop_time=float(t.stop), dt=t.dt, cfl=t.cfl, max_dt=t.max_dt,
                            callbacks=callbacks, writers=writers)
    if output_path is not None:
        yaml = OmegaConf.to_yaml(OmegaConf.structured(config))
        simulation.output = RunOutput(output_path, model, config_yaml=yaml,
                                      attributes={"task": "run", "name": config.name, **(attributes or {})})
    return BuiltRun(config=config, grid=model.grid, model=model, sampler=sampler, simulation=simulation,
                    output_path=output_path, checkpoint_path=checkpoint_path, map_path=map_path,
                    map_species=map_species)

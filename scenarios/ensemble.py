"""Run a set of members of one scenario together, in chunks that fit memory.

A scenario is a ``run``-style configuration (dict); an ensemble is that scenario plus a list of
member perturbation dicts (:mod:`scenarios.perturbations`). :func:`build_ensemble_model` turns
the two into one :class:`~engine.DispersionModel` whose member axis carries the perturbations
(one wind and diffusivity per member, emission factors per member and source, member-only copies
of moved or delayed sources); :func:`run_ensemble` splits the members into chunks that fit the
memory budget, advances each chunk's members together and keeps, per member, the time-mean
ground-level concentration and receptor concentrations over the averaging window.

Python use (for example by the release task)::

    from scenarios.perturbations import sample_members
    from scenarios.ensemble import build_ensemble_model, run_ensemble
    members = sample_members({"direction_sd": 15, "speed_sigma": 0.3}, 32, "lhs", seed=1)
    model, sampler = build_ensemble_model(run_dict, members)      # one chunk, all members
    result = run_ensemble(run_dict, members, average_from=1800.0)  # chunked, with a progress bar
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from engine import Diffusivity, DispersionModel, Grid, Wind, stability_diffusivity
from engine.app.build import (MINIMUM_RECORD_WIND, build_grid, build_sampler, build_sources, build_species,
                              wind_profile)
from engine.app.validate import check_config, to_run_config
from engine.errors import ConfigError
from engine.simulation import Simulation
from engine.sources import Source

from .ensemble_callbacks import ChunkProgress, WindowMean
from .perturbations import member_weather

log = logging.getLogger(__name__)

#: Working memory per member in a time step, in units of one member's state: the state, its
#: update and the advection, diffusion and limiter temporaries of :mod:`engine.transport`.
#: Measured on the NumPy backend (128 × 128 × 32, one species, float32): peak RSS grows by 31 MB
#: per member, 15.5 state sizes including the wind. With the wind term of :func:`bytes_per_member`
#: the estimate is 22 state sizes, about 40 % headroom.
WORK_ARRAYS_PER_STATE = 16
#: Default share of the memory that is free when the run starts.
MEMORY_SHARE = 0.5
#: Host budget cap (bytes) so an ensemble leaves room for the rest of a shared machine.
HOST_BUDGET_CAP = 4 * 2**30


# --- members onto the engine's member axis -------------------------------------------------------
def member_meteorology(cfg, grid: Grid, members: Sequence[Mapping[str, Any]]) -> tuple[Wind, Diffusivity]:
    """One wind and one diffusivity per member, from the run config's ``met`` and each member's weather.

    ``cfg`` is a :class:`~engine.app.schema.RunConfig`. Identical member weathers share one
    (mass-consistent) wind solve.
    """
    m = cfg.met
    profiles, parts = [], []
    solved: dict[tuple, int] = {}
    order: list[int] = []
    for member in members:
        weather = member_weather(member, m.speed, m.direction, m.stability, m.diffusivity.mixing_height,
                                 m.temperature)
        met = replace(m, stability=weather["stability"], temperature=weather["temperature"],
                      diffusivity=replace(m.diffusivity, mixing_height=weather["mixing_height"]))
        key = (round(weather["speed"], 6), round(weather["direction"], 6), weather["stability"],
               weather["mixing_height"])
        if key not in solved:
            solved[key] = len(profiles)
            profiles.append(wind_profile(met, weather["speed"], weather["direction"]))
            if m.diffusivity.kind == "stability":
                parts.append(stability_diffusivity(grid, weather["stability"], max(weather["speed"], MINIMUM_RECORD_WIND),
                                                   m.reference_height, m.roughness_length, weather["mixing_height"],
                                                   obukhov=m.obukhov_length))
        order.append(solved[key])
    walls = list(cfg.grid.closed_boundaries)
    if m.wind_model == "mass_consistent":
        unique = Wind.mass_consistent(grid, profiles, closed_boundaries=walls, vertical_weight=m.vertical_weight,
                                      building_zones=m.building_zones)
    else:
        unique = Wind.from_profiles(grid, profiles, closed_boundaries=walls)
    u, v, w = (a[order] for a in unique.host)
    wind = Wind(grid, u, v, w, closed_boundaries=walls)
    if m.diffusivity.kind == "constant":
        diffusivity = Diffusivity.constant(grid, m.diffusivity.kh, m.diffusivity.kz)
    else:
        diffusivity = Diffusivity.from_members(grid, [parts[i] for i in order])
    return wind, diffusivity


def split_by_species(sources: Sequence[Source]) -> list[Source]:
    """One source per (source, species), named ``source/species``, so that emission factors can
    differ between the species of one stack (a scrubber removes SO2, not dust)."""
    out: list[Source] = []
    for source in sources:
        for species, rate in source.rates.items():
            out.append(replace(source, name=f"{source.name}/{species}", rates={species: rate}))
    return out


def _parent(name: str) -> tuple[str, str | None]:
    base, _, species = name.partition("/")
    return base, species or None


def member_sources(sources: Sequence[Source], members: Sequence[Mapping[str, Any]],
                   released: Sequence[str] | None = None) -> tuple[list[Source], np.ndarray]:
    """Sources and ``(members, n_sources)`` emission factors for the members.

    Sources named in ``released`` (all when None) that a member moves (``release_dx``/``dy``, m)
    or delays (``release_delay``, s) become member-only copies; the others serve every member.
    A factor is the member's ``emission_factor`` times its ``source_factors[source][species]``.
    """
    names = {_parent(s.name)[0] for s in sources}
    if released is not None:
        unknown = sorted(set(released) - names)
        if unknown:
            raise ConfigError("ensemble.perturbations.release.sources", f"{unknown[0]!r} is not a source; "
                                                                        f"sources: {', '.join(sorted(names))}")
    moved = [any(member.get(k) for k in ("release_dx", "release_dy", "release_delay")) for member in members]
    shared: list[Source] = []
    own: list[Source] = []
    for source in sources:
        base, _ = _parent(source.name)
        if any(moved) and (released is None or base in released):
            for index, member in enumerate(members):
                dx, dy = float(member.get("release_dx", 0.0)), float(member.get("release_dy", 0.0))
                delay = float(member.get("release_delay", 0.0))
                changes: dict[str, Any] = {"name": f"{source.name}#{index}", "member": index,
                                           "start": source.start + delay, "stop": source.stop + delay}
                if hasattr(source, "x"):
                    changes.update(x=source.x + dx, y=source.y + dy)
                else:
                    changes.update(x_min=source.x_min + dx, x_max=source.x_max + dx,
                                   y_min=source.y_min + dy, y_max=source.y_max + dy)
                own.append(replace(source, **changes))
        else:
            shared.append(source)
    result = shared + own
    factors = np.ones((len(members), len(result)))
    for n, source in enumerate(result):
        base, species = _parent(source.name.split("#")[0])
        for index, member in enumerate(members):
            factor = float(member.get("emission_factor", 1.0))
            per_source = (member.get("source_factors") or {}).get(base) or {}
            if per_source:
                if species is None:
                    if len(set(per_source.values())) > 1 or set(per_source) != set(source.rates):
                        raise ConfigError("source_factors", f"{base}: species-specific factors need the "
                                                            "sources split by species (split_by_species)")
                    factor *= next(iter(per_source.values()))
                else:
                    factor *= float(per_source.get(species, 1.0))
            factors[index, n] = factor
    return result, factors


def needs_species_split(members: Sequence[Mapping[str, Any]]) -> bool:
    return any(member.get("source_factors") for member in members)


def build_ensemble_model(run: Any, members: Sequence[Mapping[str, Any]], released: Sequence[str] | None = None,
                         grid: Grid | None = None) -> tuple[DispersionModel, Any]:
    """One model whose member axis carries ``members``; returns ``(model, sampler)``.

    Parameters
    ----------
    run:
        A ``run`` configuration (dict, DictConfig or RunConfig); its ``met.members`` and
        ``met.record`` must be unset (members come from ``members``).
    members:
        Perturbation dicts (:mod:`scenarios.perturbations`).
    released:
        Names of the sources that release perturbations move (None: all).
    grid:
        A grid built before from the same config (saves rebuilding its buildings per chunk).
    """
    cfg = to_run_config(run)
    if cfg.met.members or cfg.met.record:
        raise ConfigError("met.members", "an ensemble takes its members from the ensemble block; set "
                                         "met.members=null and met.record=null (use ensemble.method=record)")
    if not members:
        raise ConfigError("ensemble.members", "no members to run")
    check_config(cfg)
    grid = grid or build_grid(cfg)
    wind, diffusivity = member_meteorology(cfg, grid, members)
    base = build_sources(cfg, grid)
    if needs_species_split(members):
        base = split_by_species(base)
    sources, factors = member_sources(base, members, released)
    model = DispersionModel(grid, wind, diffusivity, build_species(cfg), sources, emission_factors=factors,
                            limiter=cfg.limiter, vertical_diffusion=cfg.vertical_diffusion)
    model.transport.set_rain(cfg.met.rain_rate)
    return model, build_sampler(cfg, grid)


# --- memory and chunks ------------------------------------------------------------------------------
def available_memory(grid: Grid) -> int:
    """Bytes free for the ensemble: free device memory on a GPU, else free host memory (capped)."""
    if grid.backend.is_gpu:
        free, _ = grid.xp.cuda.runtime.memGetInfo()
        return int(free * MEMORY_SHARE)
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        free = 8 * 2**30
    return int(min(free * MEMORY_SHARE, HOST_BUDGET_CAP))


def bytes_per_member(grid: Grid, n_species: int) -> int:
    """Working memory (bytes) one member needs in a time step: state and temporaries, wind faces."""
    item = np.dtype(grid.float_type).itemsize
    state = grid.size * n_species * item * WORK_ARRAYS_PER_STATE
    wind = 3 * grid.size * item * 2  # face velocities and their Courant numbers
    return state + wind


def chunk_size(grid: Grid, n_species: int, n_members: int, budget: int | None = None) -> int:
    """Members per chunk so that a chunk fits ``budget`` bytes (default :func:`available_memory`)."""
    budget = available_memory(grid) if budget is None else int(budget)
    per = bytes_per_member(grid, n_species)
    if per > budget:
        raise ConfigError("ensemble.memory_budget_gb",
                          f"one member needs ~{per / 2**30:.2f} GiB but the budget is {budget / 2**30:.2f} GiB; "
                          "use a coarser grid, fewer species or a larger budget")
    return max(1, min(n_members, budget // per))


def chunks(n_members: int, size: int) -> list[range]:
    """Split ``range(n_members)`` into nearly equal consecutive chunks of at most ``size``."""
    count = math.ceil(n_members / size)
    edges = np.linspace(0, n_members, count + 1).round().astype(int)
    return [range(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


@dataclass
class EnsembleResult:
    """Per-member time means over the averaging window (host arrays, kg/m³).

    ``ground``: ``(member, species, ny, nx)`` at the lowest level; ``receptors``: ``(member,
    species, receptor)`` or None; ``steps``: time steps taken (summed over chunks);
    ``member_steps``: members × steps; ``wall_time``: s spent stepping; ``chunk_size``;
    ``chunk_callbacks``: ``(members range, {name: callback})`` per chunk (see :func:`run_ensemble`).
    """

    members: list[dict]
    species: list[str]
    receptor_names: list[str]
    ground: np.ndarray
    receptors: np.ndarray | None
    grid: Grid
    steps: int
    member_steps: int
    wall_time: float
    chunk_size: int
    average_from: float
    stop: float
    backend: str
    chunk_callbacks: list = field(default_factory=list)

    @property
    def member_steps_per_second(self) -> float:
        return self.member_steps / self.wall_time if self.wall_time > 0 else 0.0


def run_ensemble(run: Any, members: Sequence[Mapping[str, Any]], average_from: float | None = None,
                 released: Sequence[str] | None = None, memory_budget: int | None = None,
                 chunk: int | None = None, progress: bool = True, stop: float | None = None,
                 chunk_callbacks: Callable[[DispersionModel, Any, range], Mapping[str, Any]] | None = None
                 ) -> EnsembleResult:
    """Run every member to ``time.stop`` in memory-sized chunks and keep their window means.

    Parameters
    ----------
    run:
        The base ``run`` configuration (dict, DictConfig or RunConfig).
    members:
        Perturbation dicts.
    average_from:
        Start (s) of the averaging window, which ends at the stop time (None: 0, the whole run).
    released:
        Sources moved by release perturbations (None: all).
    memory_budget:
        Bytes a chunk may use (None: half the free device or host memory, host capped at 4 GiB).
    chunk:
        Members per chunk (None: from the budget).
    progress:
        Show a progress bar (tqdm) over member-seconds.
    stop:
        Overrides ``time.stop`` (s).
    chunk_callbacks:
        ``(model, sampler, members range) -> {name: callback}``: extra scheduled callbacks for each
        chunk (e.g. threat-zone or arrival-time accumulators); they are returned, with the members
        they saw, in ``EnsembleResult.chunk_callbacks``.
    """
    cfg = to_run_config(run)
    if stop is not None:
        cfg = replace(cfg, time=replace(cfg.time, stop=float(stop)))
    check_config(cfg)
    members = [dict(m) for m in members]
    grid = build_grid(cfg)
    n_species = len(cfg.species)
    size = chunk or chunk_size(grid, n_species, len(members), memory_budget)
    parts = chunks(len(members), size)
    start = 0.0 if average_from is None else float(average_from)
    t = cfg.time
    log.info("ensemble: %d members in %d chunk(s) of <= %d on %s", len(members), len(parts), size,
             grid.backend.name)
    # The adaptive step is the most restrictive member's; every chunk takes the whole ensemble's so
    # that a member's result does not depend on which chunk it ran in (one extra meteorology build
    # per chunk when there are several).
    max_dt = t.max_dt
    if len(parts) > 1 and t.dt is None:
        max_dt = min([max_dt] + [build_ensemble_model(cfg, [members[i] for i in part], released, grid=grid)[0]
                                 .stable_dt(t.cfl) for part in parts])
    bar = ChunkProgress(len(members) * t.stop, enabled=progress)
    grounds, receptors = [], []
    steps = member_steps = 0
    wall = 0.0
    names: list[str] = []
    collected: list[tuple[range, dict]] = []
    try:
        for part in parts:
            chunk_members = [members[i] for i in part]
            model, sampler = build_ensemble_model(cfg, chunk_members, released, grid=grid)
            names = [] if sampler is None else list(sampler.names)
            window = WindowMean(start, sampler)
            extra = dict(chunk_callbacks(model, sampler, part)) if chunk_callbacks is not None else {}
            collected.append((part, extra))
            sim = Simulation(model, stop_time=float(t.stop), dt=t.dt, cfl=t.cfl, max_dt=max_dt,
                             callbacks={"window": window, **extra, "progress": bar.callback(len(part))})
            sim.run()
            ground, at_receptors = window.means(grid.backend.to_host)
            grounds.append(ground.astype(grid.float_type))  # float32 runs keep float32 maps
            if at_receptors is not None:
                receptors.append(at_receptors)
            steps += model.iteration
            member_steps += model.iteration * len(part)
            wall += sim.wall_time
            del model, sim, window
    finally:
        bar.close()
    return EnsembleResult(members=members, species=[s.name for s in cfg.species], receptor_names=names,
                          ground=np.concatenate(grounds), receptors=np.concatenate(receptors) if receptors else None,
                          grid=grid, steps=steps, member_steps=member_steps, wall_time=wall, chunk_size=size,
                          average_from=start, stop=float(t.stop), backend=grid.backend.name,
                          chunk_callbacks=collected)

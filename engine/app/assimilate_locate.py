"""``assimilate`` with ``mode=locate`` and records: an unknown release located from sensor series.

The configured grid and (steady) meteorology give the linear transport; one backward run per
sensor gives its source–receptor sensitivities; the Bayesian inversion of
:mod:`engine.assimilation.source_estimation` weighs every cell of the release layer and every
start time, with the rate integrated out. The fixed step divides the readings' interval into an
even number of steps (the sweep order alternates every step).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..assimilation.adjoint import LinearTransport
from ..assimilation.backward import backward_sensitivities, continuous_release_response
from ..assimilation.maps import plot_credible_region
from ..assimilation.source_estimation import estimate_source
from ..errors import ConfigError
from .assimilate_output import write_location
from .validate import to_run_config


def _readings(records, stations, species: str, start, stop: float):
    """``(times (s), values (sensor, time))`` of the good rows of ``species`` within (0, stop] s."""
    ids = {str(s): n for n, s in enumerate(stations.station_id)}
    seconds = (np.asarray(records.time, dtype="datetime64[s]") - start).astype(np.float64)
    sensor = np.array([ids.get(str(s), -1) for s in records.station_id])
    keep = ((np.asarray(records.qc) == 0) & (sensor >= 0) & (np.asarray(records.species).astype(str) == species)
            & (seconds > 0) & (seconds <= stop) & np.isfinite(np.asarray(records.value, dtype=float)))
    if not keep.any():
        raise ConfigError("assimilation.records", f"holds no good (qc = 0) {species} reading at a usable station "
                                                  f"within time.stop = {stop:g} s of assimilation.start")
    times = np.unique(seconds[keep])
    values = np.full((len(stations), times.size), np.nan)
    values[sensor[keep], np.searchsorted(times, seconds[keep])] = np.asarray(records.value, dtype=float)[keep]
    return times, values


def locate_from_records(a: dict, output_dir: Path, name: str, plain: dict, attributes: dict | None) -> dict:
    from ..observations import read_sensor_records  # noqa: PLC0415
    from ..observations.times import parse_time  # noqa: PLC0415
    from ..sampling import PointSampler  # noqa: PLC0415
    from .build import build_model  # noqa: PLC0415

    config = to_run_config(plain)
    model, _ = build_model(config)
    grid = model.grid
    if model.members != 1:
        raise ConfigError("met.members", "locating a release needs one meteorology; drop met.members")
    records, report = read_sensor_records(a["records"], a.get("stations"), a.get("mapping"), grid=grid,
                                          species=model.species, start=str(a["start"]))
    (output_dir / f"{name}_qc.txt").write_text(str(report))
    stations = records.stations.subset(records.stations.usable)
    species_name = str(a.get("species") or model.species_names[0])
    species = next((s for s in model.species if s.name == species_name), None)
    if species is None:
        raise ConfigError("assimilation.species", f"{species_name!r} is not transported: {model.species_names}")
    times, values = _readings(records, stations, species_name, parse_time(str(a["start"])), config.time.stop)
    interval = float(np.min(np.diff(times))) if times.size > 1 else float(times[0])
    steps_per_interval = 2 * math.ceil(interval / (2 * model.stable_dt(config.time.cfl)))
    dt = interval / steps_per_interval
    steps = np.round(times / dt).astype(np.int64)
    if np.any(np.abs(steps * dt - times) > 1e-6 * dt) or np.any((steps[-1] - steps) % 2):
        raise ConfigError("assimilation.records", f"reading times must lie on a regular {interval:g} s grid "
                                                  "from assimilation.start to be inverted")
    sampler = PointSampler(grid, [tuple(p) for p in stations.positions])
    transport = LinearTransport(grid, model.wind, model.diffusivity, dt,
                                deposition_velocity=species.deposition_velocity, decay_rate=species.decay_rate,
                                advection=str(a["backward_advection"]),
                                compensate_numerical_diffusion=str(a["backward_advection"]) == "upwind")
    layer = grid.cell_index(grid.origin[0], grid.origin[1], float(a["release_height"]))[0]
    columns = np.flatnonzero(~grid.solid[layer].ravel())
    cells = layer * grid.nx * grid.ny + columns
    last = int(steps[-1])
    response = continuous_release_response(backward_sensitivities(transport, sampler, last, last, cells,
                                                                  progress=True))
    cell_xy = np.stack([grid.x_centres[columns % grid.nx], grid.y_centres[columns // grid.nx]], axis=1)
    estimate = estimate_source(response, steps, values, np.arange(0, last, 2), dt, cells, cell_xy,
                               relative_error=float(a["model_error"]), error_floor=float(a["error_floor"]),
                               max_rate=float(a["max_rate"]))
    png = plot_credible_region(estimate, grid, output_dir / f"{name}_credible_region.png",
                               np.stack([stations.x, stations.y], 1))
    h5 = write_location(output_dir / f"{name}.h5", estimate, None, plain, a, attributes)
    rate, rate_sd = estimate.rate_mean_std
    start, start_sd = estimate.start_mean_std
    return {"name": name, "h5": str(h5), "png": str(png), "found_xy": estimate.position, "rate": rate,
            "rate_sd": rate_sd, "start": start, "start_sd": start_sd, "sensors": len(stations),
            "readings": int(np.isfinite(values).sum()), "region_cells": int(estimate.credible_region(0.9).sum())}

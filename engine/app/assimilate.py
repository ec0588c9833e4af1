"""The ``assimilate`` task: sensor records → analysed fields and corrected emissions; or a leak located.

Modes (``assimilation.mode``):

- ``records``: the configured model (grid, met, sources) as an ensemble — wind directions and
  emission factors perturbed — cycles through recorded sensor data (``assimilation.records`` and
  ``assimilation.stations``, read by :func:`engine.observations.read_sensor_records`, or a
  plumetwin run file whose receptors become the sensors).
- ``twin``: the built-in twin experiment (hidden truth, 16 sensors of which 4 are withheld).
- ``locate``: an unknown release located from backward runs, with the map of its credible region:
  from recorded series (``assimilation.records``) with the configured grid and steady meteorology,
  or, without records, the built-in source-location twin.

Every mode writes ``<name>.h5`` atomically: analysed ensemble mean and spread per cycle,
emission factors, innovation statistics (``locate``: the posterior and the estimate).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..assimilation import EmissionAugmentation, EnKF, LETKF, AssimilationCallback
from ..errors import ConfigError
from ..schedules import TimeInterval
from .assimilate_output import AnalysisRecorder, write_assimilation, write_location
from .validate import plain_config, to_run_config

log = logging.getLogger(__name__)

SECTION = "assimilation"


def make_filter(a: dict):
    kind = str(a.get("filter", "letkf")).lower()
    if kind == "letkf":
        return LETKF(radius=float(a["radius"]), inflation=float(a["inflation"]), rtps=float(a["rtps"]))
    if kind == "enkf":
        return EnKF(inflation=float(a["inflation"]), rtps=float(a["rtps"]), seed=int(a["seed"]))
    raise ConfigError("assimilation.filter", f"unknown filter {kind!r}; use letkf or enkf")


def assimilate_task(cfg: Any, output_dir: str | Path | None = None, attributes: dict | None = None) -> dict:
    """Run the configured assimilation mode; returns a summary (see :func:`report_assimilate`)."""
    started = time.perf_counter()
    plain = plain_config(cfg)
    plain.pop("hydra", None)
    a = plain.pop(SECTION, None) or {}
    name = plain.get("name", "assimilate")
    output_dir = Path(output_dir or Path("results") / name)
    output_dir.mkdir(parents=True, exist_ok=True)
    mode = a.get("mode", "twin")
    if mode == "locate" and a.get("records"):
        from .assimilate_locate import locate_from_records  # noqa: PLC0415

        summary = locate_from_records(a, output_dir, name, plain, attributes)
    elif mode == "locate":
        summary = _locate(a, output_dir, name, plain, attributes)
    elif mode == "twin":
        summary = _twin(a, output_dir, name, plain, attributes)
    elif mode == "records":
        summary = _records(a, output_dir, name, plain, attributes)
    else:
        raise ConfigError("assimilation.mode", f"unknown mode {mode!r}; use records, twin or locate")
    summary.update(mode=mode, total_time=time.perf_counter() - started, output_dir=str(output_dir))
    return summary


def _twin(a, output_dir, name, plain, attributes):
    from ..assimilation.twin import assimilation_twin  # noqa: PLC0415

    recorder = AnalysisRecorder()
    result = assimilation_twin(make_filter(a), members=int(a["members"]), seed=int(a["seed"]),
                               bias=float(a["twin_bias"]), cycle=float(a["cycle_s"]),
                               duration=float(a["twin_duration_s"]), on_analysis=recorder)
    callback_records = result.innovations
    extra = {"rmse_free": result.rmse_free, "rmse_assimilated": result.rmse_assimilated,
             "true_rate": result.true_rate, "prior_rate": result.prior_rate,
             "estimated_rate": result.estimated_rate, "rate_spread": result.rate_spread}
    h5 = write_assimilation(output_dir / f"{name}.h5", recorder, callback_records, ["stack"],
                            [f"sensor{i}" for i in range(len(result.sensors))], result.sensors, plain, a, attributes,
                            twin=extra)
    return {"name": name, "h5": str(h5), "analyses": len(callback_records), **extra,
            "rmse_reduction": result.rmse_reduction}


def _locate(a, output_dir, name, plain, attributes):
    from ..assimilation.maps import plot_credible_region  # noqa: PLC0415
    from ..assimilation.source_twin import sensor_lattice, source_twin  # noqa: PLC0415
    from ..assimilation.twin import TwinDomain  # noqa: PLC0415

    domain = TwinDomain()
    result = source_twin(int(a["seed"]), domain, relative_error=float(a["model_error"]), progress=True)
    estimate = result.estimate
    png = plot_credible_region(estimate, domain.grid(), output_dir / f"{name}_credible_region.png",
                               np.asarray(sensor_lattice(domain))[:, :2], truth_xy=result.true_xy)
    h5 = write_location(output_dir / f"{name}.h5", estimate, result, plain, a, attributes)
    rate, rate_sd = estimate.rate_mean_std
    start, start_sd = estimate.start_mean_std
    return {"name": name, "h5": str(h5), "png": str(png), "true_xy": result.true_xy, "found_xy": estimate.position,
            "cells_off": result.distance_cells, "inside_90": result.inside_region, "true_rate": result.true_rate,
            "rate": rate, "rate_sd": rate_sd, "true_start": result.true_start, "start": start, "start_sd": start_sd,
            "region_cells": int(estimate.credible_region(0.9).sum())}


def _records(a, output_dir, name, plain, attributes):
    from ..observations import ObservationCallback, ObservationOperator, read_sensor_records  # noqa: PLC0415
    from ..callbacks import ProgressBar  # noqa: PLC0415
    from ..schedules import IterationInterval  # noqa: PLC0415
    from ..observations.times import parse_time  # noqa: PLC0415
    from ..simulation import Simulation  # noqa: PLC0415
    from .assimilate_records import RecordsFeed  # noqa: PLC0415
    from .build import build_model  # noqa: PLC0415

    if not a.get("records"):
        raise ConfigError("assimilation.records", "mode=records needs a records file: assimilation.records=<path>")
    members = int(a["members"])
    rng = np.random.default_rng(int(a["seed"]))
    met = dict(plain.get("met") or {})
    base = float(met.get("direction", 270.0))
    spread = float(a["direction_sigma"])
    met["members"] = [{"direction": float((base + spread * z) % 360)} for z in rng.standard_normal(members)]
    plain["met"] = met
    config = to_run_config(plain)
    model, _ = build_model(config)
    records, report = read_sensor_records(a["records"], a.get("stations"), a.get("mapping"), grid=model.grid,
                                          species=model.species, start=str(a["start"]))
    (output_dir / f"{name}_qc.txt").write_text(str(report))
    stations = records.stations.subset(records.stations.usable)
    if len(stations) == 0:
        raise ConfigError("assimilation.stations", "no usable station inside the domain; see the QC report")
    # Records are averaged over each cycle window, so the members' values are too: sampled every
    # step and averaged over the same window by the observation operator's time average.
    operator = ObservationOperator(model.grid, stations, model.species_names, averaging_s=float(a["cycle_s"]))
    sampling = ObservationCallback(operator, IterationInterval(1))
    feed = RecordsFeed(records, list(stations.station_id), model.species_names, parse_time(str(a["start"])),
                       float(a["cycle_s"]), float(a["relative_error"]), float(a["error_floor"]))
    names = list(a.get("estimate_sources") or [s.name for s in model.sources])
    augmentation = None
    if names:
        augmentation = EmissionAugmentation.lognormal(names, members, float(a["emission_sigma"]), rng)
    recorder = AnalysisRecorder()
    callback = AssimilationCallback(TimeInterval(float(a["cycle_s"])), make_filter(a), operator,
                                    np.stack([stations.x, stations.y], 1), feed, augmentation, on_analysis=recorder,
                                    window=sampling.average)
    # Sampling comes first: at an analysis time the window must already hold that step's sample.
    sim = Simulation(model, stop_time=config.time.stop, cfl=config.time.cfl,
                     callbacks={"observations": sampling, "assimilation": callback, "progress": ProgressBar()})
    sim.run()
    if not callback.records:
        raise ConfigError("assimilation.start", "no record fell in any cycle window: check assimilation.start "
                                                "against the records' times and time.stop")
    h5 = write_assimilation(output_dir / f"{name}.h5", recorder, callback.records, names, list(stations.station_id),
                            np.stack([stations.x, stations.y, stations.z_agl], 1), plain, a, attributes,
                            augmentation=augmentation, model=model)
    last = callback.records[-1]
    summary = {"name": name, "h5": str(h5), "analyses": len(callback.records), "sensors": len(stations),
               "rms_innovation_first": callback.records[0].rms_innovation, "rms_innovation_last": last.rms_innovation}
    if augmentation is not None:
        summary["emission_factors"] = {n: float(np.mean(np.exp(augmentation.log_factors[:, k])))
                                       for k, n in enumerate(names)}
    return summary


def report_assimilate(summary: dict) -> None:
    mode = summary["mode"]
    if mode == "locate" and "true_xy" not in summary:
        print(f"release most probably at ({summary['found_xy'][0]:.0f}, {summary['found_xy'][1]:.0f}) m "
              f"({summary['readings']} readings from {summary['sensors']} sensors); 90 % credible region "
              f"{summary['region_cells']} cells")
        print(f"rate {summary['rate']:.3g} ± {summary['rate_sd']:.2g} kg/s; start {summary['start']:.0f} ± "
              f"{summary['start_sd']:.0f} s after assimilation.start")
        print(f"credible region map: {summary['png']}")
    elif mode == "locate":
        print(f"leak found at ({summary['found_xy'][0]:.0f}, {summary['found_xy'][1]:.0f}) m, "
              f"{summary['cells_off']} cells from the hidden source ({summary['true_xy'][0]:.0f}, "
              f"{summary['true_xy'][1]:.0f}) m; 90 % credible region {summary['region_cells']} cells")
        print(f"rate {summary['rate']:.3g} ± {summary['rate_sd']:.2g} kg/s (true {summary['true_rate']:.3g}); "
              f"start {summary['start']:.0f} ± {summary['start_sd']:.0f} s (true {summary['true_start']:.0f})")
        print(f"credible region map: {summary['png']}")
    elif mode == "twin":
        print(f"{summary['analyses']} analyses; RMSE at withheld sensors {summary['rmse_free']:.3g} (free) -> "
              f"{summary['rmse_assimilated']:.3g} kg/m3 ({100 * summary['rmse_reduction']:.0f} % lower)")
        print(f"emission rate: true {summary['true_rate']:.3g}, prior {summary['prior_rate']:.3g}, analysed "
              f"{summary['estimated_rate']:.3g} ± {summary['rate_spread']:.2g} kg/s")
    else:
        print(f"{summary['analyses']} analyses from {summary['sensors']} sensors; RMS innovation "
              f"{summary['rms_innovation_first']:.3g} -> {summary['rms_innovation_last']:.3g} kg/m3")
        for source, factor in summary.get("emission_factors", {}).items():
            print(f"emission factor of {source}: {factor:.3g}")
    print(f"results: {summary['h5']} ({summary['total_time']:.1f} s)")

"""HDF5 output of the ``assimilate`` task (written atomically)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..atomic import atomic_path


class AnalysisRecorder:
    """Keeps host copies of the analysed ensemble mean and spread after every analysis."""

    def __init__(self):
        self.times, self.means, self.spreads, self.species, self.factors = [], [], [], None, []

    def __call__(self, sim, callback) -> None:
        model = sim.model
        state = model.grid.backend.to_host(model.state)
        self.times.append(model.time)
        self.means.append(state.mean(axis=0).astype(np.float32))
        self.spreads.append(state.std(axis=0, ddof=1).astype(np.float32))
        self.species = model.species_names
        if callback.augmentation is not None:
            self.factors.append(np.exp(callback.augmentation.log_factors))


def _attributes(f, plain: dict, section: dict, attributes: dict | None) -> None:
    import engine  # noqa: PLC0415

    f.attrs["config_json"] = json.dumps({**plain, "assimilation": section}, default=str)
    f.attrs["plumetwin_version"] = engine.__version__
    for key, value in (attributes or {}).items():
        f.attrs[key] = str(value)


def write_assimilation(path: Path, recorder: AnalysisRecorder, records, source_names, station_ids, positions,
                       plain: dict, section: dict, attributes: dict | None, twin: dict | None = None,
                       augmentation=None, model=None) -> Path:
    import h5py  # noqa: PLC0415

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        _attributes(f, plain, section, attributes)
        analysis = f.create_group("analysis")
        analysis.create_dataset("time", data=np.asarray(recorder.times)).attrs["units"] = "s"
        for n, species in enumerate(recorder.species or []):
            group = analysis.create_group(species)
            for label, data in (("mean", recorder.means), ("spread", recorder.spreads)):
                d = group.create_dataset(label, data=np.stack([x[n] for x in data]), compression="gzip",
                                         chunks=True)
                d.attrs["units"] = "kg/m3"
                d.attrs["dims"] = "time, z, y, x"
        emissions = f.create_group("emissions")
        emissions.create_dataset("sources", data=np.array(source_names, dtype="S"))
        if recorder.factors:
            factors = np.stack(recorder.factors)
            d = emissions.create_dataset("factor", data=factors)
            d.attrs["dims"] = "time, member, source"
            d.attrs["meaning"] = "multiplier of the configured emission rate"
            emissions.create_dataset("factor_mean", data=factors.mean(axis=1))
            emissions.create_dataset("factor_std", data=factors.std(axis=1, ddof=1))
            if model is not None:
                nominal = {s.name: s.rates for s in model.sources}
                for k, source in enumerate(source_names):
                    for species, rate in nominal.get(source, {}).items():
                        d = emissions.create_dataset(f"rate/{source}/{species}", data=factors[:, :, k] * rate)
                        d.attrs["units"] = "kg/s"
        innovations = f.create_group("innovations")
        for key in ("time", "count", "mean_innovation", "rms_innovation", "rms_residual", "spread"):
            innovations.create_dataset(key, data=np.array([getattr(r, key) for r in records]))
        innovations.attrs["units"] = "kg/m3 (time: s)"
        sensors = f.create_group("sensors")
        sensors.create_dataset("station_id", data=np.array(station_ids, dtype="S"))
        sensors.create_dataset("position", data=np.asarray(positions, dtype=np.float64)).attrs["units"] = "m"
        if twin:
            group = f.create_group("twin")
            for key, value in twin.items():
                group.attrs[key] = value
    return path


def write_location(path: Path, estimate, result, plain: dict, section: dict, attributes: dict | None) -> Path:
    import h5py  # noqa: PLC0415

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        _attributes(f, plain, section, attributes)
        g = f.create_group("source_estimate")
        g.create_dataset("posterior", data=estimate.posterior, compression="gzip").attrs["dims"] = "start, cell"
        g.create_dataset("cell_xy", data=estimate.cell_xy).attrs["units"] = "m"
        g.create_dataset("start_times", data=estimate.start_times).attrs["units"] = "s"
        g.create_dataset("rate_map", data=estimate.rate_map, compression="gzip").attrs["units"] = "kg/s"
        g.create_dataset("credible_region_90", data=estimate.credible_region(0.9))
        rate, rate_sd = estimate.rate_mean_std
        start, start_sd = estimate.start_mean_std
        values = {"position": estimate.position, "rate_mean": rate, "rate_std": rate_sd, "start_mean": start,
                  "start_std": start_sd}
        if result is not None:  # a twin: the hidden truth
            values.update(true_position=result.true_xy, true_rate=result.true_rate, true_start=result.true_start)
        for key, value in values.items():
            g.attrs[key] = value
    return path

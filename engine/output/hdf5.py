"""The run file: one self-describing HDF5 file per run, written while the run goes.

Records are appended to ``<path>.part``; :meth:`RunOutput.finalize` adds the mass budget and
renames the file to ``<path>`` in one step, so a file at ``<path>`` is always complete. A resumed
run reopens the ``.part`` file and truncates it to the record counts its checkpoint holds.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np

from ..errors import ConfigError, PlumetwinError
from ..sampling import PointSampler
from ..sources import AreaSource, PointSource, VolumeSource

_CHUNK_BYTES = 4 * 2**20
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


class RunOutput:
    """Writes a run's grid, fields, receptor series and budget to HDF5.

    Parameters
    ----------
    path:
        Final file path (``.h5``); the run writes ``<path>.part`` until it ends.
    model:
        The :class:`~engine.model.DispersionModel` whose results are written.
    config_yaml:
        The resolved configuration, stored in the root attribute ``config``.
    attributes:
        Extra root attributes (strings or numbers).
    """

    def __init__(self, path: str | Path, model, config_yaml: str = "", attributes: dict | None = None):
        from .. import __version__  # noqa: PLC0415 - avoids a cycle at import time

        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self.part_path = self._path.with_name(self._path.name + ".part")
        self.previous_part_path = self._path.with_name(self._path.name + ".part.previous")
        self.snapshot_path = self._path.with_name(self._path.name + ".part.checkpoint")
        self.model = model
        if self.part_path.exists():
            # An interrupted run's records: kept aside for reopen() to resume from, never overwritten.
            os.replace(self.part_path, self.previous_part_path)
        self._file = h5py.File(self.part_path, "w")
        f, grid = self._file, model.grid
        f.attrs.update({
            "plumetwin_version": __version__, "config": config_yaml,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "backend": grid.backend.name, "dtype": grid.dtype, "members": model.members,
            "species": np.array(model.species_names, dtype=h5py.string_dtype()),
        })
        for key, value in (attributes or {}).items():
            f.attrs[key] = value
        g = f.create_group("grid")
        for name, values in (("x", grid.x_centres), ("y", grid.y_centres), ("z", grid.z_centres),
                             ("x_faces", grid.x_faces), ("y_faces", grid.y_faces), ("z_faces", grid.z_faces)):
            g.create_dataset(name, data=values).attrs["units"] = "m"
        g.create_dataset("solid", data=grid.solid.astype(np.uint8), **_COMPRESSION)
        g.attrs.update({"crs": grid.crs, "origin": grid.origin, "dx": grid.dx, "dy": grid.dy, "units": "m"})
        for s in model.species:
            sg = f.create_group(f"species/{s.name}")
            sg.attrs.update({"molar_mass": np.nan if s.molar_mass is None else s.molar_mass,
                             "decay_rate": s.decay_rate, "deposition_velocity": s.deposition_velocity,
                             "background": s.background})
        self._write_sources(model.sources)
        f.create_dataset("time", shape=(0,), maxshape=(None,), dtype="f8").attrs["units"] = "s"

    @property
    def path(self) -> Path:
        """Where the finished file will be (and is, after :meth:`finalize`)."""
        return self._path

    def _write_sources(self, sources: Sequence[Any]) -> None:
        g = self._file.create_group("sources")
        g.create_dataset("name", data=np.array([s.name for s in sources], dtype=h5py.string_dtype()))
        g.create_dataset("kind", data=np.array([type(s).__name__ for s in sources], dtype=h5py.string_dtype()))
        xs, ys, hs = [], [], []
        for s in sources:
            if isinstance(s, PointSource):
                x, y, h = s.x, s.y, s.height
            elif isinstance(s, (AreaSource, VolumeSource)):
                x, y = 0.5 * (s.x_min + s.x_max), 0.5 * (s.y_min + s.y_max)
                h = getattr(s, "height", 0.5 * (getattr(s, "z_min", 0.0) + getattr(s, "z_max", 0.0)))
            else:
                x = y = h = np.nan
            xs.append(x), ys.append(y), hs.append(h)
        for name, values in (("x", xs), ("y", ys), ("height", hs)):
            g.create_dataset(name, data=np.asarray(values, dtype=float)).attrs["units"] = "m"

    # --- appending ---------------------------------------------------------------------------
    def _series(self, name: str, shape: tuple[int, ...], dtype, chunks: tuple[int, ...] | None = None,
                attrs: dict | None = None) -> h5py.Dataset:
        if name not in self._file:
            dataset = self._file.create_dataset(name, shape=(0,) + shape, maxshape=(None,) + shape, dtype=dtype,
                                                chunks=chunks, **_COMPRESSION)
            dataset.attrs.update(attrs or {})
        return self._file[name]

    @staticmethod
    def _append(dataset: h5py.Dataset, values) -> None:
        n = dataset.shape[0]
        dataset.resize(n + 1, axis=0)
        dataset[n] = values

    def append_fields(self, time: float, fields: dict[str, np.ndarray], levels: Sequence[int]) -> None:
        """Append one record of fields ``(member, level, y, x)`` (kg/m³) per species at ``time`` (s)."""
        grid = self.model.grid
        levels_per_chunk = max(1, min(len(levels), _CHUNK_BYTES // (4 * grid.nx * grid.ny)))
        for name, values in fields.items():
            shape = values.shape
            dataset = self._series(
                f"species/{name}/concentration", shape, values.dtype, chunks=(1, 1, levels_per_chunk) + shape[2:],
                attrs={"units": "kg m-3", "dims": "time member z y x", "levels": np.asarray(levels),
                       "z": grid.z_centres[list(levels)]})
            self._append(dataset, values)
        self._append(self._file["time"], time)

    def append_receptors(self, time: float, values: np.ndarray, names: Sequence[str], points: np.ndarray) -> None:
        """Append receptor values ``(member, species, receptor)`` (kg/m³) at ``time`` (s)."""
        if "receptors/name" not in self._file:
            g = self._file.require_group("receptors")
            g.create_dataset("name", data=np.array(list(names), dtype=h5py.string_dtype()))
            for axis, column in zip("xyz", points.T):
                g.create_dataset(axis, data=column).attrs["units"] = "m"
        for s, name in enumerate(self.model.species_names):
            dataset = self._series(f"receptors/concentration/{name}", values[:, s].shape, values.dtype,
                                   attrs={"units": "kg m-3", "dims": "time member receptor"})
            self._append(dataset, values[:, s])
        self._append(self._series("receptors/time", (), "f8", attrs={"units": "s"}), time)

    # --- checkpoint support ------------------------------------------------------------------
    def _time_datasets(self) -> dict[str, h5py.Dataset]:
        found: dict[str, h5py.Dataset] = {}

        def visit(name, item):
            if isinstance(item, h5py.Dataset) and item.maxshape and item.maxshape[0] is None:
                found[name] = item
        self._file.visititems(visit)
        return found

    def record_counts(self) -> dict[str, int]:
        """Number of records in every growing dataset (stored in checkpoints)."""
        return {name: int(d.shape[0]) for name, d in self._time_datasets().items()}

    def flush(self) -> None:
        self._file.flush()

    def snapshot(self) -> Path:
        """Copy the file as it is now beside it, for a checkpoint to resume from.

        A process killed while HDF5 writes can leave the ``.part`` file unreadable, so resuming
        starts from this consistent copy instead (the copy costs one read and write of the output
        so far, once per checkpoint).
        """
        import shutil  # noqa: PLC0415

        from ..atomic import atomic_path  # noqa: PLC0415

        self._file.close()
        with atomic_path(self.snapshot_path) as tmp:
            shutil.copyfile(self.part_path, tmp)
        self._file = h5py.File(self.part_path, "a")
        return self.snapshot_path

    def reopen(self, counts: dict[str, int]) -> None:
        """Continue a killed run from its last snapshot, cut back to ``counts`` records."""
        source = self.snapshot_path if self.snapshot_path.exists() else self.previous_part_path
        if not source.exists():
            raise PlumetwinError(
                f"cannot resume: the records of the interrupted run ({self.snapshot_path}) are missing; "
                "start the run again without resuming")
        self._file.close()
        import shutil  # noqa: PLC0415

        shutil.copyfile(source, self.part_path)
        self._file = h5py.File(self.part_path, "a")
        for name, dataset in self._time_datasets().items():
            dataset.resize(counts.get(name, 0), axis=0)

    def close(self) -> None:
        if self._file.id.valid:
            self._file.close()

    def finalize(self, sim) -> Path:
        """Write the budget and run statistics, close, and rename ``.part`` to the final path."""
        f = self._file
        budget = sim.model.budget()
        budget["residual"] = (budget["emitted"] - budget["inside"] - budget["outflow"]
                              - budget["deposited"] - budget["decayed"])
        g = f.require_group("budget")
        for key, values in budget.items():
            if key in g:
                del g[key]
            g.create_dataset(key, data=values).attrs.update({"units": "kg", "dims": "member species"})
        f.attrs.update({"iterations": sim.model.iteration, "model_time": sim.model.time,
                        "wall_time_s": sim.wall_time, "throughput_cell_updates_per_s": sim.throughput})
        f.close()
        os.replace(self.part_path, self._path)
        self.previous_part_path.unlink(missing_ok=True)  # superseded by this complete run
        self.snapshot_path.unlink(missing_ok=True)
        return self._path


class FieldWriter:
    """Writes 3D concentration fields on a schedule.

    Parameters
    ----------
    schedule:
        When to write (e.g. ``TimeInterval(600)``).
    species:
        Species to write (default: all).
    levels:
        Vertical level indices to write (default: all; ``[0]`` for ground level only).
    """

    def __init__(self, schedule, species: Sequence[str] | None = None, levels: Sequence[int] | None = None):
        self.schedule = schedule
        self.species = None if species is None else list(species)
        self.levels = None if levels is None else [int(k) for k in levels]

    def initialize(self, sim) -> None:
        names, nz = sim.model.species_names, sim.model.grid.nz
        unknown = [s for s in self.species or [] if s not in names]
        if unknown:
            raise ConfigError("output.field_species", f"{unknown} not transported; known: {', '.join(names)}")
        if self.levels is not None and (not self.levels or min(self.levels) < 0 or max(self.levels) >= nz):
            raise ConfigError("output.field_levels", f"level indices must lie in 0..{nz - 1}, got {self.levels}")

    def __call__(self, sim) -> None:
        model = sim.model
        levels = self.levels if self.levels is not None else list(range(model.grid.nz))
        host = model.grid.backend.to_host(model.state[:, :, levels])
        fields = {name: host[:, s] for s, name in enumerate(model.species_names)
                  if self.species is None or name in self.species}
        sim.output.append_fields(model.time, fields, levels)


class ReceptorWriter:
    """Writes concentrations sampled at receptors (trilinear) on a schedule."""

    def __init__(self, schedule, sampler: PointSampler):
        self.schedule = schedule
        self.sampler = sampler

    def __call__(self, sim) -> None:
        model = sim.model
        values = model.grid.backend.to_host(self.sampler.sample(model.state))
        sim.output.append_receptors(model.time, values, self.sampler.names, self.sampler.points)

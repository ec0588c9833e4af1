"""The run file: one self-describing HDF5 file per run, written while the run goes.

Records are appended to ``<path>.part``; :meth:`RunOutput.finalize` adds the mass budget and
renames the file to ``<path>`` in one step, so a file at ``<path>`` is always complete.

Resuming: a new :class:`RunOutput` on the path of an interrupted run moves the interrupted
``.part`` file aside (``.part.previous``) instead of overwriting it; :meth:`RunOutput.reopen`
then takes that file back and cuts every growing dataset to the record counts the checkpoint
holds, so the resumed run appends exactly the records the killed one wrote after its checkpoint.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np

from ..atomic import fsync_path, replace
from ..errors import CheckpointError, ConfigError
from ..sources import AreaSource, PointSource, VolumeSource

#: Target size (bytes) of a field chunk: big enough for gzip to work well, small enough that
#: reading one level of one member does not decompress much more.
_CHUNK_TARGET = 2**20
#: Upper bound of a chunk (bytes); HDF5's chunk cache is 1 MiB by default, beyond a few MiB reads thrash.
_CHUNK_MAX = 4 * 2**20
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
_STRING = h5py.string_dtype()
_BUDGET_KEYS = ("emitted", "inside", "outflow", "deposited", "decayed", "residual")
#: Root attributes (float64) filled at the end of a run, or when it is resumed; NaN until then.
_FINAL_ATTRS = ("model_time", "wall_time_s", "throughput_cell_updates_per_s", "finished_unix_s", "resumed_unix_s")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _attribute_value(value: Any) -> Any:
    """Something HDF5 can hold as an attribute: numbers and strings as they are, string lists as
    variable-length string arrays, None as "", anything else as its text."""
    if value is None:
        return ""
    if isinstance(value, (str, bytes, bool, int, float, np.number, np.bool_)):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return np.array(value, dtype=_STRING)
        if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in value):
            return np.asarray(value)
    return str(value)


def _open_part(path: Path, mode: str) -> h5py.File:
    """Open the ``.part`` file so that its on-disk image changes only at :meth:`RunOutput.flush`.

    HDF5 keeps metadata (dataset shapes, chunk indexes) in a cache that writes entries back
    whenever it needs room; an entry written between two checkpoints could leave the file
    pointing at records beyond the checkpoint, or at space not yet allocated on disk. With
    evictions off, metadata reaches the disk only when flushed — at a checkpoint — and the
    cache holds the file's metadata (kilobytes to a few MiB) in memory meanwhile.
    """
    f = h5py.File(path, mode)
    config = f.id.get_mdc_config()
    # HDF5 allows disabling evictions only with automatic cache resizing off.
    config.incr_mode = config.flash_incr_mode = config.decr_mode = 0
    config.evictions_enabled = False
    f.id.set_mdc_config(config)
    return f


def field_chunks(members: int, levels: int, ny: int, nx: int, itemsize: int) -> tuple[int, ...]:
    """Chunk shape ``(1, 1, L, Y, nx)`` of a ``(time, member, level, y, x)`` field dataset.

    One chunk holds whole horizontal planes (``L`` levels, chosen to make about 1 MiB) of one
    member at one time; a plane larger than 4 MiB is split along ``y`` to stay under that.
    """
    plane = ny * nx * itemsize
    if plane > _CHUNK_MAX:
        pieces = -(-plane // _CHUNK_MAX)
        return (1, 1, 1, -(-ny // pieces), nx)
    per_chunk = max(1, min(levels, _CHUNK_TARGET // plane))
    return (1, 1, per_chunk, ny, nx)


#: Receptor records held in memory before they are written together (flushes, checkpoints and
#: the end of the run write the rest).
RECEPTOR_BATCH = 64


def _series_chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Chunks of a small time series ``(time, *shape)``: many records per chunk (≈ 64 KiB), so an
    append touches one cached chunk and the chunk index stays small. Such chunks are rewritten
    in place by later appends, so they are left uncompressed (see :meth:`RunOutput._series`)."""
    record = max(1, int(np.prod(shape, dtype=np.int64)) * itemsize)
    return (int(min(4096, max(1, 65536 // record))),) + tuple(max(1, n) for n in shape)


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
        Extra root attributes (strings, numbers or lists of them; anything else is stored as text).

    Notes
    -----
    Layout: ``/grid`` (cell centres ``x, y, z`` and faces in m, ``solid`` as uint8), ``/species/<name>``
    (attributes; ``concentration`` (time, member, z, y, x) in kg/m³), ``/time`` (s), ``/receptors``
    (``name, x, y, z``, ``time``, ``concentration/<name>`` (time, member, receptor) in kg/m³),
    ``/sources`` (a table) and ``/budget`` ((member, species) in kg; NaN until the run finishes,
    like the root attributes ``iterations`` (-1), ``model_time``, ``wall_time_s``,
    ``throughput_cell_updates_per_s`` and ``finished_unix_s``).
    """

    def __init__(self, path: str | Path, model, config_yaml: str = "", attributes: dict | None = None):
        from .. import __version__  # noqa: PLC0415 - engine/__init__ imports this package's users

        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self.part_path = self._path.with_name(self._path.name + ".part")
        self.previous_part_path = self._path.with_name(self._path.name + ".part.previous")
        self.model = model
        if self.part_path.exists():
            # An interrupted run's records: kept for reopen() to resume from, never overwritten here.
            os.replace(self.part_path, self.previous_part_path)
        self._file = _open_part(self.part_path, "w")
        self._datasets: dict[str, h5py.Dataset] = {}  # growing datasets by path: a lookup costs ~0.2 ms
        # Receptor records wait here and go to the file RECEPTOR_BATCH at a time: one resize and
        # write per dataset costs ~0.2 ms, per record and species ~1 ms of a run's every minute.
        self._pending_receptors: list[tuple[float, np.ndarray]] = []
        self._receptors_named = False
        f, grid = self._file, model.grid
        f.attrs.update({
            "plumetwin_version": __version__, "config": config_yaml, "created": _now(),
            "backend": grid.backend.name, "dtype": grid.dtype, "members": model.members,
            "species": np.array(model.species_names, dtype=_STRING),
        })
        for key, value in (attributes or {}).items():
            f.attrs[key] = _attribute_value(value)
        self._write_grid(grid)
        for s in model.species:
            sg = f.create_group(f"species/{s.name}")
            sg.attrs.update({"molar_mass": np.nan if s.molar_mass is None else float(s.molar_mass),
                             "molar_mass_units": "kg mol-1", "decay_rate": float(s.decay_rate),
                             "decay_rate_units": "s-1", "deposition_velocity": float(s.deposition_velocity),
                             "deposition_velocity_units": "m s-1", "background": float(s.background),
                             "background_units": "kg m-3"})
        self._write_sources(model.sources)
        time = f.create_dataset("time", shape=(0,), maxshape=(None,), dtype="f8", chunks=(4096,))
        time.attrs.update({"units": "s", "long_name": "model time of the field records"})
        self._reserve_final_entries()

    def _reserve_final_entries(self) -> None:
        """Create now, as placeholders, everything :meth:`finalize` and :meth:`reopen` fill in.

        They then only overwrite values in place: a run killed while closing or flushing cannot
        have left new objects half-described in the file its checkpoint resumes from.
        """
        f, shape = self._file, (self.model.members, len(self.model.species))
        g = f.create_group("budget")
        g.attrs["residual"] = "emitted - inside - outflow - deposited - decayed"
        for key in _BUDGET_KEYS:
            dataset = g.create_dataset(key, data=np.full(shape, np.nan))
            dataset.attrs.update({"units": "kg", "dims": "member species"})
        for key in _FINAL_ATTRS:
            f.attrs.create(key, np.nan, dtype=np.float64)
        f.attrs.create("iterations", -1, dtype=np.int64)
        f.attrs.create("stopped_early", 0, dtype=np.int8)

    @property
    def path(self) -> Path:
        """Where the finished file will be (and is, after :meth:`finalize`)."""
        return self._path

    @property
    def closed(self) -> bool:
        return not self._file.id.valid

    def _write_grid(self, grid) -> None:
        g = self._file.create_group("grid")
        for name, values in (("x", grid.x_centres), ("y", grid.y_centres), ("z", grid.z_centres),
                             ("x_faces", grid.x_faces), ("y_faces", grid.y_faces), ("z_faces", grid.z_faces)):
            g.create_dataset(name, data=np.asarray(values, dtype=np.float64)).attrs["units"] = "m"
        solid = g.create_dataset("solid", data=np.asarray(grid.solid).astype(np.uint8), **_COMPRESSION)
        solid.attrs["dims"] = "z y x"
        g.attrs.update({"crs": grid.crs, "origin": np.asarray(grid.origin, dtype=np.float64),
                        "dx": float(grid.dx), "dy": float(grid.dy), "units": "m"})

    def _write_sources(self, sources: Sequence[Any]) -> None:
        g = self._file.create_group("sources")
        g.create_dataset("name", data=np.array([s.name for s in sources], dtype=_STRING))
        g.create_dataset("kind", data=np.array([type(s).__name__ for s in sources], dtype=_STRING))
        rows = []
        for s in sources:
            if isinstance(s, PointSource):
                rows.append((s.x, s.y, s.height))
            elif isinstance(s, AreaSource):
                rows.append((0.5 * (s.x_min + s.x_max), 0.5 * (s.y_min + s.y_max), s.height))
            elif isinstance(s, VolumeSource):
                rows.append((0.5 * (s.x_min + s.x_max), 0.5 * (s.y_min + s.y_max), 0.5 * (s.z_min + s.z_max)))
            else:  # a kind without one position
                rows.append((np.nan, np.nan, np.nan))
        table = np.asarray(rows, dtype=np.float64).reshape(len(sources), 3)
        for column, name in enumerate(("x", "y", "height")):
            g.create_dataset(name, data=table[:, column]).attrs["units"] = "m"
        # Nominal rates: kg/s for continuous sources, kg per release for puffs (see "kind").
        names = self.model.species_names
        rates = np.array([[float(s.rates.get(n, 0.0)) for n in names] for s in sources],
                         dtype=np.float64).reshape(len(sources), len(names))
        g.create_dataset("rate", data=rates).attrs.update({"units": "kg s-1 (PuffSource: kg)",
                                                            "dims": "source species"})

    # --- appending ---------------------------------------------------------------------------
    def _series(self, name: str, shape: tuple[int, ...], dtype, chunks: tuple[int, ...],
                attrs: dict | None = None, compress: bool = True) -> h5py.Dataset:
        """The growing dataset ``name`` of records shaped ``shape``, created on first use.

        Only datasets whose chunks are written once (one record per chunk) may be compressed: a
        compressed chunk rewritten by later appends changes size, moves, and its old space is
        reused — overwriting bytes the last checkpoint's on-disk file still points at.
        """
        dataset = self._datasets.get(name)
        if dataset is None and name in self._file:
            dataset = self._datasets[name] = self._file[name]
        if dataset is not None:
            if dataset.shape[1:] != tuple(shape):
                raise ConfigError("output", f"record of shape {tuple(shape)} does not fit {name}, whose records "
                                            f"are {dataset.shape[1:]}; write the same levels and members each time")
            return dataset
        dataset = self._file.create_dataset(name, shape=(0,) + tuple(shape), maxshape=(None,) + tuple(shape),
                                            dtype=dtype, chunks=chunks, **(_COMPRESSION if compress else {}))
        dataset.attrs.update(attrs or {})
        self._datasets[name] = dataset
        return dataset

    @staticmethod
    def _append(dataset: h5py.Dataset, values) -> None:
        n = dataset.shape[0]
        dataset.resize(n + 1, axis=0)
        dataset[n] = values

    def append_fields(self, time: float, fields_by_species: dict[str, np.ndarray], levels: Sequence[int]) -> None:
        """Append one record of 3D fields at ``time``.

        Parameters
        ----------
        time:
            Model time (s).
        fields_by_species:
            Host arrays ``(member, len(levels), ny, nx)`` of concentration (kg/m³) per species.
        levels:
            Indices of the vertical levels the arrays hold, in order.
        """
        grid = self.model.grid
        levels = [int(k) for k in levels]
        known = self.model.species_names
        heights = np.asarray(grid.z_centres)[levels]
        for name, values in fields_by_species.items():
            if name not in known:
                raise ConfigError("output.fields.species", f"{name!r} is not transported; known: {', '.join(known)}")
            values = np.asarray(values)
            expected = (self.model.members, len(levels), grid.ny, grid.nx)
            if values.shape != expected:
                raise ConfigError("output.fields", f"{name} field has shape {values.shape}, expected {expected} "
                                                   "(member, level, y, x)")
            dtype = values.dtype if values.dtype in (np.float32, np.float64) else np.float32
            dataset = self._series(
                f"species/{name}/concentration", expected, dtype,
                chunks=field_chunks(*expected, np.dtype(dtype).itemsize),
                attrs={"units": "kg m-3", "dims": "time member z y x", "levels": np.asarray(levels, dtype=np.int64),
                       "z": heights, "z_units": "m"})
            if not np.array_equal(dataset.attrs["levels"], levels):
                written = list(dataset.attrs["levels"])
                raise ConfigError("output.fields.levels", f"{name} was written on levels {written}, now {levels}; "
                                                          "use one FieldWriter per run file")
            self._append(dataset, values)
        self._append(self._file["time"], float(time))

    def append_receptors(self, time: float, values: np.ndarray, names: Sequence[str], points: np.ndarray) -> None:
        """Append receptor values at ``time``.

        Parameters
        ----------
        time:
            Model time (s).
        values:
            Host array ``(member, species, receptor)`` of concentration (kg/m³).
        names:
            Receptor names (written once, with ``points``).
        points:
            ``(receptor, 3)`` positions (m): projected x, y and height above the domain bottom.
        """
        values = np.array(values)  # a copy: the record waits in memory until its batch is written
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        if not self._receptors_named:
            if "receptors/name" not in self._file:
                g = self._file.require_group("receptors")
                g.create_dataset("name", data=np.array(list(names), dtype=_STRING))
                for axis, column in zip("xyz", points.T):
                    g.create_dataset(axis, data=column).attrs["units"] = "m"
            self._receptors_named = True
        species = self.model.species_names
        if values.ndim != 3 or values.shape[1] != len(species) or values.shape[2] != len(points):
            raise ConfigError("output.receptors", f"values of shape {values.shape} do not match (member, "
                                                  f"{len(species)} species, {len(points)} receptors)")
        for s, name in enumerate(species):  # created now, and a record of the wrong shape refused now
            self._receptor_series(name, values[:, s])
        self._pending_receptors.append((float(time), values))
        if len(self._pending_receptors) >= RECEPTOR_BATCH:
            self._write_pending_receptors()

    def _write_pending_receptors(self) -> None:
        """Append the receptor records waiting in memory to their datasets, one write per dataset."""
        if not self._pending_receptors:
            return
        times = np.array([time for time, _ in self._pending_receptors])
        records = np.stack([values for _, values in self._pending_receptors])  # (record, member, species, receptor)
        self._pending_receptors = []
        for s, name in enumerate(self.model.species_names):
            self._append_block(self._receptor_series(name, records[0, :, s]), records[:, :, s])
        time_series = self._series("receptors/time", (), "f8", chunks=(4096,), attrs={"units": "s"}, compress=False)
        self._append_block(time_series, times)

    def _receptor_series(self, species: str, record: np.ndarray) -> h5py.Dataset:
        return self._series(f"receptors/concentration/{species}", record.shape, record.dtype,
                            chunks=_series_chunks(record.shape, record.dtype.itemsize),
                            attrs={"units": "kg m-3", "dims": "time member receptor"}, compress=False)

    @staticmethod
    def _append_block(dataset: h5py.Dataset, block: np.ndarray) -> None:
        n = dataset.shape[0]
        dataset.resize(n + len(block), axis=0)
        dataset[n:] = block

    # --- checkpoint support ------------------------------------------------------------------
    def _time_datasets(self) -> dict[str, h5py.Dataset]:
        found: dict[str, h5py.Dataset] = {}

        def visit(name: str, item: Any) -> None:
            if isinstance(item, h5py.Dataset) and item.maxshape and item.maxshape[0] is None:
                found[name] = item

        self._file.visititems(visit)
        return found

    def record_counts(self) -> dict[str, int]:
        """Number of records of every growing dataset, by path (stored in checkpoints)."""
        self._write_pending_receptors()
        return {name: int(d.shape[0]) for name, d in self._time_datasets().items()}

    def flush(self) -> None:
        """Push everything written so far to disk (HDF5 keeps metadata in memory until then).

        After a flush the ``.part`` file on disk is a consistent image with the current record
        counts; records appended later go to new chunks or to the unwritten part of existing
        uncompressed ones, so a run killed before the next flush can be cut back to this image.
        """
        self._write_pending_receptors()
        self._file.flush()
        fsync_path(self.part_path)  # a checkpoint that outlives its records is useless after a power cut

    def reopen(self, counts: dict[str, int]) -> None:
        """Continue an interrupted run's file, cut back to ``counts`` records per dataset.

        Raises
        ------
        CheckpointError
            If the interrupted run's ``.part`` file is missing, unreadable, belongs to another
            model, or holds fewer records than the checkpoint says.
        """
        source = self.previous_part_path
        if not source.exists():
            why = ("that run already finished (the file exists); start a new run, or remove it to redo the run"
                   if self._path.exists() else f"the interrupted run's records ({self.part_path}) are missing; resume "
                   "with the output directory of the run that wrote the checkpoint, or start without resuming")
            raise CheckpointError(f"cannot resume into {self._path}: {why}")
        try:
            with h5py.File(source, "r") as old:
                problem = self._resume_problem(old, counts)
        except OSError as exc:
            raise CheckpointError(f"cannot read the interrupted run's records {source} ({exc}); the file was damaged "
                                  "when the run was killed — start without resuming") from exc
        if problem:
            raise CheckpointError(f"{source} {problem}; resume with the configuration and output directory of the "
                                  "run that wrote the checkpoint, or start without resuming")
        self._file.close()
        os.replace(source, self.part_path)  # the interrupted records replace the fresh file
        self._file = _open_part(self.part_path, "a")
        self._datasets.clear()
        self._pending_receptors, self._receptors_named = [], False
        # Records written after the checkpoint (and datasets begun after it) are dropped; the
        # resumed run writes them again, identically.
        for name, dataset in self._time_datasets().items():
            dataset.resize(int(counts.get(name, 0)), axis=0)
        self._file.attrs.modify("resumed_unix_s", _dt.datetime.now(_dt.timezone.utc).timestamp())
        self.flush()

    def _resume_problem(self, old: h5py.File, counts: dict[str, int]) -> str:
        """What makes ``old`` unfit to resume this model from ``counts`` ("" if nothing)."""
        model = self.model
        species = [s.decode() if isinstance(s, bytes) else str(s) for s in old.attrs["species"]]
        stored = (species, int(old.attrs["members"]), old["grid/solid"].shape)
        wanted = (model.species_names, model.members, model.grid.shape)
        if stored != wanted:
            return (f"holds species {stored[0]}, {stored[1]} members on a {stored[2]} grid, the model "
                    f"{wanted[0]}, {wanted[1]} members on {wanted[2]}")
        short = [f"{name} has {old[name].shape[0] if name in old else 0} of {n}"
                 for name, n in counts.items() if name not in old or old[name].shape[0] < n]
        return f"holds fewer records than the checkpoint ({', '.join(short)})" if short else ""

    def close(self) -> None:
        """Close the ``.part`` file without finishing it (it stays for a resume)."""
        if not self.closed:
            self._write_pending_receptors()
            self._file.close()

    def finalize(self, sim) -> Path:
        """Write the budget and run statistics, close, and rename ``.part`` to the final path.

        Parameters
        ----------
        sim:
            The finished :class:`~engine.simulation.Simulation`.

        Returns
        -------
        Path
            The final file.
        """
        if self.closed:
            raise RuntimeError(f"{self.part_path} is already closed; finalize() is called once, by Simulation.run")
        self._write_pending_receptors()
        f = self._file
        budget = sim.model.budget()
        budget["residual"] = (budget["emitted"] - budget["inside"] - budget["outflow"]
                              - budget["deposited"] - budget["decayed"])
        for key in _BUDGET_KEYS:
            f[f"budget/{key}"][...] = np.asarray(budget[key], dtype=np.float64)
        for key, value in (("iterations", sim.model.iteration), ("model_time", sim.model.time),
                           ("wall_time_s", sim.wall_time), ("throughput_cell_updates_per_s", sim.throughput),
                           ("stopped_early", bool(getattr(sim, "stopped_early", False))),
                           ("finished_unix_s", _dt.datetime.now(_dt.timezone.utc).timestamp())):
            f.attrs.modify(key, value)  # in place, into the reserved attribute (see _reserve_final_entries)
        f.close()
        replace(self.part_path, self._path)
        self.previous_part_path.unlink(missing_ok=True)  # superseded by this complete run
        return self._path


# The scheduled writers live beside this file; importable from here too, as they always were.
from .writers import FieldWriter, ReceptorWriter  # noqa: E402,F401

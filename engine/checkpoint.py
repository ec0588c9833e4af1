"""Checkpoints: the model state, budget and output progress, written atomically, to resume a run
exactly where it stopped.

A checkpoint is a small HDF5 file: the datasets and attributes of
:meth:`~engine.model.DispersionModel.state_dict`, the record counts of the run file in the group
``records``, and attributes describing the model it belongs to, checked on loading. Each
checkpoint replaces the previous one in a single rename, so a run killed while writing one still
has the last complete checkpoint.
"""

from __future__ import annotations

import time as wallclock
from pathlib import Path

import h5py
import numpy as np

from .atomic import atomic_path
from .errors import CheckpointError
from .output.reader import texts

_STRING = h5py.string_dtype()


def _grid_signature(grid) -> dict[str, np.ndarray]:
    """Geometry a resumed model must share: a state of the right shape on another grid is still wrong."""
    return {"grid_origin": np.asarray(grid.origin, dtype=np.float64),
            "grid_spacing": np.asarray([grid.dx, grid.dy], dtype=np.float64),
            "grid_z_faces": np.asarray(grid.z_faces, dtype=np.float64)}


class Checkpointer:
    """Writes a checkpoint to ``path`` whenever ``schedule`` is due (each one replaces the last).

    Parameters
    ----------
    schedule:
        When to write, e.g. ``IterationInterval(500)``.
    path:
        The checkpoint file (HDF5).

    Notes
    -----
    The run file is flushed first, so the record counts stored match what is on disk; resuming
    cuts the run file back to them (:meth:`~engine.output.RunOutput.reopen`).
    """

    def __init__(self, schedule, path: str | Path):
        self.schedule = schedule
        self.path = Path(path)
        self._started = None

    def initialize(self, sim) -> None:
        # Simulation.wall_time is only updated when run() returns; count this session's time here.
        self._started = wallclock.perf_counter()

    def _wall_time(self, sim) -> float:
        elapsed = 0.0 if self._started is None else wallclock.perf_counter() - self._started
        return float(sim.wall_time) + elapsed

    def __call__(self, sim) -> None:
        from . import __version__  # noqa: PLC0415 - engine/__init__ is still importing when this module loads

        model = sim.model
        snapshot = model.state_dict()
        counts: dict[str, int] = {}
        if sim.output is not None:
            sim.output.flush()
            counts = sim.output.record_counts()
        state = np.asarray(snapshot["state"])
        with atomic_path(self.path) as tmp, h5py.File(tmp, "w") as f:
            for key, value in snapshot.items():
                if isinstance(value, np.ndarray):
                    f.create_dataset(key, data=value)
                else:
                    f.attrs[key] = value
            records = f.create_group("records")
            for name, count in counts.items():
                records.attrs[name] = int(count)
            f.attrs.update({
                "plumetwin_version": __version__, "stop_time": float(sim.stop_time),
                "wall_time_s": self._wall_time(sim), "state_shape": np.asarray(state.shape, dtype=np.int64),
                "dtype": str(state.dtype), "members": int(model.members),
                "species": np.array(model.species_names, dtype=_STRING),
                "has_output": sim.output is not None, "written_by": "engine.checkpoint.Checkpointer",
                **_grid_signature(model.grid),
            })


def _mismatches(f: h5py.File, model) -> list[str]:
    """What differs between the checkpoint ``f`` and ``model``, as phrases."""
    found = []
    species = texts(f.attrs["species"])
    if species != model.species_names:
        found.append(f"species {species} (the model has {model.species_names})")
    shape, dtype = tuple(f["state"].shape), str(f["state"].dtype)
    if shape != tuple(model.state.shape):
        found.append(f"a state of shape {shape} (the model needs {tuple(model.state.shape)}: "
                     "members, species, z, y, x)")
    if dtype != str(np.dtype(model.state.dtype)):
        found.append(f"{dtype} values (the model computes in {np.dtype(model.state.dtype)}; set grid.dtype)")
    for key, wanted in _grid_signature(model.grid).items():
        if key in f.attrs:
            stored = np.asarray(f.attrs[key], dtype=np.float64)
            if stored.shape != wanted.shape or not np.allclose(stored, wanted, rtol=1e-12, atol=1e-9):
                found.append(f"{key.replace('_', ' ')} {stored.tolist()} (the model has {wanted.tolist()})")
    return found


def load_checkpoint(path: str | Path, sim) -> None:
    """Restore ``sim``'s model, wall time and output from the checkpoint at ``path``.

    Parameters
    ----------
    path:
        A file written by :class:`Checkpointer`.
    sim:
        A :class:`~engine.simulation.Simulation` built from the same configuration as the run that
        wrote the checkpoint; its output (if any) is reopened and cut back to the checkpoint.

    Raises
    ------
    CheckpointError
        If the file is missing, unreadable, or belongs to a different model; the message names
        the file, what differs and the fix.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; check the path, or start without resuming")
    model = sim.model
    try:
        with h5py.File(path, "r") as f:
            if "state" not in f or "species" not in f.attrs:
                raise CheckpointError(f"{path} is not a plumetwin checkpoint (no state or species); "
                                      "give the *.checkpoint.h5 file the run wrote")
            different = _mismatches(f, model)
            if different:
                raise CheckpointError(f"checkpoint {path} holds {'; '.join(different)}; resume with the same grid "
                                      "and members, species and dtype as the run that wrote it")
            snapshot = {key: f[key][...] for key in f if isinstance(f[key], h5py.Dataset)}
            snapshot.update({key: f.attrs[key] for key in ("time", "iteration")})
            counts = {name: int(value) for name, value in f["records"].attrs.items()} if "records" in f else {}
            wall_time = float(f.attrs.get("wall_time_s", 0.0))
            has_output = bool(f.attrs.get("has_output", True))
    except CheckpointError:
        raise
    except (OSError, KeyError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path} ({exc}); it may be damaged — "
                              "resume from an intact checkpoint or start without resuming") from exc
    try:
        model.load_state_dict(snapshot)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path} does not match the model: {exc}") from exc
    # Simulation.throughput divides all iterations by wall time: carry the earlier sessions' time.
    sim.wall_time = wall_time
    if sim.output is not None:
        if not has_output:
            raise CheckpointError(f"checkpoint {path} was written by a run without a run file, so the records "
                                  "before it are missing; resume without output, or start the run again")
        sim.output.reopen(counts)

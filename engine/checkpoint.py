"""Checkpoints: the model state, budget and output progress, written atomically, to resume a run
exactly where it stopped."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from .atomic import atomic_path
from .errors import CheckpointError


class Checkpointer:
    """Writes a checkpoint to ``path`` whenever ``schedule`` is due (each one replaces the last)."""

    def __init__(self, schedule, path: str | Path):
        self.schedule = schedule
        self.path = Path(path)

    def __call__(self, sim) -> None:
        from . import __version__  # noqa: PLC0415

        model = sim.model
        snapshot = model.state_dict()
        counts = {}
        if sim.output is not None:
            counts = sim.output.record_counts()
            sim.output.snapshot()
        with atomic_path(self.path) as tmp, h5py.File(tmp, "w") as f:
            for key, value in snapshot.items():
                if isinstance(value, np.ndarray):
                    f.create_dataset(key, data=value)
                else:
                    f.attrs[key] = value
            records = f.create_group("records")
            for name, count in counts.items():
                records.attrs[name] = count
            f.attrs.update({"plumetwin_version": __version__, "stop_time": sim.stop_time,
                            "species": np.array(model.species_names, dtype=h5py.string_dtype())})


def load_checkpoint(path: str | Path, sim) -> None:
    """Restore ``sim``'s model (and output) from the checkpoint at ``path``."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; check the path, or start without resuming")
    model = sim.model
    with h5py.File(path, "r") as f:
        species = [s.decode() if isinstance(s, bytes) else str(s) for s in f.attrs["species"]]
        if species != model.species_names:
            raise CheckpointError(f"checkpoint {path} holds species {species}, the model {model.species_names}; "
                                  "resume with the configuration that wrote it")
        if f["state"].shape != model.state.shape:
            raise CheckpointError(f"checkpoint {path} holds a state of shape {f['state'].shape}, the model needs "
                                  f"{model.state.shape} (members, species, z, y, x); resume with the same grid and members")
        snapshot = {key: f[key][...] for key in f if isinstance(f[key], h5py.Dataset)}
        snapshot.update({key: f.attrs[key] for key in ("time", "iteration")})
        counts = {name: int(value) for name, value in f["records"].attrs.items()}
    try:
        model.load_state_dict(snapshot)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path} does not match the model: {exc}") from exc
    if sim.output is not None:
        sim.output.reopen(counts)

"""A plumetwin run file as sensor records: its receptor series (``/receptors``) become rows of
the long schema and its receptors the station table, so a run's synthetic sensors can be read
back exactly like recorded ones.

The run file counts time in seconds from the start of the run; ``start`` says which absolute
time that is.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from .readers import ObservationFileError, RawRows
from .records import StationTable
from .times import parse_time


def is_run_file(path: str | Path) -> bool:
    """True for an HDF5 file written by ``plumetwin run``."""
    try:
        with h5py.File(path, "r") as f:
            return "grid" in f and "species" in f.attrs
    except OSError:
        return False


def read_run_file(path: str | Path, rows: RawRows, start: str = "1970-01-01T00:00:00+00:00",
                  member: int = 0) -> tuple[StationTable, dict[str, float | None]]:
    """Append a run file's receptor series (one ``member``) to ``rows``.

    Returns the receptors as a station table (in the grid's CRS) and the species' molar masses.
    """
    from ..output.reader import RunFileError, open_run  # noqa: PLC0415

    path = Path(path)
    try:
        run = open_run(path)
    except RunFileError as exc:
        raise ObservationFileError("records", str(exc)) from None
    origin = parse_time(start) if isinstance(start, str) else np.datetime64(start, "s")
    with run:
        if not run.has_receptors:
            raise ObservationFileError(f"{path.name}: /receptors", "the run wrote no receptor series; give it "
                                                                   "receptors (sensors) to read back")
        if not 0 <= member < run.members:
            raise ObservationFileError("records.member", f"{path.name} has members 0..{run.members - 1}, not {member}")
        masses = {s: run._molar_mass(s) for s in run.species}  # noqa: SLF001 - same package family
        crs = run.grid["crs"]
        rows.sources.append(str(path))
        table = None
        line = 1
        for name in run.species:
            series = run.receptors(name)
            if table is None:
                table = StationTable(series.coords["receptor"], series.coords["x"], series.coords["y"],
                                     series.coords["z"], crs)
            # Model time (s, float) to whole seconds; runs record on their own schedule.
            seconds = np.round(series.coords["time"]).astype(np.int64)
            times = origin + seconds.astype("timedelta64[s]")
            values = series.values[:, member, :]
            for k, stamp in enumerate(times):
                for n, receptor in enumerate(table.station_id):
                    line += 1
                    rows.append(stamp, str(receptor), name, float(values[k, n]), "kg/m3", 0, line)
        rows.notes.append(f"{path.name}: receptor series of member {member}, model time 0 = {start}")
    return table, masses

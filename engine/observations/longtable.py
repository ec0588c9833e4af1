"""Writing records in the long schema: CSV (``time, station_id, species, value, unit, qc``),
HDF5 (the same columns under ``/records``, the station table under ``/stations``) and Parquet.
Every write is atomic.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, atomic_write_text
from ..errors import ConfigError
from ..units import convert_concentration
from .catalogue import species_info
from .records import SensorRecords, StationTable, same_text
from .times import format_time

HEADER = ("time", "station_id", "species", "value", "unit", "qc")


def _values_in(records: SensorRecords, unit: str, molar_masses: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """Values in ``unit`` and the unit of each row: species without a molar mass (particles)
    cannot be written as ppm/ppb and keep µg/m³."""
    out = np.full(len(records), np.nan)
    units = np.full(len(records), unit, dtype=object)
    for name in sorted(set(records.species.tolist())):
        rows = same_text(records.species, name)
        mass = (molar_masses or {}).get(name)
        if mass is None:
            info = species_info(name)
            mass = None if info is None else info.molar_mass
        try:
            out[rows] = convert_concentration(records.value[rows], "kg/m3", unit, mass)
        except ConfigError:
            out[rows] = convert_concentration(records.value[rows], "kg/m3", "ug/m3")
            units[rows] = "ug/m3"
    return out, units


def _columns(records: SensorRecords, unit: str, zone: str, molar_masses: dict | None):
    values, units = _values_in(records, unit, molar_masses)
    for k in range(len(records)):
        value = "" if not np.isfinite(values[k]) else repr(float(values[k]))
        yield (format_time(records.time[k], zone), records.station_id[k], records.species[k], value, units[k],
               str(int(records.qc[k])))


def write_long_csv(records: SensorRecords, path: str | Path, unit: str = "ug/m3", zone: str = "+00:00",
                   molar_masses: dict | None = None) -> Path:
    """Write the records as long-schema CSV (values in ``unit``, times in ``zone``), atomically.

    Values are written with 17 significant digits, so reading the file back reproduces them to
    the last bit of the unit conversion.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(_columns(records, unit, zone, molar_masses))
    return atomic_write_text(path, buffer.getvalue())


def _number(value: float) -> str:
    """Shortest text that reads back to the same float; empty for NaN (unknown)."""
    return repr(float(value)) if np.isfinite(value) else ""


def write_station_csv(stations: StationTable, path: str | Path) -> Path:
    """Write the station table (``station_id, x, y, z_agl, crs[, averaging_s]``), atomically."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("station_id", "x", "y", "z_agl", "crs", "averaging_s"))
    for k, name in enumerate(stations.station_id):
        window = stations.averaging_s[k]
        writer.writerow((name, *(_number(getattr(stations, c)[k]) for c in ("x", "y", "z_agl")), stations.crs,
                         _number(window)))
    return atomic_write_text(path, buffer.getvalue())


def write_long_hdf5(records: SensorRecords, path: str | Path, unit: str = "ug/m3", zone: str = "+00:00",
                    molar_masses: dict | None = None, attributes: dict | None = None) -> Path:
    """Write ``/records`` (long-schema columns) and, when any station has a position, ``/stations``
    (``station_id``, ``x``, ``y``, ``z_agl``, ``averaging_s``, ``qc``; attribute ``crs``) to HDF5,
    atomically."""
    import h5py  # noqa: PLC0415

    strings = h5py.string_dtype()
    rows = list(_columns(records, unit, zone, molar_masses))
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            g = f.create_group("records")
            for n, name in enumerate(HEADER):
                column = [r[n] for r in rows]
                if name == "value":
                    g.create_dataset(name, data=np.asarray([float(v) if v else np.nan for v in column]))
                    g[name].attrs["units"] = "per row: see the unit dataset"
                elif name == "qc":
                    g.create_dataset(name, data=np.asarray(records.qc, dtype=np.uint16))
                else:
                    g.create_dataset(name, data=np.asarray(column, dtype=object), dtype=strings)
            if np.isfinite(records.stations.x).any():  # a table without positions carries nothing
                s = f.create_group("stations")
                s.attrs["crs"] = records.stations.crs
                s.create_dataset("station_id", data=np.asarray(records.stations.station_id, dtype=object),
                                 dtype=strings)
                for name in ("x", "y", "z_agl", "averaging_s"):
                    s.create_dataset(name, data=getattr(records.stations, name))
                    s[name].attrs["units"] = "s" if name == "averaging_s" else "m"
                s.create_dataset("qc", data=records.stations.qc)
            for key, value in (attributes or {}).items():
                f.attrs[key] = value
    return Path(path)


def write_long_parquet(records: SensorRecords, path: str | Path, unit: str = "ug/m3", zone: str = "+00:00",
                       molar_masses: dict | None = None) -> Path:
    """Write long-schema Parquet (needs pyarrow), atomically."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    rows = list(_columns(records, unit, zone, molar_masses))
    table = pa.table({
        "time": [r[0] for r in rows], "station_id": [r[1] for r in rows], "species": [r[2] for r in rows],
        "value": [float(r[3]) if r[3] else None for r in rows], "unit": [r[4] for r in rows],
        "qc": np.asarray(records.qc, dtype=np.uint16)})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)

"""A run's receptor (sensor) series exported in the long schema of recorded sensor data, so that
model output and measurements travel through the same readers and QC.

Writes ``<name>_sensors.csv`` (``time, station_id, species, value, unit, qc``) and
``<name>_stations.csv`` (``station_id, x, y, z_agl, crs``) beside the run file.
"""

from __future__ import annotations

from pathlib import Path


def export_sensor_records(run_path: str | Path, output_dir: str | Path | None = None,
                          start: str = "1970-01-01T00:00:00+00:00", member: int = 0, unit: str = "ug/m3",
                          zone: str = "+00:00") -> dict[str, Path]:
    """Write a run file's receptor series as long-schema CSV plus its station table.

    Parameters
    ----------
    run_path:
        A finished run file (``<name>.h5``) with receptors.
    output_dir:
        Where to write (default: beside the run file).
    start:
        Absolute time (ISO 8601 with offset) of model time 0.
    member:
        Ensemble member exported.
    unit, zone:
        Unit of the values and zone of the times written.

    Returns
    -------
    dict
        ``sensors`` and ``stations``: the paths written (atomically).
    """
    from ..observations import SensorRecords, write_long_csv, write_station_csv  # noqa: PLC0415
    from ..observations.readers import RawRows  # noqa: PLC0415
    from ..observations.runfile import read_run_file  # noqa: PLC0415

    run_path = Path(run_path)
    rows = RawRows()
    table, masses = read_run_file(run_path, rows, start=start, member=member)
    records = SensorRecords(rows.time, rows.station_id, rows.species, rows.value, rows.qc, table, rows.line)
    directory = Path(output_dir) if output_dir is not None else run_path.parent
    stem = run_path.stem
    return {
        "sensors": write_long_csv(records, directory / f"{stem}_sensors.csv", unit=unit, zone=zone,
                                  molar_masses=masses),
        "stations": write_station_csv(table, directory / f"{stem}_stations.csv"),
    }

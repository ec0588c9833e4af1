"""The ``ingest`` task: sensor records in, a cleaned long table and a QC report out.

``plumetwin ingest records=<file(s)> [stations=<csv>] [mapping=<yaml>] [domain=<grid>]`` reads the
records (long-schema CSV/HDF5/Parquet, a wide file through a mapping, or a run file's receptor
series), converts them to kg/m³ and UTC, flags them and writes ``<name>_records.<csv|h5|parquet>``
(every row, flags in ``qc``), ``<name>_stations.csv`` and ``<name>_qc.{json,txt,html}``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import h5py

import yaml

from ..errors import ConfigError
from ..grid import Grid, stretched_levels
from ..observations import (read_sensor_records, write_long_csv, write_long_hdf5, write_long_parquet,
                            write_station_csv)
from ..spatial import add_buildings, add_terrain_file, read_buildings
from .build import data_path
from .validate import plain_config

log = logging.getLogger(__name__)

_KEYS = {"name", "records", "stations", "mapping", "domain", "species", "start", "member", "format", "unit",
         "zone", "output"}


def grid_from_run_file(path: Path) -> Grid:
    """The grid (with its solids) a run file was computed on, in float64 on NumPy."""
    with h5py.File(path, "r") as f:
        if "grid" not in f:
            raise ConfigError("domain", f"{path} has no /grid: not a plumetwin run file")
        g = f["grid"]
        x_faces, y_faces = g["x_faces"][...], g["y_faces"][...]
        return Grid(x_faces.size - 1, y_faces.size - 1, float(g.attrs["dx"]), float(g.attrs["dy"]),
                    g["z_faces"][...], origin=tuple(g.attrs["origin"]), crs=str(g.attrs["crs"]), dtype="float64",
                    backend="numpy", solid=g["solid"][...].astype(bool))


def grid_from_config(path: Path) -> Grid:
    """The grid of a ``conf/grid/<name>.yaml`` file: boxes, building footprints and terrain included."""
    try:
        g = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError("domain", f"cannot read grid config {path}: {exc}") from None
    try:
        grid = Grid(g["nx"], g["ny"], g["dx"], g["dy"], stretched_levels(g["nz"], g["dz_bottom"], g.get("stretch", 1.0)),
                    origin=(g.get("origin_x", 0.0), g.get("origin_y", 0.0)), crs=g.get("crs", "EPSG:5186"),
                    dtype="float64", backend="numpy")
    except KeyError as exc:
        raise ConfigError("domain", f"grid config {path} lacks {exc.args[0]}") from None
    for b in g.get("buildings") or []:
        grid.add_box(b["x_min"], b["x_max"], b["y_min"], b["y_max"], b["height"])
    heights = add_terrain_file(grid, data_path(g["terrain_file"])) if g.get("terrain_file") else None
    if g.get("buildings_file"):
        add_buildings(grid, read_buildings(data_path(g["buildings_file"])), source=f"grid {g['buildings_file']}",
                      ground=heights)
    return grid


def resolve_domain(domain: str | None) -> Grid | None:
    """None, a run file (``.h5``), a grid YAML file, or the name of one in ``conf/grid/``."""
    if not domain:
        return None
    path = data_path(str(domain))
    if path.suffix.lower() in (".h5", ".hdf5"):
        if not path.exists():
            raise ConfigError("domain", f"run file {path} does not exist")
        return grid_from_run_file(path)
    if not path.exists():
        path = Path(__file__).resolve().parents[2] / "conf" / "grid" / f"{domain}.yaml"
    if not path.exists():
        raise ConfigError("domain", f"{domain!r} is neither a run file, a grid YAML file nor a grid in conf/grid/ "
                                    "(e.g. domain=park)")
    return grid_from_config(path)


def ingest_task(cfg: Any, output_dir: str | Path | None = None, attributes: dict | None = None) -> dict[str, Any]:
    """Read, convert, flag and write sensor records (see the module docstring).

    Returns
    -------
    dict
        ``name``, ``records`` (path of the cleaned table), ``stations``, ``report`` (paths by
        suffix), ``rows``, ``good``, ``inserted``, ``flag_counts`` and ``summary`` (one line).
    """
    c = plain_config(cfg)
    unknown = sorted(set(c) - _KEYS - {"hydra"})
    if unknown:
        raise ConfigError(unknown[0], f"unknown key; the ingest task knows {', '.join(sorted(_KEYS))}")
    records = c.get("records")
    if not records or records == "???":
        raise ConfigError("records", "is required: plumetwin ingest records=<file> (CSV, HDF5, Parquet or a run file)")
    paths = [data_path(str(p)) for p in (records if isinstance(records, (list, tuple)) else [records])]
    mapping = c.get("mapping")
    mapping = str(data_path(mapping)) if isinstance(mapping, str) else mapping
    stations = data_path(str(c["stations"])) if c.get("stations") else None
    fmt = str(c.get("format") or "csv")
    if fmt not in ("csv", "hdf5", "parquet"):
        raise ConfigError("format", f"must be csv, hdf5 or parquet, got {fmt!r}")
    grid = resolve_domain(c.get("domain"))
    result, report = read_sensor_records(paths, stations=stations, mapping=mapping, grid=grid,
                                         species=c.get("species"), start=str(c.get("start") or "1970-01-01T00:00:00Z"),
                                         member=int(c.get("member") or 0))
    name = str(c.get("name") or "records")
    out = Path(output_dir if output_dir is not None else (c.get("output") or {}).get("dir") or Path("results") / name)
    unit, zone = str(c.get("unit") or "ug/m3"), str(c.get("zone") or "+00:00")
    masses = _molar_masses(c.get("species"))
    writers = {"csv": (write_long_csv, "csv"), "hdf5": (write_long_hdf5, "h5"), "parquet": (write_long_parquet, "parquet")}
    write, suffix = writers[fmt]
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401, PLC0415
        except ImportError:
            raise ConfigError("format", "parquet needs pyarrow: pip install plumetwin[parquet], or use format=csv") from None
    table = write(result, out / f"{name}_records.{suffix}", unit=unit, zone=zone, molar_masses=masses)
    stations_path = write_station_csv(result.stations, out / f"{name}_stations.csv")
    paths_written = report.write(out / f"{name}_qc")
    log.info("%s: %s", name, report.summary())
    return {"name": name, "records": str(table), "stations": str(stations_path),
            "report": {k: str(v) for k, v in paths_written.items()}, "rows": report.rows_total,
            "good": report.rows_good, "inserted": report.rows_inserted,
            "flag_counts": {k: v for k, v in report.flag_counts.items() if v}, "summary": report.summary(),
            "issues": [i.describe() for i in report.issues], "notes": report.notes}


def _molar_masses(species) -> dict | None:
    if isinstance(species, dict):
        return {str(k): v for k, v in species.items()}
    return None


def report_ingest(summary: dict[str, Any]) -> None:
    """Print the QC summary, the problems and the files written."""
    print(f"{summary['name']}: {summary['summary']}")
    for issue in summary["issues"]:
        print(f"  {issue}")
    for note in summary["notes"]:
        print(f"  note: {note}")
    print(f"records: {summary['records']}")
    print(f"stations: {summary['stations']}")
    print(f"qc report: {summary['report']['txt']} (also .json, .html)")



"""The station table: where each sensor is, projected into the grid's CRS, and whether the model
can see it (inside the domain, not inside a building).

CSV columns (header required, one row per station):

``station_id``
    Name used by the records.
``x``, ``y`` (m, projected) or ``lon``, ``lat`` (degrees)
    Position (both empty: unknown, kept but never sampled); ``crs`` names their CRS (``EPSG:5186``,
    ``EPSG:32652`` for UTM 52N, ``EPSG:4326`` for lon/lat, ...). Positions are transformed into the
    grid's CRS (see :mod:`engine.observations.projection`).
``z_agl``
    Inlet height above the ground (m); default 1.5 m, the breathing height when the column is absent.
optional: ``crs`` (per row, else the ``crs`` argument, else EPSG:4326 for lon/lat), ``averaging_s``
    (the sensor's averaging window, s).

Heights are measured from the domain bottom, like receptor heights: on step terrain a station
given relative to the local ground must add that ground height itself.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..grid import Grid
from .flags import QCFlag
from .projection import is_geographic, transform
from .readers import ObservationFileError
from .records import StationTable

DEFAULT_HEIGHT = 1.5


class StationFileError(ObservationFileError):
    """A station table cannot be read; the message names file, line and column."""


def _float(text: str, path: Path, line: int, column: str, unit: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise StationFileError(f"{path.name}: line {line}, column {column}", f"{text!r} is not a number ({unit})") from None
    if not np.isfinite(value):
        raise StationFileError(f"{path.name}: line {line}, column {column}", f"{text!r} is not a finite number ({unit})")
    return value


def read_station_table(path: str | Path, crs: str | None = None, default_crs: str | None = None,
                       encoding: str = "utf-8-sig") -> StationTable:
    """Read a station table (see the module docstring) and project it into ``crs``.

    Parameters
    ----------
    path:
        The CSV file.
    crs:
        Target projected CRS (the grid's); None keeps the table's own CRS (which must then be one
        projected CRS for every row).
    default_crs:
        CRS of rows without a ``crs`` column; default EPSG:4326 for lon/lat tables.
    encoding:
        Text encoding of the file (``cp949`` for many Korean files).

    Raises
    ------
    StationFileError
        For a missing file or column, a non-numeric coordinate or a repeated station, naming file,
        line and column.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode(encoding)
    except OSError as exc:
        raise StationFileError("stations", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise StationFileError("stations", f"{path.name} is not valid {encoding} text at byte {exc.start}; "
                                           "give its encoding (e.g. cp949)") from None
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in (reader.fieldnames or [])]
    reader.fieldnames = columns
    geographic = {"lon", "lat"} <= set(columns)
    needed = ["station_id"] + (["lon", "lat"] if geographic else ["x", "y"])
    missing = [c for c in needed if c not in columns]
    if missing:
        raise StationFileError(f"{path.name}: line 1", f"lacks the column(s) {', '.join(missing)}; a station "
                                                       "table needs station_id, x and y (or lon and lat), z_agl")
    names, xs, ys, zs, crss, windows = [], [], [], [], [], []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            raise StationFileError(f"{path.name}: line {line}", f"has a different number of fields than the "
                                                                f"header ({len(columns)}: {', '.join(columns)})")
        name = row["station_id"].strip()
        if not name:
            raise StationFileError(f"{path.name}: line {line}, column station_id", "is empty")
        if name in seen:
            raise StationFileError(f"{path.name}: line {line}, column station_id",
                                   f"{name!r} is already defined on line {seen[name]}")
        seen[name] = line
        a, b = ("lon", "lat") if geographic else ("x", "y")
        if not row[a].strip() and not row[b].strip():
            xs.append(np.nan)  # position unknown: kept, and never sampled
            ys.append(np.nan)
        else:
            xs.append(_float(row[a].strip(), path, line, a, "degrees" if geographic else "m"))
            ys.append(_float(row[b].strip(), path, line, b, "degrees" if geographic else "m"))
        height = (row.get("z_agl") or "").strip()
        zs.append(_float(height, path, line, "z_agl", "m") if height else DEFAULT_HEIGHT)
        if zs[-1] < 0:
            raise StationFileError(f"{path.name}: line {line}, column z_agl", f"{zs[-1]:g} m is below the ground")
        window = (row.get("averaging_s") or "").strip()
        windows.append(_float(window, path, line, "averaging_s", "s") if window else np.nan)
        row_crs = (row.get("crs") or "").strip() or default_crs or ("EPSG:4326" if geographic else crs)
        if row_crs is None:
            raise StationFileError(f"{path.name}: line {line}, column crs",
                                   "no CRS given; add a crs column or pass the grid's CRS")
        crss.append(row_crs)
        names.append(name)
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    lon, lat = np.full(x.size, np.nan), np.full(x.size, np.nan)
    target = crs or (crss[0] if crss else "local")
    if is_geographic(target):
        raise StationFileError("stations.crs", f"the target CRS {target} is geographic; the grid needs a projected "
                                               "CRS in metres such as EPSG:5186")
    for row_crs in sorted(set(crss)):
        rows = np.asarray([c == row_crs for c in crss])
        if is_geographic(row_crs):
            lon[rows], lat[rows] = x[rows], y[rows]
        x[rows], y[rows] = transform(x[rows], y[rows], row_crs, target, where=f"{path.name}: column crs")
    return StationTable(np.asarray(names, dtype=object), x, y, np.asarray(zs), target,
                        averaging_s=np.asarray(windows), lon=lon, lat=lat)


def check_stations(stations: StationTable, grid: Grid | None) -> list[str]:
    """Flag stations outside the grid's domain or inside a solid cell (in place); return messages.

    A station without a position (NaN) is left to the record-level ``UNKNOWN_STATION`` flag.
    """
    messages: list[str] = []
    if grid is None:
        return messages
    if stations.crs not in ("local", grid.crs) and len(stations):
        raise ConfigError("stations.crs", f"stations are in {stations.crs} but the grid is in {grid.crs}; "
                                          "read them with crs=grid.crs")
    x0, x1, y0, y1, _, z1 = grid.extent
    for n, name in enumerate(stations.station_id):
        x, y, z = stations.x[n], stations.y[n], stations.z_agl[n]
        if not np.all(np.isfinite([x, y, z])):
            continue
        if not grid.contains(x, y, z):
            stations.qc[n] |= np.uint16(QCFlag.OUTSIDE_DOMAIN)
            messages.append(f"station {name} at ({x:.0f}, {y:.0f}, {z:g}) m is outside the domain "
                            f"x {x0:.0f}–{x1:.0f}, y {y0:.0f}–{y1:.0f}, z 0–{z1:g} m")
        elif grid.solid[grid.cell_index(x, y, z)]:
            stations.qc[n] |= np.uint16(QCFlag.INSIDE_BUILDING)
            messages.append(f"station {name} at ({x:.0f}, {y:.0f}, {z:g}) m is inside a building or terrain")
    return messages

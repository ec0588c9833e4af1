"""Buildings and terrain from spatial data, rasterised onto a grid's solid mask.

* Buildings: a GeoJSON FeatureCollection of Polygon / MultiPolygon footprints in the grid's
  projected CRS (metres) with a ``height`` property (m above ground), or a CSV of boxes with the
  columns ``name,x_min,x_max,y_min,y_max,height``. A cell is solid when its centre lies inside a
  footprint and below the roof (holes in polygons are honoured).
* Terrain: an ESRI ASCII grid (``.asc``: ``ncols``, ``nrows``, ``xllcorner``/``xllcenter``,
  ``yllcorner``/``yllcenter``, ``cellsize``, optional ``NODATA_value``, then rows from north to
  south) of ground height (m), sampled bilinearly at cell centres; cells below it become solid
  (step terrain).

Every problem names the file, the feature or line, and the fix.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.path import Path as PolygonPath

from .errors import ConfigError
from .grid import BuildingBlock, Grid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Footprint:
    """One building: outer rings and holes as ``(n, 2)`` arrays of projected x, y (m), and its height (m)."""

    name: str
    rings: tuple[np.ndarray, ...]
    holes: tuple[np.ndarray, ...]
    height: float

    def bounds(self) -> tuple[float, float, float, float]:
        points = np.concatenate(self.rings)
        return float(points[:, 0].min()), float(points[:, 0].max()), float(points[:, 1].min()), float(points[:, 1].max())


def _ring(coordinates, where: str) -> np.ndarray:
    try:
        ring = np.asarray(coordinates, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(where, f"coordinates are not numbers ({exc})") from None
    if ring.ndim != 2 or ring.shape[1] < 2 or ring.shape[0] < 3:
        raise ConfigError(where, "a ring needs at least 3 (x, y) points")
    ring = ring[:, :2]
    if not np.all(np.isfinite(ring)):
        raise ConfigError(where, "coordinates must be finite numbers")
    x, y = ring[:, 0], ring[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    if area <= 0:
        raise ConfigError(where, "the ring encloses no area (repeated or collinear points)")
    if np.abs(ring).max() < 1000 and np.abs(ring[:, 0]).max() <= 180 and np.abs(ring[:, 1]).max() <= 90:
        raise ConfigError(where, "coordinates look like longitude/latitude degrees; give projected metres in "
                                 "the grid's CRS")
    return ring


def _height(properties: dict, where: str) -> float:
    value = properties.get("height")
    try:
        height = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}.properties.height", f"needs a building height in metres, got {value!r}") from None
    if not (math.isfinite(height) and height > 0):
        raise ConfigError(f"{where}.properties.height", f"must be > 0 m, got {value!r}")
    return height


def read_geojson_buildings(path: str | Path) -> list[Footprint]:
    """Footprints from a GeoJSON FeatureCollection (see the module docstring)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("grid.buildings_file", f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError("grid.buildings_file", f"{path} is not valid JSON (line {exc.lineno}, column "
                                                 f"{exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ConfigError("grid.buildings_file", f"{path} must be a GeoJSON FeatureCollection")
    footprints = []
    for i, feature in enumerate(data.get("features", [])):
        where = f"{path.name}: features[{i}]"
        geometry = (feature or {}).get("geometry") or {}
        properties = (feature or {}).get("properties") or {}
        name = str(properties.get("name", f"building {i}"))
        where = f"{where} ({name})"
        kind = geometry.get("type")
        if kind == "Polygon":
            polygons = [geometry.get("coordinates")]
        elif kind == "MultiPolygon":
            polygons = geometry.get("coordinates")
        else:
            raise ConfigError(f"{where}.geometry", f"type {kind!r} is not a footprint; use Polygon or MultiPolygon")
        if not polygons or any(not p for p in polygons):
            raise ConfigError(f"{where}.geometry", "has no coordinates")
        rings = tuple(_ring(p[0], f"{where}.geometry") for p in polygons)
        holes = tuple(_ring(h, f"{where}.geometry (hole)") for p in polygons for h in p[1:])
        footprints.append(Footprint(name, rings, holes, _height(properties, where)))
    return footprints


def read_csv_buildings(path: str | Path) -> list[Footprint]:
    """Box buildings from a CSV with columns ``name,x_min,x_max,y_min,y_max,height`` (m)."""
    path = Path(path)
    needed = ("name", "x_min", "x_max", "y_min", "y_max", "height")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in needed if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError("grid.buildings_file", f"{path.name} lacks the column(s) {', '.join(missing)}; "
                                                         f"expected {','.join(needed)}")
            footprints = []
            for row in reader:
                where = f"{path.name}: line {reader.line_num}"
                values = {}
                for column in needed[1:]:
                    try:
                        values[column] = float(row[column])
                    except (TypeError, ValueError):
                        raise ConfigError(f"{where}, column {column}", f"{row[column]!r} is not a number") from None
                if not (values["x_max"] > values["x_min"] and values["y_max"] > values["y_min"]):
                    raise ConfigError(where, "needs x_max > x_min and y_max > y_min")
                box = np.array([[values["x_min"], values["y_min"]], [values["x_max"], values["y_min"]],
                                [values["x_max"], values["y_max"]], [values["x_min"], values["y_max"]]])
                ring = _ring(box, where)
                if not (math.isfinite(values["height"]) and values["height"] > 0):
                    raise ConfigError(f"{where}, column height", f"must be > 0 m, got {row['height']!r}")
                footprints.append(Footprint(row["name"] or where, (ring,), (), values["height"]))
    except OSError as exc:
        raise ConfigError("grid.buildings_file", f"cannot read {path}: {exc.strerror}") from None
    return footprints


def read_buildings(path: str | Path) -> list[Footprint]:
    """Footprints from a ``.geojson``/``.json`` or ``.csv`` file."""
    suffix = Path(path).suffix.lower()
    if suffix in (".geojson", ".json"):
        return read_geojson_buildings(path)
    if suffix == ".csv":
        return read_csv_buildings(path)
    raise ConfigError("grid.buildings_file", f"{path}: unknown format {suffix!r}; use .geojson or .csv")


def add_buildings(grid: Grid, footprints: list[Footprint], source: str = "buildings",
                  ground: np.ndarray | None = None) -> int:
    """Mark the footprints' cells solid; returns how many cells became solid. Heights are above
    ``ground`` ``(ny, nx)`` (m, the terrain; the domain floor by default). A footprint wholly
    outside the domain is an error; one partly outside is clipped with a warning."""
    x0, x1, y0, y1, _, top = grid.extent
    xc, yc = np.meshgrid(grid.x_centres, grid.y_centres)
    points = np.column_stack([xc.ravel(), yc.ravel()])
    before = int(grid.solid.sum())
    for footprint in footprints:
        fx0, fx1, fy0, fy1 = footprint.bounds()
        if fx1 <= x0 or fx0 >= x1 or fy1 <= y0 or fy0 >= y1:
            raise ConfigError(f"{source}: {footprint.name}", f"footprint x {fx0:.0f}–{fx1:.0f}, y {fy0:.0f}–{fy1:.0f} "
                                                             f"lies outside the domain x {x0:.0f}–{x1:.0f}, y {y0:.0f}–{y1:.0f}; "
                                                             "check the CRS or remove it")
        if fx0 < x0 or fx1 > x1 or fy0 < y0 or fy1 > y1:
            log.warning("%s: %s crosses the domain edge and is clipped", source, footprint.name)
        base = 0.0 if ground is None else float(np.max(ground))
        if base + footprint.height >= top:
            raise ConfigError(f"{source}: {footprint.name}", f"height {footprint.height:g} m reaches the domain top "
                                                             f"({top:g} m); raise grid.nz or grid.stretch")
        inside = np.zeros(points.shape[0], dtype=bool)
        for ring in footprint.rings:
            inside |= PolygonPath(ring).contains_points(points)
        for hole in footprint.holes:
            inside &= ~PolygonPath(hole).contains_points(points)
        columns = inside.reshape(grid.ny, grid.nx)
        roof = footprint.height + (0.0 if ground is None else ground)
        grid.solid |= (grid.z_centres[:, None, None] < roof) & columns[None]
        if columns.any():
            base = 0.0 if ground is None else float(np.mean(np.asarray(ground)[columns]))
            grid.buildings.append(BuildingBlock(footprint.name, columns, base, float(footprint.height)))
    return int(grid.solid.sum()) - before


def read_ascii_grid(path: str | Path) -> tuple[np.ndarray, float, float, float]:
    """An ESRI ASCII grid: ``(values (nrows, ncols) south→north, x of the first column centre,
    y of the first (southern) row centre, cellsize)``; NODATA cells are NaN."""
    path = Path(path)
    header: dict[str, float] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError("grid.terrain_file", f"cannot read {path}: {exc.strerror}") from None
    keys = ("ncols", "nrows", "xllcorner", "yllcorner", "xllcenter", "yllcenter", "cellsize", "nodata_value")
    row = 0
    while row < len(lines) and lines[row].split() and lines[row].split()[0].lower() in keys:
        parts = lines[row].split()
        try:
            header[parts[0].lower()] = float(parts[1])
        except (IndexError, ValueError):
            raise ConfigError(f"{path.name}: line {row + 1}", f"header {lines[row]!r} needs a number") from None
        row += 1
    for key in ("ncols", "nrows", "cellsize"):
        if key not in header:
            raise ConfigError(path.name, f"the ESRI ASCII header lacks {key}")
    ncols, nrows, size = int(header["ncols"]), int(header["nrows"]), header["cellsize"]
    try:
        values = np.array([float(v) for line in lines[row:] for v in line.split()])
    except ValueError as exc:
        raise ConfigError(f"{path.name}: data", f"not a number ({exc})") from None
    if values.size != ncols * nrows:
        raise ConfigError(f"{path.name}: data", f"{values.size} values for {nrows} rows × {ncols} columns")
    values = values.reshape(nrows, ncols)[::-1]  # rows from north to south in the file
    if "nodata_value" in header:
        values[values == header["nodata_value"]] = np.nan
    if "xllcenter" in header:
        x_first, y_first = header["xllcenter"], header["yllcenter"]
    else:
        x_first, y_first = header.get("xllcorner", 0.0) + size / 2, header.get("yllcorner", 0.0) + size / 2
    return values, x_first, y_first, size


def terrain_heights(grid: Grid, path: str | Path) -> np.ndarray:
    """Ground height (m) at every column centre ``(ny, nx)``, bilinear in the raster."""
    values, x_first, y_first, size = read_ascii_grid(path)
    fx = (grid.x_centres - x_first) / size
    fy = (grid.y_centres - y_first) / size
    rows, cols = values.shape
    if fx.min() < 0 or fy.min() < 0 or fx.max() > cols - 1 or fy.max() > rows - 1:
        raise ConfigError("grid.terrain_file", f"{Path(path).name} does not cover the domain (its cell centres span "
                                               f"x {x_first:.0f}–{x_first + (cols - 1) * size:.0f}, "
                                               f"y {y_first:.0f}–{y_first + (rows - 1) * size:.0f})")
    i0 = np.minimum(np.floor(fx).astype(int), cols - 2) if cols > 1 else np.zeros(fx.shape, int)
    j0 = np.minimum(np.floor(fy).astype(int), rows - 2) if rows > 1 else np.zeros(fy.shape, int)
    tx, ty = fx - i0, fy - j0
    i1, j1 = np.minimum(i0 + 1, cols - 1), np.minimum(j0 + 1, rows - 1)
    heights = ((1 - ty)[:, None] * ((1 - tx) * values[j0][:, i0] + tx * values[j0][:, i1])
               + ty[:, None] * ((1 - tx) * values[j1][:, i0] + tx * values[j1][:, i1]))
    if np.isnan(heights).any():
        raise ConfigError("grid.terrain_file", f"{Path(path).name} has NODATA cells inside the domain")
    return heights


def add_terrain_file(grid: Grid, path: str | Path) -> np.ndarray:
    """Step terrain from an ESRI ASCII grid: cells whose centre is below the ground become solid.
    Heights are relative to the grid's z = 0 (give the raster as height above the lowest point)."""
    heights = terrain_heights(grid, path)
    if heights.max() >= grid.z_faces[-1]:
        raise ConfigError("grid.terrain_file", f"terrain reaches {heights.max():.0f} m, above the domain top "
                                               f"({grid.z_faces[-1]:.0f} m); raise grid.nz or grid.stretch")
    grid.add_terrain(np.maximum(heights, 0.0))
    return heights

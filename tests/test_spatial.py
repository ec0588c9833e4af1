"""Buildings (GeoJSON footprints, CSV boxes) and terrain (ESRI ASCII grid) onto the solid mask."""

import json

import numpy as np
import pytest

from engine import ConfigError, Grid
from engine.spatial import add_buildings, add_terrain_file, read_buildings, terrain_heights

X0, Y0 = 380000.0, 180000.0


def small_grid():
    """20 × 10 cells of 10 m from (X0, Y0), levels every 5 m to 60 m."""
    return Grid(20, 10, 10.0, 10.0, np.arange(0.0, 61.0, 5.0), origin=(X0, Y0), backend="numpy")


def feature(coordinates, height, name="b", kind="Polygon"):
    return {"type": "Feature", "properties": {"name": name, "height": height},
            "geometry": {"type": kind, "coordinates": coordinates}}


def write_geojson(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def square(x0, y0, x1, y1):
    return [[X0 + x0, Y0 + y0], [X0 + x1, Y0 + y0], [X0 + x1, Y0 + y1], [X0 + x0, Y0 + y1], [X0 + x0, Y0 + y0]]


def test_geojson_polygons_with_holes_and_multipolygons(tmp_path):
    grid = small_grid()
    courtyard = [square(0, 0, 60, 60), square(20, 20, 40, 40)]     # a block with a hole (cells 2–3)
    towers = [[square(100, 0, 120, 20)], [square(150, 50, 170, 70)]]  # a MultiPolygon of two towers
    path = write_geojson(tmp_path / "city.geojson", [feature(courtyard, 12.0, "block"),
                                                     feature(towers, 33.0, "towers", "MultiPolygon")])
    cells = add_buildings(grid, read_buildings(path))
    solid = grid.solid
    assert cells == int(solid.sum())
    assert solid[:, 0, 0].tolist() == [True, True] + [False] * 10  # roof at 12 m: centres 2.5 and 7.5 m
    assert not solid[0, 2, 2] and not solid[0, 3, 3]                    # the courtyard stays open
    assert solid[0, 1, 1] and solid[0, 4, 4]
    assert solid[6, 0, 10] and not solid[7, 0, 10]                      # tower roof at 33 m: centre 32.5 in
    assert solid[0, 5, 15] and solid[0, 6, 16] and not solid[0, 7, 17]


def test_csv_boxes_match_add_box(tmp_path):
    path = tmp_path / "boxes.csv"
    path.write_text("name,x_min,x_max,y_min,y_max,height\n"
                    f"hall,{X0 + 12},{X0 + 57},{Y0 + 22},{Y0 + 78},18\n")  # no centre on an edge
    from_file, by_hand = small_grid(), small_grid()
    add_buildings(from_file, read_buildings(path))
    by_hand.add_box(X0 + 12, X0 + 57, Y0 + 22, Y0 + 78, 18.0)
    assert np.array_equal(from_file.solid, by_hand.solid) and from_file.solid.any()


@pytest.mark.parametrize("make,match", [
    (lambda p: write_geojson(p / "far.geojson", [feature([square(5000, 0, 5100, 50)], 10.0, "far")]),
     r"far: footprint x 385000–385100.*outside the domain"),
    (lambda p: write_geojson(p / "deg.geojson", [feature([[[129.0, 35.1], [129.01, 35.1], [129.01, 35.11]]], 10.0)]),
     "longitude/latitude degrees; give projected metres"),
    (lambda p: write_geojson(p / "h.geojson", [feature([square(0, 0, 20, 20)], "tall")]),
     r"features\[0\] \(b\)\.properties\.height: needs a building height in metres"),
    (lambda p: write_geojson(p / "pt.geojson", [feature([X0, Y0], 10.0, kind="Point")]),
     "type 'Point' is not a footprint; use Polygon or MultiPolygon"),
    (lambda p: (p / "bad.geojson").write_text('{"type": "FeatureCollection", "features": [}') and p / "bad.geojson",
     r"bad\.geojson is not valid JSON \(line 1, column"),
    (lambda p: (p / "b.csv").write_text("name,x_min,x_max,y_min,y_max\nhall,1,2,3,4\n") and p / "b.csv",
     "lacks the column\\(s\\) height"),
    (lambda p: (p / "c.csv").write_text(f"name,x_min,x_max,y_min,y_max,height\nhall,{X0},{X0 + 20},{Y0},{Y0 + 20},ten\n")
     and p / "c.csv", "c.csv: line 2, column height: 'ten' is not a number"),
])
def test_bad_building_files_name_file_feature_and_fix(tmp_path, make, match):
    path = make(tmp_path)
    with pytest.raises(ConfigError, match=match):
        add_buildings(small_grid(), read_buildings(path))


def write_ascii_grid(path, values, x_corner, y_corner, size, nodata=None):
    header = [f"ncols {values.shape[1]}", f"nrows {values.shape[0]}", f"xllcorner {x_corner}",
              f"yllcorner {y_corner}", f"cellsize {size}"]
    if nodata is not None:
        header.append(f"NODATA_value {nodata}")
    rows = [" ".join(f"{v:g}" for v in row) for row in values[::-1]]  # the file lists north first
    path.write_text("\n".join(header + rows) + "\n")
    return path


def test_terrain_plane_is_sampled_exactly_and_becomes_step_terrain(tmp_path):
    # A plane rising 0.1 m per metre eastward, on a 20 m raster covering the domain with margin.
    xs = X0 - 20 + 10 + 20 * np.arange(14)
    values = np.tile(0.1 * (xs - X0), (8, 1))
    path = write_ascii_grid(tmp_path / "dem.asc", values, X0 - 20, Y0 - 20, 20.0)
    grid = small_grid()
    heights = add_terrain_file(grid, path)
    assert np.allclose(heights, np.tile(0.1 * (grid.x_centres - X0), (grid.ny, 1)))
    column = grid.solid[:, 4, 15]  # ground at 15.5 m: the centres 2.5 … 12.5 m are under it
    assert column.tolist() == [True] * 3 + [False] * 9


def test_terrain_that_misses_the_domain_or_has_holes_is_refused(tmp_path):
    short = write_ascii_grid(tmp_path / "short.asc", np.zeros((3, 3)), X0, Y0, 20.0)
    with pytest.raises(ConfigError, match="short.asc does not cover the domain"):
        terrain_heights(small_grid(), short)
    holes = np.zeros((8, 14))
    holes[3, 5] = -9999
    gappy = write_ascii_grid(tmp_path / "gappy.asc", holes, X0 - 20, Y0 - 20, 20.0, nodata=-9999)
    with pytest.raises(ConfigError, match="NODATA cells inside the domain"):
        terrain_heights(small_grid(), gappy)


def test_buildings_stand_on_the_terrain(tmp_path):
    values = np.full((8, 14), 10.0)
    dem = write_ascii_grid(tmp_path / "flat10.asc", values, X0 - 20, Y0 - 20, 20.0)
    path = write_geojson(tmp_path / "b.geojson", [feature([square(0, 0, 30, 30)], 12.0)])
    grid = small_grid()
    ground = add_terrain_file(grid, dem)
    add_buildings(grid, read_buildings(path), ground=ground)
    assert grid.solid[:, 1, 1].tolist() == [True] * 4 + [False] * 8   # roof at 22 m: centres to 17.5 m
    assert grid.solid[:, 5, 10].tolist() == [True] * 2 + [False] * 10  # bare ground at 10 m

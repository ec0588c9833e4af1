"""Transverse Mercator for the Korean CRSs against published coordinates and, when installed, PROJ."""

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.observations.projection import KNOWN_CRS, TransverseMercator, lonlat_to_projected, transform


def test_snyder_worked_example():
    # Snyder (1987), Map Projections - A Working Manual, p. 61: Clarke 1866, phi = 40.5 N,
    # lambda = 73.5 W, lambda0 = 75 W, k0 = 0.9996 -> x = 127,106.5 m, y = 4,484,124.4 m (to 0.1 m).
    clarke = TransverseMercator(6378206.4, 1 / 294.9786982, 0.0, -75.0, 0.9996, 0.0, 0.0)
    x, y = clarke.forward(-73.5, 40.5)
    assert x == pytest.approx(127106.5, abs=0.05) and y == pytest.approx(4484124.4, abs=0.05)


def test_natural_origins_and_utm_central_meridian():
    assert np.allclose(lonlat_to_projected(127.0, 38.0, "EPSG:5186"), (200000.0, 600000.0), atol=1e-6)
    assert np.allclose(lonlat_to_projected(127.5, 38.0, "EPSG:5179"), (1000000.0, 2000000.0), atol=1e-6)
    # On UTM 52N's central meridian at the equator: (500 km, 0).
    assert np.allclose(lonlat_to_projected(129.0, 0.0, "utm52n"), (500000.0, 0.0), atol=1e-6)


def test_inverse_undoes_forward_to_a_micrometre_across_korea():
    lon, lat = np.meshgrid(np.linspace(124.0, 131.0, 8), np.linspace(33.0, 39.0, 7))
    for crs, tm in KNOWN_CRS.items():
        back_lon, back_lat = tm.inverse(*tm.forward(lon, lat))
        assert np.abs(back_lon - lon).max() < 1e-11 and np.abs(back_lat - lat).max() < 1e-11, crs
    x, y = transform(lon, lat, "EPSG:4326", "EPSG:5186")
    x2, y2 = transform(*transform(x, y, "EPSG:5186", "EPSG:32652"), "EPSG:32652", "EPSG:5186")
    assert np.abs(x2 - x).max() < 1e-6 and np.abs(y2 - y).max() < 1e-6


def test_agrees_with_proj_to_a_nanometre_scale():
    pyproj = pytest.importorskip("pyproj", reason="optional: pip install plumetwin[geo]")
    lon, lat = np.meshgrid(np.linspace(124.5, 130.9, 6), np.linspace(33.2, 38.6, 5))
    for crs, tm in KNOWN_CRS.items():
        reference = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
        x, y = tm.forward(lon, lat)
        # Krueger's series to n^6 is exact to ~5 nm within 4000 km of the central meridian.
        assert np.abs(x - reference[0]).max() < 1e-6 and np.abs(y - reference[1]).max() < 1e-6, crs


def test_an_unknown_crs_without_pyproj_is_refused_by_name(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyproj(name, *args, **kwargs):
        if name.startswith("pyproj"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyproj)
    with pytest.raises(ConfigError, match="EPSG:2097.*not built in.*pyproj"):
        lonlat_to_projected(127.0, 37.0, "EPSG:2097")

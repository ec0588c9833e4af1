"""``<name>_release.h5``: the release task's results, written atomically.

Layout (concentrations in ppm at 25 °C and 1 atm, times in s from the release start, distances in m):

``/grid``           x, y cell centres (m, attribute ``crs``)
``/ground``         ``peak_ppm``, ``arrival_s`` (first time ≥ the arrival threshold; NaN never),
                    ``toxic_load`` (∫ Cⁿ dt, ppmⁿ·min), ``max_mean_ppm_<d>`` the largest running
                    mean over each AEGL duration d (s), all ``(ny, nx)`` at the lowest level
``/zones/<AEGL-k>/<d>``  footprint ``(ny, nx)`` (1 inside) with attributes ``threshold_ppm``,
                    ``distance_m``, ``reaches_edge``; ``/zones`` attribute ``governing_duration_s``;
                    ``/zones/<ERPG-k>/3600`` the same for the ERPGs on the 60-min mean
``/receptors``      names, x, y, z; ``times_s``; ``mean_ppm`` (receptor, time) interval means;
                    ``peak_ppm``, ``arrival_s``, ``toxic_load``, ``max_mean_ppm`` (governing duration)
``/ensemble``       ``members`` (JSON), ``probability_<AEGL-k>`` ``(ny, nx)``, ``distance_AEGL-2_m`` per member
root attributes     chemical, release term, conversion note, configuration
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np

import engine
from engine.atomic import atomic_path

from .chemicals import AEGL_LEVELS, Chemical
from .release_sources import ReleaseTerm

CONVERSION_NOTE = "ppm = kg/m3 * R T / (M p) * 1e6 at T = 298.15 K, p = 101325 Pa (25 degC, 1 atm)"


def write_release(path: str | Path, grid, chemical: Chemical, term: ReleaseTerm, rel: Mapping[str, Any],
                  base: Mapping[str, Any], zone: Mapping[str, Any], table: Mapping[str, Any], duration: float,
                  arrival: float, ensemble: Mapping[str, Any] | None, attributes: Mapping[str, Any]) -> Path:
    """Write the release results (layout in the module docstring) atomically; returns the path."""
    maps = base["maps"]
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            g = f.create_group("grid")
            g["x"], g["y"] = grid.x_centres, grid.y_centres
            g.attrs["crs"] = grid.crs
            g.attrs["ground_level_height_m"] = float(grid.z_centres[0])
            ground = f.create_group("ground")
            ground.attrs["units"] = "ppm"
            ground.create_dataset("peak_ppm", data=maps["peak"][0].astype(np.float32), compression="gzip")
            ground.create_dataset("arrival_s", data=maps["arrival"][0].astype(np.float32), compression="gzip")
            ground.create_dataset("toxic_load", data=maps["load"][0].astype(np.float32), compression="gzip")
            ground["toxic_load"].attrs["units"] = f"ppm^{chemical.toxic_load_exponent:g} min"
            ground["arrival_s"].attrs["threshold_ppm"] = arrival
            for key, field in maps.items():
                if key.startswith("window_"):
                    ground.create_dataset(f"max_mean_ppm_{key[7:]}", data=field[0].astype(np.float32), compression="gzip")
            zones = f.create_group("zones")
            zones.attrs["governing_duration_s"] = duration
            for level, by_duration in zone.items():
                for d, block in by_duration.items():
                    ds = zones.create_dataset(f"{level}/{d}", data=block["mask"].astype(np.uint8), compression="gzip")
                    ds.attrs.update({"threshold_ppm": block["threshold_ppm"], "distance_m": block["distance_m"],
                                     "reaches_edge": block["edge"]})
            receptors = base.get("receptors")
            if receptors is not None:
                r = f.create_group("receptors")
                r["names"] = np.array(list(receptors["names"]), dtype=h5py.string_dtype())
                r["times_s"] = receptors["times"]
                r["mean_ppm"] = receptors["means"][0]
                for key in ("arrival_s", "peak_ppm", "toxic_load", "max_mean_ppm"):
                    r[key] = np.array([table[n][key] for n in receptors["names"]])
                r["max_mean_ppm"].attrs["duration_s"] = duration
            if ensemble is not None:
                e = f.create_group("ensemble")
                e["members"] = json.dumps(list(ensemble["members"]), default=float)
                for level in AEGL_LEVELS:
                    e.create_dataset(f"probability_{level}", data=ensemble["probability"][level].astype(np.float32),
                                     compression="gzip")
                e["distance_AEGL-2_m"] = ensemble["distances"]
                e.attrs["duration_s"] = duration
            f.attrs.update({"chemical": chemical.key, "chemical_name": chemical.name, "molar_mass_kg_mol": chemical.molar_mass,
                            "dense_gas_note": chemical.dense, "dense_gas_modelled": False,
                            "release_kind": term.kind, "release_mass_kg": term.mass,
                            "release_rate_kg_s": np.nan if term.rate is None else term.rate,
                            "release_duration_s": term.duration, "release_regime": term.regime,
                            "release_x": float(rel["x"]), "release_y": float(rel["y"]), "release_height_m": float(rel["height"]),
                            "toxic_load_exponent": chemical.toxic_load_exponent, "conversion": CONVERSION_NOTE,
                            "release_config": json.dumps(dict(rel), default=str), "version": engine.__version__})
            for key, value in attributes.items():
                f.attrs[key] = value
    return Path(path)

"""Plain run configurations for the ensemble and compare tests (no Hydra needed)."""

from __future__ import annotations


def tiny_run(backend: str = "numpy", dtype: str = "float32", stop: float = 300.0, species=("SO2", "PM10"),
             sources=None, receptors=None, met=None) -> dict:
    """A 1 km x 750 m domain, uniform 4 m/s wind from the west, constant diffusivities."""
    molar = {"SO2": 0.06407, "NO2": 0.04601, "PM10": None, "PM2.5": None}
    return {
        "name": "tiny",
        "grid": {"nx": 40, "ny": 30, "nz": 8, "dx": 25.0, "dy": 25.0, "dz_bottom": 5.0, "stretch": 1.2,
                 "origin_x": 380000.0, "origin_y": 180000.0},
        "met": {"profile": "uniform", "speed": 4.0, "direction": 270.0, "stability": "D",
                "diffusivity": {"kind": "constant", "kh": 5.0, "kz": 1.0}, **(met or {})},
        "species": [{"name": s, "molar_mass": molar[s]} for s in species],
        "sources": sources if sources is not None else [
            {"name": "stack", "kind": "point", "x": 380200.0, "y": 180375.0, "height": 20.0, "unit": "g/s",
             "emissions": {s: 1.0 for s in species}}],
        "receptors": receptors if receptors is not None else [
            {"name": "near", "x": 380500.0, "y": 180375.0, "z": 1.5},
            {"name": "far", "x": 380850.0, "y": 180400.0, "z": 1.5}],
        "backend": {"name": backend, "dtype": dtype},
        "output": {"progress": False},
        "time": {"stop": stop},
    }

"""Small models shared by the output and checkpoint tests."""

import numpy as np

from engine import Diffusivity, DispersionModel, Grid, PointSampler, PointSource, Species, Wind, WindProfile


def two_member_model(backend="numpy"):
    grid = Grid(40, 20, 10.0, 10.0, np.arange(0, 110, 10.0), origin=(1000.0, 2000.0), crs="EPSG:5186",
                backend=backend)
    grid.add_box(200 + 1000, 240 + 1000, 80 + 2000, 120 + 2000, 15.0)
    wind = Wind.from_profiles(grid, [WindProfile(3.0, 270.0), WindProfile(2.0, 250.0)])
    species = [Species("SO2", molar_mass=0.06407, deposition_velocity=0.005), Species("PM10")]
    sources = [PointSource("stack", {"SO2": 1.0, "PM10": 0.5}, x=1050, y=2100, height=25)]
    model = DispersionModel(grid, wind, Diffusivity.constant(grid, 2.0, 1.0), species, sources)
    sampler = PointSampler(grid, [(1300.0, 2100.0, 1.5), (1350.0, 2060.0, 10.0)], names=["school", "homes"])
    return model, sampler

"""Continuous point source in each Pasquill–Gifford class against the Gaussian plume with the
Briggs (1973) open-country σy, σz curves: ground-level centreline concentrations 100 m – 2 km
downwind, at least 70 % of them within a factor of two (FAC2 >= 0.7). The test prints FAC2 and
sample ratios per class.

K-theory with the boundary-layer Kz and Kh = max(Kz, 1 m²/s) spreads too little sideways in
neutral and slightly stable air: classes D and E fall short (FAC2 0.20 and 0.36, the model
up to 3–4× high at 2 km) and are marked as expected failures until Kh comes from σv.
"""

import math

import numpy as np
import pytest

from engine import DispersionModel, Grid, PointSource, Species, Wind, WindProfile, stability_diffusivity, \
    stretched_levels
from engine.simulation import Simulation

SIGMA_Y = {"A": 0.22, "B": 0.16, "C": 0.11, "D": 0.08, "E": 0.06, "F": 0.04}
SPEED = {"A": 2.0, "B": 3.0, "C": 4.0, "D": 5.0, "E": 3.0, "F": 2.0}  # m/s, typical of each class
HEIGHT = 10.0  # m, release height


def sigma_y(stability, x):
    return SIGMA_Y[stability] * x / np.sqrt(1 + 1e-4 * x)


def sigma_z(stability, x):
    if stability == "A":
        return 0.20 * x
    if stability == "B":
        return 0.12 * x
    if stability == "C":
        return 0.08 * x / np.sqrt(1 + 2e-4 * x)
    if stability == "D":
        return 0.06 * x / np.sqrt(1 + 1.5e-3 * x)
    if stability == "E":
        return 0.03 * x / (1 + 3e-4 * x)
    return 0.016 * x / (1 + 3e-4 * x)


def fac2_against_gaussian_plume(stability, backend):
    dx, nx, ny = 20.0, 120, 60
    grid = Grid(nx, ny, dx, dx, stretched_levels(30, 2.0, 1.12), backend=backend)
    u = SPEED[stability]
    wind = Wind.from_profiles(grid, [WindProfile(u, 270.0, kind="uniform")])
    y0 = ny * dx / 2
    model = DispersionModel(grid, wind, stability_diffusivity(grid, stability, u, 10.0, 0.1), [Species("T")],
                            [PointSource("s", {"T": 1.0}, x=100.0, y=y0, height=HEIGHT)])
    Simulation(model, 2.5 * nx * dx / u).run()  # well past the travel time: steady
    centreline = np.asarray(grid.backend.to_host(model.state))[0, 0, 0].max(axis=0)  # lowest level, across y
    x = grid.x_centres - 100.0
    inside = (x >= 100) & (x <= 2000)
    x, z = x[inside], grid.z_centres[0]
    sz, sy = sigma_z(stability, x), sigma_y(stability, x)
    plume = (np.exp(-(z - HEIGHT) ** 2 / (2 * sz**2)) + np.exp(-(z + HEIGHT) ** 2 / (2 * sz**2))) \
        / (2 * math.pi * u * sy * sz)
    ratio = centreline[inside] / plume
    return float(np.mean((ratio >= 0.5) & (ratio <= 2))), ratio


@pytest.mark.parametrize("stability", [
    "A", "B", "C",
    pytest.param("D", marks=pytest.mark.xfail(strict=True, reason="Kh = max(Kz, 1 m²/s) under-spreads sideways; "
                                                                   "needs σv-based Kh")),
    pytest.param("E", marks=pytest.mark.xfail(strict=True, reason="Kh = max(Kz, 1 m²/s) under-spreads sideways; "
                                                                   "needs σv-based Kh")),
    "F",
])
def test_ground_centreline_within_a_factor_of_two_of_the_pg_plume(stability):
    fac2, ratio = fac2_against_gaussian_plume(stability, "numba" if _has_numba() else "numpy")
    print(f"class {stability}: FAC2 {fac2:.2f}; model/PG at 100, 300, … 1900 m: {np.round(ratio[::10], 2)}")
    assert fac2 >= 0.7


def _has_numba() -> bool:
    try:
        import numba  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True

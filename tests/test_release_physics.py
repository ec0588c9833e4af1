"""Release task physics: threat distance and arrival time against the analytic Gaussian plume,
and the ensemble probability of exceeding AEGL-2 on members whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from validation.analytic import gaussian_plume_reflected
from scenarios.chemicals import get_chemical
from scenarios.release_sources import ReleaseTerm
from scenarios.release_task import release_run, simulate
from scenarios.threat import arrival_time, exceedance_probability, running_mean_series, threat_distance

SPEED, K, DX = 2.0, 15.0, 10.0
ORIGIN_X, ORIGIN_Y = -120.0, -240.0


def plume_run(height: float, rate: float, stop: float, receptors=()) -> tuple[dict, dict]:
    """A uniform 10 m grid, uniform wind U along +x and constant K = Kh = Kz: the engine's
    equation then has the reflected Gaussian plume (σ² = 2Kx/U) as its slender-plume solution."""
    run = {"name": "plume",
           "grid": {"nx": 72, "ny": 48, "nz": 30, "dx": DX, "dy": DX, "dz_bottom": DX, "stretch": 1.0,
                    "origin_x": ORIGIN_X, "origin_y": ORIGIN_Y},
           "met": {"profile": "uniform", "speed": SPEED, "direction": 270.0, "stability": "D",
                   "diffusivity": {"kind": "constant", "kh": K, "kz": K}},
           "receptors": [{"name": n, "x": x, "y": 0.0, "z": 5.0} for n, x in receptors],
           "backend": {"name": "numpy", "dtype": "float64"}, "output": {"progress": False},
           "time": {"stop": stop}}
    rel = {"x": 0.0, "y": 0.0, "height": height}
    term = ReleaseTerm("continuous", rate * stop, rate, stop)
    return release_run(run, rel, get_chemical("Cl2"), term), rel


def analytic_distance(threshold: float, rate: float, height: float, z0: float) -> float:
    """Farthest x where the ground-level centreline plume reaches ``threshold`` (kg/m³)."""
    c = lambda x: gaussian_plume_reflected(x, 0.0, z0, rate, height, SPEED, K) - threshold  # noqa: E731
    xs = np.linspace(5.0, 5000.0, 5000)
    last = np.nonzero(c(xs) > 0)[0].max()
    return brentq(c, xs[last], xs[last + 1])


@pytest.mark.parametrize("height", [5.0, 25.0])
def test_threat_distance_matches_gaussian_plume_within_ten_percent(height):
    # The 10-min AEGL-2 of chlorine (2.8 ppm) with a rate chosen to put its distance near 400 m,
    # where Ux/K >= 50 (slender plume) and sigma = 52 m spans 5 cells.
    cl2 = get_chemical("Cl2")
    threshold = float(cl2.ppm_to_kg_m3(cl2.aegl_ppm("AEGL-2", 600.0)))
    z0 = DX / 2
    unit = gaussian_plume_reflected(400.0, 0.0, z0, 1.0, height, SPEED, K)
    rate = threshold / unit
    run, rel = plume_run(height, rate, stop=1200.0)
    out = simulate(run, [{}], cl2, 30.0, [600.0], 1e9)
    grid = out["grid"]
    mask = out["maps"]["window_600"][0] >= cl2.aegl_ppm("AEGL-2", 600.0)
    model = threat_distance(mask, grid.x_centres, grid.y_centres, 0.0, 0.0)
    exact = analytic_distance(threshold, rate, height, z0)
    print(f"H = {height:g} m: model {model:.1f} m, analytic {exact:.1f} m, ratio {model / exact:.3f}")
    assert abs(model / exact - 1) < 0.10


def test_arrival_time_is_distance_over_wind_speed_within_one_output_interval():
    # The half-maximum of an advected front moves at U (along-wind diffusion spreads the front
    # symmetrically about x = Ut), so each receptor's arrival at half its steady concentration is
    # x/U, reported at the end of the 30 s output interval in which it happens.
    interval, distances = 30.0, (200.0, 400.0)
    cl2 = get_chemical("Cl2")
    run, _ = plume_run(5.0, 1.0, stop=450.0, receptors=[(f"r{int(x)}", x) for x in distances])
    out = simulate(run, [{}], cl2, interval, [600.0], 1e9)
    receptors = out["receptors"]
    for k, x in enumerate(distances):
        steady = float(cl2.kg_m3_to_ppm(gaussian_plume_reflected(x, 0.0, 5.0, 1.0, 5.0, SPEED, K)))
        arrival = float(arrival_time(receptors["ends"][0, k], receptors["times"], 0.5 * steady))
        print(f"x = {x:g} m: arrival {arrival:g} s, x/U = {x / SPEED:g} s")
        assert abs(arrival - x / SPEED) <= interval


def test_ensemble_probability_of_exceeding_aegl2_on_known_members():
    # Four members: three with the wind from the west, one from the east. Far downwind on either side
    # the plume is far above AEGL-2 for the members blowing there and upwind diffusion (e^(-Ux/K) =
    # e^(-160) at 200 m) leaves exactly nothing for the others: P = 3/4 east, 1/4 west, 0 north.
    cl2 = get_chemical("Cl2")
    run = {"name": "p", "grid": {"nx": 40, "ny": 30, "nz": 8, "dx": 25.0, "dy": 25.0, "dz_bottom": 5.0,
                                 "stretch": 1.2, "origin_x": 0.0, "origin_y": 0.0},
           "met": {"profile": "uniform", "speed": 4.0, "direction": 270.0, "stability": "D",
                   "diffusivity": {"kind": "constant", "kh": 5.0, "kz": 1.0}},
           "backend": {"name": "numpy", "dtype": "float32"}, "output": {"progress": False}, "time": {"stop": 600.0}}
    run = release_run(run, {"x": 500.0, "y": 375.0, "height": 2.0}, cl2, ReleaseTerm("continuous", 600.0, 1.0, 600.0))
    members = [{"direction_offset": 0.0}] * 3 + [{"direction_offset": 180.0}]
    out = simulate(run, members, cl2, 60.0, [600.0], 1e9)
    grid = out["grid"]
    probability = exceedance_probability(out["maps"]["window_600"], cl2.aegl_ppm("AEGL-2", 600.0))
    j = int(np.argmin(np.abs(grid.y_centres - 375.0)))
    east = int(np.argmin(np.abs(grid.x_centres - 700.0)))
    west = int(np.argmin(np.abs(grid.x_centres - 300.0)))
    assert probability[j, east] == pytest.approx(0.75)
    assert probability[j, west] == pytest.approx(0.25)
    assert probability[-1, east] == 0.0
    assert set(np.unique(probability)) <= {0.0, 0.25, 0.5, 0.75, 1.0}


def test_ground_running_means_agree_with_the_receptor_series_at_a_cell_centre():
    # Two independent paths to the same 10-min running mean: the on-device ring of ∫C dt at the ground
    # cells, and the host running mean of a receptor's interval means at that cell's centre (the
    # sampler's weight is exactly 1 there). Both integrate every step, so they agree to round-off.
    cl2 = get_chemical("Cl2")
    run, _ = plume_run(5.0, 1.0, stop=900.0, receptors=[("centre", 205.0)])
    run["receptors"][0]["y"] = 5.0
    out = simulate(run, [{}], cl2, 30.0, [600.0], 1e9)
    grid = out["grid"]
    i, j = int(np.argmin(np.abs(grid.x_centres - 205.0))), int(np.argmin(np.abs(grid.y_centres - 5.0)))
    series = running_mean_series(out["receptors"]["means"][0, 0], 30.0, 600.0)
    assert out["maps"]["window_600"][0, j, i] == pytest.approx(series.max(), rel=1e-9)
    assert out["maps"]["peak"][0, j, i] == pytest.approx(out["receptors"]["peak"][0, 0], rel=1e-9)
    assert out["maps"]["load"][0, j, i] == pytest.approx(out["receptors"]["load"][0, 0], rel=1e-9)

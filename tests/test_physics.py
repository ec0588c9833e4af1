"""Physics verification against analytic solutions and conservation laws, on every backend."""

import math

import numpy as np
import pytest

from engine import (Diffusivity, DispersionModel, Grid, PointSource, Species, VolumeSource, Wind,
                    WindProfile, stretched_levels)
from engine.errors import ConfigError
from engine.simulation import Simulation
from validation.analytic import gaussian_plume_reflected, reflected_diffusion_1d, steady_point_source_reflected
from validation.analytic_cases import divergence_free_box_wind, puff_error


def test_gaussian_puff_converges_at_second_order(backend):
    errors = [puff_error(n, backend) for n in (25, 50, 100)]
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    print(f"puff L2 errors {errors}, measured orders {orders}")
    assert errors[-1] < 0.02
    assert min(orders) >= 1.5


@pytest.mark.parametrize("building", [False, True], ids=["open-box", "with-building"])
def test_closed_box_conserves_mass_over_1000_steps(backend, to_host, building):
    grid = Grid(32, 24, 10.0, 10.0, stretched_levels(8, 5.0, 1.2), backend=backend)
    if building:  # solid faces cut the flow: no flux through them, and no longer divergence-free
        grid.add_box(140, 180, 100, 140, 12.0)
    wind = divergence_free_box_wind(grid)
    assert wind.is_divergence_free() != building
    model = DispersionModel(grid, wind, Diffusivity.constant(grid, 3.0, 2.0), [Species("A"), Species("B")])
    rng = np.random.default_rng(0)
    model.set_state(rng.random((1, 2) + grid.shape).astype(np.float32))
    before = model.mass()
    for _ in range(1000):
        model.step(0.9 * model.stable_dt())
    after = model.mass()
    relative = np.abs(after - before) / before
    print(f"closed box relative mass change after 1000 steps: {relative.max():.2e}")
    assert relative.max() < 1e-5
    assert to_host(model.state).min() >= 0


def test_diagonal_square_wave_creates_no_new_extrema(backend, to_host):
    grid = Grid(60, 60, 10.0, 10.0, [0.0, 10.0], backend=backend)
    wind = Wind.from_profiles(grid, [WindProfile(math.sqrt(2) * 3.0, 225.0)])  # towards north-east
    model = DispersionModel(grid, wind, Diffusivity.constant(grid, 0.0, 0.0), [Species("S")])
    square = np.zeros(grid.shape, dtype=np.float32)
    square[0, 10:25, 10:25] = 1.0
    model.set_state(square[None, None])
    for _ in range(40):  # the wave moves 36 cells diagonally, staying inside the domain
        model.step(model.stable_dt(0.9))
        state = to_host(model.state)
        # float32 round-off is the only allowed overshoot: 2 ulp of 1.0, and undershoot below the
        # smallest normal float32 (1.2e-38), which is zero to every purpose.
        assert state.min() >= -np.finfo(np.float32).tiny
        assert state.max() <= 1.0 + 2.5e-7
    assert state.max() > 0.9  # the wave is still there, only smoothed at its edges


def plume_model(backend, dx=10.0, speed=2.0, k=15.0, height=25.0):
    grid = Grid(72, 60, dx, dx, np.arange(0.0, 41 * dx, dx), origin=(-12 * dx, -30 * dx), backend=backend)
    wind = Wind.from_profiles(grid, [WindProfile(speed, 270.0)])
    source = PointSource("stack", {"T": 1.0}, x=0.5 * dx, y=0.5 * dx, height=height)
    return DispersionModel(grid, wind, Diffusivity.constant(grid, k, k), [Species("T")], [source])


def test_continuous_point_source_matches_reflected_plume(backend, to_host):
    # Cell Peclet number U dx / K = 1.33 keeps the plume resolved (sigma >= 2.7 cells) from 5 cells on.
    dx, speed, k, height = 10.0, 2.0, 15.0, 25.0
    model = plume_model(backend, dx, speed, k, height)
    Simulation(model, 3.0 * 72 * dx / speed).run()  # three domain crossings: steady
    grid = model.grid
    c = to_host(model.state)[0, 0].astype(np.float64)
    j = int(np.argmin(np.abs(grid.y_centres - 0.5 * dx)))
    z0 = grid.z_centres[0]
    xs = grid.x_centres - 0.5 * dx  # downwind distance from the source
    cells = [i for i in range(grid.nx) if 5 <= round(xs[i] / dx) <= 50]
    model_values = c[0, j, cells]
    exact = steady_point_source_reflected(xs[cells], 0.0, z0, 1.0, height, speed, k)
    plume = gaussian_plume_reflected(xs[cells], 0.0, z0, 1.0, height, speed, k)
    ratio_exact = model_values / exact
    ratio_plume = model_values / plume
    print("cells downwind   model/exact   model/gaussian-plume")
    for n, i in enumerate(cells[::5]):
        print(f"{round(xs[i] / dx):4d} {ratio_exact[5 * n]:10.3f} {ratio_plume[5 * n]:10.3f}")
    assert np.all(np.abs(ratio_exact - 1) < 0.10)
    # The Gaussian plume neglects along-wind diffusion: it is the limit Ux/K >> 1 of the exact
    # solution, and the model must approach it there (Ux/K >= 20 from 15 cells on).
    slender = speed * xs[cells] / k >= 20
    assert np.all(np.abs(ratio_plume[slender] - 1) < 0.10)


def vertical_error(nz_per_100m, dt, backend, to_host, scheme="implicit"):
    grid = Grid(1, 1, 10.0, 10.0, np.linspace(0, 400, 4 * nz_per_100m + 1), dtype="float64", backend=backend)
    model = DispersionModel(grid, Wind.from_profiles(grid, [WindProfile(0.0)]),
                            Diffusivity.constant(grid, 0.0, 10.0), [Species("T")], vertical_diffusion=scheme)
    k, t0, t_end, z0 = 10.0, 50.0, 200.0, 60.0
    model.set_state(reflected_diffusion_1d(grid.z_centres, 0.0, 1.0, z0, k, t0)[None, None, :, None, None])
    Simulation(model, t_end, dt=dt).run()
    exact = reflected_diffusion_1d(grid.z_centres, t_end, 1.0, z0, k, t0)
    return float(np.linalg.norm(to_host(model.state)[0, 0, :, 0, 0] - exact) / np.linalg.norm(exact))


def test_implicit_vertical_diffusion_matches_analytic_and_converges_first_order_in_time(backend, to_host):
    # Backward Euler is first order in time: halving dt (on a fine grid) halves the error.
    errors = [vertical_error(50, dt, backend, to_host) for dt in (8.0, 4.0, 2.0)]
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    print(f"vertical diffusion errors {errors}, orders in time {orders}")
    assert errors[-1] < 0.01
    assert all(0.85 < p < 1.2 for p in orders)


def test_explicit_vertical_diffusion_matches_analytic_and_auto_chooses_it_when_well_inside_its_limit(
        backend, to_host):
    # dz = 4 m, K = 10 m²/s: the off-diagonal weight 2 K dt / dz² is 0.5 at dt = 0.4 s.
    errors = [vertical_error(25, dt, backend, to_host, scheme="explicit") for dt in (0.4, 0.2)]
    print(f"explicit vertical diffusion errors {errors}")
    assert errors[0] < 0.01 and errors[1] < 0.01
    grid = Grid(1, 1, 10.0, 10.0, np.linspace(0, 400, 101), backend=backend)
    model = DispersionModel(grid, Wind.from_profiles(grid, [WindProfile(0.0)]),
                            Diffusivity.constant(grid, 0.0, 10.0), [Species("T")])
    limit = model.transport._vertical.explicit_limit
    assert math.isclose(limit, 0.4, rel_tol=1e-6)
    assert model.transport.explicit_vertical(0.4) and not model.transport.explicit_vertical(0.41)
    with pytest.raises(ConfigError, match="explicit vertical diffusion is unstable"):
        DispersionModel(grid, model.wind, model.diffusivity, [Species("T")],
                        vertical_diffusion="explicit").transport.explicit_vertical(0.81)


def test_implicit_vertical_diffusion_on_stretched_levels(backend, to_host):
    grid = Grid(1, 1, 10.0, 10.0, stretched_levels(40, 2.0, 1.06), dtype="float64", backend=backend)
    model = DispersionModel(grid, Wind.from_profiles(grid, [WindProfile(0.0)]),
                            Diffusivity.constant(grid, 0.0, 10.0), [Species("T")], vertical_diffusion="implicit")
    k, t0, t_end, z0 = 10.0, 50.0, 200.0, 40.0
    model.set_state(reflected_diffusion_1d(grid.z_centres, 0.0, 1.0, z0, k, t0)[None, None, :, None, None])
    Simulation(model, t_end, dt=1.0).run()
    exact = reflected_diffusion_1d(grid.z_centres, t_end, 1.0, z0, k, t0)
    got = to_host(model.state)[0, 0, :, 0, 0]
    weights = grid.dz
    error = np.sqrt(np.sum(weights * (got - exact) ** 2) / np.sum(weights * exact**2))
    print(f"stretched-level vertical diffusion relative L2 error {error:.4f}")
    assert error < 0.02
    initial = reflected_diffusion_1d(grid.z_centres, 0.0, 1.0, z0, k, t0)
    assert abs(np.sum(got * weights) - np.sum(initial * weights)) / np.sum(initial * weights) < 1e-12


def test_mass_budget_closes_with_sources_outflow_deposition_and_decay(backend):
    grid = Grid(40, 30, 20.0, 20.0, stretched_levels(12, 4.0, 1.15), backend=backend)
    grid.add_box(300, 360, 250, 320, 15.0)
    wind = Wind.from_profiles(grid, [WindProfile(4.0, 250.0, kind="log", roughness_length=0.5)])
    species = [Species("SO2", decay_rate=2e-4, deposition_velocity=0.01), Species("PM10", deposition_velocity=0.02)]
    sources = [PointSource("stack", {"SO2": 2.0, "PM10": 0.5}, x=150, y=300, height=30),
               VolumeSource("yard", {"PM10": 0.2}, x_min=100, x_max=200, y_min=100, y_max=180, z_min=0, z_max=8)]
    model = DispersionModel(grid, wind, Diffusivity.constant(grid, 4.0, 3.0), species, sources)
    Simulation(model, 900.0).run()
    b = model.budget()
    residual = b["emitted"] - b["inside"] - b["outflow"] - b["deposited"] - b["decayed"]
    relative = np.abs(residual) / b["emitted"]
    print("budget (kg):", {k: v.round(3).tolist() for k, v in b.items()}, "relative residual", relative)
    assert np.all(b["outflow"] > 0) and np.all(b["deposited"] > 0) and b["decayed"][0, 0] > 0
    assert relative.max() < 1e-4


def test_eight_members_together_equal_eight_single_runs(backend, to_host):
    grid_kw = dict(nx=30, ny=24, dx=20.0, dy=20.0, z_faces=stretched_levels(8, 5.0, 1.2), backend=backend)
    profiles = [WindProfile(2.0 + 0.5 * m, 200.0 + 15 * m, kind="power") for m in range(8)]
    species = [Species("A", deposition_velocity=0.005), Species("B", decay_rate=1e-3)]

    def build(members):
        grid = Grid(**grid_kw)
        source = PointSource("s", {"A": 1.0, "B": 3.0}, x=300, y=240, height=20)
        wind = Wind.from_profiles(grid, members)
        return DispersionModel(grid, wind, Diffusivity.constant(grid, 3.0, 2.0, len(members)), species, [source])

    together = build(profiles)
    Simulation(together, 600.0, dt=2.0).run()
    combined = to_host(together.state)
    for m, profile in enumerate(profiles):
        single = build([profile])
        Simulation(single, 600.0, dt=2.0).run()
        alone = to_host(single.state)[0]
        scale = np.abs(alone).max()
        assert np.abs(combined[m] - alone).max() <= 1e-6 * scale

"""Adjoint consistency: sampling vs injection, the linear transport vs its transpose, and
backward-run sensitivities vs forward runs of the engine from the same cells."""

import numpy as np
import pytest

from engine import Diffusivity, DispersionModel, Grid, PointSampler, PointSource, PuffSource, Species, Wind, WindProfile
from engine.assimilation.adjoint import LinearTransport
from engine.assimilation.backward import backward_sensitivities, continuous_release_response
from engine.simulation import Simulation
from engine.sources import SourceInjector

# Every operator here is linear and evaluated in float64 (float32 for the sampler check): the two
# sides of a dot-product test then differ by round-off, ~1e-15 (~1e-7 in float32) relative, so
# 1e-4 is the acceptance's own bound with room for the float32 sums over ~10^4 cells.
DOT_TOLERANCE = 1e-4


def small_grid(dtype="float64"):
    grid = Grid(14, 12, 25.0, 25.0, [0.0, 2.0, 5.0, 10.0, 20.0, 35.0], backend="numpy", dtype=dtype)
    grid.add_box(150.0, 200.0, 100.0, 160.0, 8.0)  # a building closes faces
    return grid


def relative_gap(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sampling_is_the_transpose_of_its_adjoint(dtype):
    grid = small_grid(dtype)
    rng = np.random.default_rng(1)
    sampler = PointSampler(grid, [(33.0, 41.0, 1.0), (260.0, 210.0, 12.0), (120.0, 60.0, 3.3)])
    field = rng.random((2, 1) + grid.shape).astype(dtype) * ~grid.solid
    weights = rng.random((2, 1, 3)).astype(dtype)
    left = float(np.sum(sampler.sample(field).astype(np.float64) * weights))
    right = float(np.sum(field.astype(np.float64) * sampler.adjoint(weights)))
    print(f"<Hc, w> = {left:.9g}, <c, H^T w> = {right:.9g}")
    assert relative_gap(left, right) < DOT_TOLERANCE


def test_injection_is_the_volume_weighted_transpose_of_sampling():
    grid = small_grid()
    rng = np.random.default_rng(2)
    where = (260.0, 210.0, 12.0)
    species = [Species("gas")]
    injector = SourceInjector(grid, species, [PuffSource("puff", {"gas": 3.0}, start=0.0, x=where[0], y=where[1],
                                                        height=where[2])], members=1)
    field = np.zeros((1, 1) + grid.shape)
    injector.inject(field, 0.0, 1.0)
    test_field = rng.random((1, 1) + grid.shape)
    volumes = np.broadcast_to(grid.cell_volumes(), grid.shape)
    injected = float(np.sum(field[0, 0] * volumes * test_field[0, 0]))  # ⟨B m, w⟩ in kg-weighted form
    sampled = 3.0 * float(PointSampler(grid, [where]).sample(test_field)[0, 0, 0])  # m · (H w)
    assert relative_gap(injected, sampled) < DOT_TOLERANCE


@pytest.mark.parametrize("vertical, compensate, advection", [
    ("implicit", False, "upwind"), ("explicit", False, "upwind"), ("implicit", True, "upwind"),
    ("implicit", False, "lax_wendroff")])
def test_linear_transport_passes_the_dot_product_test(vertical, compensate, advection):
    grid = small_grid()
    wind = Wind.from_profiles(grid, [WindProfile(3.0, 235.0, kind="log", vertical_velocity=0.0)])
    transport = LinearTransport(grid, wind, Diffusivity.constant(grid, 10.0, 2.0), dt=2.0,
                                vertical_diffusion=vertical, deposition_velocity=0.01, decay_rate=1e-4,
                                compensate_numerical_diffusion=compensate, advection=advection)
    rng = np.random.default_rng(3)
    q, w = rng.standard_normal(grid.size), rng.standard_normal(grid.size)
    forward, backward = q.copy(), w.copy()
    steps = 7  # odd: both sweep orders and an unpaired step
    for n in range(steps):
        forward = transport.step(forward, n)
    for n in reversed(range(steps)):
        backward = transport.adjoint_step(backward, n)
    left, right = float(forward @ w), float(q @ backward)
    print(f"{vertical}: <A q, w> = {left:.15g}, <q, A^T w> = {right:.15g}, gap {relative_gap(left, right):.2e}")
    assert relative_gap(left, right) < DOT_TOLERANCE


@pytest.mark.parametrize("vertical", ["implicit", "explicit"])
def test_linear_transport_is_the_engine_step_with_the_upwind_limiter(vertical):
    from engine.transport import Transport

    grid = small_grid()
    wind = Wind.from_profiles(grid, [WindProfile(3.0, 235.0, kind="log")])
    diffusivity = Diffusivity.constant(grid, 10.0, 2.0)
    species = [Species("gas", deposition_velocity=0.01, decay_rate=1e-4)]
    engine_step = Transport(grid, wind, diffusivity, species, limiter="upwind", vertical_diffusion=vertical)
    linear = LinearTransport(grid, wind, diffusivity, 2.0, vertical_diffusion=vertical, deposition_velocity=0.01,
                             decay_rate=1e-4)
    field = np.random.default_rng(4).random(grid.shape) * ~grid.solid
    ours, theirs = field.ravel().copy(), field[None, None].copy()
    for n in range(6):
        ours = linear.step(ours, n)
        theirs = engine_step.step(theirs, 2.0, n)[0]
    # Same float64 arithmetic up to the order of the additions (the engine updates in flux form).
    np.testing.assert_allclose(ours, theirs.ravel(), rtol=0, atol=1e-12 * float(np.abs(theirs).max()))


def test_backward_sensitivities_match_forward_runs_from_the_same_cells():
    grid = small_grid()
    wind = Wind.from_profiles(grid, [WindProfile(3.0, 250.0, kind="log")])
    diffusivity = Diffusivity.constant(grid, 10.0, 2.0)
    dt, steps, start_step = 5.0, 40, 6
    sensors = [(250.0, 200.0, 3.0), (300.0, 120.0, 1.5)]
    sampler = PointSampler(grid, sensors)
    layer = 0
    cells_ij = [(4, 2), (6, 3), (3, 5)]  # (j, i) of the release cells
    cells = np.array([layer * grid.nx * grid.ny + j * grid.nx + i for j, i in cells_ij])
    transport = LinearTransport(grid, wind, diffusivity, dt, vertical_diffusion="implicit")
    response = continuous_release_response(backward_sensitivities(transport, sampler, steps, steps, cells))
    for n, (j, i) in enumerate(cells_ij):
        source = PointSource("unit", {"gas": 1.0}, start=start_step * dt, x=float(grid.x_centres[i]),
                             y=float(grid.y_centres[j]), height=float(grid.z_centres[layer]))
        model = DispersionModel(grid, wind, diffusivity, [Species("gas")], [source], limiter="upwind",
                                vertical_diffusion="implicit")
        Simulation(model, stop_time=steps * dt, dt=dt).run()
        forward = model.grid.backend.to_host(sampler.sample(model.state))[0, 0]
        backward = response[:, steps - start_step, n]
        print(f"cell (j={j}, i={i}): forward {forward}, backward {backward}")
        assert np.all(forward > 0)
        np.testing.assert_allclose(backward, forward, rtol=0.05)
        np.testing.assert_allclose(backward, forward, rtol=1e-9)  # in fact exact to round-off

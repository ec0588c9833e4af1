"""Every backend equals the NumPy reference: states and budgets after 40 steps, over configurations
that exercise each branch of the scheme (limiters, solids, stretched levels, closed walls, members,
vertical wind, deposition, decay, background, sources) in float32 and float64."""

import numpy as np
import pytest

from engine import (Diffusivity, DispersionModel, Grid, PointSource, Species, VolumeSource, Wind, WindProfile,
                    stretched_levels)
from engine.transport import LIMITERS

TOLERANCE = {"float32": 1e-6, "float64": 1e-12}  # max |a - b| / max |a|


def build(backend, dtype, limiter, building, closed, vertical_wind, vertical="auto"):
    grid = Grid(26, 20, 20.0, 20.0, stretched_levels(9, 5.0, 1.2), dtype=dtype, backend=backend)
    if building:
        grid.add_box(200, 260, 160, 240, 15.0)
    profiles = [WindProfile(3.0, 230.0, kind="log", vertical_velocity=0.04 if vertical_wind else 0.0),
                WindProfile(2.0, 100.0, kind="power"), WindProfile(4.0, 10.0)]
    walls = ("west", "south") if closed else ()
    wind = Wind.from_profiles(grid, profiles, closed_boundaries=walls)
    species = [Species("A", deposition_velocity=0.01, background=2e-9), Species("B", decay_rate=1e-3)]
    sources = [PointSource("stack", {"A": 1.0, "B": 2.0}, x=130, y=210, height=20),
               VolumeSource("yard", {"B": 0.3}, x_min=300, x_max=360, y_min=40, y_max=100, z_min=0, z_max=6)]
    diffusivity = Diffusivity.constant(grid, 3.0, 2.0, 3)
    return DispersionModel(grid, wind, diffusivity, species, sources, limiter=limiter, vertical_diffusion=vertical)


# The last field is the vertical diffusion: at this step "auto" is explicit (fused into the sweep
# pass where there are no solids), "implicit" the streamed Thomas solve.
CASES = [
    ("float32", "mc", True, False, False, "implicit"),
    ("float32", "minmod", False, True, True, "auto"),
    ("float32", "vanleer", True, True, False, "auto"),
    ("float32", "superbee", False, False, True, "implicit"),
    ("float32", "upwind", True, False, True, "implicit"),
    ("float64", "mc", True, True, True, "auto"),
    ("float64", "vanleer", False, False, False, "implicit"),
    ("float32", "mc", False, False, False, "auto"),
]


def assert_same_run(reference, candidate, dt, steps, dtype, to_host):
    """Step both models alike; states and every budget term must agree to the dtype's tolerance."""
    for _ in range(steps):
        reference.step(dt)
        candidate.step(dt)
    expected, got = to_host(reference.state), to_host(candidate.state)
    assert np.abs(got - expected).max() <= TOLERANCE[dtype] * np.abs(expected).max()
    budget_ref, budget_got = reference.budget(), candidate.budget()
    for term in budget_ref:
        scale = max(np.abs(budget_ref[term]).max(), 1e-30)
        assert np.abs(budget_got[term] - budget_ref[term]).max() <= 10 * TOLERANCE[dtype] * scale, term


@pytest.mark.parametrize("dtype,limiter,building,closed,vertical_wind,vertical", CASES)
def test_backend_matches_numpy_reference(backend, to_host, dtype, limiter, building, closed, vertical_wind, vertical):
    if backend == "numpy":
        pytest.skip("the reference itself")
    reference = build("numpy", dtype, limiter, building, closed, vertical_wind, vertical)
    candidate = build(backend, dtype, limiter, building, closed, vertical_wind, vertical)
    dt = 0.9 * reference.stable_dt()
    assert reference.transport.explicit_vertical(dt) == (vertical == "auto")
    assert_same_run(reference, candidate, dt, 40, dtype, to_host)  # both sweep orders, many times


def test_every_limiter_is_covered():
    assert {case[1] for case in CASES} == set(LIMITERS)
    assert {case[-1] for case in CASES} == {"auto", "implicit"}


def deformation_model(backend, dtype, limiter):
    """A divergence-free 3D flow whose sweeps are each divergent (u = a(x - x0), w = -a z): the
    multi-dimensional correction is active in every sweep."""
    grid = Grid(24, 18, 20.0, 20.0, stretched_levels(10, 5.0, 1.15), dtype=dtype, backend=backend)
    rate = 0.004  # 1/s
    x_faces = np.arange(grid.nx + 1) * grid.dx
    z_faces = np.concatenate([[0.0], np.cumsum(grid.dz)])
    u = np.broadcast_to(rate * (x_faces - 0.5 * x_faces[-1]), (1, grid.nz, grid.ny, grid.nx + 1))
    v = np.full((1, grid.nz, grid.ny + 1, grid.nx), 0.8)
    w = np.broadcast_to(-rate * z_faces[:, None, None], (1, grid.nz + 1, grid.ny, grid.nx))
    wind = Wind(grid, u, v, w)
    assert wind.is_divergence_free()
    species = [Species("A", deposition_velocity=0.005, background=1e-9)]
    sources = [PointSource("stack", {"A": 1.0}, x=150, y=90, height=25)]
    return DispersionModel(grid, wind, Diffusivity.constant(grid, 2.0, 1.0, 1), species, sources, limiter=limiter)


@pytest.mark.parametrize("dtype,limiter", [("float32", "mc"), ("float64", "superbee")])
def test_backend_matches_reference_with_the_divergence_correction(backend, to_host, dtype, limiter):
    if backend == "numpy":
        pytest.skip("the reference itself")
    reference = deformation_model("numpy", dtype, limiter)
    candidate = deformation_model(backend, dtype, limiter)
    assert reference.transport._correct_divergence
    dt = 0.9 * reference.stable_dt()
    assert_same_run(reference, candidate, dt, 30, dtype, to_host)


@pytest.mark.parametrize("dtype,building,vertical", [("float32", True, "implicit"), ("float32", False, "auto"),
                                                     ("float64", True, "auto")])
def test_backend_matches_reference_with_subcycled_horizontal_diffusion(backend, to_host, dtype, building, vertical):
    if backend == "numpy":
        pytest.skip("the reference itself")
    reference, candidate = (build(name, dtype, "mc", building, False, True, vertical) for name in ("numpy", backend))
    for model in (reference, candidate):  # a convective-afternoon Kh on 20 m cells
        model.set_meteorology(model.wind, Diffusivity.constant(model.grid, 150.0, 2.0, 3))
    dt = 0.9 * reference.stable_dt()
    assert reference.transport.diffusion_substeps(dt) >= 4
    assert_same_run(reference, candidate, dt, 30, dtype, to_host)


@pytest.mark.parametrize("limiter", LIMITERS)
def test_numba_equals_the_reference_to_the_bit_where_the_wind_changes_sign(limiter):
    """The compiled sweeps compute each cell's limited slope once and use it, negated, for the
    downwind half of the face beside it; the reference evaluates the limiter per face and half.
    That is the same arithmetic only because every limiter is symmetric and odd in IEEE floats,
    so the fields must agree to the bit in a flow of both signs (u changes sign mid-domain)."""
    pytest.importorskip("numba")
    reference, compiled = deformation_model("numpy", "float32", limiter), deformation_model("numba", "float32", limiter)
    dt = 0.9 * reference.stable_dt()
    for _ in range(12):  # both sweep orders, the plume crossing the sign change
        reference.step(dt)
        compiled.step(dt)
    assert np.array_equal(np.asarray(compiled.state), np.asarray(reference.state))

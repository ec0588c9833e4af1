"""Sub-cycled explicit horizontal diffusion: the variance of a spreading cloud grows by exactly
2·Kh·t per axis (the discrete second moment of the explicit scheme grows linearly, whatever the
number of substeps), mass is kept, nothing turns negative, and a step longer than the explicit
limit is taken in the substeps it needs."""

import numpy as np
import pytest

from engine import Diffusivity, DispersionModel, Grid, Species, Wind
from engine.transport.step import MAX_DIFFUSION_SUBSTEPS
from engine.transport.timestep import diffusive_limit

KH = 40.0  # m²/s


def still_air_model(backend):
    grid = Grid(101, 101, 10.0, 10.0, np.array([0.0, 10.0]), backend=backend, dtype="float64")
    zero = np.zeros
    wind = Wind(grid, zero((1, 1, 101, 102)), zero((1, 1, 102, 101)), zero((1, 2, 101, 101)))
    model = DispersionModel(grid, wind, Diffusivity.constant(grid, KH, 0.0), [Species("A")])
    x = grid.x_centres - grid.x_centres[50]
    y = grid.y_centres - grid.y_centres[50]
    model.set_state(np.exp(-(x[None, :] ** 2 + y[:, None] ** 2) / (2 * 40.0**2))[None, None, None])
    return model, x, y


def variances(field, x, y):
    plane = field[0, 0, 0]
    mass = plane.sum()
    return float((plane.sum(axis=0) * x**2).sum() / mass), float((plane.sum(axis=1) * y**2).sum() / mass), mass


def test_still_air_takes_the_longest_step_in_the_most_substeps(backend):
    model, _, _ = still_air_model(backend)
    limit = diffusive_limit(KH, 10.0, 10.0)
    assert model.stable_dt() == pytest.approx(MAX_DIFFUSION_SUBSTEPS * limit)
    assert model.transport.diffusion_substeps(model.stable_dt()) == MAX_DIFFUSION_SUBSTEPS
    assert model.transport.diffusion_substeps(limit) == 1
    assert model.transport.diffusion_substeps(2.5 * limit) == 3


@pytest.mark.parametrize("substeps", [1, 3, MAX_DIFFUSION_SUBSTEPS])
def test_variance_grows_by_two_kh_t_per_axis(backend, to_host, substeps):
    model, x, y = still_air_model(backend)
    dt = substeps * diffusive_limit(KH, 10.0, 10.0) * 0.99
    start_x, start_y, start_mass = variances(to_host(model.state), x, y)
    steps = 12
    for _ in range(steps):
        model.step(dt)
    field = to_host(model.state)
    end_x, end_y, end_mass = variances(field, x, y)
    elapsed = steps * dt
    # The cloud (σ ≈ 40 m → 100 m) stays well inside the 1 km box (5 σ from the walls at the end), so no boundary truncation:
    # the growth is exact up to rounding of float64 sums.
    assert end_x - start_x == pytest.approx(2 * KH * elapsed, rel=1e-6)
    assert end_y - start_y == pytest.approx(2 * KH * elapsed, rel=1e-6)
    assert end_mass == pytest.approx(start_mass, rel=1e-12)
    assert field.min() >= 0.0

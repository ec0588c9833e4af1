"""The NumPy reference keeps each sweep's per-face factors (``½ (1 − ν)``, ``max(u, 0)``, ...) per
wind and time step instead of recomputing them in every sweep: they must follow a change of
either, and steps with kept factors must equal steps that recompute them, to the bit."""

import numpy as np
import pytest

from engine import Diffusivity, DispersionModel, Grid, PointSource, Species, Wind, WindProfile, stretched_levels
from engine.transport import slabs
from engine.transport.advection import compact_velocity, sweep_coefficients
from engine.transport.step import AXIS_X, AXIS_Y, AXIS_Z


def model(wind_speed: float = 3.0, direction: float = 235.0) -> DispersionModel:
    grid = Grid(14, 12, 10.0, 10.0, stretched_levels(7, 2.0, 1.2), backend="numpy")
    grid.add_box(60.0, 80.0, 50.0, 70.0, 8.0)
    return DispersionModel(grid, wind(grid, wind_speed, direction), Diffusivity.constant(grid, 1.5, 1.0),
                           [Species("A", deposition_velocity=0.004)],
                           [PointSource("stack", {"A": 1.0}, x=30.0, y=40.0, height=6.0)])


def wind(grid: Grid, speed: float, direction: float) -> Wind:
    return Wind.from_profiles(grid, [WindProfile(speed, direction, kind="log", vertical_velocity=0.004 * speed)])


def fresh(transport, axis: int, dt: float):
    n = (AXIS_X, AXIS_Y, AXIS_Z).index(axis)
    velocity = (transport.wind.u, transport.wind.v, transport.wind.w)[n]
    spacing = (transport.grid.dx, transport.grid.dy, transport._dz)[n]
    return sweep_coefficients(velocity, axis, transport.grid.shape[2 - n], dt, spacing, transport._directions[n])


def same(kept, recomputed) -> bool:
    return all((a is None and b is None) or np.array_equal(np.broadcast_to(a, np.broadcast_shapes(np.shape(a),
                                                                                                    np.shape(b))),
                                                            np.broadcast_to(b, np.broadcast_shapes(np.shape(a),
                                                                                                    np.shape(b))))
               for a, b in zip(kept, recomputed))


@pytest.mark.parametrize("axis", [AXIS_X, AXIS_Y, AXIS_Z])
def test_kept_factors_follow_the_time_step_and_the_wind(axis):
    m = model()
    transport = m.transport
    first = transport.sweep_coefficients(axis, 1.0)
    assert transport.sweep_coefficients(axis, 1.0) is first  # kept, not recomputed
    assert same(first, fresh(transport, axis, 1.0))
    other = transport.sweep_coefficients(axis, 0.5)  # another dt: its own factors
    assert same(other, fresh(transport, axis, 0.5)) and not same(other, first)
    transport.sweep_coefficients(axis, 0.25)  # a third dt: the oldest one (1.0) is dropped
    assert len(transport._coefficients) == transport.KEPT_COEFFICIENTS
    again = transport.sweep_coefficients(axis, 1.0)
    assert again is not first and same(again, first)
    m.set_meteorology(wind(m.grid, 5.0, 200.0), m.transport.diffusivity)  # a new met hour: everything recomputed
    new = transport.sweep_coefficients(axis, 0.5)
    assert same(new, fresh(transport, axis, 0.5)) and not same(new, other)


def test_a_layered_wind_keeps_one_value_per_level():
    transport = model().transport
    grid = transport.grid
    assert transport._compact_velocity(AXIS_Y).shape[2:] == (grid.nz, grid.ny + 1, grid.nx)  # the box cuts the layers
    open_grid = Grid(14, 12, 10.0, 10.0, stretched_levels(7, 2.0, 1.2), backend="numpy")
    transport.set_meteorology(wind(open_grid, 3.0, 235.0), transport.diffusivity)
    for axis, velocity in ((AXIS_X, transport.wind.u), (AXIS_Y, transport.wind.v)):
        assert transport.sweep_coefficients(axis, 1.0).gain_pos.shape == (1, 1, grid.nz, 1, 1)
        compact = compact_velocity(velocity)
        assert compact.shape == (1, 1, grid.nz, 1, 1)
        assert np.array_equal(np.broadcast_to(compact, velocity.shape), velocity)


@pytest.mark.parametrize("split", [False, True], ids=["whole", "slabs"])
def test_steps_with_kept_factors_equal_steps_that_recompute_them(monkeypatch, split):
    if split:
        monkeypatch.setattr(slabs, "MIN_CELLS", 1)
        monkeypatch.setattr(slabs, "SLAB_CELLS", 300)
    kept, recomputed = model(), model()
    schedule = [(0.8, None), (0.8, None), (0.3, None), (0.8, (4.0, 250.0)), (0.8, None), (0.5, None),
                (0.3, (2.0, 120.0)), (0.5, None), (0.8, None)]
    for dt, met in schedule:
        for m in (kept, recomputed):
            if met is not None:
                m.set_meteorology(wind(m.grid, *met), m.transport.diffusivity)
        recomputed.transport._coefficients.clear()
        kept.step(dt)
        recomputed.step(dt)
    assert np.count_nonzero(np.asarray(kept.state)) > 100
    assert np.array_equal(np.asarray(kept.state), np.asarray(recomputed.state))

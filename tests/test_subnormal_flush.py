"""Subnormal concentrations are flushed to zero at the end of every step on every backend: a
plume's diffusing edge never leaves the slow subnormal range populated, normal values are kept
exactly, and the backends still agree."""

import numpy as np
import pytest

from engine import Diffusivity, DispersionModel, Grid, Species, Wind, WindProfile


def spreading_model(backend):
    """A float32 blob whose edges underflow as it diffuses (values from 1 down to ~1e-45)."""
    grid = Grid(48, 32, 10.0, 10.0, np.arange(0.0, 90.0, 10.0), backend=backend)
    wind = Wind.from_profiles(grid, [WindProfile(2.0, 250.0, kind="uniform")])
    model = DispersionModel(grid, wind, Diffusivity.constant(grid, 5.0, 1.0), [Species("A")])
    x = grid.x_centres - grid.x_centres[24]
    y = grid.y_centres - grid.y_centres[16]
    z = grid.z_centres[:, None, None]
    blob = np.exp(-(x[None, None, :] ** 2 + y[None, :, None] ** 2) / (2 * 15.0**2) - z / 10.0)
    model.set_state(blob[None, None].astype(np.float32))
    return model


def test_no_subnormal_survives_a_step(backend, to_host):
    model = spreading_model(backend)
    tiny = np.finfo(np.float32).tiny
    for _ in range(12):
        model.step(model.stable_dt())
        state = to_host(model.state)
        assert not np.any((state != 0) & (np.abs(state) < tiny))
    assert np.count_nonzero(state == 0) > 0  # the edges did underflow and were flushed


def test_flush_keeps_normal_values_and_zeroes_only_subnormals(backend, to_host):
    model = spreading_model(backend)
    values = np.array([0.0, 1e-45, -1e-40, 1.1e-38, 1.2e-38, 3e-30, -2.5, 7.0], dtype=np.float32)
    field = np.zeros_like(to_host(model.state))
    field.reshape(-1)[:values.size] = values
    field = model.grid.backend.asarray(field)
    model.transport._flush_subnormals(field)
    expected = np.where(np.abs(values) < np.finfo(np.float32).tiny, 0, values).astype(np.float32)
    assert np.array_equal(to_host(field).reshape(-1)[:values.size], expected)
    assert expected[3] == 0 and expected[4] == values[4]  # the boundary is the smallest normal number


def test_backends_agree_after_flushing(to_host):
    pytest.importorskip("numba")
    reference, compiled = spreading_model("numpy"), spreading_model("numba")
    for _ in range(12):
        dt = reference.stable_dt()
        reference.step(dt)
        compiled.step(dt)
    a, b = to_host(reference.state), to_host(compiled.state)
    np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6 * float(np.abs(a).max()))
    assert np.array_equal(a == 0, b == 0)

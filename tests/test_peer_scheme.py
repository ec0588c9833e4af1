"""Devito's update as a Numba kernel (hpc.peer_scheme): the same floats as its NumPy statement,
a conservative flux form, and Devito's own field where Devito is installed."""

import importlib.util

import numpy as np
import pytest

pytest.importorskip("numba")

from hpc.peer_benchmark import DIFFUSIVITY, SPACING, WIND, blob, relative_difference, stable_dt  # noqa: E402
from hpc.peer_scheme import (courant_numbers, interior, padded_copy, time_unsplit, unsplit_reference,  # noqa: E402
                             unsplit_step)


def _steps(field, count, courant_x, courant_y, diffusion_number):
    current = padded_copy(field)
    following = np.zeros_like(current)
    numbers = [np.float32(value) for value in (courant_x, courant_y, diffusion_number)]
    for _ in range(count):
        unsplit_step(current, following, *numbers)
        current, following = following, current
    return np.array(interior(current))


def test_the_kernel_is_its_numpy_statement_to_the_bit():
    # Random cells (every minmod case: slopes of equal and opposite signs, zero halo at the edges),
    # grids of odd sizes, three steps.
    field = np.random.default_rng(4).random((5, 7, 9), dtype=np.float32)
    expected = field
    for _ in range(3):
        expected = unsplit_reference(expected, 0.2, 0.15, 0.05)
    np.testing.assert_array_equal(_steps(field, 3, 0.2, 0.15, 0.05), expected)


def test_the_update_conserves_mass_away_from_the_edges():
    # Fluxes telescope and the Laplacian sums to zero inside: with the field 4 cells clear of the
    # edges after 2 steps (each moves it at most 2 cells), the total is kept to float32 rounding.
    field = np.zeros((12, 16, 16), np.float32)
    field[4:8, 5:11, 5:11] = np.random.default_rng(7).random((4, 6, 6), dtype=np.float32)
    after = _steps(field, 2, 0.3, 0.1, 0.05)
    assert float(after.sum(dtype=np.float64)) == pytest.approx(float(field.sum(dtype=np.float64)), rel=1e-6)
    assert after.min() >= -1e-7  # monotone at Courant sum 0.4 and D = 0.05: no new minimum below 0


def test_a_uniform_field_stays_uniform_inside():
    field = np.full((6, 8, 8), 2.5, np.float32)
    after = _steps(field, 1, 0.25, 0.15, 0.1)
    np.testing.assert_array_equal(after[1:-1, 2:-2, 2:-2], 2.5)


def test_a_wind_the_upwind_form_does_not_cover_is_refused():
    with pytest.raises(ValueError, match="u, v >= 0 and w = 0"):
        courant_numbers((-1.0, 0.0, 0.0), 5.0, 10.0, 1.0)
    with pytest.raises(ValueError, match="w = 0"):
        courant_numbers((1.0, 0.0, 0.5), 5.0, 10.0, 1.0)


@pytest.mark.skipif(importlib.util.find_spec("devito") is None, reason="Devito not installed (the peers extra)")
def test_devito_computes_the_same_field():
    from hpc.peer_benchmark import SAME_SCHEME_TOLERANCE, time_devito  # noqa: PLC0415

    n, steps, dt = 24, 10, stable_dt()
    _, numba_field = time_unsplit(blob(n), steps, WIND, DIFFUSIVITY, SPACING, dt)
    _, devito_field, _ = time_devito(n, steps, dt)
    assert relative_difference(devito_field, numba_field)[0] <= SAME_SCHEME_TOLERANCE

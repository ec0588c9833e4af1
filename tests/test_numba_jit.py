"""The Numba kernels divide as NumPy does: a zero divisor gives inf or NaN, never an exception
(the Python error model's zero test is what kept their division loops from vectorising)."""

import numpy as np
import pytest

pytest.importorskip("numba", reason="the numba extra is not installed")

from engine.kernels.jit import njit  # noqa: E402


@njit
def _divide(numerators, denominators, out):
    for i in range(out.shape[0]):
        out[i] = numerators[i] / denominators[i]
    return out


def test_a_zero_divisor_gives_what_numpy_gives():
    numerators = np.array([1.0, -1.0, 0.0, 3.0], np.float32)
    denominators = np.array([0.0, 0.0, 0.0, 2.0], np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = numerators / denominators
    got = _divide(numerators, denominators, np.empty(4, np.float32))
    np.testing.assert_array_equal(got, expected)  # inf, -inf, nan, 1.5

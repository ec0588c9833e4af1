"""Unit tests of the branch-free flux limiters and a single advective sweep."""

import numpy as np
import pytest

from engine.transport.advection import LIMITERS, advect_axis, limited_slope


def reference_phi(r, limiter):
    """Textbook limiter functions phi(r) (Sweby 1984), written with branches."""
    if limiter == "minmod":
        return max(0.0, min(1.0, r))
    if limiter == "mc":
        return max(0.0, min(2 * r, 0.5 * (1 + r), 2.0))
    if limiter == "superbee":
        return max(0.0, min(2 * r, 1.0), min(r, 2.0))
    if limiter == "vanleer":
        return (r + abs(r)) / (1 + abs(r))
    return 0.0


@pytest.mark.parametrize("limiter", LIMITERS)
def test_limited_slope_matches_textbook_phi(limiter):
    rng = np.random.default_rng(1)
    a = rng.normal(size=500)
    b = rng.normal(size=500)
    got = limited_slope(a, b, limiter)
    expected = np.array([reference_phi(x / y, limiter) * y for x, y in zip(a, b)])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("limiter", LIMITERS)
def test_limited_slope_zero_at_extrema_and_flat(limiter):
    assert limited_slope(np.array([1.0]), np.array([-1.0]), limiter)[0] == 0
    assert limited_slope(np.array([0.0]), np.array([0.0]), limiter)[0] == 0


def test_uniform_flow_sweep_is_exact_shift_at_courant_one():
    # At Courant number 1 the Lax-Wendroff-type flux moves each value exactly one cell.
    field = np.zeros((1, 1, 1, 1, 20))
    field[..., 5:9] = 1.0
    velocity = np.full((1, 1, 1, 1, 21), 2.0)
    new, _ = advect_axis(field, field, velocity, 4, 5.0, 10.0, 0.0, "mc")
    np.testing.assert_allclose(new[0, 0, 0, 0], np.roll(field[0, 0, 0, 0], 1), atol=1e-12)


def test_divergence_correction_keeps_constant_field_in_compressive_1d_flow():
    # u grows along x: a 1D piece of a 3D divergence-free flow; the correction keeps c = const.
    field = np.ones((1, 1, 1, 1, 10))
    velocity = np.linspace(1.0, 2.0, 11).reshape(1, 1, 1, 1, 11)
    new, _ = advect_axis(field, field, velocity, 4, 1.0, 10.0, 1.0, "mc")
    np.testing.assert_allclose(new, 1.0, rtol=1e-12)


# --- The restructured NumPy sweep against the plain whole-array formulation, to the bit ----------

def _take(array, axis, start, stop):
    index = [slice(None)] * array.ndim
    index[axis] = slice(start, stop)
    return array[tuple(index)]


def plain_slope(a, b, limiter):
    """The limiters as first written: ``sign(b) max(0, ψ(a sign(b), |b|))``, no scratch reuse."""
    if limiter == "upwind":
        return np.zeros_like(b)
    sign = np.sign(b)
    sa, sb = a * sign, np.abs(b)
    if limiter == "minmod":
        slope = np.minimum(sa, sb)
    elif limiter == "mc":
        slope = np.minimum(np.minimum(sa, sb) * 2, (sa + sb) * 0.5)
    elif limiter == "superbee":
        slope = np.maximum(np.minimum(2 * sa, sb), np.minimum(sa, 2 * sb))
    else:
        product = sa * sb
        slope = (np.abs(product) + product) / np.maximum(sa + sb, np.finfo(b.dtype).tiny)
    return np.maximum(slope, 0) * sign


def plain_sweep(field, reference, velocity, axis, dt, spacing, background, limiter, divergence, direction):
    """One sweep as whole-array slices of the field padded by concatenation: the arithmetic the
    NumPy reference and the Numba kernels have always done, written without layout tricks."""
    first, last = _take(field, axis, 0, 1), _take(field, axis, -1, None)
    ghost_low = np.where(_take(velocity, axis, 0, 1) > 0, background, first).astype(field.dtype)
    ghost_high = np.where(_take(velocity, axis, -1, None) < 0, background, last).astype(field.dtype)
    padded = np.concatenate([ghost_low, ghost_low, field, ghost_high, ghost_high], axis=axis)
    n = field.shape[axis]
    far_left, left, right, far_right = (_take(padded, axis, k, n + 1 + k) for k in range(4))
    if np.ndim(spacing) == 0:
        width_left = width_right = spacing
    else:
        widths = np.concatenate([_take(spacing, axis, 0, 1), spacing, _take(spacing, axis, -1, None)], axis=axis)
        width_left, width_right = _take(widths, axis, 0, n + 1), _take(widths, axis, 1, n + 2)
    flux = None
    if direction >= 0:
        u = np.maximum(velocity, 0) if direction == 0 else velocity
        factor = (1 - u * (dt / width_left)) * 0.5
        flux = (plain_slope(left - far_left, right - left, limiter) * factor + left) * u
    if direction <= 0:
        u = np.minimum(velocity, 0) if direction == 0 else velocity
        factor = (1 + u * (dt / width_right)) * 0.5
        term = (plain_slope(right - far_right, left - right, limiter) * factor + right) * u
        flux = term if flux is None else flux + term
    tendency = (_take(flux, axis, 1, n + 1) - _take(flux, axis, 0, n)) * (
        float(1.0 / spacing) if np.ndim(spacing) == 0 else 1 / spacing)
    if reference is not None:
        tendency = tendency - reference * divergence
    return field - tendency * dt, flux


@pytest.mark.parametrize("limiter", LIMITERS)
def test_limited_slope_equals_the_plain_form_to_the_bit(limiter):
    rng = np.random.default_rng(7)
    a = rng.normal(size=4000).astype(np.float32)
    b = rng.normal(size=4000).astype(np.float32)
    a[:300], b[300:600], a[600:900] = 0, 0, b[600:900]  # zeros and equal differences
    a[900:1200] = -b[900:1200]
    expected = plain_slope(a, b, limiter)
    out = np.empty_like(a)
    assert limited_slope(a, b, limiter, out=out) is out
    for got in (limited_slope(a, b, limiter), out, limited_slope(a.copy(), b.copy(), limiter, overwrite=True)):
        assert np.array_equal(got, expected)  # -0.0 == 0.0: only the sign of a zero may differ
    assert np.array_equal(limited_slope(-a, -b, limiter), -expected)  # odd, which the negative half relies on


def sweep_case(axis, wind, dtype):
    rng = np.random.default_rng(axis + 10 * len(wind))
    shape = (2, 2, 6, 7, 8)
    field = rng.uniform(0.0, 1.0, shape).astype(dtype)
    faces = list(shape)
    faces[axis] += 1
    faces[1] = 1
    velocity = {"positive": rng.uniform(0.5, 3.0, faces), "negative": -rng.uniform(0.5, 3.0, faces),
                "mixed": rng.uniform(-3.0, 3.0, faces)}[wind].astype(dtype)
    direction = {"positive": 1, "negative": -1, "mixed": 0}[wind]
    spacing = 10.0
    if axis == 2:  # stretched levels
        spacing = np.linspace(2.0, 9.0, shape[2]).reshape(1, 1, -1, 1, 1).astype(dtype)
    background = np.array([0.2, 0.0], dtype=dtype).reshape(1, 2, 1, 1, 1)
    return field, velocity, direction, spacing, background


@pytest.mark.parametrize("limiter", LIMITERS)
@pytest.mark.parametrize("wind", ["positive", "negative", "mixed"])
@pytest.mark.parametrize("axis", [4, 3, 2])
def test_sweep_equals_the_plain_whole_array_sweep_to_the_bit(limiter, wind, axis):
    from engine.transport.advection import face_fluxes, sweep_coefficients, velocity_divergence

    field, velocity, direction, spacing, background = sweep_case(axis, wind, np.float32)
    dt = 0.8
    divergence = velocity_divergence(velocity, axis, spacing)
    for reference in (None, field + 0.5):
        expected, expected_flux = plain_sweep(field, reference, velocity, axis, dt, spacing, background, limiter,
                                              divergence, direction)
        got, (low, high) = advect_axis(field, reference, velocity, axis, dt, spacing, background, limiter,
                                       divergence, direction)
        assert got.dtype == field.dtype and np.array_equal(got, expected)
        assert np.array_equal(low, _take(expected_flux, axis, 0, 1))
        assert np.array_equal(high, _take(expected_flux, axis, -1, None))
        # Kept coefficients and an output array give the same floats.
        coefficients = sweep_coefficients(velocity, axis, field.shape[axis], dt, spacing, direction)
        out = np.empty_like(field)
        new, _ = advect_axis(field, reference, velocity, axis, dt, spacing, background, limiter, divergence,
                             direction, coefficients, out=out)
        assert new is out and np.array_equal(out, expected)
    assert np.array_equal(face_fluxes(field, velocity, axis, dt, spacing, background, limiter, direction),
                          expected_flux)
    if wind != "mixed":  # the sign hint only saves work: the two-sided form gives the same floats
        assert np.array_equal(advect_axis(field, None, velocity, axis, dt, spacing, background, limiter)[0],
                              plain_sweep(field, None, velocity, axis, dt, spacing, background, limiter, None,
                                          direction)[0])


def test_a_compact_velocity_gives_the_same_sweep():
    from engine.transport.advection import compact_velocity

    rng = np.random.default_rng(3)
    field = rng.uniform(0.0, 1.0, (1, 2, 5, 6, 7)).astype(np.float32)
    profile = rng.uniform(0.5, 2.0, (1, 1, 5, 1, 1)).astype(np.float32)
    velocity = np.ascontiguousarray(np.broadcast_to(profile, (1, 1, 5, 6, 8)))  # layered: one value per level
    compact = compact_velocity(velocity)
    assert compact.shape == (1, 1, 5, 1, 1) and np.array_equal(np.broadcast_to(compact, velocity.shape), velocity)
    walled = velocity.copy()
    walled[..., 0] = 0  # a closed west wall: no longer uniform along x
    assert compact_velocity(walled).shape == (1, 1, 5, 1, 8)
    for v in (velocity, walled):
        expected = advect_axis(field, None, v, 4, 2.0, 10.0, 0.1, "minmod", direction=1)
        got = advect_axis(field, None, compact_velocity(v), 4, 2.0, 10.0, 0.1, "minmod", direction=1)
        assert np.array_equal(got[0], expected[0])
        assert all(np.array_equal(np.broadcast_to(g, e.shape), e) for g, e in zip(got[1], expected[1]))

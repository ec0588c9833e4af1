"""One advective sweep as a single compiled pass (Numba, parallel over rows of cells).

The same scheme as :func:`engine.transport.advection.advect_axis` — Sweby's flux-limited
Lax–Wendroff flux with ghost cells (background inflow, zero-gradient outflow) and the optional
multi-dimensional divergence correction — but fused: each output cell is computed in one visit,
with no padded copies and no temporaries. The field is viewed as ``(rows, n, inner)`` with the
sweep axis in the middle, so x, y and z sweeps share one kernel; threads take ``(row, i)`` pairs
and loop over the contiguous ``inner`` axis. Arithmetic stays in the field's precision.
"""

from __future__ import annotations

import numba
import numpy as np

LIMITER_CODES = {"upwind": 0, "minmod": 1, "mc": 2, "superbee": 3, "vanleer": 4}


@numba.njit(inline="always")
def _slope(a, b, code, zero, half, one, two, tiny):
    """``phi(a/b) * b`` of :func:`engine.transport.advection.limited_slope` (min/max only)."""
    if code == 0:
        return zero
    sign = zero
    if b > zero:
        sign = one
    elif b < zero:
        sign = -one
    sa = a * sign
    sb = b * sign
    if code == 1:
        return sign * max(zero, min(sa, sb))
    if code == 2:
        return sign * max(zero, min(min(two * sa, two * sb), half * (sa + sb)))
    if code == 3:
        return sign * max(zero, max(min(two * sa, sb), min(sa, two * sb)))
    num = sa * sb + abs(sa * sb)
    return sign * num / max(sa + sb, tiny)


@numba.njit(inline="always")
def _constants(field, dt):
    """0, 1/2, 1, 2, the smallest normal number and dt in the field's precision, so float32
    arithmetic stays float32 exactly as in the NumPy reference."""
    kind = field.dtype.type
    return kind(0), kind(0.5), kind(1), kind(2), np.finfo(field.dtype).tiny, kind(dt)


@numba.njit(inline="always")
def _cell(field, row, c, b, n, ghost_low, ghost_high):
    if c < 0:
        return ghost_low
    if c >= n:
        return ghost_high
    return field[row, c, b]


@numba.njit(inline="always")
def _face_flux(field, velocity, widths, row, vrow, f, b, n, ghost_low, ghost_high, dt, code,
               zero, half, one, two, tiny):
    u = velocity[vrow, f, b]
    if u > zero:
        left = _cell(field, row, f - 1, b, n, ghost_low, ghost_high)
        far_left = _cell(field, row, f - 2, b, n, ghost_low, ghost_high)
        right = _cell(field, row, f, b, n, ghost_low, ghost_high)
        courant = u * (dt / widths[max(f - 1, 0)])
        return u * (left + half * (one - courant) * _slope(left - far_left, right - left, code, zero, half, one, two, tiny))
    if u < zero:
        left = _cell(field, row, f - 1, b, n, ghost_low, ghost_high)
        right = _cell(field, row, f, b, n, ghost_low, ghost_high)
        far_right = _cell(field, row, f + 1, b, n, ghost_low, ghost_high)
        courant = u * (dt / widths[min(f, n - 1)])
        return u * (right + half * (one + courant) * _slope(right - far_right, left - right, code, zero, half, one, two, tiny))
    return zero


@numba.njit(inline="always")
def _interior_flux(field, velocity, widths, row, vrow, f, b, dt, code, zero, half, one, two, tiny):
    """:func:`_face_flux` for faces whose four cells all lie inside the row (no ghost checks)."""
    u = velocity[vrow, f, b]
    left = field[row, f - 1, b]
    right = field[row, f, b]
    if u > zero:
        courant = u * (dt / widths[f - 1])
        far_left = field[row, f - 2, b]
        return u * (left + half * (one - courant) * _slope(left - far_left, right - left, code, zero, half, one, two, tiny))
    if u < zero:
        courant = u * (dt / widths[f])
        far_right = field[row, f + 1, b]
        return u * (right + half * (one + courant) * _slope(right - far_right, left - right, code, zero, half, one, two, tiny))
    return zero


@numba.njit(parallel=True, cache=True)
def advect_rows(field, reference, divergence, use_correction, velocity, widths, background, dt,
                code, rows_per_member, species, chunks, work, out, low, high):
    """Advance ``field`` ``(rows, n, inner)`` by one sweep into ``out``.

    ``velocity`` is ``(rows / species, n + 1, inner)`` (members only), ``divergence`` likewise with
    ``n`` entries, ``widths`` the ``n`` cell widths (m), ``background`` per species.
    ``rows_per_member`` = rows / (members · species). Each task takes one row and a contiguous
    range of ``i`` (``chunks`` ranges per row, so short z sweeps still use every core), carrying
    the flux of the face it shares with the previous cell. Boundary fluxes go to ``low``/``high``
    ``(rows, inner)`` for the mass budget. ``work`` is scratch ``(rows·chunks, 3, inner)``.
    """
    rows, n, inner = field.shape
    zero, half, one, two, tiny, dt = _constants(field, dt)
    step = (n + chunks - 1) // chunks
    for task in numba.prange(rows * chunks):
        row = task // chunks
        start = (task - row * chunks) * step
        stop = min(start + step, n)
        member_species = row // rows_per_member
        vrow = (member_species // species) * rows_per_member + (row - member_species * rows_per_member)
        bg = background[member_species % species]
        ghosts_low = work[task, 0]
        ghosts_high = work[task, 1]
        carried = work[task, 2]
        for b in range(inner):
            ghosts_low[b] = bg if velocity[vrow, 0, b] > zero else field[row, 0, b]
            ghosts_high[b] = bg if velocity[vrow, n, b] < zero else field[row, n - 1, b]
            if start < stop:
                carried[b] = _face_flux(field, velocity, widths, row, vrow, start, b, n, ghosts_low[b],
                                        ghosts_high[b], dt, code, zero, half, one, two, tiny)
        for i in range(start, stop):
            width = widths[i]
            for b in range(inner):
                flux_low = carried[b]
                if 1 <= i < n - 2:
                    flux_high = _interior_flux(field, velocity, widths, row, vrow, i + 1, b, dt, code,
                                               zero, half, one, two, tiny)
                else:
                    flux_high = _face_flux(field, velocity, widths, row, vrow, i + 1, b, n, ghosts_low[b],
                                           ghosts_high[b], dt, code, zero, half, one, two, tiny)
                carried[b] = flux_high
                tendency = (flux_high - flux_low) / width
                if use_correction:
                    tendency = tendency - reference[row, i, b] * divergence[vrow, i, b]
                out[row, i, b] = field[row, i, b] - dt * tendency
                if i == 0:
                    low[row, b] = flux_low
                if i == n - 1:
                    high[row, b] = flux_high


@numba.njit(parallel=True, cache=True)
def advect_contiguous_rows(field, reference, divergence, use_correction, velocity, widths, background, dt,
                           code, rows_per_member, species, out, low, high):
    """:func:`advect_rows` for sweeps along the contiguous axis (``inner == 1``, the x sweep):
    one task per row, the shared face flux carried in a register."""
    rows, n, _ = field.shape
    zero, half, one, two, tiny, dt = _constants(field, dt)
    for row in numba.prange(rows):
        member_species = row // rows_per_member
        vrow = (member_species // species) * rows_per_member + (row - member_species * rows_per_member)
        bg = background[member_species % species]
        ghost_low = bg if velocity[vrow, 0, 0] > zero else field[row, 0, 0]
        ghost_high = bg if velocity[vrow, n, 0] < zero else field[row, n - 1, 0]
        flux_low = _face_flux(field, velocity, widths, row, vrow, 0, 0, n, ghost_low, ghost_high, dt, code,
                              zero, half, one, two, tiny)
        low[row, 0] = flux_low
        for i in range(n):
            if 1 <= i < n - 2:
                flux_high = _interior_flux(field, velocity, widths, row, vrow, i + 1, 0, dt, code,
                                           zero, half, one, two, tiny)
            else:
                flux_high = _face_flux(field, velocity, widths, row, vrow, i + 1, 0, n, ghost_low, ghost_high, dt,
                                       code, zero, half, one, two, tiny)
            tendency = (flux_high - flux_low) / widths[i]
            if use_correction:
                tendency = tendency - reference[row, i, 0] * divergence[vrow, i, 0]
            out[row, i, 0] = field[row, i, 0] - dt * tendency
            flux_low = flux_high
        high[row, 0] = flux_low


def sweep_view(array, axis: int):
    """View a 5D ``(member|1, species|1, z, y, x)`` array as ``(rows, n, inner)`` around ``axis``."""
    shape = array.shape
    rows = int(np.prod(shape[:axis]))
    inner = int(np.prod(shape[axis + 1:]))
    return array.reshape(rows, shape[axis], inner)


def advect_axis_compiled(field, reference, velocity, axis: int, dt: float, widths: np.ndarray,
                         background: np.ndarray, limiter: str, divergence=None):
    """Drop-in for :func:`engine.transport.advection.advect_axis` on contiguous NumPy arrays."""
    members, species = field.shape[:2]
    field3 = sweep_view(np.ascontiguousarray(field), axis)
    rows, n, inner = field3.shape
    out = np.empty_like(field)
    out3 = sweep_view(out, axis)
    velocity3 = sweep_view(velocity, axis)
    use_correction = reference is not None
    reference3 = sweep_view(reference, axis) if use_correction else field3
    divergence3 = sweep_view(divergence, axis) if use_correction else velocity3
    low = np.empty((rows, inner), dtype=field.dtype)
    high = np.empty((rows, inner), dtype=field.dtype)
    if inner == 1 and rows >= 4 * numba.get_num_threads():
        advect_contiguous_rows(field3, reference3, divergence3, use_correction, velocity3, widths, background, dt,
                               LIMITER_CODES[limiter], rows // (members * species), species, out3, low, high)
        boundary_shape = list(field.shape)
        boundary_shape[axis] = 1
        return out, (low.reshape(boundary_shape), high.reshape(boundary_shape))
    # Enough tasks for every thread even when there are few rows (a z sweep of one member).
    chunks = max(1, min(n, -(-4 * numba.get_num_threads() // rows)))
    work = np.empty((rows * chunks, 3, inner), dtype=field.dtype)
    advect_rows(field3, reference3, divergence3, use_correction, velocity3, widths, background, dt,
                LIMITER_CODES[limiter], rows // (members * species), species, chunks, work, out3, low, high)
    boundary_shape = list(field.shape)
    boundary_shape[axis] = 1
    return out, (low.reshape(boundary_shape), high.reshape(boundary_shape))

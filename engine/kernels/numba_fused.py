"""The advective sweeps and horizontal diffusion of one step as a single compiled pass (Numba).

The same operators, in the same order and with the same arithmetic, as
:meth:`engine.transport.step.Transport.step` applies them one array pass at a time — limited
advection sweeps x→y→z (even steps) or z→y→x (odd steps), then explicit horizontal diffusion —
but streamed through the grid plane by plane, so each cell is read from and written to main memory
once per step and the intermediate fields live in per-thread cache-sized buffers:

* even steps: each z-plane is swept in x then y into a ring of five planes; the z fluxes of a plane
  need the swept planes below and above it, so the vertical sweep runs two planes behind, then
  the plane is diffused horizontally and written out;
* odd steps: the z sweep reads the input planes directly, then y and x sweep the plane in place
  in cache, and diffusion follows.

Threads take ``(member·species, block of z-planes)`` tasks; a block recomputes the two swept
planes on either side of it (halo), which costs ~4/planes-per-block of extra work. Inner loops run
along contiguous x rows with the limiter written with min/max, so the compiler vectorises them.
In x and y each cell's limited slope is computed once and serves both faces beside it; y fluxes are
computed a row at a time and used at once (no plane of them is stored), and a level's z fluxes are
used row by row as they are computed (the plane is kept only as the next level's lower face).

Velocities are passed as ``(member, nz, ny|1, nx+1)`` (u), ``(member, nz, ny+1|1, nx)`` (v) and
``(member, nz+1, ny|1, nx)`` (w): a horizontally uniform ("layered") wind is passed with one row
per level and costs no memory traffic.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..transport.advection import LIMITER_CODES
from ..transport.diffusion import explicit_layout
from .jit import njit
from .numba_fpenv import flush_denormals, restore
from .numba_prefetch import prefetch_row

_RING = 5  # swept planes k-2 .. k+2 held while the z sweep runs behind
# Scratch planes of a task after the ring: a swept plane, the z fluxes below and above a level,
# the ghost planes below and above the field.
_WORK, _LOW, _HIGH, _GHOST_LOW, _GHOST_HIGH = range(_RING, _RING + 5)
_SCRATCH_PLANES = _RING + 5


@njit(inline="always")
def _sign(b, zero, one):
    return one if b > zero else (-one if b < zero else zero)


@njit(inline="always")
def _slope(a, b, code, zero, half, one, two, tiny):
    """``phi(a/b) * b`` of :func:`engine.transport.advection.limited_slope`, branch-free for a
    constant ``code`` (:data:`LIMITER_CODES`).

    Minmod and MC take the sign-free form ``max(lo, 0) + min(hi, 0)``: ``lo`` and ``hi`` are the
    smallest and largest candidate slopes, so the sum is the smallest in magnitude when ``a`` and
    ``b`` agree in sign and 0 when they do not. It is the reference's ``sign(b) * max(0, ...)``
    value for every finite input (negating both differences negates every candidate exactly), in
    five operations instead of nine for minmod."""
    if code == 0:
        return zero
    if code == 1:
        return max(min(a, b), zero) + min(max(a, b), zero)
    if code == 2:
        twice_a = two * a
        twice_b = two * b
        mean = half * (a + b)
        return max(min(min(twice_a, twice_b), mean), zero) + min(max(max(twice_a, twice_b), mean), zero)
    sign = _sign(b, zero, one)
    sa = a * sign
    sb = b * sign
    if code == 3:
        return sign * max(zero, max(min(two * sa, sb), min(sa, two * sb)))
    num = sa * sb + abs(sa * sb)
    return sign * num / max(sa + sb, tiny)




@njit(inline="always")
def _flux(u, far_left, left, right, far_right, rate_left, rate_right, code, zero, half, one, two, tiny):
    """Limited Lax–Wendroff flux through one face (see :func:`engine.transport.advection.face_fluxes`),
    branch-free: both upwind halves are evaluated and weighted by ``max(u, 0)`` and ``min(u, 0)``."""
    up = max(u, zero)
    down = min(u, zero)
    positive = up * (left + half * (one - up * rate_left) * _slope(left - far_left, right - left, code, zero, half,
                                                                    one, two, tiny))
    negative = down * (right + half * (one + down * rate_right) * _slope(right - far_right, left - right, code, zero,
                                                                        half, one, two, tiny))
    return positive + negative


@njit(inline="always")
def _cell_slope(below, here, above, code, zero, half, one, two, tiny):
    """The limited slope of a cell, ``_slope(here - below, above - here)``. Every limiter is
    symmetric (``_slope(a, b) == _slope(b, a)``) and odd (``_slope(-a, -b) == -_slope(a, b)``),
    exactly in IEEE arithmetic, so the slope :func:`_flux` evaluates for the downwind half of a
    face, ``_slope(right - far_right, left - right)``, is minus the right cell's slope: each
    cell's slope is computed once, not once per face."""
    return _slope(here - below, above - here, code, zero, half, one, two, tiny)


#: Rows of a face-coefficient block (:func:`_face_coefficients`).
_UP, _GAIN_UP, _DOWN, _GAIN_DOWN = 0, 1, 2, 3


@njit(inline="always")
def _face_coefficients(velocity, row, rate_left, rate_right, coefficients, half, one):
    """The factors of :func:`_face_flux` that depend only on the wind, for the faces of
    velocity row ``row``: ``max(u, 0)``, ``½(1 − max(u, 0)·rate_left)``, ``min(u, 0)`` and
    ``½(1 + min(u, 0)·rate_right)`` into rows :data:`_UP` .. :data:`_GAIN_DOWN` of
    ``coefficients`` (a C-contiguous block at least as wide as the row). A horizontally uniform
    wind has one row per level, so a plane's fluxes reuse one row of factors instead of
    recomputing them at every face.

    Returns the row's direction: +1 when no face has ``u < 0`` (the downwind halves are all
    ``0 · finite``, left out by :func:`_face_flux`), -1 when none has ``u > 0``, else 0."""
    zero = half - half
    # Counted in integers: a float min/max reduction cannot be reordered (NaN rules), so it would
    # keep this loop scalar, which on the park's 121-face rows cost more than the fluxes it saves.
    upwind_faces = 0
    downwind_faces = 0
    for f in range(velocity.shape[1]):
        u = velocity[row, f]
        up = max(u, zero)
        down = min(u, zero)
        coefficients[_UP, f] = up
        coefficients[_GAIN_UP, f] = half * (one - up * rate_left)
        coefficients[_DOWN, f] = down
        coefficients[_GAIN_DOWN, f] = half * (one + down * rate_right)
        upwind_faces += 1 if u > zero else 0
        downwind_faces += 1 if u < zero else 0
    if downwind_faces == 0:
        return 1
    if upwind_faces == 0:
        return -1
    return 0


@njit(inline="always")
def _face_flux(direction, left, slope_left, right, slope_right, coefficients, f):
    """:func:`_flux` through face ``f`` from the two cells' slopes (:func:`_cell_slope`; the right
    cell's enters negated, see there) and the wind's factors from :func:`_face_coefficients`, the
    same floats; for a constant ``direction`` of +1 or -1 the half that is ``0 · finite`` is left
    out (adding it changes no value: ``x + 0 == x``)."""
    positive = coefficients[_UP, f] * (left + coefficients[_GAIN_UP, f] * slope_left)
    negative = coefficients[_DOWN, f] * (right - coefficients[_GAIN_DOWN, f] * slope_right)
    if direction > 0:
        return positive
    if direction < 0:
        return negative
    return positive + negative


@njit(inline="always")
def _face_plane_loop(below2, below, above, above2, velocity, row_stride, rate_left, rate_right, out, code, zero,
                     half, one, two, tiny):
    for j in range(out.shape[0]):
        row = j * row_stride
        for i in range(out.shape[1]):
            out[j, i] = _flux(velocity[row, i], below2[j, i], below[j, i], above[j, i], above2[j, i], rate_left,
                              rate_right, code, zero, half, one, two, tiny)


@njit
def _face_plane(below2, below, above, above2, velocity, rate_left, rate_right, out, code, consts):
    """Fluxes through a plane of faces from the four planes of cells around it (z faces, or the
    shifted rows of a y-padded plane), with the face velocity ``(rows|1, nx)``.

    One loop per limiter with the code written as a constant, so each compiles branch-free and
    vectorises (a runtime limiter test inside the loop made it ~13 times slower). Arrays are
    indexed in 2D, not sliced into rows: a row view costs reference-count traffic per row.
    """
    zero, half, one, two, tiny = consts
    stride = 1 if velocity.shape[0] > 1 else 0
    if code == 0:
        _face_plane_loop(below2, below, above, above2, velocity, stride, rate_left, rate_right, out, 0, zero, half,
                         one, two, tiny)
    elif code == 1:
        _face_plane_loop(below2, below, above, above2, velocity, stride, rate_left, rate_right, out, 1, zero, half,
                         one, two, tiny)
    elif code == 2:
        _face_plane_loop(below2, below, above, above2, velocity, stride, rate_left, rate_right, out, 2, zero, half,
                         one, two, tiny)
    elif code == 3:
        _face_plane_loop(below2, below, above, above2, velocity, stride, rate_left, rate_right, out, 3, zero, half,
                         one, two, tiny)
    else:
        _face_plane_loop(below2, below, above, above2, velocity, stride, rate_left, rate_right, out, 4, zero, half,
                         one, two, tiny)


@njit(inline="always")
def _swept(value, flux_low, flux_high, inverse_width, dt, correction):
    """A cell after one sweep, :func:`engine.transport.advection.advect_axis`'s arithmetic:
    ``value - dt * ((flux_high - flux_low) * inverse_width - correction)`` with ``correction`` the
    multi-dimensional term ``ref · du/dx``, or 0 (then the subtraction is exact and compiled away)."""
    return value - dt * ((flux_high - flux_low) * inverse_width - correction)


@njit(inline="always")
def _stacked_slopes_loop(cells, first, slopes, slope_row, code, zero, half, one, two, tiny):
    for i in range(slopes.shape[1]):
        slopes[slope_row, i] = _cell_slope(cells[first, i], cells[first + 1, i], cells[first + 2, i], code, zero, half,
                                           one, two, tiny)


@njit(inline="always")
def _stacked_slopes(cells, first, slopes, slope_row, code, consts):
    """The limited slopes of row ``first + 1`` of ``cells`` across the rows beside it (the y
    direction of a plane) into ``slopes[slope_row]``; one loop per limiter."""
    zero, half, one, two, tiny = consts
    if code == 0:
        _stacked_slopes_loop(cells, first, slopes, slope_row, 0, zero, half, one, two, tiny)
    elif code == 1:
        _stacked_slopes_loop(cells, first, slopes, slope_row, 1, zero, half, one, two, tiny)
    elif code == 2:
        _stacked_slopes_loop(cells, first, slopes, slope_row, 2, zero, half, one, two, tiny)
    elif code == 3:
        _stacked_slopes_loop(cells, first, slopes, slope_row, 3, zero, half, one, two, tiny)
    else:
        _stacked_slopes_loop(cells, first, slopes, slope_row, 4, zero, half, one, two, tiny)


@njit(inline="always")
def _y_fluxes_loop(padded, f, rows, below, above, coefficients, direction):
    for i in range(rows.shape[1]):
        rows[above, i] = _face_flux(direction, padded[f + 1, i], rows[2 + below, i], padded[f + 2, i],
                                    rows[2 + above, i], coefficients, i)


@njit(inline="always")
def _y_fluxes(padded, f, rows, below, above, coefficients, direction):
    """The fluxes of y face row ``f`` (between rows ``f + 1`` and ``f + 2`` of ``padded``) into
    ``rows[above]``, from the slopes of those rows in ``rows[2 + below]`` and ``rows[2 + above]``;
    one loop per wind direction."""
    if direction > 0:
        _y_fluxes_loop(padded, f, rows, below, above, coefficients, 1)
    elif direction < 0:
        _y_fluxes_loop(padded, f, rows, below, above, coefficients, -1)
    else:
        _y_fluxes_loop(padded, f, rows, below, above, coefficients, 0)


@njit
def _y_sweep(padded, velocity, rate, inverse_width, dt, ref, div, use_correction, dst, rows, coefficients, code,
             consts, in_place):
    """The y fluxes and update of a plane padded with two ghost rows each side (face ``f`` lies
    between rows ``f + 1`` and ``f + 2`` of ``padded``), face row by face row: ``rows`` ``(5, nx)``
    keeps the last two face rows, the slopes of the two cell rows beside the face (each row's
    slope is computed once) and the first face row, so no plane of fluxes is stored;
    ``coefficients`` ``(4, nx + 1)`` receives the wind's factors (:func:`_face_coefficients`, once
    per plane when the wind has one row per level). Returns the net outflow over the boundary
    faces.

    With ``in_place`` the swept rows replace the input rows in ``padded`` (``dst`` is not used):
    row ``j`` is last read by face row ``j + 1``, so it is written one face row behind, and the
    plane needs no second buffer (one plane less for the core's cache to hold)."""
    zero, half, one, two, tiny = consts
    ny, nx = dst.shape
    stride = 1 if velocity.shape[0] > 1 else 0
    direction = _face_coefficients(velocity, 0, rate, rate, coefficients, half, one)
    _stacked_slopes(padded, 0, rows, 2, code, consts)
    net = 0.0
    for f in range(ny + 1):
        below = f % 2
        above = 1 - below
        if stride and f > 0:
            direction = _face_coefficients(velocity, f, rate, rate, coefficients, half, one)
        _stacked_slopes(padded, f + 1, rows, 2 + above, code, consts)
        _y_fluxes(padded, f, rows, below, above, coefficients, direction)
        if f == 0:
            for i in range(nx):
                rows[4, i] = rows[above, i]
            continue
        j = f - 1
        # Separate loops for writing in place: a store through another array view of the same
        # row would fail LLVM's overlap test and run scalar.
        if in_place and use_correction:
            for i in range(nx):
                padded[j + 2, i] = _swept(padded[j + 2, i], rows[below, i], rows[above, i], inverse_width, dt,
                                          ref[j, i] * div[j, i])
        elif in_place:
            for i in range(nx):
                padded[j + 2, i] = _swept(padded[j + 2, i], rows[below, i], rows[above, i], inverse_width, dt, zero)
        elif use_correction:
            for i in range(nx):
                dst[j, i] = _swept(padded[j + 2, i], rows[below, i], rows[above, i], inverse_width, dt,
                                   ref[j, i] * div[j, i])
        else:
            for i in range(nx):
                dst[j, i] = _swept(padded[j + 2, i], rows[below, i], rows[above, i], inverse_width, dt, zero)
        if f == ny:
            for i in range(nx):
                net += float(rows[above, i]) - float(rows[4, i])
    return net


@njit(inline="always")
def _row_slopes_loop(cells, slopes, count, code, zero, half, one, two, tiny):
    for c in range(count):
        slopes[c] = _cell_slope(cells[c], cells[c + 1], cells[c + 2], code, zero, half, one, two, tiny)


@njit(inline="always")
def _row_slopes(cells, slopes, count, code, consts):
    """The limited slopes of cells ``1 .. count`` of a row (each from its two neighbours in the
    row) into ``slopes[0 .. count-1]``; one loop per limiter, so each compiles branch-free.

    Every array the loops here read or write is C-contiguous (a whole row, or rows of a 2D
    block): Numba types a slice across the last axis as any-layout, whose loads take a stride
    each, and the loop then stays scalar (the x sweep ran 1.7 times slower so)."""
    zero, half, one, two, tiny = consts
    if code == 0:
        _row_slopes_loop(cells, slopes, count, 0, zero, half, one, two, tiny)
    elif code == 1:
        _row_slopes_loop(cells, slopes, count, 1, zero, half, one, two, tiny)
    elif code == 2:
        _row_slopes_loop(cells, slopes, count, 2, zero, half, one, two, tiny)
    elif code == 3:
        _row_slopes_loop(cells, slopes, count, 3, zero, half, one, two, tiny)
    else:
        _row_slopes_loop(cells, slopes, count, 4, zero, half, one, two, tiny)


@njit(inline="always")
def _x_fluxes_loop(cells, slopes, coefficients, out, direction):
    for f in range(out.shape[0]):
        out[f] = _face_flux(direction, cells[f + 1], slopes[f], cells[f + 2], slopes[f + 1], coefficients, f)


@njit(inline="always")
def _x_fluxes(cells, slopes, coefficients, out, direction):
    """Fluxes through the ``nx + 1`` faces of a row held in ``cells`` between its ghost cells,
    with the slopes of cells ``-1 .. nx`` in ``slopes``; one loop per wind direction."""
    if direction > 0:
        _x_fluxes_loop(cells, slopes, coefficients, out, 1)
    elif direction < 0:
        _x_fluxes_loop(cells, slopes, coefficients, out, -1)
    else:
        _x_fluxes_loop(cells, slopes, coefficients, out, 0)


@njit
def _ghost_row(edge, velocity, inflow_sign, bg, out):
    """Ghost cells beyond a boundary: ``bg`` where the face lets air in, else the edge cell."""
    zero = edge.dtype.type(0)
    for i in range(out.shape[0]):
        out[i] = bg if velocity[i] * inflow_sign > zero else edge[i]


@njit
def _sweep_x(src, dst, u, rate, inverse_width, dt, bg, ref, div, use_correction, padded, flux, coefficients, code,
             consts, ahead_in, ahead_out):
    """x sweep of one ``(ny, nx)`` plane; returns the net outflow ``sum(F[nx] - F[0])`` over rows.

    Each row is copied between its ghost cells into ``padded[0]`` (``nx + 4``) so the face loop
    reads its neighbours at fixed offsets with no boundary tests; ``padded[1]`` holds the slopes
    and ``coefficients`` ``(4, nx + 1)`` the wind's factors (:func:`_face_coefficients`), computed
    once per plane when the wind has one row per level.

    ``dst`` may be ``src`` (the odd steps sweep their plane in place): a row's update reads the
    cells from its copy in ``padded``, never from ``src``, so its store loop has no overlap for
    LLVM to test and vectorises either way, and the plane needs no second buffer (one plane less
    for the core's cache to hold: odd steps ran 4–9 % faster so).

    Row ``j`` of the planes ``ahead_in`` (read next) and ``ahead_out`` (written next) is
    prefetched with row ``j`` (:mod:`engine.kernels.numba_prefetch`), so the next plane's trip to
    main memory overlaps this plane's arithmetic.
    """
    zero, half, one, two, tiny = consts
    ny, nx = src.shape
    slopes = padded[1]
    padded = padded[0]
    net = 0.0
    row_stride = 1 if u.shape[0] > 1 else 0
    direction = 0
    for j in range(ny):
        row = j * row_stride
        prefetch_row(ahead_in, j, False)
        prefetch_row(ahead_out, j, True)
        if j == 0 or row_stride:
            direction = _face_coefficients(u, row, rate, rate, coefficients, half, one)
        low = bg if u[row, 0] > zero else src[j, 0]
        high = bg if u[row, nx] < zero else src[j, nx - 1]
        padded[0] = low
        padded[1] = low
        for i in range(nx):
            padded[i + 2] = src[j, i]
        padded[nx + 2] = high
        padded[nx + 3] = high
        _row_slopes(padded, slopes, nx + 2, code, consts)
        _x_fluxes(padded, slopes, coefficients, flux, direction)
        if use_correction:
            for i in range(nx):
                dst[j, i] = _swept(padded[i + 2], flux[i], flux[i + 1], inverse_width, dt, ref[j, i] * div[j, i])
        else:
            for i in range(nx):
                dst[j, i] = _swept(padded[i + 2], flux[i], flux[i + 1], inverse_width, dt, zero)
        net += float(flux[nx]) - float(flux[0])
    return net


@njit
def _row_or_ghost(plane, index, ghost_low, ghost_high):
    if index < 0:
        return ghost_low
    if index >= plane.shape[0]:
        return ghost_high
    return plane[index]


@njit
def _sweep_y(padded, dst, v, rate, inverse_width, dt, bg, ref, div, use_correction, faces, coefficients, code, consts,
             in_place):
    """y sweep of one plane held in rows ``2 .. ny+1`` of ``padded`` ``(ny+4, nx)`` into ``dst``
    ``(ny, nx)``, with ``faces`` ``(5, nx)`` and ``coefficients`` ``(4, nx + 1)`` scratch
    (:func:`_y_sweep`; ``in_place``: into ``padded``'s rows ``2 .. ny+1`` instead of ``dst``); returns the
    net outflow over the boundary faces. The two ghost rows on each side are filled here."""
    ny = dst.shape[0]
    nx = dst.shape[1]
    zero = padded.dtype.type(0)
    top = ny * (1 if v.shape[0] > 1 else 0)
    for i in range(nx):
        low = bg if v[0, i] > zero else padded[2, i]
        high = bg if v[top, i] < zero else padded[ny + 1, i]
        padded[0, i] = low
        padded[1, i] = low
        padded[ny + 2, i] = high
        padded[ny + 3, i] = high
    return _y_sweep(padded, v, rate, inverse_width, dt, ref, div, use_correction, dst, faces, coefficients, code,
                    consts, in_place)


@njit
def _ghost_plane(edge, w, inflow_sign, bg, out):
    row_stride = 1 if w.shape[0] > 1 else 0
    for j in range(out.shape[0]):
        _ghost_row(edge[j], w[j * row_stride], inflow_sign, bg, out[j])


@njit(inline="always")
def _diffuse_cell(src, j, i, north, south, kk, gain_x, gain_y, open_x, open_y, use_masks, zero):
    """Explicit horizontal diffusion of cell ``(j, i)`` in the reference's order of operations (a
    missing neighbour at the domain edge contributes a zero flux)."""
    ny, nx = src.shape
    value = src[j, i]
    east = kk * (src[j, i + 1] - value) if i < nx - 1 else zero
    west = kk * (value - src[j, i - 1]) if i > 0 else zero
    up = kk * (src[north, i] - value)
    down = kk * (value - src[south, i])
    if use_masks:
        east = east * open_x[j, i] if i < nx - 1 else zero
        west = west * open_x[j, i - 1] if i > 0 else zero
        up = up * open_y[j, i] if j < ny - 1 else zero
        down = down * open_y[j - 1, i] if j > 0 else zero
    return value + gain_x * east - gain_x * west + gain_y * up - gain_y * down


@njit
def _diffuse_small_plane(src, dst, kk, gain_x, gain_y, open_x, open_y, use_masks):
    """:func:`_diffuse_cell` for every cell of a plane too small for :func:`_diffuse_plane`'s
    loops (fewer than 3 columns or 2 rows)."""
    ny, nx = src.shape
    zero = src.dtype.type(0)
    for j in range(ny):
        north = j + 1 if j < ny - 1 else j
        south = j - 1 if j > 0 else j
        for i in range(nx):
            dst[j, i] = _diffuse_cell(src, j, i, north, south, kk, gain_x, gain_y, open_x, open_y, use_masks, zero)


@njit
def _diffuse_plane(src, dst, kk, gain_x, gain_y, open_x, open_y, use_masks):
    """Explicit horizontal diffusion of one plane, :func:`_diffuse_cell`'s values for every cell.

    The cells between the first and the last of a row take loops with no test left in them, so
    they vectorise; the two end cells are written out with their missing neighbour's flux 0 (not
    through :func:`_diffuse_cell`: inlined into this function, its tests kept LLVM from
    vectorising the row loops well, 0.36 ns per cell against 0.25). In the first and last row the
    missing neighbour is the cell itself, whose difference is exactly 0: the face mask of the row
    beside it, by which it is multiplied, leaves it 0, the reference's zero flux."""
    ny, nx = src.shape
    if nx < 3 or ny < 2:
        _diffuse_small_plane(src, dst, kk, gain_x, gain_y, open_x, open_y, use_masks)
        return
    zero = src.dtype.type(0)
    one = src.dtype.type(1)
    last = nx - 1
    for j in range(ny):
        north = j + 1 if j < ny - 1 else j
        south = j - 1 if j > 0 else j
        if use_masks:
            mask_north, mask_south = min(j, ny - 2), max(j - 1, 0)
            for i in range(1, last):
                value = src[j, i]
                east = kk * (src[j, i + 1] - value) * open_x[j, i]
                west = kk * (value - src[j, i - 1]) * open_x[j, i - 1]
                up = kk * (src[north, i] - value) * open_y[mask_north, i]
                down = kk * (value - src[south, i]) * open_y[mask_south, i]
                dst[j, i] = value + gain_x * east - gain_x * west + gain_y * up - gain_y * down
            east_open, west_open = open_x[j, 0], open_x[j, last - 1]
            north_first, north_last = open_y[mask_north, 0], open_y[mask_north, last]
            south_first, south_last = open_y[mask_south, 0], open_y[mask_south, last]
        else:
            for i in range(1, last):
                value = src[j, i]
                east = kk * (src[j, i + 1] - value)
                west = kk * (value - src[j, i - 1])
                up = kk * (src[north, i] - value)
                down = kk * (value - src[south, i])
                dst[j, i] = value + gain_x * east - gain_x * west + gain_y * up - gain_y * down
            east_open = west_open = north_first = north_last = south_first = south_last = one
        value = src[j, 0]
        east = kk * (src[j, 1] - value) * east_open
        up = kk * (src[north, 0] - value) * north_first
        down = kk * (value - src[south, 0]) * south_first
        dst[j, 0] = value + gain_x * east - gain_x * zero + gain_y * up - gain_y * down
        value = src[j, last]
        west = kk * (value - src[j, last - 1]) * west_open
        up = kk * (src[north, last] - value) * north_last
        down = kk * (value - src[south, last]) * south_last
        dst[j, last] = value + gain_x * zero - gain_x * west + gain_y * up - gain_y * down


@njit
def _copy_plane(src, dst):
    """``dst[:, :] = src`` as plain loops: Numba's slice assignment between views of larger arrays
    takes a generic strided copy, which cost 2–4 ms of a 256³ step where a loop costs ~0."""
    for j in range(dst.shape[0]):
        for i in range(dst.shape[1]):
            dst[j, i] = src[j, i]


@njit
def _finish_plane(src, dst, kk, gain_x, gain_y, open_x, open_y, use_masks, use_diffusion):
    if use_diffusion:
        _diffuse_plane(src, dst, kk, gain_x, gain_y, open_x, open_y, use_masks)
    else:
        _copy_plane(src, dst)


@njit
def _z_fluxes(planes_or_ghost, k_face, nz, w, rates_z, out, code, consts):
    """Fluxes through horizontal face ``k_face`` from the planes ``k_face-2 .. k_face+1``."""
    rate_left = rates_z[max(k_face - 1, 0)]
    rate_right = rates_z[min(k_face, nz - 1)]
    _face_plane(planes_or_ghost[0], planes_or_ghost[1], planes_or_ghost[2], planes_or_ghost[3], w,
                rate_left, rate_right, out, code, consts)


@njit(inline="always")
def _z_sweep_loop(below2, below, above, above2, velocity, row_stride, rate_left, rate_right, low, high, src,
                  inverse_width, dt, ref, div, use_correction, dst, code, zero, half, one, two, tiny):
    for j in range(dst.shape[0]):
        row = j * row_stride
        for i in range(dst.shape[1]):
            high[j, i] = _flux(velocity[row, i], below2[j, i], below[j, i], above[j, i], above2[j, i], rate_left,
                               rate_right, code, zero, half, one, two, tiny)
        if use_correction:
            for i in range(dst.shape[1]):
                dst[j, i] = _swept(src[j, i], low[j, i], high[j, i], inverse_width, dt, ref[j, i] * div[j, i])
        else:
            for i in range(dst.shape[1]):
                dst[j, i] = _swept(src[j, i], low[j, i], high[j, i], inverse_width, dt, zero)


@njit
def _z_sweep(planes, k, nz, w, rates_z, low, high, src, inverse_width, dt, ref, div, use_correction, dst, code, consts):
    """The z fluxes through the face above level ``k`` (from ``planes``, levels ``k-1 .. k+2``)
    into ``high`` and the update of level ``k`` from them and ``low`` (the face below), row by
    row so each flux row is read back from the nearest cache (the same floats as the fluxes of
    :func:`_z_fluxes`, then ``src - dt * ((high - low) * inverse_width - ref * div)`` over the plane)."""
    zero, half, one, two, tiny = consts
    rate_left = rates_z[k]
    rate_right = rates_z[min(k + 1, nz - 1)]
    stride = 1 if w.shape[0] > 1 else 0
    b2, b, a, a2 = planes
    if code == 0:
        _z_sweep_loop(b2, b, a, a2, w, stride, rate_left, rate_right, low, high, src, inverse_width, dt, ref, div,
                      use_correction, dst, 0, zero, half, one, two, tiny)
    elif code == 1:
        _z_sweep_loop(b2, b, a, a2, w, stride, rate_left, rate_right, low, high, src, inverse_width, dt, ref, div,
                      use_correction, dst, 1, zero, half, one, two, tiny)
    elif code == 2:
        _z_sweep_loop(b2, b, a, a2, w, stride, rate_left, rate_right, low, high, src, inverse_width, dt, ref, div,
                      use_correction, dst, 2, zero, half, one, two, tiny)
    elif code == 3:
        _z_sweep_loop(b2, b, a, a2, w, stride, rate_left, rate_right, low, high, src, inverse_width, dt, ref, div,
                      use_correction, dst, 3, zero, half, one, two, tiny)
    else:
        _z_sweep_loop(b2, b, a, a2, w, stride, rate_left, rate_right, low, high, src, inverse_width, dt, ref, div,
                      use_correction, dst, 4, zero, half, one, two, tiny)


@njit
def _plane_sum(plane):
    total = 0.0
    for j in range(plane.shape[0]):
        for i in range(plane.shape[1]):
            total += float(plane[j, i])
    return total


@njit
def _xy_plane(field, ms, m, kk, target, u, v, div_x, div_y, use_correction, rate_x, rate_y, dx, dy, step,
              bg, padded, flux_x, ypad, yfaces, code, consts, in_place, out, out_offset):
    """x then y sweep of input plane ``kk`` into ``target`` (``in_place``: into ``ypad``'s rows
    ``2 .. ny+1``); returns the x and y outflow (c·m²). Input plane ``kk + 1`` and output plane
    ``kk + out_offset`` (the one the caller writes next) are prefetched meanwhile."""
    cm = m if use_correction else 0
    ck = kk if use_correction else 0
    kind = field.dtype.type
    ny = target.shape[0]
    fx = _sweep_x(field[ms, kk], ypad[2:ny + 2], u[m, kk], rate_x, kind(1.0 / dx), step, bg, field[ms, kk],
                  div_x[cm, ck], use_correction, padded, flux_x[0], flux_x[1:], code, consts,
                  field[ms, min(kk + 1, field.shape[1] - 1)],
                  out[ms, min(max(kk + out_offset, 0), field.shape[1] - 1)])
    fy = _sweep_y(ypad, target, v[m, kk], rate_y, kind(1.0 / dy), step, bg, field[ms, kk], div_y[cm, ck],
                  use_correction, yfaces, flux_x[1:], code, consts, in_place)
    return fx * dy + fy * dx


@njit(inline="always")
def _vertical_cell(x, above, below, gain_up, gain_down, keep, inverse_width):
    """Forward-Euler vertical diffusion of one cell, then deposition implicit in time. At the top
    and the bottom level the missing neighbour is the cell itself, so its flux is ``gain · 0``
    and adds exactly nothing; without deposition ``keep`` is exactly 1. No branch is left in the
    loops, so they vectorise."""
    return (x + gain_up * (above - x) * inverse_width - gain_down * (x - below) * inverse_width) / keep


@njit
def _vertical_plane(ring, k, nz, conductance, deposition, depositing, dz, step, dst):
    """Forward-Euler vertical diffusion (then deposition implicit in time) of level ``k`` from the
    horizontally diffused levels ``k-1 .. k+1`` in ``ring`` (slot ``level % 3``), in the order of
    :meth:`engine.transport.diffusion.VerticalDiffusionSolver.explicit`; ``depositing``: whether
    level ``k`` has a positive deposition rate anywhere (else the division by 1 is left out).
    Per-column coefficients (solids) and per-level ones take separate loops, so each vectorises."""
    one = dst.dtype.type(1)
    inverse_width = one / dst.dtype.type(dz[k])
    up, down = min(k, max(nz - 2, 0)), max(k - 1, 0)
    here = ring[k % 3]
    above = ring[(k + 1) % 3] if k < nz - 1 else here
    below = ring[(k - 1) % 3] if k > 0 else here
    if conductance.shape[1] * conductance.shape[2] > 1:
        for j in range(dst.shape[0]):
            if depositing:
                for i in range(dst.shape[1]):
                    dst[j, i] = _vertical_cell(here[j, i], above[j, i], below[j, i], step * conductance[up, j, i],
                                               step * conductance[down, j, i], one + step * deposition[k, j, i],
                                               inverse_width)
            else:
                for i in range(dst.shape[1]):
                    dst[j, i] = _vertical_cell(here[j, i], above[j, i], below[j, i], step * conductance[up, j, i],
                                               step * conductance[down, j, i], one, inverse_width)
        return
    gain_up = step * conductance[up, 0, 0]
    gain_down = step * conductance[down, 0, 0]
    keep = one + step * deposition[k, 0, 0] if depositing else one
    for j in range(dst.shape[0]):
        for i in range(dst.shape[1]):
            dst[j, i] = _vertical_cell(here[j, i], above[j, i], below[j, i], gain_up, gain_down, keep, inverse_width)


@njit
def _finish(src, k, ms, m, o0, o1, nz, out, kh, gain_x, gain_y, open_x, open_y, use_masks, use_diffusion, vertical):
    """Horizontal diffusion of swept plane ``k``; then, with explicit vertical diffusion
    (``vertical[0]``), the vertical update of the plane below it, which now has both neighbours.
    Only this task's planes ``o0 .. o1-1`` reach ``out``."""
    enabled, ring, conductance, deposition, depositing, dz, step = vertical
    if not enabled:
        if o0 <= k < o1:
            _finish_plane(src, out[ms, k], kh[m, k], gain_x, gain_y, open_x, open_y, use_masks, use_diffusion)
        return
    _finish_plane(src, ring[k % 3], kh[m, k], gain_x, gain_y, open_x, open_y, use_masks, use_diffusion)
    if o0 <= k - 1 < o1:
        _vertical_plane(ring, k - 1, nz, conductance, deposition, depositing[k - 1], dz, step, out[ms, k - 1])
    if k == nz - 1 and o0 <= k < o1:
        _vertical_plane(ring, k, nz, conductance, deposition, depositing[k], dz, step, out[ms, k])


@njit
def _even_block(field, out, scratch, u, v, w, m, ms, ks, ke, o0, o1, div_x, div_y, div_z, use_correction, sweep_z,
                rate_x, rate_y, rates_z, dx, dy, dz, step, bg, kh, gain_x, gain_y, open_x, open_y, use_masks,
                use_diffusion, padded, flux_x, ypad, yfaces, code, consts, vertical):
    """x→y→z→diffusion for planes ``ks .. ke-1``, of which ``o0 .. o1-1`` are this task's (the
    others are halo for the vertical diffusion); returns their boundary outflow (c·m³/s)."""
    nz = field.shape[1]
    kind = field.dtype.type
    work_b, low, high = scratch[_WORK], scratch[_LOW], scratch[_HIGH]
    ny = work_b.shape[0]
    mask_k = 1 if use_masks else 0
    net = 0.0
    if not sweep_z:
        for k in range(ks, ke):
            net_k = _xy_plane(field, ms, m, k, work_b, u, v, div_x, div_y, use_correction, rate_x, rate_y, dx, dy,
                              step, bg, padded, flux_x, ypad, yfaces, code, consts, True, out, 1)
            if o0 <= k < o1:
                net += dz[k] * net_k
            _finish(ypad[2:ny + 2], k, ms, m, o0, o1, nz, out, kh, gain_x, gain_y, open_x[k * mask_k],
                    open_y[k * mask_k], use_masks, use_diffusion, vertical)
        return net
    # Ring slot of swept plane kk (kk = -2 .. nz+1, ghosts beyond the ends) is (kk + 2) % 5.
    for kk in range(max(ks - 2, 0), min(ks + 2, nz)):
        net_kk = _xy_plane(field, ms, m, kk, scratch[(kk + 2) % _RING], u, v, div_x, div_y, use_correction,
                           rate_x, rate_y, dx, dy, step, bg, padded, flux_x, ypad, yfaces, code, consts, False, out,
                           -1)
        if o0 <= kk < o1:
            net += dz[kk] * net_kk
    for kk in range(ks - 2, ks + 2):
        if kk < 0:
            _ghost_plane(scratch[2], w[m, 0], 1, bg, scratch[(kk + 2) % _RING])
        elif kk >= nz:
            _ghost_plane(scratch[(nz + 1) % _RING], w[m, nz], -1, bg, scratch[(kk + 2) % _RING])
    cm = m if use_correction else 0
    _z_fluxes((scratch[ks % _RING], scratch[(ks + 1) % _RING], scratch[(ks + 2) % _RING],
               scratch[(ks + 3) % _RING]), ks, nz, w[m, ks], rates_z, low, code, consts)
    for k in range(ks, ke):
        kk = k + 2
        if kk < nz:
            net_kk = _xy_plane(field, ms, m, kk, scratch[(kk + 2) % _RING], u, v, div_x, div_y, use_correction,
                               rate_x, rate_y, dx, dy, step, bg, padded, flux_x, ypad, yfaces, code, consts, False, out,
                           -1)
            if o0 <= kk < o1:
                net += dz[kk] * net_kk
        else:
            _ghost_plane(scratch[(nz + 1) % _RING], w[m, nz], -1, bg, scratch[(kk + 2) % _RING])
        _z_sweep((scratch[(k + 1) % _RING], scratch[(k + 2) % _RING], scratch[(k + 3) % _RING],
                  scratch[(k + 4) % _RING]), k, nz, w[m, k + 1], rates_z, low, high, scratch[(k + 2) % _RING],
                 kind(1) / kind(dz[k]), step, field[ms, k], div_z[cm, k if use_correction else 0], use_correction,
                 work_b, code, consts)
        if k == 0 and o0 <= k < o1:
            net -= dx * dy * _plane_sum(low)
        if k == nz - 1 and o0 <= k < o1:
            net += dx * dy * _plane_sum(high)
        _finish(work_b, k, ms, m, o0, o1, nz, out, kh, gain_x, gain_y, open_x[k * mask_k], open_y[k * mask_k],
                use_masks, use_diffusion, vertical)
        low, high = high, low
    return net


@njit
def _odd_block(field, out, scratch, u, v, w, m, ms, ks, ke, o0, o1, div_x, div_y, div_z, use_correction, sweep_z,
               rate_x, rate_y, rates_z, dx, dy, dz, step, bg, kh, gain_x, gain_y, open_x, open_y, use_masks,
               use_diffusion, padded, flux_x, ypad, yfaces, code, consts, vertical):
    """z→y→x→diffusion for planes ``ks .. ke-1`` (owned: ``o0 .. o1-1``, see :func:`_even_block`);
    returns their boundary outflow (c·m³/s)."""
    nz = field.shape[1]
    kind = field.dtype.type
    work_b, low, high = scratch[_WORK], scratch[_LOW], scratch[_HIGH]
    ghost_low, ghost_high = scratch[_GHOST_LOW], scratch[_GHOST_HIGH]
    mask_k = 1 if use_masks else 0
    cm = m if use_correction else 0
    net = 0.0
    if sweep_z:
        if ks < 2:
            _ghost_plane(field[ms, 0], w[m, 0], 1, bg, ghost_low)
        if ke + 2 > nz:
            _ghost_plane(field[ms, nz - 1], w[m, nz], -1, bg, ghost_high)
        _z_fluxes((_row_or_ghost(field[ms], ks - 2, ghost_low, ghost_high),
                   _row_or_ghost(field[ms], ks - 1, ghost_low, ghost_high),
                   _row_or_ghost(field[ms], ks, ghost_low, ghost_high),
                   _row_or_ghost(field[ms], ks + 1, ghost_low, ghost_high)), ks, nz, w[m, ks], rates_z, low,
                  code, consts)
    ny = work_b.shape[0]
    interior = ypad[2:ny + 2]
    for k in range(ks, ke):
        ck = k if use_correction else 0
        if not sweep_z:
            _copy_plane(field[ms, k], interior)
        else:
            _z_sweep((_row_or_ghost(field[ms], k - 1, ghost_low, ghost_high), field[ms, k],
                      _row_or_ghost(field[ms], k + 1, ghost_low, ghost_high),
                      _row_or_ghost(field[ms], k + 2, ghost_low, ghost_high)), k, nz, w[m, k + 1], rates_z, low,
                     high, field[ms, k], kind(1) / kind(dz[k]), step, field[ms, k], div_z[cm, ck], use_correction,
                     interior, code, consts)
            if k == 0 and o0 <= k < o1:
                net -= dx * dy * _plane_sum(low)
            if k == nz - 1 and o0 <= k < o1:
                net += dx * dy * _plane_sum(high)
            low, high = high, low
        fy = _sweep_y(ypad, work_b, v[m, k], rate_y, kind(1.0 / dy), step, bg, field[ms, k], div_y[cm, ck],
                      use_correction, yfaces, flux_x[1:], code, consts, True)
        fx = _sweep_x(interior, interior, u[m, k], rate_x, kind(1.0 / dx), step, bg, field[ms, k], div_x[cm, ck],
                      use_correction, padded, flux_x[0], flux_x[1:], code, consts,
                      field[ms, min(k + (3 if sweep_z else 1), nz - 1)], out[ms, k])
        if o0 <= k < o1:
            net += dz[k] * (fx * dy + fy * dx)
        _finish(interior, k, ms, m, o0, o1, nz, out, kh, gain_x, gain_y, open_x[k * mask_k], open_y[k * mask_k],
                use_masks, use_diffusion, vertical)
    return net


@njit(parallel=True, cache=True)
def diffuse_fields(field, out, species, kh, gain_x, gain_y, open_x, open_y, use_masks):
    """One explicit horizontal diffusion step of every plane of ``field`` ``(member*species, nz,
    ny, nx)`` into ``out``; ``kh`` is ``(member, nz)``, the gains ``dt/dx²`` and ``dt/dy²``."""
    nz = field.shape[1]
    mask_k = 1 if use_masks else 0
    for plane in numba.prange(field.shape[0] * nz):
        previous = flush_denormals()
        ms = plane // nz
        k = plane % nz
        _diffuse_plane(field[ms, k], out[ms, k], kh[ms // species, k], gain_x, gain_y, open_x[k * mask_k],
                       open_y[k * mask_k], use_masks)
        restore(previous)


@njit(parallel=True, cache=True)
def fused_sweeps(field, out, u, v, w, div_x, div_y, div_z, use_correction, sweep_z, even, dt, rate_x, rate_y,
                 rates_z, dx, dy, dz, background, species, code, kh, gain_x, gain_y, open_x, open_y, use_masks,
                 use_diffusion, blocks, planes, padded_rows, face_rows, y_planes, y_faces, outflow, vertical,
                 conductance, deposition, depositing, rings):
    """Advance ``field`` ``(member·species, nz, ny, nx)`` by the advective sweeps and horizontal
    diffusion of one step into ``out``.

    ``div_*`` are the per-sweep divergences ``(member, nz, ny, nx)`` of the multi-dimensional
    correction (read only with ``use_correction``); ``rates_z`` is ``dt/dz`` per level; ``code`` the
    limiter (:data:`LIMITER_CODES`); ``kh`` ``(member, nz)``; ``planes`` scratch
    ``(tasks, 10, ny, nx)``, ``padded_rows`` ``(tasks, 2, nx+4)`` (a row between ghost cells and
    its slopes), ``face_rows`` ``(tasks, 5, nx+1)`` (a row of x fluxes, then the wind's factors of
    :func:`_face_coefficients`), ``y_planes`` ``(tasks, ny+4, nx)`` (the y sweep's
    input between ghost rows) and ``y_faces`` ``(tasks, 5, nx)`` (rows of the y sweep, :func:`_y_sweep`); ``outflow`` ``(tasks,)`` receives each task's net boundary outflow rate
    (concentration · m³/s). With ``vertical`` the pass ends with forward-Euler vertical diffusion:
    ``conductance`` ``Kz/dz_c`` per member and interior face ``(member, max(nz-1, 1), ny|1, nx|1)``
    (m/s), ``deposition`` ``vd/dz`` per species and level ``(species, nz, ny|1, nx|1)`` (1/s),
    ``depositing`` ``(species, nz)`` whether a level's rate is positive anywhere, ``rings`` scratch
    ``(tasks, 3, ny, nx)``; a task then also sweeps one halo plane on each side of its block.
    """
    ms_count, nz, ny, nx = field.shape
    kind = field.dtype.type
    consts = (kind(0), kind(0.5), kind(1), kind(2), np.finfo(field.dtype).tiny)
    step = kind(dt)
    per_block = (nz + blocks - 1) // blocks
    for task in numba.prange(ms_count * blocks):
        ms = task // blocks
        k0 = (task - ms * blocks) * per_block
        k1 = min(k0 + per_block, nz)
        outflow[task] = 0.0
        if k0 >= k1:
            continue
        previous = flush_denormals()
        m = ms // species
        halo = 1 if vertical else 0
        explicit = (vertical, rings[task], conductance[m], deposition[ms % species], depositing[ms % species], dz,
                    step)
        args = (field, out, planes[task], u, v, w, m, ms, max(k0 - halo, 0), min(k1 + halo, nz), k0, k1, div_x, div_y, div_z, use_correction, sweep_z,
                rate_x, rate_y, rates_z, dx, dy, dz, step, background[ms % species], kh, gain_x, gain_y, open_x,
                open_y, use_masks, use_diffusion, padded_rows[task], face_rows[task], y_planes[task], y_faces[task],
                code, consts, explicit)
        if even:
            outflow[task] = _even_block(*args)
        else:
            outflow[task] = _odd_block(*args)
        restore(previous)


def _layered(array: np.ndarray) -> np.ndarray:
    """``array`` ``(member, n, rows, cols)`` with one row per ``(member, n)`` when every row of a
    level is the same constant (a horizontally uniform wind), else itself."""
    if np.all(array == array[:, :, :1, :1]):
        return np.ascontiguousarray(array[:, :, :1, :])
    return np.ascontiguousarray(array)


class FusedSweeps:
    """The advective sweeps and horizontal diffusion of :class:`engine.transport.step.Transport`
    as one compiled pass per step, for one wind and diffusivity (NumPy arrays, Numba backend).

    Parameters
    ----------
    u, v, w:
        Face velocities (m/s) ``(member, nz, ny, nx+1)``, ``(member, nz, ny+1, nx)``,
        ``(member, nz+1, ny, nx)`` in the working precision.
    divergences:
        Per parity (even, odd), a dict ``{axis: du/dx (member, nz, ny, nx)}`` of the correction
        terms, or None for the plain flux form.
    sweep_z:
        False when the vertical velocity is zero everywhere (no z sweep, as in the reference).
    kh:
        Horizontal diffusivity (m²/s) ``(member, nz)``, or None for no horizontal diffusion.
    open_x, open_y:
        0/1 masks of the interior faces ``(nz, ny, nx-1)`` and ``(nz, ny-1, nx)``, or None.
    """

    def __init__(self, u, v, w, divergences, sweep_z: bool, kh, dx: float, dy: float, dz: np.ndarray,
                 background: np.ndarray, limiter: str, open_x=None, open_y=None):
        dtype = u.dtype
        members, nz, ny, _ = u.shape
        self.u, self.v, self.w = _layered(u), _layered(v), _layered(w)
        self.sweep_z = bool(sweep_z)
        self.dx, self.dy = float(dx), float(dy)
        self.dz = np.ascontiguousarray(dz, dtype=dtype)
        self.dz64 = self.dz.astype(np.float64)
        self.background = np.ascontiguousarray(background, dtype=dtype)
        self.code = LIMITER_CODES[limiter]
        nx = u.shape[3] - 1
        self.use_diffusion = kh is not None
        # One row per wind member, whether the diffusivity has one member or as many.
        kh = np.broadcast_to(kh if kh is not None else np.zeros((1, nz)), (members, nz))
        self.kh = np.ascontiguousarray(kh, dtype=dtype)
        self.use_masks = open_x is not None
        dummy_mask = np.zeros((1, ny, nx), dtype=dtype)
        self.open_x = np.ascontiguousarray(open_x) if self.use_masks else dummy_mask
        self.open_y = np.ascontiguousarray(open_y) if self.use_masks else dummy_mask
        dummy = np.zeros((1, 1, ny, nx), dtype=dtype)
        self.use_correction = divergences is not None
        self.divergences = []
        for parity in (0, 1):
            terms = divergences[parity] if divergences is not None else {}
            self.divergences.append(tuple(
                np.ascontiguousarray(terms[axis], dtype=dtype) if axis in terms else
                (np.zeros((members, nz, ny, nx), dtype) if self.use_correction else dummy)
                for axis in ("x", "y", "z")))
        self._scratch: dict[tuple, tuple] = {}
        self._prepared = None

    def _buffers(self, tasks: int, ny: int, nx: int, dtype):
        key = (tasks, ny, nx, np.dtype(dtype).str)
        if key not in self._scratch:
            self._scratch.clear()
            self._scratch[key] = (np.empty((tasks, _SCRATCH_PLANES, ny, nx), dtype), np.empty((tasks, 2, nx + 4), dtype),
                                  np.empty((tasks, 5, nx + 1), dtype), np.empty((tasks, ny + 4, nx), dtype),
                                  np.empty((tasks, 5, nx), dtype), np.empty(tasks, np.float64))
        return self._scratch[key]

    def _vertical_arguments(self, vertical, members, species, nz, tasks, ny, nx, dtype):
        if vertical is None:
            dummy = np.zeros((1, 1, 1, 1), dtype)
            return False, dummy, dummy, np.zeros((1, 1), np.bool_), dummy
        key = (id(vertical), tasks, ny, nx, np.dtype(dtype).str)
        if self._prepared is not None and self._prepared[0] == key:
            return self._prepared[2]
        conductance, deposition, depositing = explicit_layout(np, *vertical, self.u.shape[0], species, nz, ny, nx,
                                                              dtype)
        arguments = (True, conductance, deposition, depositing, np.empty((tasks, 3, ny, nx), dtype))
        # Keep ``vertical`` itself so its id stays unique while the prepared arrays are reused.
        self._prepared = (key, vertical, arguments)
        return arguments

    def diffuse(self, field: np.ndarray, dt: float, out: np.ndarray) -> np.ndarray:
        """One explicit horizontal diffusion step of ``dt`` seconds from ``field`` into ``out``
        (not overlapping it), the same arithmetic as the diffusion inside :meth:`apply`."""
        members, species, nz, ny, nx = field.shape
        dtype = field.dtype.type
        diffuse_fields(field.reshape(members * species, nz, ny, nx), out.reshape(members * species, nz, ny, nx),
                       species, self.kh, dtype(dt / (self.dx * self.dx)), dtype(dt / (self.dy * self.dy)),
                       self.open_x, self.open_y, self.use_masks)
        return out

    def apply(self, field: np.ndarray, dt: float, parity: int, out=None, vertical=None,
              diffusion_dt: float | None = None):
        """Return ``(new_field, outflow)``: the swept and diffused field (in ``out`` when given, an
        array not overlapping ``field``) and the mass (concentration × m³, float64, per member and
        species) that left through the domain boundaries.

        ``vertical = (conductance, deposition)`` adds forward-Euler vertical diffusion to the same
        pass: ``Kz/dz_c`` (m/s) per member and interior face ``(member, nz-1, ny|1, nx|1)`` and
        ``vd/dz`` (1/s) per species and level ``(species, nz, ny|1, nx|1)`` or None.
        ``diffusion_dt`` is the horizontal diffusion's step when it is sub-cycled (default ``dt``).
        """
        members, species, nz, ny, nx = field.shape
        diffusion_dt = dt if diffusion_dt is None else diffusion_dt
        field4 = np.ascontiguousarray(field).reshape(members * species, nz, ny, nx)
        if out is None:
            out = np.empty_like(field)
        threads = numba.get_num_threads()
        blocks = min(threads // math.gcd(members * species, threads), nz)
        tasks = members * species * blocks
        planes, padded, faces, y_planes, y_faces, outflow = self._buffers(tasks, ny, nx, field.dtype)
        dtype = field.dtype.type
        div_x, div_y, div_z = self.divergences[parity % 2]
        fused_sweeps(field4, out.reshape(field4.shape), self.u, self.v, self.w, div_x, div_y, div_z,
                     self.use_correction, self.sweep_z, parity % 2 == 0, dt, dtype(dt / self.dx),
                     dtype(dt / self.dy), (dtype(dt) / self.dz).astype(field.dtype), self.dx, self.dy, self.dz64,
                     self.background, species, self.code, self.kh, dtype(diffusion_dt / (self.dx * self.dx)),
                     dtype(diffusion_dt / (self.dy * self.dy)), self.open_x, self.open_y, self.use_masks,
                     self.use_diffusion, blocks, planes, padded, faces, y_planes, y_faces, outflow,
                     *self._vertical_arguments(vertical, members, species, nz, tasks, ny, nx, field.dtype))
        per_field = outflow.reshape(members * species, blocks).sum(axis=1) * dt
        return out, per_field.reshape(members, species)

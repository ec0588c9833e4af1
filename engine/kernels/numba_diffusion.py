"""Implicit vertical diffusion with dry deposition as compiled passes (Numba).

The same solve as :meth:`engine.transport.diffusion.VerticalDiffusionSolver.solve` — Thomas
elimination per column, then the update re-applied in flux form for exact conservation — with the
operations in the same order, so float32 results equal the NumPy reference. Horizontal diffusion
is fused into the sweep pass (:mod:`engine.kernels.numba_fused`).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..transport.diffusion import column_layout
from .jit import njit
from .numba_fpenv import flush_denormals, restore


@njit(parallel=True, cache=True)
def _vertical_streamed(field, lower, inv_pivot, upper_ratio, conductance, inverse_dz, deposition, use_deposition,
                       full, dt, out, blocks, planes):
    """Backward-Euler vertical diffusion with deposition, streamed level by level.

    Coefficient arrays are ``(member|1, species|1, nz, ny, nx)`` when ``full`` (solids make them
    vary per column) or ``(member|1, species|1, nz, 1, 1)``; ``conductance`` is
    ``(member|1, 1, nz-1, ...)`` likewise. Each task takes a block of y rows of one member and
    species and walks it level by level — contiguous runs of memory the prefetcher follows:
    forward elimination into ``out``, then back substitution with the flux-form update one level
    behind, the last three solution levels of the block kept in ``planes``
    ``(tasks, 3, rows per block, nx)``. Arithmetic in the reference's order, so float32 results
    equal :meth:`engine.transport.diffusion.VerticalDiffusionSolver.solve`.
    """
    members, species, nz, ny, nx = field.shape
    step = field.dtype.type(dt)
    per_block = (ny + blocks - 1) // blocks
    for task in numba.prange(members * species * blocks):
        ms = task // blocks
        m = ms // species
        s = ms % species
        j0 = (task - ms * blocks) * per_block
        j1 = min(j0 + per_block, ny)
        if j0 >= j1:
            continue
        previous = flush_denormals()
        cm = m if lower.shape[0] > 1 else 0
        cs = s if lower.shape[1] > 1 else 0
        gm = m if conductance.shape[0] > 1 else 0
        dm = m if deposition.shape[0] > 1 else 0
        ds = s if deposition.shape[1] > 1 else 0
        for k in range(nz):
            # Layered coefficients are hoisted out of the row loops, so those loops vectorise.
            low = lower[cm, cs, k, 0, 0]
            pivot = inv_pivot[cm, cs, k, 0, 0]
            for j in range(j0, j1):
                if k == 0:
                    for i in range(nx):
                        if full:
                            pivot = inv_pivot[cm, cs, 0, j, i]
                        out[m, s, 0, j, i] = field[m, s, 0, j, i] * pivot
                elif full:
                    for i in range(nx):
                        out[m, s, k, j, i] = (field[m, s, k, j, i] - lower[cm, cs, k, j, i] * out[m, s, k - 1, j, i]
                                              ) * inv_pivot[cm, cs, k, j, i]
                else:
                    for i in range(nx):
                        out[m, s, k, j, i] = (field[m, s, k, j, i] - low * out[m, s, k - 1, j, i]) * pivot
        buffer = planes[task]
        # buffer[k % 3] holds the solution at level k while levels k-1 .. k+1 are needed.
        for j in range(j0, j1):
            for i in range(nx):
                buffer[(nz - 1) % 3, j - j0, i] = out[m, s, nz - 1, j, i]
        for k in range(nz - 1, -1, -1):
            if k < nz - 1:
                ratio = upper_ratio[cm, cs, k, 0, 0]
                here, above = k % 3, (k + 1) % 3
                for j in range(j0, j1):
                    r = j - j0
                    if full:
                        for i in range(nx):
                            buffer[here, r, i] = out[m, s, k, j, i] - upper_ratio[cm, cs, k, j, i] * buffer[above, r, i]
                    else:
                        for i in range(nx):
                            buffer[here, r, i] = out[m, s, k, j, i] - ratio * buffer[above, r, i]
            if k + 1 < nz:  # level k+1 now has its neighbours' solutions: finish it in flux form
                _flux_form_level(field, buffer, m, s, gm, dm, ds, k + 1, nz, j0, j1, conductance, inverse_dz,
                                 deposition, use_deposition, full, step, out)
        _flux_form_level(field, buffer, m, s, gm, dm, ds, 0, nz, j0, j1, conductance, inverse_dz, deposition,
                         use_deposition, full, step, out)
        restore(previous)


@njit
def _flux_form_level(field, buffer, m, s, gm, dm, ds, k, nz, j0, j1, conductance, inverse_dz, deposition,
                     use_deposition, full, step, out):
    """The flux-form update of level ``k`` (rows ``j0 .. j1-1``) from the solution at ``k-1 .. k+1``."""
    inverse_width = inverse_dz[k]
    up = min(k, nz - 2)
    down = max(k - 1, 0)
    here, above, below = k % 3, (k + 1) % 3, (k - 1) % 3
    gain_up = step * conductance[gm, 0, up, 0, 0]
    gain_down = step * conductance[gm, 0, down, 0, 0]
    loss = step * deposition[dm, ds, k, 0, 0]
    for j in range(j0, j1):
        r = j - j0
        for i in range(out.shape[4]):
            value = field[m, s, k, j, i]
            x = buffer[here, r, i]
            if full:
                gain_up = step * conductance[gm, 0, up, j, i]
                gain_down = step * conductance[gm, 0, down, j, i]
                loss = step * deposition[dm, ds, k, j, i]
            if k < nz - 1:
                value = value + gain_up * (buffer[above, r, i] - x) * inverse_width
            if k > 0:
                value = value - gain_down * (x - buffer[below, r, i]) * inverse_width
            if use_deposition:
                value = value - loss * x
            out[m, s, k, j, i] = value


def vertical_diffusion_compiled(field, coefficients, conductance, dz, deposition, dt: float, out=None):
    """Compiled twin of :meth:`engine.transport.diffusion.VerticalDiffusionSolver.solve`.

    ``coefficients`` are the solver's cached ``(lower, inv_pivot, upper_ratio)``. ``out``
    (contiguous, not overlapping ``field``) receives the result when given; otherwise a new array
    does.
    """
    members, species, nz, ny, nx = field.shape
    if out is None:
        out = np.empty_like(field)
    lower, inv_pivot, upper_ratio, conductance, deposition, use_deposition, full = column_layout(
        field, coefficients, conductance, deposition)
    threads = numba.get_num_threads()
    blocks = min(threads // math.gcd(members * species, threads), ny)
    planes = np.empty((members * species * blocks, 3, -(-ny // blocks), nx), dtype=field.dtype)
    _vertical_streamed(np.ascontiguousarray(field), lower, inv_pivot, upper_ratio, conductance,
                       np.ascontiguousarray((1 / dz).ravel()), deposition, use_deposition, full, dt, out, blocks,
                       planes)
    return out

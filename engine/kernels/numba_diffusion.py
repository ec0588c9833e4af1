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


@numba.njit(parallel=True, cache=True)
def _vertical(field, lower, inv_pivot, upper_ratio, conductance, dz, deposition, use_deposition, dt, out, solution):
    members, species, nz, ny, nx = field.shape
    step = field.dtype.type(dt)
    for task in numba.prange(members * species * ny):
        m = task // (species * ny)
        s = (task // ny) % species
        j = task % ny
        for i in range(nx):  # forward elimination
            solution[m, s, 0, j, i] = field[m, s, 0, j, i] * inv_pivot[m, s, 0, j, i]
        for k in range(1, nz):
            for i in range(nx):
                value = field[m, s, k, j, i] - lower[m, s, k, j, i] * solution[m, s, k - 1, j, i]
                solution[m, s, k, j, i] = value * inv_pivot[m, s, k, j, i]
        for k in range(nz - 2, -1, -1):  # back substitution
            for i in range(nx):
                solution[m, s, k, j, i] = solution[m, s, k, j, i] - upper_ratio[m, s, k, j, i] * solution[m, s, k + 1, j, i]
        for k in range(nz):  # the same update in flux form: exact conservation
            for i in range(nx):
                value = field[m, s, k, j, i]
                if k < nz - 1:
                    flux = (step * conductance[m, 0, k, j, i]) * (solution[m, s, k + 1, j, i] - solution[m, s, k, j, i])
                    value = value + flux / dz[k]
                if k > 0:
                    flux = (step * conductance[m, 0, k - 1, j, i]) * (solution[m, s, k, j, i] - solution[m, s, k - 1, j, i])
                    value = value - flux / dz[k]
                if use_deposition:
                    value = value - (step * deposition[m, s, k, j, i]) * solution[m, s, k, j, i]
                out[m, s, k, j, i] = value


@numba.njit(parallel=True, cache=True)
def _vertical_layered(field, lower, inv_pivot, upper_ratio, conductance, dz, deposition, use_deposition, dt, out,
                      blocks, planes):
    """:func:`_vertical` for coefficients that vary only with height (one value per level).

    Coefficients are ``(member|1, species|1, nz)``, ``conductance`` ``(member|1, nz-1)``. Each task
    takes a block of y rows of one member and species and streams through it level by level —
    contiguous runs of memory the prefetcher follows: forward elimination into ``out``, then back
    substitution with the flux-form update one level behind, the last three solution levels of
    the block kept in ``planes`` ``(tasks, 3, rows per block, nx)``.
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
        cm = m if lower.shape[0] > 1 else 0
        cs = s if lower.shape[1] > 1 else 0
        gm = m if conductance.shape[0] > 1 else 0
        ds = s if deposition.shape[1] > 1 else 0
        dm = m if deposition.shape[0] > 1 else 0
        f = field[m, s]
        y = out[m, s]
        for k in range(nz):
            low = lower[cm, cs, k]
            pivot = inv_pivot[cm, cs, k]
            for j in range(j0, j1):
                fk = f[k, j]
                yk = y[k, j]
                if k == 0:
                    for i in range(nx):
                        yk[i] = fk[i] * pivot
                else:
                    yb = y[k - 1, j]
                    for i in range(nx):
                        yk[i] = (fk[i] - low * yb[i]) * pivot
        buffer = planes[task]
        # buffer[k % 3] holds the solution at level k while levels k .. k+2 are needed.
        for j in range(j0, j1):
            buffer[(nz - 1) % 3, j - j0, :] = y[nz - 1, j]
        for k in range(nz - 1, -1, -1):
            if k < nz - 1:
                ratio = upper_ratio[cm, cs, k]
                above = buffer[(k + 1) % 3]
                here = buffer[k % 3]
                for j in range(j0, j1):
                    yk = y[k, j]
                    h = here[j - j0]
                    a = above[j - j0]
                    for i in range(nx):
                        h[i] = yk[i] - ratio * a[i]
            if k + 1 < nz:  # level k+1 now has its neighbours' solutions: finish it in flux form
                _flux_form_level(f, buffer, k + 1, nz, j0, j1, conductance[gm], dz, deposition[dm, ds],
                                 use_deposition, step, y)
        _flux_form_level(f, buffer, 0, nz, j0, j1, conductance[gm], dz, deposition[dm, ds], use_deposition, step, y)


@numba.njit
def _flux_form_level(field, buffer, k, nz, j0, j1, conductance, dz, deposition, use_deposition, step, out):
    """The flux-form update of level ``k`` (rows ``j0 .. j1-1``) from the solution at ``k-1 .. k+1``."""
    width = dz[k]
    gain_up = step * conductance[min(k, nz - 2)]
    gain_down = step * conductance[max(k - 1, 0)]
    loss = step * deposition[k]
    for j in range(j0, j1):
        old = field[k, j]
        dst = out[k, j]
        here = buffer[k % 3, j - j0]
        above = buffer[(k + 1) % 3, j - j0]
        below = buffer[(k - 1) % 3, j - j0]
        for i in range(dst.shape[0]):
            value = old[i]
            if k < nz - 1:
                value = value + gain_up * (above[i] - here[i]) / width
            if k > 0:
                value = value - gain_down * (here[i] - below[i]) / width
            if use_deposition:
                value = value - loss * here[i]
            dst[i] = value


def vertical_diffusion_compiled(field, coefficients, conductance, dz, deposition, dt: float, out=None):
    """Compiled twin of :meth:`engine.transport.diffusion.VerticalDiffusionSolver.solve`.

    ``coefficients`` are the solver's cached ``(lower, inv_pivot, upper_ratio)``. Coefficients
    that vary with height only take the layered kernel; otherwise every array is broadcast to the
    full shape (zero strides, no copies) so one kernel serves all cases. ``out`` (contiguous, not
    overlapping ``field``) receives the result when given; otherwise a new array does.
    """
    shape = field.shape
    use_deposition = deposition is not None
    dz_flat = np.ascontiguousarray(dz.ravel())
    layered = all(a.shape[3:] == (1, 1) for a in (*coefficients, conductance)) and (
        not use_deposition or deposition.shape[3:] == (1, 1))
    if out is None:
        out = np.empty_like(field)
    if layered and shape[2] > 1:
        lower, inv_pivot, upper_ratio = (np.ascontiguousarray(c[:, :, :, 0, 0]) for c in coefficients)
        dep = np.ascontiguousarray(deposition[:, :, :, 0, 0]) if use_deposition else lower
        threads = numba.get_num_threads()
        blocks = min(threads // math.gcd(shape[0] * shape[1], threads), shape[3])
        planes = np.empty((shape[0] * shape[1] * blocks, 3, -(-shape[3] // blocks), shape[4]), dtype=field.dtype)
        _vertical_layered(np.ascontiguousarray(field), lower, inv_pivot, upper_ratio,
                          np.ascontiguousarray(conductance[:, 0, :, 0, 0]), dz_flat, dep, use_deposition, dt, out,
                          blocks, planes)
        return out
    lower, inv_pivot, upper_ratio = (np.broadcast_to(c, shape) for c in coefficients)
    faces = (shape[0], 1, max(shape[2] - 1, 1)) + shape[3:]
    conductance = np.broadcast_to(conductance, faces) if shape[2] > 1 else np.zeros(faces, field.dtype)
    deposition = np.broadcast_to(deposition, shape) if use_deposition else lower
    solution = np.empty_like(field)
    _vertical(np.ascontiguousarray(field), lower, inv_pivot, upper_ratio, conductance, dz_flat, deposition,
              use_deposition, dt, out, solution)
    return out

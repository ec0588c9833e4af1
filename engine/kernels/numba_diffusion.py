"""Explicit horizontal diffusion as one compiled pass (Numba).

The same update as :func:`engine.transport.diffusion.diffuse_horizontal`, with the operations in
the same order so float32 results are identical: each cell adds the gain-weighted flux through
its east face, subtracts the one through its west face, then does the same for north and south.
Horizontally uniform diffusivities only (``kh`` shaped ``(member, 1, nz, 1, 1)``); other shapes
use the NumPy reference.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, cache=True)
def _diffuse(field, kh, gain_x, gain_y, open_x, open_y, use_masks, out):
    members, species, nz, ny, nx = field.shape
    gx = field.dtype.type(gain_x)
    gy = field.dtype.type(gain_y)
    for task in numba.prange(members * species * nz):
        m = task // (species * nz)
        s = (task // nz) % species
        k = task % nz
        kk = kh[m, 0, k, 0, 0]
        for j in range(ny):
            for i in range(nx):
                value = field[m, s, k, j, i]
                if i < nx - 1:
                    flux = kk * (field[m, s, k, j, i + 1] - value)
                    if use_masks:
                        flux = flux * open_x[k, j, i]
                    value = value + gx * flux
                if i > 0:
                    flux = kk * (field[m, s, k, j, i] - field[m, s, k, j, i - 1])
                    if use_masks:
                        flux = flux * open_x[k, j, i - 1]
                    value = value - gx * flux
                if j < ny - 1:
                    flux = kk * (field[m, s, k, j + 1, i] - field[m, s, k, j, i])
                    if use_masks:
                        flux = flux * open_y[k, j, i]
                    value = value + gy * flux
                if j > 0:
                    flux = kk * (field[m, s, k, j, i] - field[m, s, k, j - 1, i])
                    if use_masks:
                        flux = flux * open_y[k, j - 1, i]
                    value = value - gy * flux
                out[m, s, k, j, i] = value


def diffuse_horizontal_compiled(field, kh, dt: float, dx: float, dy: float, open_x=None, open_y=None):
    """Drop-in for :func:`engine.transport.diffusion.diffuse_horizontal` (NumPy arrays)."""
    out = np.empty_like(field)
    use_masks = open_x is not None
    dummy = np.zeros((1, 1, 1), dtype=field.dtype)
    _diffuse(np.ascontiguousarray(field), np.ascontiguousarray(kh), dt / (dx * dx), dt / (dy * dy),
             open_x if use_masks else dummy, open_y if use_masks else dummy, use_masks, out)
    return out


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


def vertical_diffusion_compiled(field, coefficients, conductance, dz, deposition, dt: float):
    """Compiled twin of :meth:`engine.transport.diffusion.VerticalDiffusionSolver.solve`.

    ``coefficients`` are the solver's cached ``(lower, inv_pivot, upper_ratio)``; every array is
    broadcast to the full shape (zero strides, no copies) so one kernel serves all cases.
    """
    shape = field.shape
    lower, inv_pivot, upper_ratio = (np.broadcast_to(c, shape) for c in coefficients)
    faces = (shape[0], 1, max(shape[2] - 1, 1)) + shape[3:]
    conductance = np.broadcast_to(conductance, faces) if shape[2] > 1 else np.zeros(faces, field.dtype)
    use_deposition = deposition is not None
    deposition = np.broadcast_to(deposition, shape) if use_deposition else lower
    out = np.empty_like(field)
    solution = np.empty_like(field)
    _vertical(np.ascontiguousarray(field), lower, inv_pivot, upper_ratio, conductance,
              np.ascontiguousarray(dz.ravel()), deposition, use_deposition, dt, out, solution)
    return out

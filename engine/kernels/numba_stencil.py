"""The mass-consistent wind's 7-point operator as one compiled pass (Numba).

:meth:`engine.meteorology.mass_consistent.AdjustmentOperator.apply` in NumPy makes seven
whole-array passes (the diagonal, then a lower and an upper neighbour per axis), each through
main memory; this pass reads every array once, in parallel over levels, with the same operations
in the same order per cell (diagonal, then x, y and z neighbours, upper before lower), so the
result is the same to the bit.
"""

from __future__ import annotations

import numba

from .jit import njit


@njit(parallel=True, cache=True)
def apply_operator(lam, diagonal, coupling_x, coupling_y, coupling_z, out):
    """``out = A λ`` for ``λ`` ``(nz, ny, nx)`` (float64): ``diagonal`` like ``λ``, couplings of the
    interior faces ``(nz, ny, nx-1)``, ``(nz, ny-1, nx)``, ``(nz-1, ny, nx)``."""
    nz, ny, nx = lam.shape
    for k in numba.prange(nz):
        for j in range(ny):
            for i in range(nx):
                value = diagonal[k, j, i] * lam[k, j, i]
                if i < nx - 1:
                    value -= coupling_x[k, j, i] * lam[k, j, i + 1]
                if i > 0:
                    value -= coupling_x[k, j, i - 1] * lam[k, j, i - 1]
                if j < ny - 1:
                    value -= coupling_y[k, j, i] * lam[k, j + 1, i]
                if j > 0:
                    value -= coupling_y[k, j - 1, i] * lam[k, j - 1, i]
                if k < nz - 1:
                    value -= coupling_z[k, j, i] * lam[k + 1, j, i]
                if k > 0:
                    value -= coupling_z[k - 1, j, i] * lam[k - 1, j, i]
                out[k, j, i] = value
    return out

"""The engine's Numba decorator: ``numba.njit`` with NumPy's division semantics.

Numba's default (Python's) error model tests every division for a zero divisor so that it can
raise ``ZeroDivisionError``; that test is a branch in the loop body, and LLVM then leaves any loop
that divides by a per-cell value scalar (the explicit vertical update with deposition, which
divides each cell by ``1 + dt vd/dz``, took 2.5 ns per cell scalar, 0.5 vectorised). With
NumPy's model a zero divisor gives inf or NaN, as in the NumPy reference, and the loops
vectorise; every other result is the same float.
"""

from __future__ import annotations

import functools

import numba

#: Use like ``numba.njit``: ``@njit``, ``@njit(parallel=True, cache=True)``, ``@njit(inline="always")``.
njit = functools.partial(numba.njit, error_model="numpy")

"""Sums over a set of cells of every field, as one compiled pass (Numba).

The deposition budget sums the concentration over the ground and roof cells of every member and
species each step; NumPy gathers those cells into a temporary first (``take``, then ``sum``:
0.1 ms a step on the park's 4 × 9,600 cells), this reads them in place.
"""

from __future__ import annotations

import numpy as np

from .jit import njit


@njit(cache=True)
def sum_cells(fields: np.ndarray, cells: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[f] = Σ fields[f, cells]`` in float64, for 2D ``fields`` ``(field, cell)``."""
    for f in range(fields.shape[0]):
        total = 0.0
        for c in cells:
            total += fields[f, c]
        out[f] = total
    return out

"""Flushing subnormal numbers to zero in place, as one compiled pass (Numba).

See :func:`engine.transport.step.flush_subnormals` for why; this is its compiled twin.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, cache=True)
def flush_subnormals_flat(values: np.ndarray, tiny: float) -> None:
    """Set every element of the 1D array ``values`` whose magnitude is below ``tiny`` to zero."""
    limit = values.dtype.type(tiny)
    zero = values.dtype.type(0)
    for i in numba.prange(values.size):
        if abs(values[i]) < limit:
            values[i] = zero

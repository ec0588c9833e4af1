"""Devito's update of the peer problem compiled with Numba: the compiler's share of a speed gap,
told apart from the scheme's.

The peer benchmark (:mod:`hpc.peer_benchmark`) times plumetwin's step — limited Lax–Wendroff
sweeps in x and y, each with its own update, then explicit horizontal and vertical diffusion — against
Devito's single unsplit update. Two things differ there: the scheme and the compiler (Numba's
LLVM against Devito's generated C + OpenMP). This module writes Devito's update as one fused Numba
kernel, built like the engine's (same ``njit`` set-up and vector width, subnormals flushed, planes
shared out over the threads), so the benchmark can put the same scheme side by side on both
compilers.

The update, for a wind with ``u, v ≥ 0`` and no vertical component (the peer problem's)::

    c' = c − Cx (F[i+½] − F[i−½]) − Cy (G[j+½] − G[j−½]) + D ∇²c,
    F[i+½] = c[i] + ½ minmod(c[i] − c[i−1], c[i+1] − c[i])   (G likewise along y),

with Courant numbers ``Cx = u dt/dx``, ``Cy = v dt/dy``, diffusion number ``D = K dt/dx²`` (equal
spacings) and the 7-point Laplacian ``∇²c`` in cell units; cells beyond the grid hold 0, as
Devito's halo does. It is not a plumetwin scheme: the engine never runs it.
"""

from __future__ import annotations

import time

import numba
import numpy as np

from engine.kernels.jit import njit
from engine.kernels.numba_fpenv import flush_denormals, restore

#: Cells of zero halo around the grid in (z, y, x): the Laplacian reaches 1 cell, a face's
#: limited value 2 (the slope of the cell behind the face).
HALO = (1, 2, 2)


@njit(inline="always")
def _minmod(a, b, zero):
    return max(min(a, b), zero) + min(max(a, b), zero)


@njit(parallel=True, cache=True)
def unsplit_step(padded, out, courant_x, courant_y, diffusion_number):
    """One update of the interior of ``padded`` ``(nz+2, ny+4, nx+4)`` (halo :data:`HALO`,
    zero) into the same cells of ``out``; float32 throughout.

    Each thread takes whole z-planes. Per row the x slopes are computed once into a row buffer
    and the y slopes once into a ring of two rows (row ``j`` serves the faces on both sides of
    it), then one loop over the row does the update, so every row loop has no branch and
    vectorises."""
    nz = padded.shape[0] - 2
    ny = padded.shape[1] - 4
    nx = padded.shape[2] - 4
    kind = padded.dtype.type
    zero, half, six = kind(0), kind(0.5), kind(6)
    for k in numba.prange(1, nz + 1):
        previous = flush_denormals()
        c = padded
        slope_x = np.empty(nx + 4, padded.dtype)
        slope_y = np.empty((2, nx + 4), padded.dtype)
        for i in range(2, nx + 2):
            slope_y[1, i] = _minmod(c[k, 1, i] - c[k, 0, i], c[k, 2, i] - c[k, 1, i], zero)
        for j in range(2, ny + 2):
            here = j % 2
            behind = 1 - here
            for i in range(1, nx + 3):
                slope_x[i] = _minmod(c[k, j, i] - c[k, j, i - 1], c[k, j, i + 1] - c[k, j, i], zero)
            for i in range(2, nx + 2):
                slope_y[here, i] = _minmod(c[k, j, i] - c[k, j - 1, i], c[k, j + 1, i] - c[k, j, i], zero)
            for i in range(2, nx + 2):
                x = c[k, j, i]
                east = x + half * slope_x[i]
                west = c[k, j, i - 1] + half * slope_x[i - 1]
                north = x + half * slope_y[here, i]
                south = c[k, j - 1, i] + half * slope_y[behind, i]
                laplacian = (c[k, j, i + 1] + c[k, j, i - 1] + c[k, j + 1, i] + c[k, j - 1, i]
                             + c[k + 1, j, i] + c[k - 1, j, i] - six * x)
                out[k, j, i] = (x - courant_x * (east - west) - courant_y * (north - south)
                                + diffusion_number * laplacian)
        restore(previous)


def unsplit_reference(field: np.ndarray, courant_x: float, courant_y: float,
                      diffusion_number: float) -> np.ndarray:
    """:func:`unsplit_step` in NumPy array operations, the same floats in the same order:
    ``field`` ``(nz, ny, nx)`` → the updated field (a new array)."""
    kind = field.dtype.type
    zero, half, six = kind(0), kind(0.5), kind(6)
    c = padded_copy(field)

    def minmod(a, b):
        return np.maximum(np.minimum(a, b), zero) + np.minimum(np.maximum(a, b), zero)

    # Slopes of the cells 1 .. n+2 of the padded x and y axes (each from its two neighbours).
    slope_x = minmod(c[1:-1, 2:-2, 1:-2] - c[1:-1, 2:-2, :-3], c[1:-1, 2:-2, 2:-1] - c[1:-1, 2:-2, 1:-2])
    slope_y = minmod(c[1:-1, 1:-2, 2:-2] - c[1:-1, :-3, 2:-2], c[1:-1, 2:-1, 2:-2] - c[1:-1, 1:-2, 2:-2])
    x = c[1:-1, 2:-2, 2:-2]
    east = x + half * slope_x[:, :, 1:]
    west = c[1:-1, 2:-2, 1:-3] + half * slope_x[:, :, :-1]
    north = x + half * slope_y[:, 1:, :]
    south = c[1:-1, 1:-3, 2:-2] + half * slope_y[:, :-1, :]
    laplacian = (c[1:-1, 2:-2, 3:-1] + c[1:-1, 2:-2, 1:-3] + c[1:-1, 3:-1, 2:-2] + c[1:-1, 1:-3, 2:-2]
                 + c[2:, 2:-2, 2:-2] + c[:-2, 2:-2, 2:-2] - six * x)
    return (x - kind(courant_x) * (east - west) - kind(courant_y) * (north - south)
            + kind(diffusion_number) * laplacian)


def padded_copy(field: np.ndarray) -> np.ndarray:
    """``field`` ``(nz, ny, nx)`` inside a zero halo of :data:`HALO` cells."""
    return np.pad(field, [(h, h) for h in HALO])


def interior(padded: np.ndarray) -> np.ndarray:
    """The grid's cells of a padded array (a view)."""
    (hz, hy, hx) = HALO
    return padded[hz:-hz, hy:-hy, hx:-hx]


def courant_numbers(wind: tuple[float, float, float], diffusivity: float, spacing: float,
                    dt: float) -> tuple[float, float, float]:
    """``(u dt/dx, v dt/dy, K dt/dx²)`` for the peer problem's equal spacings; refuses a wind this
    upwind form does not cover (a negative horizontal or any vertical component)."""
    u, v, w = wind
    if u < 0 or v < 0 or w != 0:
        raise ValueError(f"the unsplit reference kernel takes u, v >= 0 and w = 0, got wind {wind} m/s")
    return u * dt / spacing, v * dt / spacing, diffusivity * dt / spacing**2


def time_unsplit(initial: np.ndarray, steps: int, wind: tuple[float, float, float], diffusivity: float,
                 spacing: float, dt: float) -> tuple[float, np.ndarray]:
    """Seconds per step of ``steps`` updates of ``initial`` (float32 ``(nz, ny, nx)``), timed as one
    run after a compiling step (as Devito's run is timed), and the final field."""
    cx, cy, d = (np.float32(value) for value in courant_numbers(wind, diffusivity, spacing, dt))
    current = padded_copy(initial.astype(np.float32))
    following = np.zeros_like(current)
    unsplit_step(current, following, cx, cy, d)  # compile
    current = padded_copy(initial.astype(np.float32))
    start = time.perf_counter()
    for _ in range(steps):
        unsplit_step(current, following, cx, cy, d)
        current, following = following, current
    elapsed = time.perf_counter() - start
    return elapsed / steps, np.array(interior(current))

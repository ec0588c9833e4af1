"""Mass-consistent wind: the smallest change to an initial wind that makes it divergence-free.

Sherman's (1978) variational adjustment, as in CALMET, QUIC-URB and QES-Winds: minimise
``∫ (u − u₀)² + (v − v₀)² + (α₁/α₂)² (w − w₀)² dV`` subject to ``∇·u = 0``. The minimiser is
``u = u₀ + ∇λ`` (the vertical component scaled by the weight ``(α₁/α₂)²``), with the Lagrange
multiplier ``λ`` solving ``∇·(W ∇λ) = −∇·u₀``. On the C-grid that is a symmetric 7-point system on
the fluid cells: faces touching a solid cell or the ground are closed (no flux, no correction);
open domain boundaries hold ``λ = 0`` one cell beyond the edge (the flow may cross them). The
system is solved by conjugate gradients (SciPy) in float64, preconditioned by the exact inverse of
the building-free operator (:mod:`.poisson_preconditioner`) where the boundary conditions allow,
by Jacobi otherwise.

References
----------
Sherman, C. A. (1978). A mass-consistent model for wind fields over complex terrain. J. Appl.
Meteorol. 17, 312–319.
Bozorgmehr, B. et al. (2021). Utilizing dynamic parallelism in CUDA to accelerate a 3D red-black
successive over relaxation wind-field solver (QES-Winds). Environ. Model. Softw. 137, 104958.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sparse
import scipy.sparse.linalg as splinalg

from ..errors import ConfigError, NumericalInstabilityError
from ..grid import Grid
from .poisson_preconditioner import FastPoissonPreconditioner

SIDES = ("west", "east", "south", "north", "top")


@dataclass(frozen=True)
class AdjustmentReport:
    """What an adjustment did: the L2 norm of the cell divergence (1/s) over fluid cells before
    and after, CG iterations and wall time (s)."""

    divergence_before: float
    divergence_after: float
    iterations: int
    seconds: float

    @property
    def reduction(self) -> float:
        """``divergence_after / divergence_before`` (0 when there was nothing to remove)."""
        return self.divergence_after / self.divergence_before if self.divergence_before > 0 else 0.0


def cell_divergence(grid: Grid, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Divergence (1/s) of face velocities ``(nz, ny, nx+1)``, ``(nz, ny+1, nx)``, ``(nz+1, ny, nx)``."""
    dz = grid.dz[:, None, None]
    return np.diff(u, axis=2) / grid.dx + np.diff(v, axis=1) / grid.dy + np.diff(w, axis=0) / dz


def _faces(grid: Grid, closed_boundaries: Sequence[str], vertical_weight: float):
    """Per face direction: (low cell flat index or -1, high cell flat index or -1, weight A c / d,
    face mask, c / d) over all faces that carry a correction."""
    nz, ny, nx = grid.shape
    index = np.arange(grid.solid.size).reshape(grid.shape)
    fluid = ~grid.solid
    zc = grid.z_centres
    dz = grid.dz
    # Distance between centres across each z face; beyond the top, one more half layer each side.
    dz_faces = np.concatenate([[dz[0]], np.diff(zc), [dz[-1]]])
    out = []
    specs = (
        (2, grid.dx, grid.dy * dz[:, None, None], 1.0, ("west", "east")),
        (1, grid.dy, grid.dx * dz[:, None, None], 1.0, ("south", "north")),
        (0, None, grid.dx * grid.dy, vertical_weight, (None, "top")),
    )
    for axis, spacing, area, weight, (low_side, high_side) in specs:
        n = grid.shape[axis]
        shape = list(grid.shape)
        shape[axis] = n + 1
        low = np.full(shape, -1, dtype=np.int64)
        high = np.full(shape, -1, dtype=np.int64)
        put_high = [slice(None)] * 3
        put_low = [slice(None)] * 3
        put_high[axis] = slice(0, n)      # faces 0..n-1 have cell f above them
        put_low[axis] = slice(1, n + 1)   # faces 1..n have cell f-1 below them
        high[tuple(put_high)] = np.where(fluid, index, -1)
        low[tuple(put_low)] = np.where(fluid, index, -1)
        open_face = (low >= 0) | (high >= 0)
        interior = (low >= 0) & (high >= 0)
        edge_low = [slice(None)] * 3
        edge_high = [slice(None)] * 3
        edge_low[axis] = slice(0, 1)
        edge_high[axis] = slice(n, n + 1)
        # Faces between a fluid and a solid cell carry nothing; so do closed walls and the ground.
        boundary = np.zeros(shape, dtype=bool)
        if low_side is not None and low_side not in closed_boundaries:
            boundary[tuple(edge_low)] = True
        if high_side not in closed_boundaries:
            boundary[tuple(edge_high)] = True
        active = interior | (boundary & open_face)
        distance = dz_faces[:, None, None] * np.ones(shape) if axis == 0 else np.full(shape, spacing)
        face_area = np.broadcast_to(area, shape)
        gain = weight / distance  # c / d (1/m)
        out.append((low, high, face_area * gain, active, gain))
    return out


def mass_consistent_wind(grid: Grid, u0: np.ndarray, v0: np.ndarray, w0: np.ndarray,
                         closed_boundaries: Sequence[str] = (), vertical_weight: float = 1.0,
                         tolerance: float = 1e-9, max_iterations: int | None = None):
    """Adjust one member's face velocities (host arrays, m/s) to zero divergence.

    Returns ``(u, v, w, report)``. Solid faces and the ground keep zero normal velocity; closed
    ``closed_boundaries`` (west, east, south, north, top) too. ``vertical_weight`` is
    ``(α₁/α₂)²``: values below 1 make the adjustment prefer horizontal changes (stable air).
    ``tolerance`` is CG's relative residual.
    """
    for side in closed_boundaries:
        if side not in SIDES:
            raise ConfigError("grid.closed_boundaries", f"unknown side {side!r}; use {', '.join(SIDES)}")
    if not vertical_weight > 0:
        raise ConfigError("met.vertical_weight", f"must be > 0, got {vertical_weight}")
    start = time.perf_counter()
    fx, fy, fz = grid.open_faces()
    u = np.where(fx, u0, 0.0).astype(np.float64)
    v = np.where(fy, v0, 0.0).astype(np.float64)
    w = np.where(fz, w0, 0.0).astype(np.float64)
    if "west" in closed_boundaries:
        u[:, :, 0] = 0.0
    if "east" in closed_boundaries:
        u[:, :, -1] = 0.0
    if "south" in closed_boundaries:
        v[:, 0, :] = 0.0
    if "north" in closed_boundaries:
        v[:, -1, :] = 0.0
    if "top" in closed_boundaries:
        w[-1] = 0.0
    fluid = ~grid.solid
    divergence = cell_divergence(grid, u, v, w)
    before = float(np.sqrt(np.mean(divergence[fluid] ** 2))) if fluid.any() else 0.0
    if before == 0.0:
        return u, v, w, AdjustmentReport(0.0, 0.0, 0, time.perf_counter() - start)

    cells = grid.solid.size
    volume = (grid.dx * grid.dy * grid.dz)[:, None, None] * np.ones(grid.shape)
    faces = _faces(grid, closed_boundaries, vertical_weight)
    rows, cols, values = [], [], []
    diagonal = np.zeros(cells)
    for low, high, weight, active, _ in faces:
        both = active & (low >= 0) & (high >= 0)
        a, b, wgt = low[both], high[both], weight[both]
        rows += [a, b]
        cols += [b, a]
        values += [-wgt, -wgt]
        np.add.at(diagonal, a, wgt)
        np.add.at(diagonal, b, wgt)
        edge = active & ((low >= 0) ^ (high >= 0))  # open boundary: λ = 0 beyond it
        inside = np.where(low[edge] >= 0, low[edge], high[edge])
        np.add.at(diagonal, inside, weight[edge])
    fluid_flat = fluid.ravel()
    unknowns = np.flatnonzero(fluid_flat)
    position = np.full(cells, -1, dtype=np.int64)
    position[unknowns] = np.arange(unknowns.size)
    rows = position[np.concatenate(rows)] if rows else np.zeros(0, np.int64)
    cols = position[np.concatenate(cols)] if cols else np.zeros(0, np.int64)
    values = np.concatenate(values) if values else np.zeros(0)
    diag = diagonal[unknowns]
    if np.any(diag <= 0):
        raise ConfigError("grid", "a fluid cell is walled in on every side; the wind cannot reach it")
    closed = len(set(closed_boundaries)) == len(SIDES)
    if closed:  # λ is defined up to a constant in a closed box: pin it softly
        diag = diag * (1 + 1e-12)
    matrix = sparse.csr_matrix((values, (rows, cols)), shape=(unknowns.size, unknowns.size))
    matrix = matrix + sparse.diags(diag)
    rhs = (volume * divergence).ravel()[unknowns]
    preconditioner = _preconditioner(grid, closed_boundaries, vertical_weight, unknowns, diag)
    iterations = 0

    def count(_):
        nonlocal iterations
        iterations += 1

    limit = max_iterations or 20 * int(round(sum(grid.shape)))
    lam, info = splinalg.cg(matrix, rhs, rtol=tolerance, atol=0.0, maxiter=limit, M=preconditioner, callback=count)
    if info > 0:
        raise NumericalInstabilityError(f"mass-consistent wind: CG did not converge in {info} iterations "
                                        f"(relative tolerance {tolerance:g}); raise max_iterations")
    field = np.zeros(cells)
    field[unknowns] = lam
    field = field.reshape(grid.shape)
    # u = u0 + (c/d) (λ_high − λ_low) on every active face, λ = 0 beyond open boundaries.
    for (low, high, _, active, gain), velocity in zip(faces, (u, v, w)):
        flat = field.ravel()
        lam_low = np.where(low >= 0, flat[np.maximum(low, 0)], 0.0)
        lam_high = np.where(high >= 0, flat[np.maximum(high, 0)], 0.0)
        velocity += np.where(active, gain * (lam_high - lam_low), 0.0)
    after = float(np.sqrt(np.mean(cell_divergence(grid, u, v, w)[fluid] ** 2)))
    return u, v, w, AdjustmentReport(before, after, iterations, time.perf_counter() - start)


def _preconditioner(grid: Grid, closed_boundaries: Sequence[str], vertical_weight: float,
                    unknowns: np.ndarray, diagonal: np.ndarray):
    """``R A₀⁻¹ Rᵀ`` on the fluid cells where the sides allow a fast Poisson solve, else Jacobi."""
    if not FastPoissonPreconditioner.applies(closed_boundaries):
        return sparse.diags(1.0 / diagonal)
    fast = FastPoissonPreconditioner(grid, closed_boundaries, vertical_weight)
    full = np.zeros(grid.solid.size)

    def apply(residual: np.ndarray) -> np.ndarray:
        full[unknowns] = residual.ravel()
        return fast.solve(full.reshape(grid.shape)).ravel()[unknowns]

    return splinalg.LinearOperator((unknowns.size, unknowns.size), matvec=apply, dtype=np.float64)

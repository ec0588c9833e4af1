"""Mass-consistent wind: the smallest change to an initial wind that makes it divergence-free.

Sherman's (1978) variational adjustment, as in CALMET, QUIC-URB and QES-Winds: minimise
``∫ (u − u₀)² + (v − v₀)² + (α₁/α₂)² (w − w₀)² dV`` subject to ``∇·u = 0``. The minimiser is
``u = u₀ + ∇λ`` (the vertical component scaled by the weight ``(α₁/α₂)²``), with the Lagrange
multiplier ``λ`` solving ``∇·(W ∇λ) = −∇·u₀``. On the C-grid that is a symmetric 7-point system on
the fluid cells: faces touching a solid cell or the ground are closed (no flux, no correction);
open domain boundaries hold ``λ = 0`` one cell beyond the edge (the flow may cross them). The
system is solved matrix-free by conjugate gradients in float64 on the grid's device (NumPy or
CuPy), preconditioned by the exact inverse of
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

from ..backend import array_module
from ..errors import ConfigError, NumericalInstabilityError
from ..grid import Grid
from .poisson_preconditioner import FastPoissonPreconditioner

SIDES = ("west", "east", "south", "north", "top")
#: The array axis of each entry of :func:`_faces`: x faces, y faces, z faces.
FACE_AXES = (2, 1, 0)


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

    faces = _faces(grid, closed_boundaries, vertical_weight)
    operator = AdjustmentOperator(grid, faces, closed=len(set(closed_boundaries)) == len(SIDES))
    volume = (grid.dx * grid.dy * grid.dz)[:, None, None]
    rhs = grid.backend.asarray(np.where(fluid, volume * divergence, 0.0))
    if FastPoissonPreconditioner.applies(closed_boundaries):
        preconditioner = operator.fast_preconditioner(FastPoissonPreconditioner(grid, closed_boundaries, vertical_weight))
    else:
        preconditioner = operator.jacobi_preconditioner()
    limit = max_iterations or 20 * int(round(sum(grid.shape)))
    lam, iterations = conjugate_gradients(operator.apply, rhs, preconditioner, tolerance, limit)
    if iterations > limit:
        raise NumericalInstabilityError(f"mass-consistent wind: CG did not converge in {limit} iterations "
                                        f"(relative tolerance {tolerance:g}); raise max_iterations")
    field = grid.backend.to_host(lam)
    # u = u0 + (c/d) (λ_high − λ_low) on every active face, λ = 0 beyond open boundaries.
    for (low, high, _, active, gain), velocity in zip(faces, (u, v, w)):
        flat = field.ravel()
        lam_low = np.where(low >= 0, flat[np.maximum(low, 0)], 0.0)
        lam_high = np.where(high >= 0, flat[np.maximum(high, 0)], 0.0)
        velocity += np.where(active, gain * (lam_high - lam_low), 0.0)
    after = float(np.sqrt(np.mean(cell_divergence(grid, u, v, w)[fluid] ** 2)))
    return u, v, w, AdjustmentReport(before, after, iterations, time.perf_counter() - start)


class AdjustmentOperator:
    """The symmetric positive definite system of the adjustment, matrix-free on the full grid.

    ``apply(λ)`` is ``A λ`` on the fluid cells, with solid cells carried as decoupled unknowns of
    value 0 (unit diagonal, zero right-hand side), so conjugate gradients can run on whole arrays
    of the grid's device: neighbours couple through each face's ``area · gain`` when both cells
    are fluid; an open boundary face adds its coupling to its cell's diagonal (λ = 0 beyond).
    """

    def __init__(self, grid: Grid, faces, closed: bool):
        fluid = ~grid.solid
        diagonal = np.zeros(grid.shape)
        couplings = []
        for axis, (low, high, weight, active, _) in zip(FACE_AXES, faces):
            conductance = np.where(active, weight, 0.0)
            n = grid.shape[axis]
            diagonal += _along(conductance, axis, 0, n) + _along(conductance, axis, 1, n + 1)
            interior = _along(conductance * ((low >= 0) & (high >= 0)), axis, 1, n)
            couplings.append(grid.backend.asarray(interior))
        diagonal = np.where(fluid, diagonal, 1.0)
        if np.any(diagonal <= 0):
            raise ConfigError("grid", "a fluid cell is walled in on every side; the wind cannot reach it")
        if closed:  # λ is defined up to a constant in a closed box: pin it softly
            diagonal = np.where(fluid, diagonal * (1 + 1e-12), 1.0)
        self.grid = grid
        self.diagonal = grid.backend.asarray(diagonal)
        self.fluid = grid.backend.asarray(fluid.astype(np.float64))
        self._couplings = couplings
        self._compiled = None
        if grid.backend.name == "numba":
            from ..kernels.numba_stencil import apply_operator  # noqa: PLC0415 - optional extra

            self._compiled = apply_operator

    def apply(self, lam):
        """``A λ`` (λ zero in solid cells); one compiled pass on the Numba backend, the same floats."""
        if self._compiled is not None:
            return self._compiled(lam, self.diagonal, *self._couplings, np.empty_like(lam))
        out = self.diagonal * lam
        for axis, coupling in zip(FACE_AXES, self._couplings):
            n = lam.shape[axis]
            low, high = _along(lam, axis, 0, n - 1), _along(lam, axis, 1, n)
            _along(out, axis, 0, n - 1)[...] -= coupling * high
            _along(out, axis, 1, n)[...] -= coupling * low
        return out

    def jacobi_preconditioner(self):
        inverse = 1.0 / self.diagonal
        return lambda residual: inverse * residual

    def fast_preconditioner(self, fast: FastPoissonPreconditioner):
        """``R A₀⁻¹ Rᵀ`` on the fluid cells, the identity on the solid ones."""
        fluid, solid = self.fluid, 1.0 - self.fluid
        return lambda residual: fluid * fast.solve(fluid * residual) + solid * residual


def _along(array, axis: int, start: int, stop: int):
    index = [slice(None)] * array.ndim
    index[axis] = slice(start, stop)
    return array[tuple(index)]


def conjugate_gradients(apply, rhs, preconditioner, tolerance: float, max_iterations: int):
    """Preconditioned conjugate gradients on arrays of any device: ``(x, iterations)``.

    Stops when ``‖b − A x‖ ≤ tolerance ‖b‖`` (SciPy's ``rtol``); ``iterations`` exceeds
    ``max_iterations`` when it never did. One host synchronisation per iteration (two dot
    products and a norm), which is nothing beside a preconditioner application.
    """
    xp = array_module(rhs)
    x = xp.zeros_like(rhs)
    residual = rhs.copy()
    target = tolerance * float(xp.linalg.norm(rhs))
    if target == 0.0:
        return x, 0
    z = preconditioner(residual)
    direction = z.copy()
    rz = float(xp.vdot(residual, z))
    for iteration in range(1, max_iterations + 1):
        image = apply(direction)
        alpha = rz / float(xp.vdot(direction, image))
        x += alpha * direction
        residual -= alpha * image
        if float(xp.linalg.norm(residual)) <= target:
            return x, iteration
        z = preconditioner(residual)
        rz_next = float(xp.vdot(residual, z))
        direction *= rz_next / rz
        direction += z
        rz = rz_next
    return x, max_iterations + 1

"""The linear transport used by backward runs, and its exact discrete adjoint.

The engine's flux-limited advection is nonlinear in the concentrations (the limiter looks at
them), so it has no transpose. With the ``upwind`` limiter the same flux-form scheme is linear,
and so are the explicit horizontal and the explicit or implicit vertical diffusion, dry
deposition and decay: one time step is a product of sparse matrices,

    S_n = D · V · H · A_n,    A_n = A_z A_y A_x (even n) or A_x A_y A_z (odd n),

exactly as :class:`engine.transport.Transport` applies them with ``limiter="upwind"``
(``D`` decay, ``V`` vertical diffusion with deposition — ``(I + dt L)`` explicit or
``(I − dt L + dt vd/dz)⁻¹`` implicit — ``H`` explicit horizontal diffusion, ``A`` the advective
sweeps). The adjoint step is ``S_nᵀ = A_nᵀ Hᵀ Vᵀ Dᵀ``: every operator transposed, applied in
reverse order; the implicit solve's transpose reuses its LU factors. Both are checked by the
dot-product test ``⟨S q, w⟩ = ⟨q, Sᵀ w⟩``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sparse
import scipy.sparse.linalg as sparse_linalg

from ..errors import ConfigError
from ..grid import Grid
from ..meteorology import Diffusivity, Wind


def _advection_matrix(grid: Grid, velocity: np.ndarray, axis: int, dt: float,
                      second_order: bool = False) -> sparse.csr_matrix:
    """One flux-form sweep ``c ← c − dt/Δ (F₊ − F₋)`` with zero inflow.

    Upwind: ``F = u⁺ c_L + u⁻ c_R``. With ``second_order`` the interior faces carry the linear
    Lax–Wendroff flux, the limited flux of the engine with the limiter fixed at 1:
    ``F = u⁺ [c_L + ½(1 − ν_L)(c_R − c_L)] + u⁻ [c_R + ½(1 + ν_R)(c_L − c_R)]``, ``ν = u dt/Δ`` of
    the upwind cell; boundary faces stay upwind.
    """
    index = np.arange(grid.size).reshape(grid.shape)
    pad_shape = list(grid.shape)
    pad_shape[axis] = 1
    missing = np.full(pad_shape, -1)
    left = np.concatenate([missing, index], axis=axis).ravel()  # cell on the low side of each face
    right = np.concatenate([index, missing], axis=axis).ravel()
    widths = np.broadcast_to(grid.dz[:, None, None] if axis == 0 else (grid.dy if axis == 1 else grid.dx),
                             grid.shape).ravel()
    rate = dt / widths
    u = np.asarray(velocity, dtype=np.float64).ravel()
    positive, negative = np.maximum(u, 0), np.minimum(u, 0)
    # Face flux F = w_L c_L + w_R c_R.
    weight_left, weight_right = positive.copy(), negative.copy()
    if second_order:
        interior = (left >= 0) & (right >= 0)
        a = np.where(interior & (positive > 0), 0.5 * (1 - positive * rate[np.maximum(left, 0)]), 0.0)
        b = np.where(interior & (negative < 0), 0.5 * (1 + negative * rate[np.maximum(right, 0)]), 0.0)
        weight_left = positive * (1 - a) + negative * b
        weight_right = positive * a + negative * (1 - b)
    rows, cols, values = [np.arange(grid.size)], [np.arange(grid.size)], [np.ones(grid.size)]
    for row, sign, donor, coefficient in (
        (left, -1.0, left, weight_left), (left, -1.0, right, weight_right),
        (right, 1.0, left, weight_left), (right, 1.0, right, weight_right),
    ):
        keep = (row >= 0) & (donor >= 0) & (coefficient != 0)
        rows.append(row[keep])
        cols.append(donor[keep])
        values.append(sign * rate[row[keep]] * coefficient[keep])
    return sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(grid.size, grid.size))


def _horizontal_diffusion_matrix(grid: Grid, kh_x: np.ndarray, kh_y: np.ndarray, dt: float) -> sparse.csr_matrix:
    """Explicit horizontal diffusion as :func:`engine.transport.diffuse_horizontal` applies it
    (with per-level diffusivities that may differ between the x and y directions)."""
    index = np.arange(grid.size).reshape(grid.shape)
    fx, fy, _ = grid.open_faces()
    rows, cols, values = [np.arange(grid.size)], [np.arange(grid.size)], [np.ones(grid.size)]
    for axis, spacing, open_faces, kh in ((2, grid.dx, fx[:, :, 1:-1], kh_x), (1, grid.dy, fy[:, 1:-1, :], kh_y)):
        kh = np.broadcast_to(np.asarray(kh, dtype=np.float64).reshape(-1, 1, 1), grid.shape)
        if grid.shape[axis] < 2:
            continue
        low = np.take(index, np.arange(grid.shape[axis] - 1), axis=axis).ravel()
        high = np.take(index, np.arange(1, grid.shape[axis]), axis=axis).ravel()
        k_face = 0.5 * (np.take(kh, np.arange(grid.shape[axis] - 1), axis=axis)
                        + np.take(kh, np.arange(1, grid.shape[axis]), axis=axis))
        gain = (k_face * open_faces * dt / spacing**2).ravel()
        # flux = gain (c_high − c_low); low cell gains it, high cell loses it
        rows += [low, low, high, high]
        cols += [high, low, high, low]
        values += [gain, -gain, -gain, gain]
    return sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(grid.size, grid.size))


def _vertical_operator(grid: Grid, kz_faces: np.ndarray, deposition_velocity: float, dt: float):
    """``(L, dep)``: the vertical diffusion operator ``L`` (1/s) and ``vd/dz`` (1/s) per cell."""
    index = np.arange(grid.size).reshape(grid.shape)
    _, _, fz = grid.open_faces()
    dz = grid.dz
    dz_centres = np.diff(grid.z_centres)
    conductance = (np.asarray(kz_faces, dtype=np.float64)[1:-1] / dz_centres)[:, None, None] * fz[1:-1]
    low, high = index[:-1].ravel(), index[1:].ravel()
    g = conductance.ravel()
    dz_cell = np.broadcast_to(dz[:, None, None], grid.shape).ravel()
    rows = [low, low, high, high]
    cols = [high, low, high, low]
    values = [g / dz_cell[low], -g / dz_cell[low], -g / dz_cell[high], g / dz_cell[high]]
    operator = sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                                 shape=(grid.size, grid.size))
    deposition = deposition_velocity * (grid.ground_adjacent() / dz[:, None, None]).ravel()
    return operator, deposition


class LinearTransport:
    """One member's linear transport step (upwind advection) and its adjoint, on the host.

    Parameters
    ----------
    grid:
        The grid (its solids close faces as in the engine).
    wind, diffusivity:
        Meteorology; ``member`` picks the member whose fields are used.
    dt:
        The fixed time step (s); must satisfy the engine's stability limits.
    vertical_diffusion:
        ``implicit`` (backward Euler) or ``explicit`` (forward Euler).
    deposition_velocity:
        Dry deposition velocity (m/s) of the species.
    decay_rate:
        First-order decay rate (1/s).
    advection:
        ``upwind`` (default: exactly the engine's ``limiter="upwind"`` step) or ``lax_wendroff``
        (second order, linear, the engine's limited scheme with the limiter held at 1: little
        numerical diffusion, so closer to the engine's default MC scheme on smooth plumes).
    compensate_numerical_diffusion:
        Lower each level's horizontal diffusivity, per direction, by the upwind scheme's own
        numerical diffusivity ``|u| Δx (1 − |u| dt/Δx) / 2`` (Roache's modified-equation term; not
        below 0), so the linear model spreads a plume as much as the engine's second-order scheme
        does. Off, the operator is exactly the engine's upwind step.
    """

    def __init__(self, grid: Grid, wind: Wind, diffusivity: Diffusivity, dt: float, member: int = 0,
                 vertical_diffusion: str = "implicit", deposition_velocity: float = 0.0, decay_rate: float = 0.0,
                 compensate_numerical_diffusion: bool = False, advection: str = "upwind"):
        if vertical_diffusion not in ("implicit", "explicit"):
            raise ConfigError("vertical_diffusion", f"must be implicit or explicit for the linear transport, "
                                                    f"got {vertical_diffusion!r}")
        if not dt > 0:
            raise ConfigError("time.dt", f"must be > 0 s, got {dt}")
        if advection not in ("upwind", "lax_wendroff"):
            raise ConfigError("advection", f"must be upwind or lax_wendroff, got {advection!r}")
        self.grid, self.dt, self.vertical_diffusion = grid, float(dt), vertical_diffusion
        u, v, w = (np.asarray(a[member], dtype=np.float64) for a in wind.host)
        second = advection == "lax_wendroff"
        self.sweeps = {2: _advection_matrix(grid, u, 2, dt, second), 1: _advection_matrix(grid, v, 1, dt, second),
                       0: _advection_matrix(grid, w, 0, dt, second)}
        moving = [axis for axis, comp in ((2, u), (1, v), (0, w)) if np.any(comp != 0)]
        self._order_even = moving  # x, y, z as the engine sweeps on even iterations
        kh = diffusivity.host_kh[min(member, diffusivity.members - 1)]
        kh_x, kh_y = kh, kh
        if compensate_numerical_diffusion:
            speed_x = np.abs(u).max(axis=(1, 2))  # per level (a horizontally uniform wind: the level's speed)
            speed_y = np.abs(v).max(axis=(1, 2))
            kh_x = np.maximum(kh - speed_x * grid.dx * (1 - speed_x * dt / grid.dx) / 2, 0.0)
            kh_y = np.maximum(kh - speed_y * grid.dy * (1 - speed_y * dt / grid.dy) / 2, 0.0)
        self.horizontal = _horizontal_diffusion_matrix(grid, kh_x, kh_y, dt)
        operator, deposition = _vertical_operator(
            grid, diffusivity.host_kz[min(member, diffusivity.members - 1)], deposition_velocity, dt)
        identity = sparse.identity(grid.size, format="csr")
        if vertical_diffusion == "implicit":
            matrix = (identity - dt * operator + sparse.diags(dt * deposition)).tocsc()
            self._vertical_lu = sparse_linalg.splu(matrix)
        else:
            self._vertical_explicit = (identity + dt * operator).tocsr()
            self._deposition_divisor = 1 + dt * deposition
        self.decay = float(np.exp(-decay_rate * dt))

    def _order(self, iteration: int) -> list[int]:
        return self._order_even if iteration % 2 == 0 else self._order_even[::-1]

    def _vertical(self, c: np.ndarray) -> np.ndarray:
        if self.vertical_diffusion == "implicit":
            return self._vertical_lu.solve(c)
        return (self._vertical_explicit @ c) / self._deposition_divisor

    def _vertical_transpose(self, c: np.ndarray) -> np.ndarray:
        if self.vertical_diffusion == "implicit":
            return self._vertical_lu.solve(c, trans="T")
        return self._vertical_explicit.T @ (c / self._deposition_divisor)

    def step(self, c: np.ndarray, iteration: int = 0) -> np.ndarray:
        """``S_n c`` for a flat field ``(cells,)`` (kg/m³); ``iteration`` sets the sweep order."""
        for axis in self._order(iteration):
            c = self.sweeps[axis] @ c
        c = self.horizontal @ c
        return self.decay * self._vertical(c)

    def adjoint_step(self, w: np.ndarray, iteration: int = 0) -> np.ndarray:
        """``S_nᵀ w``: the transposed operators of :meth:`step` in reverse order."""
        w = self._vertical_transpose(self.decay * w)
        w = self.horizontal.T @ w
        for axis in reversed(self._order(iteration)):
            w = self.sweeps[axis].T @ w
        return w

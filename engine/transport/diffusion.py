"""Eddy diffusion: explicit in the horizontal, implicit (backward Euler) in the vertical.

Horizontal fluxes are ``-Kh dc/dx`` between neighbouring fluid cells and zero through solid faces
and through the lateral domain boundaries (zero-gradient). The vertical solve is a batched
tridiagonal system per column (Thomas algorithm vectorised over all columns, members and species),
with dry deposition ``-vd c`` as the flux through the lowest face of every fluid column and through
the top of every solid cell (roofs, terrain).
"""

from __future__ import annotations

import numpy as np

from ..backend import array_module, host_array


def _face_values(diffusivity, axis: int):
    """Diffusivity on the interior faces along ``axis`` (arithmetic mean of the two cells)."""
    if diffusivity.shape[axis] == 1:
        return diffusivity
    n = diffusivity.shape[axis]
    index_low = [slice(None)] * diffusivity.ndim
    index_high = [slice(None)] * diffusivity.ndim
    index_low[axis] = slice(0, n - 1)
    index_high[axis] = slice(1, n)
    return 0.5 * (diffusivity[tuple(index_low)] + diffusivity[tuple(index_high)])


def diffuse_horizontal(field, kh, dt: float, dx: float, dy: float, open_x=None, open_y=None, out=None):
    """One explicit step of horizontal diffusion; returns the new field (``out`` when given).

    Parameters
    ----------
    field:
        Concentrations ``(member, species, z, y, x)``.
    kh:
        Horizontal diffusivity (m²/s) at cell centres, broadcasting against ``field``.
    open_x, open_y:
        Optional 0/1 masks of the interior x and y faces ``(nz, ny, nx-1)`` and ``(nz, ny-1, nx)``
        (0 where a face touches a solid cell), or None when there are no solids.
    out:
        Optional array shaped like ``field`` (not overlapping it) for the result.

    Notes
    -----
    Stable for ``dt <= 1 / (2 Kh (1/dx² + 1/dy²))``; :func:`engine.transport.timestep` keeps it so.

    Each cell gets ``((c + F_east) − F_west) + F_north) − F_south`` in that order, the fluxes
    ``F = (Δc · Kh_face [· open]) · dt/Δ²`` of its interior faces (none through the domain's sides).
    """
    xp = array_module(field)
    new = out if out is not None and _rows_adjoin(out) else xp.empty_like(field)
    if field.shape[4] > 1:
        # The x fluxes are computed with each level's rows laid end to end (one flat loop per level
        # instead of one short loop per row): entry i holds the flux through cell i's east face,
        # and the last entry of a row, which would take the next row's first cell, is set to 0,
        # the flux through the domain's side. Adding that zero leaves a cell's value unchanged.
        flux = xp.empty_like(field)
        flat_field, flat_flux, flat_new = (_levels(a) for a in (field, flux, new))
        xp.subtract(flat_field[..., 1:], flat_field[..., :-1], out=flat_flux[..., :-1])
        flux[..., -1] = 0
        interior = flux[..., :-1]
        face_kh = _face_values(kh, 4)
        if face_kh.shape[4] == 1:
            flux *= face_kh  # the whole rows in one loop: the zeros stay zero
        else:
            interior *= face_kh
        if open_x is not None:
            interior *= open_x
        flux *= dt / (dx * dx)  # the gain
        xp.add(flat_field, flat_flux, out=flat_new)
        flat_new[..., 1:] -= flat_flux[..., :-1]
    else:
        new[...] = field
    if field.shape[3] > 1:
        flux = xp.subtract(field[..., 1:, :], field[..., :-1, :],
                           out=flux[..., :-1, :] if field.shape[4] > 1 else None)
        flux *= _face_values(kh, 3)
        if open_y is not None:
            flux *= open_y
        flux *= dt / (dy * dy)
        new[..., :-1, :] += flux
        new[..., 1:, :] -= flux
    if out is not None and new is not out:
        out[...] = new
        return out
    return new


def _rows_adjoin(array) -> bool:
    """Whether each level's rows lie end to end in ``array``'s memory (the last two axes C-contiguous)."""
    return array.strides[-1] == array.itemsize and array.strides[-2] == array.itemsize * array.shape[-1]


def _levels(array):
    """``array`` with its last two axes (y, x) merged: each level's rows end to end (a view for
    any array whose levels are contiguous, as every slab of levels is)."""
    return array.reshape(array.shape[:-2] + (-1,))


class VerticalDiffusionSolver:
    """Vertical diffusion with dry deposition, for one grid and one set of coefficients.

    Backward Euler (:meth:`solve`) in general; forward Euler (:meth:`explicit`) where the step is
    well inside the explicit limit (:attr:`explicit_limit`), which a fused kernel can apply in the
    same pass as advection. The elimination coefficients of the Thomas algorithm depend only on
    ``dt``, so they are built once per distinct ``dt`` and reused (the adaptive step changes ``dt``
    rarely: at output times).

    Parameters
    ----------
    kz_faces:
        Vertical diffusivity (m²/s) on the ``nz + 1`` horizontal faces, shaped
        ``(member, 1, nz+1, ny|1, nx|1)``. Values on the ground and top faces are ignored
        (no diffusive flux through them).
    dz:
        Layer thicknesses (m) shaped ``(1, 1, nz, 1, 1)``.
    dz_centres:
        Distances (m) between neighbouring cell centres, ``(1, 1, nz-1, 1, 1)``.
    deposition:
        ``vd * G / dz`` (1/s): deposition velocity per species times the ground-adjacency mask over
        the layer thickness, broadcasting to ``(member, species, nz, ny|1, nx|1)``; or None.
    open_z:
        Optional 0/1 mask of the interior horizontal faces ``(nz-1, ny, nx)`` (0 next to solids).
    """

    def __init__(self, kz_faces, dz, dz_centres, deposition=None, open_z=None, compiled=None):
        xp = array_module(kz_faces)
        interior = kz_faces[:, :, 1:-1] / dz_centres
        if open_z is not None:
            interior = interior * open_z
        self._conductance = interior  # Kz / dz_c on interior faces (m/s)
        self._dz = dz
        self._deposition = deposition
        self._xp = xp
        self._cache: dict[float, tuple] = {}
        # An optional compiled twin of solve() (the Numba backend): same coefficients, one pass.
        self._compiled = compiled
        self.explicit_limit = self._explicit_limit()

    #: Largest sum of a cell's off-diagonal weights, ``dt (g_up + g_down) / dz``, for which the
    #: forward-Euler update is used: half the positivity limit of 1, so the explicit step stays
    #: as accurate as the implicit one it replaces.
    EXPLICIT_WEIGHT = 0.5

    def _explicit_limit(self) -> float:
        """Largest ``dt`` (s) for which :meth:`explicit` is used (``inf`` without vertical fluxes)."""
        g = host_array(self._conductance).astype(np.float64)
        dz = host_array(self._dz).astype(np.float64)
        shape = g.shape[:2] + (1,) + g.shape[3:]
        up = np.concatenate([g, np.zeros(shape)], axis=2)
        down = np.concatenate([np.zeros(shape), g], axis=2)
        largest = float(((up + down) / dz).max())
        return self.EXPLICIT_WEIGHT / largest if largest > 0 else float("inf")

    def explicit_coefficients(self):
        """``(Kz/dz_c, vd/dz or None)`` for a fused explicit kernel: ``(member, nz-1, ny|1, nx|1)``
        (m/s) and ``(species, nz, ny|1, nx|1)`` (1/s), the last two axes 1 where there are no solids."""
        deposition = None
        if self._deposition is not None:
            deposition = host_array(self._deposition)
            deposition = np.broadcast_to(deposition, (1,) + deposition.shape[1:])[0]
        return host_array(self._conductance)[:, 0], deposition

    def explicit(self, field, dt: float):
        """Forward-Euler vertical diffusion, then deposition implicit in time,
        ``c ← c / (1 + dt vd/dz)``; returns a new field. The diffusion is the flux form of
        :meth:`solve` with the old field in place of the implicit solution; the deposited mass is
        ``dt vd c_new`` per unit area, as the budget counts it, and the step stays positive at any
        deposition velocity."""
        return explicit_vertical_step(field, *self.explicit_arrays(), dt)

    def explicit_arrays(self):
        """``(conductance, dz, deposition or None)`` of :func:`explicit_vertical_step`, as arrays on the
        device shaped to broadcast against the field."""
        return self._conductance, self._dz, self._deposition

    def _coefficients(self, dt: float):
        if dt in self._cache:
            return self._cache[dt]
        xp = self._xp
        g = self._conductance
        nz = self._dz.shape[2]
        zero = xp.zeros(g.shape[:2] + (1,) + g.shape[3:], dtype=g.dtype)
        lower = -dt * xp.concatenate([zero, g], axis=2) / self._dz
        upper = -dt * xp.concatenate([g, zero], axis=2) / self._dz
        diagonal = 1 - lower - upper
        if self._deposition is not None:
            diagonal = diagonal + dt * self._deposition
        shape = np.broadcast_shapes(lower.shape, diagonal.shape)
        lower, upper, diagonal = (xp.broadcast_to(a, shape) for a in (lower, upper, diagonal))
        inv_pivot = xp.empty(shape, dtype=diagonal.dtype)
        upper_ratio = xp.empty(shape, dtype=diagonal.dtype)
        inv_pivot[:, :, 0] = 1 / diagonal[:, :, 0]
        upper_ratio[:, :, 0] = upper[:, :, 0] * inv_pivot[:, :, 0]
        for k in range(1, nz):
            inv_pivot[:, :, k] = 1 / (diagonal[:, :, k] - lower[:, :, k] * upper_ratio[:, :, k - 1])
            upper_ratio[:, :, k] = upper[:, :, k] * inv_pivot[:, :, k]
        if len(self._cache) > 8:
            self._cache.clear()
        self._cache[dt] = (xp.ascontiguousarray(lower), inv_pivot, upper_ratio)
        return self._cache[dt]

    def solve(self, field, dt: float, out=None):
        """Advance ``field`` by ``dt``; returns the new field (``field`` itself is overwritten).

        The compiled twin leaves ``field`` intact and writes into ``out`` when given.

        The Thomas solution is turned back into face fluxes and applied in flux form, so the
        update conserves mass to unbiased round-off: float32 coefficients would otherwise leak a
        systematic ~1e-8 of the mass per step through the rounding of the matrix.
        """
        if field.shape[2] == 1 and self._deposition is None:
            return field
        if self._compiled is not None:
            return self._compiled(field, self._coefficients(dt), self._conductance, self._dz, self._deposition, dt,
                                  out)
        old = field.copy()
        solution = self._thomas(field, dt)
        return self._flux_form_update(old, solution, dt)

    def _add_diffusive_fluxes(self, new, solution, dt: float):
        """``new`` plus the divergence of the face fluxes ``dt g Δsolution`` (in place)."""
        return add_vertical_fluxes(new, solution, self._conductance, self._dz, dt)

    def _flux_form_update(self, old, solution, dt: float):
        new = self._add_diffusive_fluxes(old, solution, dt)
        if self._deposition is not None:
            new -= (dt * self._deposition) * solution
        return new

    def _thomas(self, field, dt: float):
        """Solve the tridiagonal systems in place (Thomas algorithm over every column)."""
        lower, inv_pivot, upper_ratio = self._coefficients(dt)
        nz = field.shape[2]
        field[:, :, 0] *= inv_pivot[:, :, 0]
        for k in range(1, nz):
            field[:, :, k] -= lower[:, :, k] * field[:, :, k - 1]
            field[:, :, k] *= inv_pivot[:, :, k]
        for k in range(nz - 2, -1, -1):
            field[:, :, k] -= upper_ratio[:, :, k] * field[:, :, k + 1]
        return field


def explicit_layout(xp, conductance, deposition, members: int, species: int, nz: int, ny: int, nx: int, dtype):
    """The explicit vertical step's arrays laid out for a fused kernel (Numba, CUDA), from
    :meth:`VerticalDiffusionSolver.explicit_coefficients`: ``(conductance, deposition,
    depositing)``, C-contiguous on ``xp``'s device — ``Kz/dz_c`` ``(members, max(nz-1, 1), rows,
    cols)``, ``vd/dz`` ``(species, nz, rows, cols)`` (zeros without deposition) and whether a
    level's rate is positive anywhere ``(species, nz)`` — with ``(rows, cols)`` ``(ny, nx)`` where
    either varies per column (solids), else ``(1, 1)``. On one level the conductance (no
    interior face) is a single zero per member."""
    conductance = xp.asarray(conductance, dtype=dtype)
    use_deposition = deposition is not None
    deposition = xp.asarray(deposition if use_deposition else np.zeros((species, nz, 1, 1)), dtype=dtype)
    columns = (ny, nx) if conductance.shape[2:] != (1, 1) or deposition.shape[2:] != (1, 1) else (1, 1)
    if nz == 1:
        conductance = xp.zeros((members, 1) + columns, dtype)
    conductance = xp.ascontiguousarray(xp.broadcast_to(conductance, (members, conductance.shape[1]) + columns))
    deposition = xp.ascontiguousarray(xp.broadcast_to(deposition, (species, nz) + columns))
    # Per species and level: is any rate positive (the kernels divide by 1 + dt vd/dz only there).
    depositing = xp.any(deposition > 0, axis=(2, 3)) if use_deposition else xp.zeros((species, nz), bool)
    return conductance, deposition, depositing


def column_layout(field, coefficients, conductance, deposition):
    """The implicit solve's arrays laid out for a one-pass twin of
    :meth:`VerticalDiffusionSolver.solve` (Numba, CUDA): ``(lower, inv_pivot, upper_ratio,
    conductance, deposition, use_deposition, full)``, each array C-contiguous with its leading
    ``(member|1, species|1)`` axes and levels, then ``(ny, nx)`` where any of them varies per
    column (``full``: solids) or ``(1, 1)``. A missing deposition becomes zeros; on one level the
    conductance (no interior face) becomes a single zero."""
    xp = array_module(field)
    nz, ny, nx = field.shape[2:]
    if nz == 1:
        conductance = xp.zeros((1, 1, 1, 1, 1), field.dtype)
    use_deposition = deposition is not None
    if not use_deposition:
        deposition = xp.zeros((1, 1, nz, 1, 1), field.dtype)
    arrays = (*coefficients, conductance, deposition)
    full = any(a.shape[3:] != (1, 1) for a in arrays)

    def prepare(array):
        if full:
            return xp.ascontiguousarray(xp.broadcast_to(array, array.shape[:3] + (ny, nx)))
        return xp.ascontiguousarray(array[:, :, :, :1, :1])

    return (*(prepare(a) for a in arrays), use_deposition, full)


def add_vertical_fluxes(new, solution, conductance, dz, dt: float):
    """``new`` plus the divergence of the face fluxes ``dt g Δsolution`` (in place), with the
    conductance ``g = Kz/dz_c`` (m/s) of the interior faces and the layer thicknesses ``dz``."""
    if solution.shape[2] > 1:
        inverse = 1 / dz  # times the reciprocal: the compiled twins' loops are not bound by a divider
        flux = (dt * conductance) * (solution[:, :, 1:] - solution[:, :, :-1])
        new[:, :, :-1] += flux * inverse[:, :, :-1]
        new[:, :, 1:] -= flux * inverse[:, :, 1:]
    return new


def explicit_vertical_step(field, conductance, dz, deposition, dt: float, out=None):
    """:meth:`VerticalDiffusionSolver.explicit` on explicit arrays (local to each column, so it
    can run on slabs of columns); returns a new field (``out`` when given: an array shaped like
    ``field`` that does not overlap it).

    The arithmetic of :func:`add_vertical_fluxes` on a copy of ``field`` followed by the deposition
    divide: level ``k`` gets ``((c + F_k/dz) − F_(k−1)/dz) / (1 + dt vd/dz)`` with the flux
    ``F_k = (dt g) Δc`` through its top face. On the host it runs level by level
    (:func:`_explicit_vertical_levels`); on a GPU as whole-array operations.
    """
    xp = array_module(field)
    new = xp.empty_like(field) if out is None else out
    update = _explicit_vertical_levels if xp is np else _explicit_vertical_arrays
    return update(field, conductance, dz, deposition, dt, new)


def _explicit_vertical_arrays(field, conductance, dz, deposition, dt: float, new):
    """:func:`explicit_vertical_step` in whole-array operations, into ``new`` (one kernel each on a GPU)."""
    new[...] = field
    add_vertical_fluxes(new, field, conductance, dz, dt)
    if deposition is not None:
        new /= 1 + dt * deposition
    return new


def _explicit_vertical_levels(field, conductance, dz, deposition, dt: float, new):
    """:func:`explicit_vertical_step` one level at a time, into ``new``.

    A level of a slab of rows is one contiguous stretch of memory per member and species, where
    the whole-slab slices ``c[:, :, 1:]`` are one short stretch per level and row, lying a power
    of two apart, that thrash the cache (the update ran 2.3 times slower that way on a 256³
    field). The working set is a few levels, whatever the height of the columns; the Python loop
    costs about 10 µs per level.
    """
    nz = field.shape[2]
    inverse = 1 / dz
    gain = dt * conductance  # (dt g) on the interior faces
    level_shape = field.shape[:2] + field.shape[3:]
    flux_type = np.result_type(field.dtype, gain.dtype)
    flux, below = np.empty(level_shape, dtype=flux_type), np.empty(level_shape, dtype=flux_type)
    change_type = np.result_type(flux_type, inverse.dtype)
    change, change_below = np.empty(level_shape, dtype=change_type), np.empty(level_shape, dtype=change_type)
    # Where two neighbouring layers are equally thick, F/dz of their common face is the same float
    # for both: computed once.
    same_thickness = np.all(inverse[:, :, 1:] == inverse[:, :, :-1], axis=(0, 1, 3, 4)).tolist() if nz > 1 else []
    for k in range(nz):
        level = new[:, :, k]
        if k + 1 < nz:  # the flux through the level's top face
            np.subtract(field[:, :, k + 1], field[:, :, k], out=flux)
            flux *= gain[:, :, k]
            np.multiply(flux, inverse[:, :, k], out=change)
            np.add(field[:, :, k], change, out=level)
        else:
            level[...] = field[:, :, k]
        if k > 0:  # and the one through its bottom face, computed for the level below
            if not same_thickness[k - 1]:
                np.multiply(below, inverse[:, :, k], out=change_below)
            level -= change_below
        if deposition is not None:
            level /= 1 + dt * deposition[:, :, k]
        flux, below = below, flux
        change, change_below = change_below, change
    return new

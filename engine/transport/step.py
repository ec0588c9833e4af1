"""One transport time step on the whole ``(member, species, z, y, x)`` state (NumPy/CuPy reference)."""

from __future__ import annotations

import contextlib
import functools
import itertools
import math

import numpy as np

from ..errors import ConfigError
from ..grid import Grid
from ..meteorology import Diffusivity, Wind
from ..species import Species
from .advection import (LIMITERS, SweepCoefficients, advect_axis, compact_velocity, sweep_coefficients,
                        velocity_divergence)
from . import slabs
from .diffusion import VerticalDiffusionSolver, diffuse_horizontal, explicit_vertical_step
from .timestep import advective_limit, diffusive_limit

AXIS_X, AXIS_Y, AXIS_Z = 4, 3, 2
VERTICAL_SCHEMES = ("auto", "implicit", "explicit")
#: Explicit horizontal diffusion may take up to this many substeps per transport step, so that a
#: large Kh (a convective mixed layer on a fine grid) does not hold the whole step below the
#: advective limit.
MAX_DIFFUSION_SUBSTEPS = 8


class Transport:
    """Advection, horizontal and vertical diffusion, dry deposition and decay for one time step.

    Operators are applied in sequence (sources are injected by the model before this step):
    advection sweeps x→y→z on even steps and z→y→x on odd ones (second order over pairs of
    steps), explicit horizontal diffusion, implicit vertical diffusion with deposition, then exact
    first-order decay ``c ← c exp(−λ dt)`` and wet scavenging ``c ← c exp(−Λ dt)`` under rain
    (counted as deposited: what rain washes out reaches the ground).

    Vertical diffusion is backward Euler (``vertical_diffusion="implicit"``), forward Euler
    (``"explicit"``, an error where unstable), or by default (``"auto"``) forward Euler whenever
    ``dt`` is within :attr:`VerticalDiffusionSolver.explicit_limit` — every off-diagonal weight sum
    at most 0.5, well inside the positivity limit — and backward Euler otherwise (stiff thin
    layers near the ground). The same rule holds on every backend, so results agree; the
    compiled backend then does the whole step in one pass.

    Where ``dt`` exceeds the explicit horizontal diffusion limit, diffusion is sub-cycled in ``n``
    equal substeps (at most :data:`MAX_DIFFUSION_SUBSTEPS`): ``n − 1`` before the advective
    sweeps and the last one in its usual place after them, on every backend alike.

    :meth:`step` returns the mass (kg) that left through the boundaries, deposited and decayed
    during the step, per member and species, as float64 device arrays: the budget accumulates on
    the device without a host synchronisation.
    """

    def __init__(self, grid: Grid, wind: Wind, diffusivity: Diffusivity, species: list[Species],
                 limiter: str = "mc", vertical_diffusion: str = "auto"):
        if limiter not in LIMITERS:
            raise ConfigError("limiter", f"unknown limiter {limiter!r}; use one of {', '.join(LIMITERS)}")
        if vertical_diffusion not in VERTICAL_SCHEMES:
            raise ConfigError("vertical_diffusion", f"unknown scheme {vertical_diffusion!r}; use one of "
                                                    f"{', '.join(VERTICAL_SCHEMES)}")
        self.vertical_diffusion = vertical_diffusion
        if diffusivity.members not in (1, wind.members):
            raise ConfigError("met.diffusivity", f"has {diffusivity.members} members, the wind {wind.members}")
        self.grid, self.species, self.limiter = grid, species, limiter
        xp, dtype = grid.xp, grid.float_type
        self._xp = xp
        self._compiled = grid.backend.name == "numba"
        # Where FTZ/DAZ is on, every value the step computes is already normal or zero, and the
        # end-of-step flush would be a second pass over the field for nothing.
        self._float_environment, self._arithmetic_flushes = _float_environment(grid.backend.name)
        if self._compiled:
            from ..kernels import numba_diffusion, numba_flush, numba_fused, numba_sums  # noqa: PLC0415 - optional extra

            self._flush_compiled = numba_flush.flush_subnormals_flat
            self._sum_cells = numba_sums.sum_cells
        self._background_host = np.array([s.background for s in species], dtype=dtype)
        #: Builds the fused sweeps + diffusion for a meteorology (None: the reference operators);
        #: whether its ``apply`` can flush subnormals itself (``flush=True``).
        self._fused_factory = None
        self._fused_flushes = False
        #: The implicit vertical solve's one-pass twin (None: the reference's array operations).
        self._compiled_vertical = None
        if self._compiled:
            self._fused_factory = numba_fused.FusedSweeps
            self._compiled_vertical = numba_diffusion.vertical_diffusion_compiled
        elif grid.backend.name == "cupy":
            from ..kernels.cuda_fused import CudaFusedSweeps, CudaVerticalSolve  # noqa: PLC0415 - optional extra

            self._fused_factory = functools.partial(CudaFusedSweeps, xp=xp)
            self._fused_flushes = True
            self._compiled_vertical = CudaVerticalSolve(xp)
        dz = grid.dz
        self._dz = xp.asarray(dz.reshape(1, 1, -1, 1, 1).astype(dtype))
        self._layer_volumes = xp.asarray(grid.dx * grid.dy * dz)  # float64: used in budgets only
        self._background = xp.asarray(np.array([s.background for s in species], dtype=dtype).reshape(1, -1, 1, 1, 1))
        self._decay_rates = np.array([s.decay_rate for s in species])
        self._has_solids = bool(grid.solid.any())
        fx, fy, _ = grid.open_faces()
        self._open_x = xp.asarray(fx[:, :, 1:-1].astype(dtype)) if self._has_solids else None
        self._open_y = xp.asarray(fy[:, 1:-1, :].astype(dtype)) if self._has_solids else None
        self._ground = grid.ground_adjacent()
        # Flat (z, y, x) indices of the cells deposition takes from: the ground and every roof.
        self._ground_cells = xp.asarray(np.flatnonzero(self._ground))
        self._deposition_velocity = xp.asarray(np.array([s.deposition_velocity for s in species]))
        self._deposits = any(s.deposition_velocity > 0 for s in species)
        self._scavenging_rates = np.zeros(len(species))
        self.rain_rate = 0.0
        self.set_meteorology(wind, diffusivity)

    def set_rain(self, rain_rate: float) -> None:
        """Rain rate (mm/h) for wet scavenging from now on."""
        if not rain_rate >= 0:
            raise ConfigError("met.rain_rate", f"must be >= 0 mm/h, got {rain_rate}")
        self.rain_rate = float(rain_rate)
        self._scavenging_rates = np.array([s.scavenging_rate(self.rain_rate) for s in self.species])

    def set_meteorology(self, wind: Wind, diffusivity: Diffusivity) -> None:
        """Switch to a new wind and diffusivity (a new met hour); rebuilds cached coefficients."""
        self.wind, self.diffusivity = wind, diffusivity
        self._moving = tuple(rate > 0 for rate in wind.max_speeds())
        self._directions = tuple(int(a.min() >= 0) - int(a.max() <= 0) for a in wind.host)
        # The multi-dimensional correction is exact only for a divergence-free wind; a profile wind
        # cut by buildings is not one, and then the plain flux form keeps mass exactly.
        self._correct_divergence = wind.is_divergence_free()
        self._sweep_divergences = self._divergences_per_order() if self._correct_divergence else None
        if self._sweep_divergences is not None and not any(
                bool(self._xp.any(term != 0)) for terms in self._sweep_divergences for term in terms):
            # Every sweep is divergence-free by itself (a layered wind): the correction adds c·0.
            self._correct_divergence, self._sweep_divergences = False, None
        self._fused = self._build_fused() if self._fused_factory is not None else None
        # The reference sweeps take each component cut to the axes it varies along (a layered
        # wind to one value per level) and keep the per-face factors derived from it per dt.
        self._compact_wind = None
        self._coefficients: dict[float, dict[int, SweepCoefficients]] = {}
        self._swept = None
        self._between = None
        self._diffusion_buffer = None
        self._explicit_coefficients = None
        self._build_vertical_solver()

    def _sweeps(self, parity: int):
        grid = self.grid
        spacings = (grid.dx, grid.dy, self._dz)
        sweeps = [(axis, velocity, spacing, direction) for axis, velocity, spacing, direction, moving in zip(
            (AXIS_X, AXIS_Y, AXIS_Z), (self.wind.u, self.wind.v, self.wind.w), spacings, self._directions,
            self._moving) if moving]
        return sweeps if parity % 2 == 0 else sweeps[::-1]

    def _divergences_per_order(self):
        """Per sweep order, the ``du/dx`` each sweep's correction uses.

        The last sweep takes minus the sum of the others, so the corrections cancel exactly in
        the working precision: rounding the velocities to float32 leaves a discrete divergence
        of ~1e-8 that would otherwise add mass systematically, step after step.
        """
        orders = []
        for parity in (0, 1):
            sweeps = self._sweeps(parity)
            terms = [velocity_divergence(v, axis, spacing) for axis, v, spacing, _ in sweeps]
            if len(terms) > 1:
                terms[-1] = -sum(terms[:-1])
            orders.append(terms)
        return orders

    def _build_fused(self):
        """The fused sweeps + horizontal diffusion (Numba kernels on the CPU, CUDA kernels on the
        GPU), or None where the diffusivity varies horizontally (then the reference operators run
        on the same arrays)."""
        kh = self.diffusivity.kh
        if kh.shape[3:] != (1, 1):
            return None
        divergences = None
        if self._correct_divergence:
            names = {AXIS_X: "x", AXIS_Y: "y", AXIS_Z: "z"}
            divergences = [{names[axis]: self._xp.ascontiguousarray(term[:, 0])
                            for (axis, *_), term in zip(self._sweeps(parity), self._sweep_divergences[parity])}
                           for parity in (0, 1)]
        grid = self.grid
        use_kh = self.diffusivity.max_horizontal() > 0
        # The wind's own arrays (views without the species axis): on a GPU a host copy would be
        # copied to the device again, three more state-sized arrays per member for a 3D wind.
        return self._fused_factory(
            *(a[:, 0] for a in (self.wind.u, self.wind.v, self.wind.w)), divergences, self._moving[2],
            kh[:, 0, :, 0, 0] if use_kh else None, grid.dx, grid.dy, grid.dz, self._background_host, self.limiter,
            self._open_x if self._has_solids else None, self._open_y if self._has_solids else None)

    def _build_vertical_solver(self) -> None:
        grid, xp, dtype = self.grid, self._xp, self.grid.float_type
        zc = grid.z_centres
        dz_centres = xp.asarray(np.diff(zc).reshape(1, 1, -1, 1, 1).astype(dtype))
        vd = np.array([s.deposition_velocity for s in self.species])
        deposition = None
        if np.any(vd > 0):
            per_layer = self._ground / grid.dz[:, None, None]  # (nz, ny, nx) 1/m
            if not self._has_solids:
                per_layer = per_layer[:, :1, :1]
            deposition = xp.asarray((vd.reshape(1, -1, 1, 1, 1) * per_layer[None, None]).astype(dtype))
        _, _, fz = grid.open_faces()
        open_z = xp.asarray(fz[1:-1].astype(dtype)) if self._has_solids else None
        self._vertical = VerticalDiffusionSolver(self.diffusivity.kz_faces, self._dz, dz_centres, deposition, open_z,
                                                 self._compiled_vertical)

    # ------------------------------------------------------------------------------------------
    def stable_dt(self, cfl: float = 0.8) -> float:
        """Largest stable time step (s) for the current meteorology."""
        if not 0 < cfl <= 1:
            raise ConfigError("time.cfl", f"must be in (0, 1], got {cfl}")
        limit = min(
            advective_limit(self.wind.max_courant_rates(), cfl),
            MAX_DIFFUSION_SUBSTEPS * diffusive_limit(self.diffusivity.max_horizontal(), self.grid.dx, self.grid.dy),
        )
        if self.vertical_diffusion == "explicit":
            limit = min(limit, self._vertical.explicit_limit)
        return limit

    def total_mass(self, field):
        """Mass (kg) per member and species, float64, on the device."""
        xp = self._xp
        return xp.sum(field.sum(axis=(3, 4), dtype=xp.float64) * self._layer_volumes, axis=2)

    def _boundary_outflow(self, fluxes, axis: int, dt: float):
        xp, grid = self._xp, self.grid
        low, high = fluxes
        if axis == AXIS_Z:
            net = (high - low).sum(axis=(2, 3, 4), dtype=xp.float64)
            return dt * grid.dx * grid.dy * net
        area_per_layer = (grid.dy if axis == AXIS_X else grid.dx) * self._layer_volumes / (grid.dx * grid.dy)
        net = (high - low).sum(axis=(3, 4), dtype=xp.float64)
        return dt * xp.sum(net * area_per_layer, axis=2)

    def diffusion_substeps(self, dt: float) -> int:
        """Explicit horizontal diffusion substeps a step of ``dt`` seconds takes (1 within the limit)."""
        kh = self.diffusivity.max_horizontal()
        if kh <= 0:
            return 1
        return max(1, math.ceil(dt / diffusive_limit(kh, self.grid.dx, self.grid.dy) * (1 - 1e-9)))

    def _diffuse_ahead(self, field, dt: float, substeps: int):
        """The first ``substeps`` horizontal diffusion substeps of ``dt`` seconds each. ``field`` is
        consumed: the compiled path ping-pongs between it and one kept buffer."""
        if self._fused is None:
            arguments = (self.diffusivity.kh, dt, self.grid.dx, self.grid.dy, self._open_x, self._open_y)
            for _ in range(substeps):  # level by level on a large field: the operator couples only x and y
                field, _ = self._apply([(-3, diffuse_horizontal, arguments, {}, 0)], field)
            return field
        spare = self._diffusion_buffer
        if spare is None or spare.shape != field.shape or spare.dtype != field.dtype:
            spare = self._xp.empty_like(field)
        for _ in range(substeps):
            field, spare = self._fused.diffuse(field, dt, out=spare), field
        self._diffusion_buffer = spare
        return field

    def step(self, field, dt: float, parity: int = 0):
        """Advance ``field`` by ``dt`` seconds; returns ``(new_field, outflow, deposited, decayed)``.

        On the CPU backends the step runs with subnormal operands and results flushed to zero
        (:mod:`engine.kernels.numba_fpenv`): the same arithmetic on NumPy and Numba, and none of
        the slow subnormal assists a diffusing plume's edge would otherwise cost."""
        with self._float_environment():
            return self._step(field, dt, parity)

    def _step(self, field, dt: float, parity: int):
        xp, grid = self._xp, self.grid
        members, n_species = field.shape[:2]
        substeps = self.diffusion_substeps(dt)
        diffusion_dt = dt / substeps
        if substeps > 1:
            field = self._diffuse_ahead(field, diffusion_dt, substeps - 1)
        if self._fused is not None:
            return self._fused_step(field, dt, parity, diffusion_dt)
        outflow = xp.zeros((members, n_species), dtype=xp.float64)
        reference = field
        divergences = self._sweep_divergences[parity % 2] if self._correct_divergence else None
        # The operators as (slab axis, function, arguments, keywords, boundary-flux outputs): each
        # acts within the slabs along its axis (x and y sweeps and horizontal diffusion within
        # levels, the z sweep within rows of columns).
        operators = []
        sweeps = self._sweeps(parity)
        for n, (axis, _, spacing, direction) in enumerate(sweeps):
            velocity = self._compact_velocity(axis)
            arguments = (reference if divergences else None, velocity, axis, dt, spacing, self._background,
                         self.limiter)
            keywords = {"divergence": divergences[n] if divergences else None, "direction": direction,
                        "coefficients": self.sweep_coefficients(axis, dt)}
            operators.append((-2 if axis == AXIS_Z else -3, advect_axis, arguments, keywords, 2))
        if self.diffusivity.max_horizontal() > 0:
            arguments = (self.diffusivity.kh, diffusion_dt, grid.dx, grid.dy, self._open_x, self._open_y)
            operators.append((-3, diffuse_horizontal, arguments, {}, 0))
        # Where the explicit vertical step follows, the swept field is read once more and dropped:
        # it goes into a buffer kept from step to step (a fresh 4-byte-per-cell array would be
        # page-faulted in, ~5 ms per step at 256³), never into memory the step returns.
        between = None
        if operators and slabs.applies(field) and self.explicit_vertical(dt):
            if self._between is None or self._between.shape != field.shape or self._between.dtype != field.dtype:
                self._between = np.empty_like(field)
            between = self._between
        field, fluxes = self._apply(operators, field, out=between)
        for n, (axis, *_) in enumerate(sweeps):
            outflow += self._boundary_outflow(fluxes[2 * n:2 * n + 2], axis, dt)
        if field is reference:
            field = field.copy()
        return self._vertical_and_decay(field, dt, outflow)

    #: Time steps whose sweep coefficients are kept: the adaptive step alternates between at most
    #: two (the stable step and the shorter one landing on an output time).
    KEPT_COEFFICIENTS = 2

    def sweep_coefficients(self, axis: int, dt: float) -> SweepCoefficients:
        """The per-face factors of the sweep along ``axis`` for steps of ``dt`` seconds
        (:func:`engine.transport.advection.sweep_coefficients`), computed once per meteorology and
        ``dt``: they depend only on the wind, ``dt`` and the cell widths. A layered wind's are one
        value per level; a full 3D wind's are up to four arrays the size of its component."""
        per_axis = self._coefficients.get(dt)
        if per_axis is None:
            if len(self._coefficients) >= self.KEPT_COEFFICIENTS:
                self._coefficients.pop(next(iter(self._coefficients)))  # the oldest
            per_axis = self._coefficients[dt] = {}
        if axis not in per_axis:
            n = (AXIS_X, AXIS_Y, AXIS_Z).index(axis)
            spacing = (self.grid.dx, self.grid.dy, self._dz)[n]
            per_axis[axis] = sweep_coefficients(self._compact_velocity(axis), axis, self.grid.shape[2 - n], dt,
                                                spacing, self._directions[n])
        return per_axis[axis]

    def _compact_velocity(self, axis: int):
        """The wind's component along ``axis`` cut to the axes it varies along
        (:func:`engine.transport.advection.compact_velocity`), once per meteorology."""
        if self._compact_wind is None:
            self._compact_wind = tuple(compact_velocity(a) for a in (self.wind.u, self.wind.v, self.wind.w))
        return self._compact_wind[(AXIS_X, AXIS_Y, AXIS_Z).index(axis)]

    def _apply(self, operators, field, out=None):
        """``field`` through ``operators`` (see :meth:`_step`) in turn; returns the result and the
        boundary fluxes they output, in order. A large host field goes slab by slab, the same
        result to the bit, and consecutive operators that act within the same slabs (the x and y
        sweeps and horizontal diffusion: levels) take each slab one after the other while it is in
        cache, so the field crosses main memory once for all of them instead of once each, and the
        result goes into ``out`` when given (else, and on the whole-array path, into new memory)."""
        fluxes = []
        if not slabs.applies(field):
            for _, function, arguments, keywords, outputs in operators:
                result = function(field, *arguments, **keywords)
                field, extra = result if outputs else (result, ())
                fluxes.extend(extra)
            return field, fluxes
        groups = [list(group) for _, group in itertools.groupby(operators, key=lambda operator: operator[0])]
        for n, ((axis, function, arguments, keywords, outputs), *then) in enumerate(groups):
            outputs += sum(operator[4] for operator in then)
            result = slabs.in_slabs(function, field, axis, arguments, keywords, self._float_environment,
                                    joined_outputs=outputs, then=[operator[1:] for operator in then],
                                    out=out if n == len(groups) - 1 else None)
            field, extra = result if outputs else (result, ())
            fluxes.extend(extra)
        return field, fluxes

    def explicit_vertical(self, dt: float) -> bool:
        """Whether this step's vertical diffusion is forward Euler (see the class notes)."""
        limit = self._vertical.explicit_limit
        if self.vertical_diffusion == "explicit":
            if dt > limit / self._vertical.EXPLICIT_WEIGHT:
                raise ConfigError("vertical_diffusion", f"explicit vertical diffusion is unstable at dt = {dt:.4g} s "
                                  f"(limit {limit / self._vertical.EXPLICIT_WEIGHT:.4g} s); use auto or implicit")
            return True
        return self.vertical_diffusion == "auto" and dt <= limit

    def _fused_step(self, field, dt: float, parity: int, diffusion_dt: float):
        """The fused step (Numba on the CPU, CUDA on the GPU: one pass). Sweeps, horizontal and
        (where explicit) vertical diffusion into a buffer this object keeps, which becomes the
        state while the old state's memory becomes the next buffer; with implicit vertical
        diffusion a second pass solves back into ``field``'s memory. No fresh 4-byte-per-cell array
        is page-faulted in any step."""
        if self._swept is None or self._swept.shape != field.shape or self._swept.dtype != field.dtype:
            self._swept = self._xp.empty_like(field)
        explicit = self.explicit_vertical(dt)
        if explicit and self._explicit_coefficients is None:  # once per meteorology
            self._explicit_coefficients = self._vertical.explicit_coefficients()
        coefficients = self._explicit_coefficients if explicit else None
        options = {}
        # On the GPU the end-of-step flush of subnormals rides in the last kernel when nothing
        # follows it (a separate flush would be another three passes over the field).
        flushed = (explicit and self._fused_flushes and not np.any(self._scavenging_rates > 0)
                   and not np.any(self._decay_rates > 0))
        if flushed:
            options["flush"] = True
        swept, outflow = self._fused.apply(field, dt, parity, out=self._swept, vertical=coefficients,
                                           diffusion_dt=diffusion_dt, **options)
        if explicit:
            self._swept = field
            return self._vertical_and_decay(swept, dt, outflow, vertical_done=True, flushed=flushed)
        result = self._vertical.solve(swept, dt, out=field)
        if result is not field:  # nothing vertical to do: the swept field is the answer
            field[...] = result
        return self._vertical_and_decay(field, dt, outflow, vertical_done=True)

    def _vertical_and_decay(self, field, dt: float, outflow, vertical_done: bool = False, flushed: bool = False):
        """Vertical diffusion with deposition, then decay; the tail of :meth:`step` (``flushed``:
        the field's subnormals are already flushed)."""
        xp, grid = self._xp, self.grid
        if not vertical_done:
            if not self.explicit_vertical(dt):
                field = self._vertical.solve(field, dt)
            elif slabs.applies(field):  # rows of columns: the forward-Euler update couples only z
                # One slab per thread: the update streams through its slab level by level.
                field = slabs.in_slabs(explicit_vertical_step, field, -2, (*self._vertical.explicit_arrays(), dt), {},
                                       self._float_environment, slab_cells=field.size)
            else:
                field = self._vertical.explicit(field, dt)
        deposited = self._deposited(field, dt)
        if np.any(self._scavenging_rates > 0):
            kept = np.exp(-self._scavenging_rates * dt)
            deposited = deposited + self.total_mass(field) * xp.asarray(1 - kept)[None, :]
            field *= xp.asarray(kept.astype(grid.float_type)).reshape(1, -1, 1, 1, 1)
        decayed = xp.zeros_like(outflow)
        if np.any(self._decay_rates > 0):
            factors = np.exp(-self._decay_rates * dt)
            decayed = self.total_mass(field) * xp.asarray(1 - factors)[None, :]
            field *= xp.asarray(factors.astype(grid.float_type)).reshape(1, -1, 1, 1, 1)
        if not (self._arithmetic_flushes or flushed):
            self._flush_subnormals(field)
        return field, outflow, deposited, decayed

    def _flush_subnormals(self, field) -> None:
        """Set subnormal concentrations (below the smallest normal number of the dtype, 1.2e-38 in
        float32) to zero, in place: at the end of every step where the step's arithmetic does not
        already flush them (CuPy, a CPU without FTZ/DAZ switching, NumPy without the Numba extra).

        Diffusion spreads a plume's edge into ever smaller values that underflow into the
        subnormal range over much of the domain; arithmetic on subnormals is up to a hundred times
        slower on many CPUs (a 4-species park step ran 11.3 ms with 5 % of its cells subnormal
        and 6.5 ms flushed, on an Intel Xeon). The mass removed is below 1.2e-38 kg/m³ per cell,
        far under float resolution of any budget term.
        """
        if self._compiled and field.flags.c_contiguous:
            self._flush_compiled(field.reshape(-1), float(np.finfo(field.dtype).tiny))
            return
        xp = self._xp
        # copyto, not boolean-mask assignment: CuPy finds a mask's indices first, which waits on the device.
        xp.copyto(field, 0, where=xp.abs(field) < xp.finfo(field.dtype).tiny)

    def _deposited(self, field, dt: float):
        xp = self._xp
        if not self._deposits:
            return xp.zeros(field.shape[:2], dtype=xp.float64)
        members, n_species = field.shape[:2]
        if self._has_solids and self._compiled and field.flags.c_contiguous:
            sums = self._sum_cells(field.reshape(members * n_species, -1), self._ground_cells,
                                   np.empty(members * n_species))
            ground_sum = sums.reshape(members, n_species) * (self.grid.dx * self.grid.dy)
        else:
            if self._has_solids:  # take, not fancy indexing: five times faster for the same cells
                ground = xp.take(field.reshape(members, n_species, -1), self._ground_cells, axis=2)
            else:
                ground = field[:, :, 0]
            ground_sum = ground.reshape(members, n_species, -1).sum(axis=2, dtype=xp.float64) * (self.grid.dx * self.grid.dy)
        return dt * ground_sum * self._deposition_velocity[None, :]


def _float_environment(backend: str):
    """``(context, flushing)``: the context every step of ``backend`` runs in, and whether its
    arithmetic flushes subnormals itself. Subnormals are flushed to zero in the calling thread on
    the CPU backends where the Numba extra provides the switch (on x86-64); on CuPy (the device
    handles subnormals at full speed) and without Numba, the default arithmetic."""
    if backend == "cupy":
        return contextlib.nullcontext, False
    try:
        from ..kernels.numba_fpenv import SUPPORTED, DenormalsFlushed  # noqa: PLC0415 - optional extra
    except ImportError:
        return contextlib.nullcontext, False
    return DenormalsFlushed, SUPPORTED

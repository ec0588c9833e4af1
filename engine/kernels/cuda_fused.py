"""The advective sweeps, horizontal and explicit vertical diffusion of one step as fused CUDA
kernels (CuPy), the GPU twin of :class:`engine.kernels.numba_fused.FusedSweeps`.

The same operators, order and arithmetic as :meth:`engine.transport.step.Transport.step`
(``engine/kernels/cuda/transport.cu``):

* one kernel per step, ``tiled_step_even``/``_odd`` (no vertical wind) or ``tiled_step_z_even``/``_odd``: each
  block takes a tile of every level of a field and marches up the levels, the tile and its halo
  going through shared memory (x then y sweep on even steps, y then x on odd ones, with the z
  sweep two levels behind from a ring of five levels, horizontal diffusion, and the vertical
  diffusion with deposition of the level below in registers): one read and one write of every
  cell per step;
* or, with ``tiled=False``, ``sweep_xy`` [``sweep_z``] (even steps) or [``sweep_z``] ``sweep_yx``
  (odd steps), then ``diffuse``: a thread marching a column each, one pass per kernel — the same
  floats, kept as a second schedule to check the first against.

Nothing is read back to the host: the boundary outflow stays on the device as float64 per field.
The implicit vertical solve, where the step takes it, is :class:`CudaVerticalSolve`.

The kernel set is pluggable (:mod:`engine.kernels.cuda_kernels`): :class:`CupyKernels` on a GPU,
:class:`HostKernels` to run the very same kernels on the CPU, one thread after another, which is
how they are verified where no GPU is.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np

from ..transport.advection import LIMITER_CODES
from ..transport.diffusion import column_layout, explicit_layout
from .cuda_kernels import THREADS, TILE_X, TILE_Y, CupyKernels, HostKernels, KernelSet



def _layered(xp, array):
    """``array`` ``(member, n, rows, cols)`` with one row per ``(member, n)`` when every row of a
    level is the same constant (a horizontally uniform wind), else itself; and whether it is full."""
    if bool(xp.all(array == array[:, :, :1, :1])):
        return xp.ascontiguousarray(array[:, :, :1, :]), 0
    return xp.ascontiguousarray(array), 1


class CudaFusedSweeps:
    """The sweeps and diffusion of :class:`engine.transport.step.Transport` as fused CUDA kernels,
    for one wind and diffusivity. The constructor and :meth:`apply`/:meth:`diffuse` mirror
    :class:`engine.kernels.numba_fused.FusedSweeps`; arrays are given on the host or the device
    and kept on the device of ``xp``.

    Parameters are those of :class:`~engine.kernels.numba_fused.FusedSweeps`, and:

    xp:
        The array module the fields live in (CuPy; NumPy with host kernels).
    kernels:
        ``kernels(dtype, limiter_code)`` → a :class:`~engine.kernels.cuda_kernels.KernelSet`
        (default :class:`~engine.kernels.cuda_kernels.CupyKernels`).
    tiled:
        Run the whole step as one tiled kernel (default), else as the column kernels (two or
        three passes; the same floats).
    """

    def __init__(self, u, v, w, divergences, sweep_z: bool, kh, dx: float, dy: float, dz: np.ndarray,
                 background: np.ndarray, limiter: str, open_x=None, open_y=None, xp=None,
                 kernels: Callable[..., KernelSet] = CupyKernels, tiled: bool = True):
        if xp is None:
            import cupy as xp  # noqa: PLC0415 - optional dependency
        self.xp = xp
        self.tiled = bool(tiled)
        #: Level segments of the one-pass kernel (None: chosen per device, see segments_for).
        self.segments: int | None = None
        self._multiprocessors: int | None = None
        dtype = np.dtype(u.dtype)
        self.dtype = dtype
        members, nz, ny, _ = u.shape
        (self.u, self.u_full), (self.v, self.v_full), (self.w, self.w_full) = (
            _layered(xp, xp.asarray(a, dtype=dtype)) for a in (u, v, w))
        self.sweep_z = bool(sweep_z)
        self.dx, self.dy = float(dx), float(dy)
        self.dz_real = xp.asarray(np.asarray(dz, dtype=dtype))
        self.dz64 = xp.asarray(np.asarray(dz, dtype=dtype).astype(np.float64))
        self._dz_host = np.asarray(dz, dtype=dtype)
        self.background = xp.asarray(np.asarray(background, dtype=dtype))
        self.kernels = kernels(dtype, LIMITER_CODES[limiter])
        self.use_diffusion = kh is not None
        kh = xp.asarray(kh, dtype=dtype) if kh is not None else xp.zeros((1, nz), dtype)
        self.kh = xp.ascontiguousarray(xp.broadcast_to(kh, (members, nz)))  # one row per wind member
        self.use_masks = open_x is not None
        dummy = xp.zeros((1,), dtype=dtype)
        self.open_x = xp.ascontiguousarray(xp.asarray(open_x, dtype=dtype)) if self.use_masks else dummy
        self.open_y = xp.ascontiguousarray(xp.asarray(open_y, dtype=dtype)) if self.use_masks else dummy
        self.use_correction = divergences is not None
        self.divergences = []
        for parity in (0, 1):
            terms = divergences[parity] if divergences is not None else {}
            self.divergences.append(tuple(
                xp.ascontiguousarray(xp.asarray(terms[axis], dtype=dtype)) if axis in terms else
                (xp.zeros((members, nz, ny, u.shape[3] - 1), dtype) if self.use_correction else dummy)
                for axis in ("x", "y", "z")))
        self._buffers: dict[tuple, object] = {}
        self._rates: dict[float, object] = {}
        self._prepared = None
        self._no_vertical = (0, dummy, 0, dummy, 0, xp.zeros((1,), np.uint8))

    #: Blocks per streaming multiprocessor the one-pass kernel aims for (about what fits at once).
    BLOCKS_PER_SM = 4
    #: Fewest levels a block of the one-pass kernel marches: each segment recomputes the level on
    #: either side of it for the vertical step, and two more for the z sweep's window where there
    #: is one (at most 6/16 of its work, only where the field alone would leave the device idle).
    MIN_SEGMENT_LEVELS = 16

    def segments_for(self, blocks: int, nz: int) -> int:
        """Pieces the levels are cut into so that ``blocks`` tiles (× fields) fill the device
        (:attr:`segments` when set: the tests choose it)."""
        if self.segments is not None:
            return max(1, min(int(self.segments), nz))
        if self._multiprocessors is None:
            try:
                self._multiprocessors = int(self.xp.cuda.Device().attributes["MultiProcessorCount"])
            except AttributeError:  # NumPy arrays with host kernels: one core runs them all
                self._multiprocessors = 1
        wanted = math.ceil(self.BLOCKS_PER_SM * self._multiprocessors / blocks)
        return max(1, min(wanted, nz // self.MIN_SEGMENT_LEVELS))

    def _buffer(self, slot: int, shape: tuple, dtype):
        key = (slot, shape, np.dtype(dtype).str)
        if key not in self._buffers:
            for old in [k for k in self._buffers if k[0] == slot]:
                del self._buffers[old]
            self._buffers[key] = self.xp.empty(shape, dtype=dtype)
        return self._buffers[key]

    #: Time steps whose ``dt/dz`` arrays are kept (an adaptive run alternates between two at most).
    KEPT_RATES = 2

    def _rates_z(self, dt: float):
        """``dt/dz`` per level on the device, computed once per ``dt``: a host-to-device copy in
        every step would wait for the queued kernels."""
        rates = self._rates.get(dt)
        if rates is None:
            if len(self._rates) >= self.KEPT_RATES:
                self._rates.pop(next(iter(self._rates)))
            kind = self.dtype.type
            rates = self._rates[dt] = self.xp.asarray((kind(dt) / self._dz_host).astype(self.dtype))
        return rates

    def _vertical_arguments(self, vertical, species: int, nz: int, ny: int, nx: int):
        """``(enabled, conductance, full, deposition, full, depositing)`` for ``diffuse``, on the
        device, prepared once per coefficient set (see ``FusedSweeps._vertical_arguments``)."""
        if vertical is None:
            return self._no_vertical
        if self._prepared is not None and self._prepared[0] is vertical and self._prepared[1] == (ny, nx):
            return self._prepared[2]
        conductance, deposition, depositing = explicit_layout(self.xp, *vertical, self.u.shape[0], species, nz,
                                                              ny, nx, self.dtype)
        full = int(conductance.shape[2] * conductance.shape[3] > 1)  # the same for both (explicit_layout)
        arguments = (1, conductance, full, deposition, full, self.xp.ascontiguousarray(depositing.astype(np.uint8)))
        self._prepared = (vertical, (ny, nx), arguments)
        return arguments

    def _diffusion_arguments(self, diffusion_dt: float) -> tuple:
        """``(use_horizontal, kh, gain_x, gain_y, use_masks, open_x, open_y)`` of the kernels."""
        kind = self.dtype.type
        return (int(self.use_diffusion), self.kh, kind(diffusion_dt / (self.dx * self.dx)),
                kind(diffusion_dt / (self.dy * self.dy)), int(self.use_masks), self.open_x, self.open_y)

    def _diffuse(self, src, dst, species: int, diffusion_dt: float, vertical_arguments, step: float,
                 flush: bool = False) -> None:
        fields, nz, ny, nx = src.shape
        self.kernels.launch("diffuse", (math.ceil(nx / THREADS), ny, fields), (
            src, dst, species, nz, ny, nx, *self._diffusion_arguments(diffusion_dt), *vertical_arguments,
            self.dz_real, step, int(flush)))

    def diffuse(self, field, dt: float, out):
        """One explicit horizontal diffusion step of ``dt`` seconds from ``field`` into ``out``
        (not overlapping it), the same arithmetic as the diffusion inside :meth:`apply`."""
        members, species, nz, ny, nx = field.shape
        shape = (members * species, nz, ny, nx)
        self._diffuse(field.reshape(shape), out.reshape(shape), species, dt, self._no_vertical, dt)
        return out

    def apply(self, field, dt: float, parity: int, out=None, vertical=None, diffusion_dt: float | None = None,
              flush: bool = False):
        """Return ``(new_field, outflow)``: the swept and diffused field (in ``out`` when given,
        an array not overlapping ``field``) and the mass (concentration × m³, float64, per
        member and species, on the device) that left through the domain boundaries.

        ``vertical = (conductance, deposition)`` adds forward-Euler vertical diffusion (see
        :meth:`engine.kernels.numba_fused.FusedSweeps.apply`); ``diffusion_dt`` is the
        horizontal diffusion's step when it is sub-cycled (default ``dt``). With ``flush`` the
        result's subnormal values are set to 0, as :meth:`Transport._flush_subnormals` would (in
        the last kernel where there is one: no extra pass over the field)."""
        xp = self.xp
        members, species, nz, ny, nx = field.shape
        fields = members * species
        shape = (fields, nz, ny, nx)
        diffusion_dt = dt if diffusion_dt is None else diffusion_dt
        source = xp.ascontiguousarray(field).reshape(shape)
        if out is None:
            out = xp.empty_like(field)
        target = out.reshape(shape)
        kind = self.dtype.type
        step = kind(dt)
        div_x, div_y, div_z = self.divergences[parity % 2]
        vertical_arguments = self._vertical_arguments(vertical, species, nz, ny, nx)
        finishing = self.use_diffusion or vertical_arguments[0]
        if finishing and self.tiled:
            tiles = math.ceil(nx / TILE_X) * math.ceil(ny / TILE_Y)
            levels = math.ceil(nz / self.segments_for(tiles * fields, nz))
            segments = math.ceil(nz / levels)
            partial = self._buffer(2, (fields * segments, ny, nx), np.float64)
            grid = (math.ceil(nx / TILE_X), math.ceil(ny / TILE_Y), fields * segments)
            name = ("tiled_step_z" if self.sweep_z else "tiled_step") + ("_odd" if parity % 2 else "_even")
            self.kernels.launch(name, grid, (
                source, target, self.u, self.u_full, self.v, self.v_full, self.w, self.w_full, div_x, div_y, div_z,
                int(self.use_correction), self.background, species, nz, ny, nx, step, kind(dt / self.dx),
                kind(dt / self.dy), self._rates_z(dt), kind(1.0 / self.dx), kind(1.0 / self.dy), self.dx, self.dy,
                self.dz64, *self._diffusion_arguments(diffusion_dt), *vertical_arguments, self.dz_real, int(flush),
                levels, partial))
            return out, (partial.reshape(fields, -1).sum(axis=1) * dt).reshape(members, species)
        vertical_sweep = ["z"] if self.sweep_z else []
        stages = (vertical_sweep + ["yx"]) if parity % 2 else (["xy"] + vertical_sweep)
        # The last stage writes into the result; the others into two buffers kept between steps.
        current = source
        outflows = []
        for n, stage in enumerate(stages):
            last = n == len(stages) - 1 and not finishing
            destination = target if last else self._buffer(n % 2, shape, field.dtype)
            if stage == "z":
                partial = self._buffer(2, (fields, ny, nx), np.float64)
                rates = self._rates_z(dt)
                self.kernels.launch("sweep_z", (math.ceil(nx / THREADS), ny, fields), (
                    current, source, destination, self.w, self.w_full, div_z, int(self.use_correction),
                    self.background, species, nz, ny, nx, step, rates, self.dz_real, self.dx, self.dy, partial))
            else:
                partial = self._buffer(3, (fields, nz, nx), np.float64)
                self.kernels.launch("sweep_" + stage, (math.ceil(nx / THREADS), nz, fields), (
                    current, source, destination, self.u, self.u_full, self.v, self.v_full, div_x, div_y,
                    int(self.use_correction), self.background, species, nz, ny, nx, step, kind(dt / self.dx),
                    kind(dt / self.dy), kind(1.0 / self.dx), kind(1.0 / self.dy), self.dx, self.dy, self.dz64,
                    partial))
            outflows.append(partial.reshape(fields, -1).sum(axis=1))
            current = destination
        if finishing:
            self._diffuse(current, target, species, diffusion_dt, vertical_arguments, step, flush)
        else:
            if not stages:
                target[...] = source
            if flush:
                xp.copyto(target, 0, where=xp.abs(target) < xp.finfo(target.dtype).tiny)  # no device wait
        outflow = sum(outflows) * dt if outflows else xp.zeros(fields, np.float64)
        return out, outflow.reshape(members, species)


class CudaVerticalSolve:
    """The CUDA twin of :meth:`engine.transport.diffusion.VerticalDiffusionSolver.solve` (the
    implicit solve for stiff near-ground layers): one thread per column, Thomas elimination and
    the flux-form update in one kernel (``vertical_implicit``). Called like
    :func:`engine.kernels.numba_diffusion.vertical_diffusion_compiled`."""

    def __init__(self, xp=None, kernels: Callable[..., KernelSet] = CupyKernels):
        if xp is None:
            import cupy as xp  # noqa: PLC0415 - optional dependency
        self.xp = xp
        self._factory = kernels
        self._kernels: dict[str, KernelSet] = {}

    def _kernel_set(self, dtype) -> KernelSet:
        key = np.dtype(dtype).str
        if key not in self._kernels:  # the vertical kernel does not depend on the limiter
            self._kernels[key] = self._factory(dtype, LIMITER_CODES["upwind"])
        return self._kernels[key]

    def __call__(self, field, coefficients, conductance, dz, deposition, dt: float, out=None):
        """Return ``field`` advanced by backward-Euler vertical diffusion with deposition over
        ``dt`` seconds (in ``out`` when given: contiguous, not overlapping ``field``); ``field``
        is left as it was. ``coefficients`` are the solver's ``(lower, inv_pivot, upper_ratio)``."""
        xp = self.xp
        members, species, nz, ny, nx = field.shape
        dtype = field.dtype
        if out is None:
            out = xp.empty_like(field)
        lower, inv_pivot, upper_ratio, conductance, deposition, use_deposition, full = column_layout(
            field, coefficients, conductance, deposition)
        inverse_dz = xp.ascontiguousarray((1 / dz).ravel())
        self._kernel_set(dtype).launch("vertical_implicit", (math.ceil(nx / THREADS), ny, members * species), (
            xp.ascontiguousarray(field), out, lower, inv_pivot, upper_ratio, lower.shape[0], lower.shape[1],
            conductance, conductance.shape[0], deposition, deposition.shape[0], deposition.shape[1],
            int(use_deposition), inverse_dz, int(full), species, nz, ny, nx, dtype.type(dt)))
        return out


def use_host_kernels(transport, kernels: Callable[..., KernelSet] = HostKernels) -> None:
    """Make a NumPy-backend :class:`~engine.transport.step.Transport` run the CUDA kernels built
    for the host CPU, as CuPy runs them on a GPU: the fused step, the subnormal flush in its
    kernel, the implicit vertical solve (for verification without a GPU; ``kernels`` may wrap
    :class:`HostKernels`, e.g. to time the launches)."""
    transport._fused_factory = functools.partial(CudaFusedSweeps, xp=np, kernels=kernels)
    transport._fused_flushes = True
    transport._compiled_vertical = CudaVerticalSolve(np, kernels)
    transport.set_meteorology(transport.wind, transport.diffusivity)

"""Flush-to-zero and denormals-are-zero for the transport arithmetic (x86-64, Numba).

A diffusing plume's edge holds concentrations near the bottom of the float32 range (down to
1e-38 kg/m³, the smallest normal number, below which every step flushes the state to zero).
Products of those values with small factors — a Courant number, a diffusion gain, the divergence
correction's ``c·div(u)`` with ``div(u)`` ~ 1e-11 1/s after the wind adjustment — fall into the
subnormal range, and on Intel CPUs every arithmetic instruction with a subnormal operand or result
takes a microcode assist of ~100 cycles. On the default park grid four fifths of a step's sweep
time went to such assists (the sweep pass ran 6.3 ms per step with the tails present and 1.3 ms
with the same field cut below 1e-25, on an Intel Xeon); with FTZ/DAZ set it runs 1.3 ms with the
tails in place.

Setting the FTZ (bit 15) and DAZ (bit 6) bits of the SSE control register MXCSR makes the CPU
treat subnormal operands and results as zero at full speed. The bits are per thread: compiled
kernels set them at the start of every parallel task and restore them at its end
(:func:`flush_denormals` / :func:`restore`), and :class:`DenormalsFlushed` does the same around a
NumPy step in the calling thread, so every backend computes with the same arithmetic and the
NumPy reference and the Numba kernels stay bit for bit equal. What this changes in results is
below 1.2e-38 per operation, under float32 resolution of any concentration the engine reports.

On other architectures the functions do nothing (the arithmetic keeps gradual underflow there).
"""

from __future__ import annotations

import platform

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: MXCSR bits: flush-to-zero (results) and denormals-are-zero (operands).
FTZ_DAZ = 0x8040

SUPPORTED = platform.machine().lower() in ("x86_64", "amd64")


def _mxcsr_call(builder, name: str, slot) -> None:
    pointer = ir.IntType(8).as_pointer()
    function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [pointer]), name)
    builder.call(function, [builder.bitcast(slot, pointer)])


@intrinsic
def _read_mxcsr(typingctx):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        return builder.load(slot)
    return types.uint32(), codegen


@intrinsic
def _write_mxcsr(typingctx, value):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.store(args[0], slot)
        _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()
    return types.void(types.uint32), codegen


if SUPPORTED:
    @numba.njit(cache=True)
    def flush_denormals() -> int:
        """Turn FTZ and DAZ on in this thread; returns the previous MXCSR for :func:`restore`."""
        previous = _read_mxcsr()
        _write_mxcsr(numba.uint32(previous | FTZ_DAZ))
        return previous

    @numba.njit(cache=True)
    def restore(previous: int) -> None:
        """Put back the MXCSR :func:`flush_denormals` returned (this thread)."""
        _write_mxcsr(numba.uint32(previous))

    @numba.njit(cache=True)
    def control_word() -> int:
        """This thread's MXCSR (for tests)."""
        return _read_mxcsr()
else:  # pragma: no cover - exercised only off x86-64
    @numba.njit(cache=True)
    def flush_denormals() -> int:
        return 0

    @numba.njit(cache=True)
    def restore(previous: int) -> None:
        return None

    @numba.njit(cache=True)
    def control_word() -> int:
        return 0


@numba.njit(parallel=True, cache=True)
def _touch_workers(out):
    for i in numba.prange(out.size):
        out[i] = control_word()


_workers_started = False


def start_workers() -> None:
    """Start Numba's worker threads (once per process) outside any flushed block: a new thread
    inherits its creator's control word, and a pool first started inside a step would keep FTZ
    and DAZ for every parallel function of the process, not only the engine's."""
    global _workers_started
    if not _workers_started:
        _touch_workers(np.zeros(max(numba.get_num_threads(), 1), dtype=np.int64))
        _workers_started = True


class DenormalsFlushed:
    """Context manager: FTZ and DAZ on in the calling thread inside the block, restored after."""

    __slots__ = ("_previous",)

    def __init__(self) -> None:
        self._previous = 0

    def __enter__(self) -> "DenormalsFlushed":
        start_workers()
        self._previous = flush_denormals()
        return self

    def __exit__(self, *exc) -> None:
        restore(self._previous)

"""The NumPy reference operators applied slab by slab, in a thread pool.

NumPy evaluates one whole-array operation at a time, in one thread: a limited sweep over a 256³
field streams some fifteen 67 MB temporaries through main memory, and the other cores idle. Every
operator of a step is local along at least one axis — the x and y sweeps and the horizontal
diffusion act within a level, the z sweep within a row of columns — so the unchanged operator can
be applied to slabs along that axis, small enough that their temporaries stay in cache, and the
slabs can run side by side (NumPy releases the GIL inside its loops). Every element is computed
by the same arithmetic in the same order as in the whole-array call, so the result is the same to
the bit; the boundary fluxes of the slabs are joined back along the slab axis. Consecutive
operators local to the same slabs can run as a chain (``then``): each slab goes through all of
them while it is in cache, and the field crosses main memory once for the chain.

Only host (NumPy) arrays of at least :data:`MIN_CELLS` cells are split (``PLUMETWIN_NUM_THREADS``
sets the number of threads); smaller fields, and CuPy
arrays (one kernel per operation already fills a GPU), take the whole-array call.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any, Callable, Sequence

import numpy as np

from ..backend import usable_cpus
from ..errors import ConfigError

#: Fields smaller than this (cells × members × species) are not split: the pool's overhead and
#: tiny slabs would cost more than they save. (The park's 4-species field, 0.7 M cells, steps
#: 1.27 times faster split on 2 cores.)
MIN_CELLS = 1 << 18
#: Cells per slab (about 1 MB of float32 per temporary): small enough to stay in a core's cache,
#: large enough that each NumPy call does a good deal of work. Every call hands the GIL over
#: between the threads, which costs more than the call's own overhead: on 2 cores the 256³ step
#: ran 1.2 and 1.5 times slower with slabs of 2^17 and 2^16 cells (on 1 core 2^17 was a few per cent faster).
SLAB_CELLS = 1 << 18

_pool: ThreadPoolExecutor | None = None


def _workers() -> int:
    """Threads for slab work: ``PLUMETWIN_NUM_THREADS`` when set (e.g. 1 for several runs side by
    side on one machine), else one per core this process may use."""
    configured = os.environ.get("PLUMETWIN_NUM_THREADS")
    if configured:
        try:
            return max(1, int(configured))
        except ValueError:
            raise ConfigError("PLUMETWIN_NUM_THREADS (environment variable)",
                              f"{configured!r} is not a number of threads; give a whole number, or unset it") from None
    return usable_cpus()


def pool() -> ThreadPoolExecutor:
    """The process's pool for slab work, one thread per usable core (created on first use)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="plumetwin-slab")
    return _pool


def applies(field: Any) -> bool:
    """Whether ``field`` is split into slabs (a NumPy array of at least :data:`MIN_CELLS` cells)."""
    return isinstance(field, np.ndarray) and field.size >= MIN_CELLS


def slab_ranges(length: int, cells_per_index: int, slab_cells: int | None = None) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(length)`` in slabs of about ``slab_cells`` cells
    (:data:`SLAB_CELLS` by default), at least one per worker thread when the axis allows."""
    slab_cells = SLAB_CELLS if slab_cells is None else slab_cells
    per_slab = max(1, min(slab_cells // max(cells_per_index, 1), -(-length // _workers())))
    return [(start, min(start + per_slab, length)) for start in range(0, length, per_slab)]


def take(array: Any, axis: int, start: int, stop: int, length: int) -> Any:
    """The slab ``start:stop`` along ``axis`` (counted from the end) of an argument: arrays that
    span the axis are sliced, those broadcast along it (size 1, fewer dimensions) and scalars or
    None pass unchanged; a named tuple of such (a sweep's coefficients) is taken item by item."""
    if not isinstance(array, np.ndarray):  # (tested first: this runs for every argument of every slab)
        if isinstance(array, tuple) and hasattr(array, "_make"):
            return array._make(take(item, axis, start, stop, length) for item in array)
        return array
    if array.ndim < -axis:
        return array
    size = array.shape[axis]
    if size == 1:
        return array
    if size != length:
        raise ValueError(f"an argument of shape {array.shape} neither spans nor broadcasts along axis {axis}")
    index = [slice(None)] * array.ndim
    index[axis] = slice(start, stop)
    return array[tuple(index)]


def in_slabs(function: Callable[..., Any], field: np.ndarray, axis: int, arguments: tuple, keywords: dict,
             environment: Callable[[], AbstractContextManager], joined_outputs: int = 0, out: np.ndarray | None = None,
             slab_cells: int | None = None, then: Sequence[tuple[Callable[..., Any], tuple, dict, int]] = ()):
    """``function(field, *arguments, **keywords, out=...)`` computed slab by slab along ``axis``
    (negative: counted from the end) in the pool, each slab inside ``environment()`` (the step's
    floating-point context, which is per thread), into ``out`` (a new array when None).

    ``function`` writes the new field into its ``out`` argument, the slab's place in the result
    (no temporary and no copy), and returns it, either alone or as ``(new_field, (a, b, ...))``
    with arrays spanning ``axis`` (``joined_outputs`` of them), which are joined back along it.
    ``slab_cells`` is the slab size (:func:`slab_ranges`): a function that streams through its
    slab in cache-sized pieces itself takes the largest slabs, one per thread.

    ``then`` lists further operators ``(function, arguments, keywords, outputs)`` local to the
    same slabs: each slab goes through all of them in turn while it is in cache (the results
    between them are slab-sized temporaries, the last one is written into ``out``), and
    ``joined_outputs`` counts the joined outputs of all of them, in order.
    """
    length = field.shape[axis]
    cells_per_index = field.size // length
    ranges = slab_ranges(length, cells_per_index, slab_cells)
    if out is None:
        out = np.empty_like(field)
    index = [slice(None)] * field.ndim

    operators = [(function, arguments, keywords, joined_outputs - sum(operator[3] for operator in then)), *then]

    def one(bounds: tuple[int, int]):
        start, stop = bounds
        part = lambda a: take(a, axis, start, stop, length)  # noqa: E731
        where = list(index)
        where[axis] = slice(start, stop)
        target = out[tuple(where)]
        new, extra = part(field), []
        with environment():
            for n, (operator, operator_arguments, operator_keywords, outputs) in enumerate(operators):
                result = operator(new, *(part(a) for a in operator_arguments),
                                  **{key: part(value) for key, value in operator_keywords.items()},
                                  out=target if n == len(operators) - 1 else None)
                new, joined = (result if outputs else (result, ()))
                extra.extend(joined)
        if new is not target:  # a function that could not write in place
            target[...] = new
        return extra

    extras = list(pool().map(one, ranges))
    if not joined_outputs:
        return out
    return out, tuple(np.concatenate([e[n] for e in extras], axis=axis) for n in range(joined_outputs))

"""Array backends: NumPy (reference), Numba (compiled CPU) and CuPy (GPU).

This is the only module that imports CuPy or Numba. A :class:`Backend` is chosen once and stored
on the :class:`~engine.grid.Grid`; numerical functions ask their input arrays for their module with
:func:`array_module` instead of importing a backend themselves.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from .errors import BackendUnavailableError

log = logging.getLogger(__name__)

BACKEND_NAMES = ("auto", "numpy", "numba", "cupy")


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity where the OS reports one, else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _probe_cupy() -> tuple[ModuleType | None, str]:
    """Return (cupy, "") when a CUDA device really computes, else (None, reason)."""
    try:
        import cupy  # noqa: PLC0415 - optional dependency, probed lazily
    except Exception as exc:  # ImportError, or a broken CUDA install raising anything
        return None, f"CuPy is not installed ({exc.__class__.__name__}: {exc})"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None, "CuPy found no CUDA device"
        probe = cupy.arange(4, dtype=cupy.float32)
        if float((probe * 2).sum()) != 12.0:
            return None, "CuPy computed a wrong test sum on the device"
    except Exception as exc:  # no driver, no device, out of memory ...
        return None, f"CuPy cannot use a CUDA device ({exc.__class__.__name__}: {exc})"
    return cupy, ""


def _probe_numba() -> tuple[ModuleType | None, str]:
    try:
        import numba  # noqa: PLC0415
    except Exception as exc:
        return None, f"Numba is not installed ({exc.__class__.__name__}: {exc})"
    return numba, ""


@dataclass(frozen=True)
class Backend:
    """An array backend.

    Attributes
    ----------
    name:
        ``"numpy"``, ``"numba"`` or ``"cupy"``.
    xp:
        The array module arrays live in (NumPy for the CPU backends, CuPy on the GPU).
    reason:
        Why this backend was chosen when ``auto`` was asked for (empty otherwise).
    """

    name: str
    xp: Any = field(repr=False)
    reason: str = ""

    @property
    def is_gpu(self) -> bool:
        return self.name == "cupy"

    def asarray(self, values: Any, dtype: Any = None):
        """Copy host data onto this backend's device."""
        return self.xp.asarray(values, dtype=dtype)

    def to_host(self, values: Any) -> np.ndarray:
        """Copy an array to host memory (a no-op for CPU backends)."""
        if self.is_gpu:
            return self.xp.asnumpy(values)
        return np.asarray(values)

    def synchronize(self) -> None:
        """Wait for queued device work (used by benchmarks only)."""
        if self.is_gpu:
            self.xp.cuda.get_current_stream().synchronize()


def resolve_backend(name: str = "auto") -> Backend:
    """Return the backend called ``name``.

    ``auto`` prefers CuPy when a device really computes, then the compiled CPU path (Numba) when
    it is installed, then NumPy, logging one line saying what it chose and why. Asking for
    ``cupy`` or ``numba`` where it cannot run raises :class:`BackendUnavailableError`.
    """
    if isinstance(name, Backend):
        return name
    if name not in BACKEND_NAMES:
        raise BackendUnavailableError(
            f"backend.name = {name!r} is not known; use one of {', '.join(BACKEND_NAMES)}"
        )
    if name == "numpy":
        return Backend("numpy", np)
    if name == "cupy":
        cupy, why = _probe_cupy()
        if cupy is None:
            raise BackendUnavailableError(
                f"backend 'cupy' was requested but cannot run: {why}. Install the 'gpu' extra "
                "(pip install 'plumetwin[gpu]' for CUDA 12, 'plumetwin[gpu-cuda13]' for CUDA 13) on a "
                "machine with an NVIDIA GPU, or use backend=numpy"
            )
        return Backend("cupy", cupy)
    if name == "numba":
        numba, why = _probe_numba()
        if numba is None:
            raise BackendUnavailableError(
                f"backend 'numba' was requested but cannot run: {why}. "
                "Install it with pip install 'plumetwin[numba]', or use backend=numpy"
            )
        return Backend("numba", np)
    cupy, why_gpu = _probe_cupy()
    if cupy is not None:
        log.info("backend auto: using CuPy on the GPU")
        return Backend("cupy", cupy, reason="a CUDA device answered")
    numba, why_cpu = _probe_numba()
    if numba is not None:
        reason = f"{why_gpu}; using the compiled CPU path (Numba)"
        log.info("backend auto: %s", reason)
        return Backend("numba", np, reason=reason)
    reason = f"{why_gpu}; {why_cpu}; using NumPy (pip install 'plumetwin[numba]' compiles the CPU path)"
    log.info("backend auto: %s", reason)
    return Backend("numpy", np, reason=reason)


def array_module(array: Any) -> Any:
    """Return the array module (NumPy or CuPy) that ``array`` belongs to."""
    module = type(array).__module__
    if module.startswith("cupy"):
        import cupy  # noqa: PLC0415

        return cupy
    return np


def host_array(array: Any) -> np.ndarray:
    """A host (NumPy) copy of an array from either module; NumPy arrays are returned as they are."""
    xp = array_module(array)
    return np.asarray(array) if xp is np else xp.asnumpy(array)


def scatter_add(target, indices, values) -> None:
    """``target[indices] += values`` accumulating repeated indices, on either array module."""
    xp = array_module(target)
    if xp is np:
        np.add.at(target, indices, values)
    else:
        import cupyx  # noqa: PLC0415

        cupyx.scatter_add(target, indices, values)


def fft_module(array: Any) -> Any:
    """The SciPy-style FFT module (``dct``, ``dst``, ``idct``, ``idst``...) for ``array``'s device:
    ``scipy.fft`` on the host, ``cupyx.scipy.fft`` (cuFFT) on the GPU."""
    if array_module(array) is np:
        import scipy.fft  # noqa: PLC0415

        return scipy.fft
    import cupyx.scipy.fft  # noqa: PLC0415

    return cupyx.scipy.fft

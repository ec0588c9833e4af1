"""The engine's Numba set-up: ``numba.njit`` with NumPy's division semantics, and full-width
AVX-512 vectors where the processor runs them at full speed.

Numba's default (Python's) error model tests every division for a zero divisor so that it can
raise ``ZeroDivisionError``; that test is a branch in the loop body, and LLVM then leaves any loop
that divides by a per-cell value scalar (the explicit vertical update with deposition, which
divides each cell by ``1 + dt vd/dz``, took 2.5 ns per cell scalar, 0.5 vectorised). With
NumPy's model a zero divisor gives inf or NaN, as in the NumPy reference, and the loops
vectorise; every other result is the same float.
"""

from __future__ import annotations

import functools
import os

import numba

from ..errors import ConfigError

#: Use like ``numba.njit``: ``@njit``, ``@njit(parallel=True, cache=True)``, ``@njit(inline="always")``.
njit = functools.partial(numba.njit, error_model="numpy")

#: ``PLUMETWIN_VECTOR_BITS``: ``auto`` (default), ``512`` or ``256``.
VECTOR_BITS_VARIABLE = "PLUMETWIN_VECTOR_BITS"

# AVX-512 instructions that came with Ice Lake and AMD Zen 4, the first cores that run 512-bit
# arithmetic without lowering their clock much (Skylake-SP and Cascade Lake lack them).
_FULL_SPEED_AVX512 = ("avx512f", "avx512vbmi2", "avx512bitalg")


def wide_vector_features(setting: str, host_features: dict[str, bool], flattened: str) -> str | None:
    """The LLVM feature string that lets compiled loops use 512-bit vectors, or None to keep
    LLVM's choice.

    LLVM tunes every AVX-512 Intel core to prefer 256-bit vectors (``prefer-256-bit``), because
    the first ones (Skylake-SP) slowed their clock for 512-bit arithmetic. On the later ones the
    fused step's loops, which are bound by arithmetic throughput in cache, run about 10 % faster
    with 512-bit vectors (the same IEEE operations, lane for lane: results are unchanged).
    ``setting`` ``auto`` turns the tuning off where the host has the later cores' instructions,
    ``512`` wherever it has AVX-512, ``256`` never; ``flattened`` is the host's full feature string.
    """
    if setting not in ("auto", "512", "256"):
        raise ConfigError(f"{VECTOR_BITS_VARIABLE} (environment variable)",
                          f"{setting!r} is not a vector width; use auto, 512 or 256, or unset it")
    wanted = {"auto": _FULL_SPEED_AVX512, "512": ("avx512f",), "256": None}[setting]
    if wanted is None or not all(host_features.get(name, False) for name in wanted):
        return None
    return flattened + ",-prefer-256-bit"


def configure_vector_width() -> None:
    """Apply :func:`wide_vector_features` to Numba's code generator for this process.

    Takes effect only if nothing has been compiled yet in the process (Numba creates its target
    machine on the first compilation), and never where the user set ``NUMBA_CPU_NAME`` or
    ``NUMBA_CPU_FEATURES`` themselves. Numba's on-disk cache keys include the feature string, so
    kernels cached for one setting are not loaded for the other.
    """
    if numba.config.CPU_NAME or numba.config.CPU_FEATURES:
        return
    setting = os.environ.get(VECTOR_BITS_VARIABLE, "auto").strip().lower() or "auto"
    import llvmlite.binding as llvm  # noqa: PLC0415 - Numba's own dependency

    try:
        host = llvm.get_host_cpu_features()
    except RuntimeError:  # LLVM cannot read this processor's features: keep the defaults
        return
    features = wide_vector_features(setting, dict(host), host.flatten())
    if features is not None:
        numba.config.CPU_FEATURES = features

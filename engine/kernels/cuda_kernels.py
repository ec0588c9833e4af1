"""The CUDA transport kernels (``engine/kernels/cuda/transport.cu``) as callable sets, compiled for
the GPU through CuPy (NVRTC), or for the host CPU by the system C++ compiler.

The host build runs every thread of a launch one after another. The column kernels share nothing
between threads — each reads only the inputs and writes only its own outputs — and the tiled
kernels (``tiled_*``) are written in phases between their barriers, which the host build runs as
a loop over the block's threads per phase (``HOST_SERIAL`` in the source). Either way that is the
same computation as on the device, and with no contraction of ``a*b+c`` on either side the same
floats: it is how the kernels are tested on machines without a GPU, against the NumPy reference,
bit for bit.

A launch names the kernel and passes its arguments as arrays and plain Python numbers;
:class:`KernelSet` checks them against the kernel's C signature (an array for each pointer, of
the pointer's element type, C-contiguous; a number for each scalar) and converts each number to
the parameter's C type. A wrong argument list is an error naming the kernel and the parameter,
never a silently misread argument on the device.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOURCE_PATH = Path(__file__).with_name("cuda") / "transport.cu"

#: Threads per block along x; every kernel's block is (THREADS, 1, 1), but those of the tiled
#: (cooperative) kernels, named ``tiled_*``, which take TILE_X × TILE_Y threads (the source's sizes).
THREADS = 128
TILE_X, TILE_Y = 32, 8


def block_threads(name: str) -> int:
    """Threads per block of kernel ``name``."""
    return TILE_X * TILE_Y if name.startswith("tiled_") else THREADS

_C_TYPES = {"int": np.int32, "double": np.float64, "unsigned char": np.uint8}


def kernel_source() -> str:
    """The CUDA C++ source of the transport kernels."""
    return SOURCE_PATH.read_text()


@dataclass(frozen=True)
class Parameter:
    """One kernel parameter: its name, C base type (``real`` is the working precision), whether
    it is a pointer, and its C type as declared (qualifiers but ``__restrict__`` kept)."""

    name: str
    base: str
    pointer: bool
    c_type: str


def kernel_signatures(source: str) -> dict[str, tuple[Parameter, ...]]:
    """The parameters of every ``extern "C" __global__`` function of ``source``, by kernel name. A
    parameter list that is one macro name (kernels sharing their parameters) is that macro's body."""
    macros = {name: body.replace("\\\n", " ") for name, body in
              re.findall(r"^#define\s+(\w+)\s+((?:.*\\\n)*.*)$", source, flags=re.MULTILINE)}
    signatures = {}
    pattern = r'extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s+)?(\w+)\s*\(([^)]*)\)'
    for name, params in re.findall(pattern, source):
        params = macros.get(params.strip(), params)
        parameters = []
        for text in params.split(","):
            words = [w for w in text.replace("*", " * ").split() if w != "__restrict__"]
            pointer = "*" in words
            base = [w for w in words[:-1] if w not in ("*", "const")]
            parameters.append(Parameter(words[-1], " ".join(base), pointer, " ".join(words[:-1])))
        signatures[name] = tuple(parameters)
    return signatures


def real_literal(dtype) -> str:
    """The smallest normal number of ``dtype`` as an exact C hexadecimal literal."""
    return float(np.finfo(dtype).tiny).hex()


def compile_definitions(dtype, limiter_code: int) -> tuple[str, ...]:
    """The ``-D`` options that specialise the source to a precision and a limiter."""
    c_type = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}.get(np.dtype(dtype))
    if c_type is None:
        raise ValueError(f"the CUDA kernels take float32 or float64 fields, not {np.dtype(dtype)}")
    return (f"-DREAL={c_type}", f"-DLIMITER={int(limiter_code)}", f"-DREAL_TINY={real_literal(dtype)}")


class KernelSet:
    """The kernels of the source for one precision and limiter; subclasses launch them."""

    def __init__(self, dtype, limiter_code: int):
        self.dtype = np.dtype(dtype)
        self.limiter_code = int(limiter_code)
        self.source = kernel_source()
        self.signatures = kernel_signatures(self.source)
        self.definitions = compile_definitions(self.dtype, self.limiter_code)

    def _convert(self, name: str, args: tuple) -> list:
        parameters = self.signatures.get(name)
        if parameters is None:
            raise KeyError(f"no CUDA kernel {name!r}; the source defines {', '.join(self.signatures)}")
        if len(args) != len(parameters):
            raise TypeError(f"kernel {name} takes {len(parameters)} arguments, {len(args)} given")
        converted = []
        for parameter, value in zip(parameters, args):
            wanted = self.dtype if parameter.base == "real" else np.dtype(_C_TYPES[parameter.base])
            if parameter.pointer:
                dtype = getattr(value, "dtype", None)
                if dtype != wanted or not value.flags.c_contiguous:
                    raise TypeError(f"kernel {name}, parameter {parameter.name}: needs a C-contiguous {wanted} "
                                    f"array, got {type(value).__name__} of {dtype}")
                converted.append(value)
            else:
                if hasattr(value, "shape") and getattr(value, "ndim", 0) > 0:
                    raise TypeError(f"kernel {name}, parameter {parameter.name}: needs a number, got an array")
                try:
                    scalar = wanted.type(value)
                except OverflowError:
                    scalar = None
                if scalar is None or (wanted.kind in "iu" and scalar != value):
                    raise OverflowError(f"kernel {name}, parameter {parameter.name}: {value} does not fit {wanted}")
                converted.append(scalar)
        return converted

    def launch(self, name: str, grid: tuple[int, int, int], args: tuple) -> None:
        """Run kernel ``name`` on a grid of ``grid`` blocks of :func:`block_threads` threads."""
        if min(grid) < 1:
            return
        if grid[1] > 65535 or grid[2] > 65535:
            raise ValueError(f"kernel {name}: grid {grid} exceeds CUDA's 65535 blocks along y or z")
        self._launch(name, tuple(int(g) for g in grid), self._convert(name, args))

    def _launch(self, name: str, grid: tuple[int, int, int], args: list) -> None:
        raise NotImplementedError


class CupyKernels(KernelSet):
    """The kernels compiled by NVRTC for the current device (CuPy caches the binary per source
    and options on disk)."""

    #: No fused multiply-add: the reference rounds the product and the sum separately.
    OPTIONS = ("--fmad=false", "-std=c++17")

    def __init__(self, dtype, limiter_code: int):
        super().__init__(dtype, limiter_code)
        import cupy  # noqa: PLC0415 - optional dependency

        self._module = cupy.RawModule(code=self.source, options=self.OPTIONS + self.definitions)
        self._functions: dict = {}

    def _launch(self, name, grid, args):
        function = self._functions.get(name)
        if function is None:
            function = self._functions[name] = self._module.get_function(name)
        function(grid, (block_threads(name), 1, 1), tuple(args))


_HOST_HEADER = r"""
// CUDA's built-in launch variables and qualifiers for a serial host build: a block's shared
// memory is a static array (blocks run one after another), a tiled kernel's phases loop over
// the block's threads (HOST_SERIAL).
#define HOST_SERIAL 1
struct host_dim3 { unsigned int x, y, z; };
static host_dim3 threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __syncthreads()
#define __launch_bounds__(...)
"""

_HOST_CTYPES = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double,
                np.dtype(np.int32): ctypes.c_int32, np.dtype(np.uint8): ctypes.c_uint8}


def host_compiler() -> str | None:
    """The C++ compiler for :class:`HostKernels` (``$CXX``, else ``c++``/``g++``/``clang++``), or None."""
    for candidate in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if candidate and shutil.which(candidate):
            return candidate
    return None


class HostKernels(KernelSet):
    """The kernels compiled for the host CPU, each launch running its threads one after another
    (see the module notes). Built once per source and options into a cache directory."""

    FLAGS = ("-std=c++17", "-O2", "-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math")

    def __init__(self, dtype, limiter_code: int, cache_dir: str | os.PathLike | None = None):
        super().__init__(dtype, limiter_code)
        compiler = host_compiler()
        if compiler is None:
            raise RuntimeError("no C++ compiler found (set CXX, or install g++) to build the CUDA kernels for the host")
        text = self._host_source()
        flags = self.FLAGS + self.definitions
        digest = hashlib.sha256((text + " ".join(flags) + compiler).encode()).hexdigest()[:16]
        directory = Path(cache_dir or Path(tempfile.gettempdir()) / "plumetwin-cuda-host")
        directory.mkdir(parents=True, exist_ok=True)
        library = directory / f"transport-{digest}.so"
        if not library.exists():
            with tempfile.TemporaryDirectory(dir=directory) as work:
                cpp = Path(work) / "transport.cpp"
                cpp.write_text(text)
                built = Path(work) / library.name
                result = subprocess.run([compiler, *flags, str(cpp), "-o", str(built)], capture_output=True,
                                        text=True)
                if result.returncode != 0:
                    raise RuntimeError(f"building the CUDA kernels for the host failed:\n{result.stderr[-4000:]}")
                os.replace(built, library)  # atomic: a concurrent build finds a whole library or none
        self._library = ctypes.CDLL(str(library))

    def _host_source(self) -> str:
        entries = []
        for name, parameters in self.signatures.items():
            call = ", ".join(f"*({p.c_type}*)args[{n}]" for n, p in enumerate(parameters))
            # A tiled kernel is called once per block (its phases loop over the threads), any
            # other once per thread.
            threads = "1" if name.startswith("tiled_") else "bx"
            entries.append(
                f'extern "C" void launch_{name}(unsigned gx, unsigned gy, unsigned gz, unsigned bx, void** args) {{\n'
                "    gridDim = {gx, gy, gz}; blockDim = {bx, 1, 1};\n"
                "    for (unsigned z = 0; z < gz; ++z) for (unsigned y = 0; y < gy; ++y)\n"
                f"    for (unsigned x = 0; x < gx; ++x) for (unsigned t = 0; t < {threads}; ++t) {{\n"
                "        blockIdx = {x, y, z}; threadIdx = {t, 0, 0};\n"
                f"        {name}({call});\n"
                "    }\n}\n")
        return _HOST_HEADER + self.source + "\n" + "\n".join(entries)

    def _launch(self, name, grid, args):
        holders = []
        for value in args:
            if isinstance(value, np.ndarray):
                holders.append(ctypes.c_void_p(value.ctypes.data))
            else:
                holders.append(_HOST_CTYPES[np.dtype(type(value))](value))
        pointers = (ctypes.c_void_p * len(holders))(*[ctypes.cast(ctypes.pointer(h), ctypes.c_void_p) for h in holders])
        getattr(self._library, f"launch_{name}")(ctypes.c_uint(grid[0]), ctypes.c_uint(grid[1]),
                                                 ctypes.c_uint(grid[2]), ctypes.c_uint(block_threads(name)), pointers)

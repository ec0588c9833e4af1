"""The Numba kernels divide as NumPy does: a zero divisor gives inf or NaN, never an exception
(the Python error model's zero test is what kept their division loops from vectorising)."""

import numpy as np
import pytest

pytest.importorskip("numba", reason="the numba extra is not installed")

from engine.kernels.jit import njit  # noqa: E402


@njit
def _divide(numerators, denominators, out):
    for i in range(out.shape[0]):
        out[i] = numerators[i] / denominators[i]
    return out


def test_a_zero_divisor_gives_what_numpy_gives():
    numerators = np.array([1.0, -1.0, 0.0, 3.0], np.float32)
    denominators = np.array([0.0, 0.0, 0.0, 2.0], np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = numerators / denominators
    got = _divide(numerators, denominators, np.empty(4, np.float32))
    np.testing.assert_array_equal(got, expected)  # inf, -inf, nan, 1.5


# --- vector width -----------------------------------------------------------------------------

from engine.kernels.jit import VECTOR_BITS_VARIABLE, wide_vector_features  # noqa: E402

_ICE_LAKE_AND_LATER = {"avx512f": True, "avx512vbmi2": True, "avx512bitalg": True}
_SKYLAKE_SP = {"avx512f": True, "avx512vbmi2": False, "avx512bitalg": False}
_AVX2_ONLY = {"avx2": True, "avx512f": False}


@pytest.mark.parametrize(("setting", "host", "wide"), [
    ("auto", _ICE_LAKE_AND_LATER, True),
    ("auto", _SKYLAKE_SP, False),  # slows its clock for 512-bit arithmetic: LLVM's tuning stays
    ("auto", _AVX2_ONLY, False),
    ("512", _SKYLAKE_SP, True),
    ("512", _AVX2_ONLY, False),  # no AVX-512 to turn on
    ("256", _ICE_LAKE_AND_LATER, False),
])
def test_wide_vectors_only_where_the_setting_and_the_processor_allow(setting, host, wide):
    features = wide_vector_features(setting, host, "+avx2,+avx512f")
    if wide:
        assert features == "+avx2,+avx512f,-prefer-256-bit"  # the host's features, one tuning flag off
    else:
        assert features is None


def test_a_wrong_vector_setting_names_the_variable_and_the_choices():
    with pytest.raises(ValueError, match=f"{VECTOR_BITS_VARIABLE} .environment variable.: '1024' is not a vector "
                                         "width; use auto, 512 or 256"):
        wide_vector_features("1024", _ICE_LAKE_AND_LATER, "")


def test_the_setting_reaches_the_compiled_code():
    """In a fresh interpreter, ``PLUMETWIN_VECTOR_BITS=256`` keeps 512-bit registers out of a
    kernel's machine code and ``512`` (on an AVX-512 host) puts them in."""
    import os
    import subprocess
    import sys

    import llvmlite.binding as llvm

    program = (
        "import numpy as np, engine.kernels\n"
        "from engine.kernels.jit import njit\n"
        "@njit\n"
        "def scale(x, out):\n"
        "    for i in range(x.shape[0]):\n"
        "        out[i] = x[i] * x[i] + x[i]\n"
        "x = np.ones(1024, np.float32); scale(x, np.empty_like(x))\n"
        "print('zmm' in next(iter(scale.inspect_asm().values())))\n"
    )
    has_avx512 = bool(dict(llvm.get_host_cpu_features()).get("avx512f"))
    for setting, expected in (("256", False), ("512", has_avx512)):
        environment = {key: value for key, value in os.environ.items() if not key.startswith("NUMBA_CPU")}
        environment[VECTOR_BITS_VARIABLE] = setting
        result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=environment,
                                check=True)
        assert result.stdout.strip() == str(expected), (setting, result.stdout, result.stderr)


# --- software prefetch ------------------------------------------------------------------------

def test_prefetch_emits_prefetch_instructions_and_changes_nothing():
    """``prefetch_row`` compiles to the processor's prefetch instructions (one per cache line of
    the row), reads and writes no element, and ignores rows outside the plane."""
    from engine.kernels.numba_prefetch import prefetch_row

    @njit
    def touch(plane, rows):
        for row in range(-1, rows + 1):  # one row beyond each edge
            prefetch_row(plane, row, False)
            prefetch_row(plane, row, True)
        return plane[0, 0]

    plane = np.arange(4 * 64, dtype=np.float32).reshape(4, 64)
    before = plane.copy()
    assert touch(plane, plane.shape[0]) == 0.0
    np.testing.assert_array_equal(plane, before)
    machine_code = next(iter(touch.inspect_asm().values()))
    import platform

    instruction = {"x86_64": "prefetch", "AMD64": "prefetch", "aarch64": "prfm", "arm64": "prfm"}.get(platform.machine())
    if instruction is None:
        pytest.skip(f"no known prefetch mnemonic for {platform.machine()}")
    assert instruction in machine_code

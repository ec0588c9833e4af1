"""Subnormal arithmetic is flushed to zero inside a CPU step, and only there: the calling thread and
Numba's worker threads get their floating-point control word back, so code outside the engine
keeps IEEE gradual underflow."""

import numpy as np
import pytest

numba = pytest.importorskip("numba")
fpenv = pytest.importorskip("engine.kernels.numba_fpenv")

from engine import Diffusivity, DispersionModel, Grid, Species, Wind, WindProfile  # noqa: E402

pytestmark = pytest.mark.skipif(not fpenv.SUPPORTED, reason="FTZ/DAZ switching is implemented for x86-64 only")

SUBNORMAL = np.float32(1e-39)  # below float32's smallest normal number, 1.18e-38


@numba.njit(parallel=True)
def _worker_control_words(out):
    for i in numba.prange(out.size):
        out[i] = fpenv.control_word()


def worker_flush_bits() -> set[int]:
    words = np.zeros(64, dtype=np.int64)
    _worker_control_words(words)
    return {int(w) & fpenv.FTZ_DAZ for w in words}


def test_inside_the_context_subnormals_are_zero_and_afterwards_they_are_back():
    before = fpenv.control_word()
    with fpenv.DenormalsFlushed():
        assert fpenv.control_word() & fpenv.FTZ_DAZ == fpenv.FTZ_DAZ
        assert np.float32(1.0) * SUBNORMAL == 0  # DAZ: a subnormal operand reads as zero
        assert np.float32(1e-30) * np.float32(1e-10) == 0  # FTZ: a subnormal result is zero
        assert np.float32(4e-38) * np.float32(0.5) == np.float32(2e-38)  # normal stays normal
    assert fpenv.control_word() == before
    assert np.float32(1.0) * SUBNORMAL == SUBNORMAL


def model_with_tails(backend: str) -> DispersionModel:
    """A blob whose diffusing edges reach the bottom of the float32 range."""
    grid = Grid(40, 24, 10.0, 10.0, np.arange(0.0, 70.0, 10.0), backend=backend)
    wind = Wind.from_profiles(grid, [WindProfile(2.0, 250.0, kind="uniform")])
    model = DispersionModel(grid, wind, Diffusivity.constant(grid, 5.0, 1.0), [Species("A")])
    x = grid.x_centres - grid.x_centres[20]
    y = grid.y_centres - grid.y_centres[12]
    blob = np.exp(-(x[None, :] ** 2 + y[:, None] ** 2) / (2 * 12.0**2))
    model.set_state(np.broadcast_to(blob, (grid.nz, grid.ny, grid.nx))[None, None].astype(np.float32))
    return model


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_step_leaves_every_threads_control_word_as_it_found_it(backend):
    model = model_with_tails(backend)
    main_before = fpenv.control_word()
    workers_before = worker_flush_bits()
    for _ in range(5):
        model.step(model.stable_dt())
    assert fpenv.control_word() == main_before
    assert worker_flush_bits() == workers_before == {0}


def test_numpy_and_numba_steps_are_bit_for_bit_equal_with_tails_in_the_subnormal_range():
    numpy_model, numba_model = model_with_tails("numpy"), model_with_tails("numba")
    for _ in range(40):
        dt = numpy_model.stable_dt()
        numpy_model.step(dt)
        numba_model.step(dt)
    a, b = np.asarray(numpy_model.state), np.asarray(numba_model.state)
    assert np.count_nonzero((a > 0) & (a < 1e-30)) > 0  # the tails did reach the range in question
    assert np.array_equal(a, b)


def test_a_worker_pool_first_started_by_a_step_does_not_inherit_the_flushed_control_word():
    """New threads copy their creator's control word: run in a fresh process, where the step is
    the first parallel work and so starts Numba's pool."""
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    script = ("from tests.test_float_environment import model_with_tails, worker_flush_bits\n"
              "m = model_with_tails('numba')\n"
              "m.step(m.stable_dt())\n"
              "print(sorted(worker_flush_bits()))\n")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[0]"

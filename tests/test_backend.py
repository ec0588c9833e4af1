"""Backend selection: auto falls back with one log line; an impossible request is a clear error."""

import logging

import numpy as np
import pytest

from engine import BackendUnavailableError, Grid, resolve_backend
from engine import backend as backend_module
from engine.backend import _probe_cupy, _probe_numba, array_module


def test_auto_prefers_the_compiled_cpu_path_and_says_why(caplog):
    cupy, why = _probe_cupy()
    if cupy is not None:
        pytest.skip("a GPU works here: auto picks CuPy")
    if _probe_numba()[0] is None:
        pytest.skip("Numba is not installed here")
    with caplog.at_level(logging.INFO, logger="engine.backend"):
        backend = resolve_backend("auto")
    assert backend.name == "numba" and backend.xp is np
    lines = [r.getMessage() for r in caplog.records if r.name == "engine.backend"]
    assert len(lines) == 1 and "Numba" in lines[0] and why in lines[0]


def test_auto_falls_back_to_numpy_without_numba(caplog, monkeypatch):
    if _probe_cupy()[0] is not None:
        pytest.skip("a GPU works here: auto picks CuPy")
    monkeypatch.setattr(backend_module, "_probe_numba", lambda: (None, "Numba is not installed (test)"))
    with caplog.at_level(logging.INFO, logger="engine.backend"):
        backend = resolve_backend("auto")
    assert backend.name == "numpy" and backend.xp is np
    lines = [r.getMessage() for r in caplog.records if r.name == "engine.backend"]
    assert len(lines) == 1 and "using NumPy" in lines[0] and "Numba is not installed (test)" in lines[0]


def test_requesting_cupy_without_a_device_names_the_fix():
    if _probe_cupy()[0] is not None:
        pytest.skip("a GPU works here")
    with pytest.raises(BackendUnavailableError, match=r"plumetwin\[gpu\].*backend=numpy"):
        resolve_backend("cupy")


def test_unknown_backend_and_grid_carries_its_backend():
    with pytest.raises(BackendUnavailableError, match="backend.name = 'tpu'"):
        resolve_backend("tpu")
    grid = Grid(4, 4, 1.0, 1.0, [0, 1], backend="numpy")
    assert grid.backend.name == "numpy" and grid.xp is np
    assert array_module(grid.xp.zeros(3)) is np

"""Backend selection: auto falls back with one log line; an impossible request is a clear error."""

import logging

import numpy as np
import pytest

from engine import BackendUnavailableError, Grid, resolve_backend
from engine.backend import _probe_cupy, array_module


def test_auto_says_why_when_it_falls_back(caplog):
    cupy, why = _probe_cupy()
    if cupy is not None:
        pytest.skip("a GPU works here: auto picks CuPy")
    with caplog.at_level(logging.INFO, logger="engine.backend"):
        backend = resolve_backend("auto")
    assert backend.name == "numpy" and backend.xp is np
    lines = [r.getMessage() for r in caplog.records if r.name == "engine.backend"]
    assert len(lines) == 1 and "using NumPy" in lines[0] and why in lines[0]


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

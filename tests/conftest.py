"""Shared fixtures: every physics test runs on each backend that works on this machine."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from engine.backend import BackendUnavailableError, resolve_backend

#: ``cuda-host``: NumPy arrays with the GPU's CUDA kernels built for the host CPU doing the step
#: (see tests/cuda_host.py), so every physics test also checks the kernels CuPy runs.
ALL_BACKENDS = ("numpy", "numba", "cupy", "cuda-host")


def _available(name: str) -> tuple[bool, str]:
    try:
        resolve_backend(name)
    except BackendUnavailableError as exc:
        return False, str(exc)
    return True, ""


@pytest.fixture(params=ALL_BACKENDS)
def backend(request, monkeypatch):
    """Name of an array backend; tests using it are skipped, with the reason, where it cannot run.
    For ``cuda-host`` it is ``numpy``, with every transport built in the test running the CUDA
    kernels on the host (a test that compares a backend with NumPy compares them with themselves)."""
    if request.param == "cuda-host":
        from cuda_host import host_compiler, install_host_kernels  # noqa: PLC0415

        if host_compiler() is None:
            pytest.skip("cuda-host: no C++ compiler to build the CUDA kernels for the host")
        install_host_kernels(monkeypatch)
        return "numpy"
    ok, why = _available(request.param)
    if not ok:
        pytest.skip(f"{request.param} backend unavailable: {why}")
    return request.param


@pytest.fixture
def to_host():
    """Copy any backend array to a NumPy array."""
    def convert(array):
        if type(array).__module__.startswith("cupy"):
            return array.get()
        return np.asarray(array)
    return convert


@pytest.fixture(autouse=True)
def _quiet_logs(caplog):
    caplog.set_level(logging.WARNING)

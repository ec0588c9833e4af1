"""Shared fixtures: every physics test runs on each backend that works on this machine."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from engine.backend import BackendUnavailableError, resolve_backend

ALL_BACKENDS = ("numpy", "numba", "cupy")


def _available(name: str) -> tuple[bool, str]:
    try:
        resolve_backend(name)
    except BackendUnavailableError as exc:
        return False, str(exc)
    return True, ""


@pytest.fixture(params=ALL_BACKENDS)
def backend(request):
    """Name of an array backend; tests using it are skipped, with the reason, where it cannot run."""
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

"""Throughput of one transport step (million cell-updates per second) per backend and grid size.

Run with ``make bench``; the normal test run skips benchmarks. Cell-updates count
members × species × cells per step.
"""

import pytest

from hpc.peer_benchmark import build_model
from stepping import time_steps


def benchmark_model(n: int, backend: str, members: int = 1):
    """The peer-comparison problem (wind (3, 1.5, 0) m/s, K = 5 m²/s, dx = 10 m, a Gaussian blob)
    with the engine's default limiter (MC)."""
    return build_model(n, backend, members, limiter="mc")


@pytest.mark.parametrize("n", [64, 128, 256])
def test_transport_step_throughput(benchmark, backend, n):
    if n == 256 and backend != "cupy":
        pytest.skip("256³ is benchmarked on the GPU only (make bench-peers runs it on the CPU)")
    model = benchmark_model(n, backend)
    seconds = time_steps(benchmark, model, rounds=5 if n >= 128 else 10)
    benchmark.extra_info.update({
        "backend": backend, "grid": f"{n}^3", "cells": n**3, "members": 1, "species": 1,
        "dtype": model.grid.dtype, "mlups": model.cell_updates_per_step / seconds / 1e6,
    })

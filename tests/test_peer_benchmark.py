"""The peer benchmark's own machinery on a tiny grid: every backend agrees, disagreement is caught."""

import math

import numpy as np
import pytest

from hpc.peer_benchmark import WIND, blob, check_agreement, measure_device_bandwidth, run, stable_dt


def test_the_problem_is_inside_every_solver_stability_limit():
    courant_sum = stable_dt() * sum(abs(c) for c in WIND) / 10.0
    assert math.isclose(courant_sum, 0.4)
    field = blob(16)
    assert field.dtype == np.float32 and np.unravel_index(field.argmax(), field.shape) in {(7, 7, 7), (8, 8, 8)}


def test_tiny_run_reports_every_backend_and_they_agree():
    report = run(16, 3, skip_devito=True, bandwidth_mb=16)
    solvers = {r["solver"] for r in report["results"]}
    assert "plumetwin-numpy" in solvers
    assert report["machine"]["bandwidth_GB_s"] > 0
    for result in report["results"]:
        assert result["mlups"] > 0
    assert check_agreement(report) == []


def test_a_nan_or_a_large_difference_is_a_disagreement():
    report = {"results": [
        {"solver": "plumetwin-numba", "agreement": {"max_relative_to_numpy": float("nan"), "l2_relative_to_numpy": 0}},
        {"solver": "devito-minmod", "agreement": {"max_relative_to_numpy": 0.1, "l2_relative_to_numpy": 0.2}},
    ]}
    problems = check_agreement(report)
    assert len(problems) == 2 and "plumetwin-numba" in problems[0] and "devito" in problems[1]


def _cupy_works() -> bool:
    from engine.backend import resolve_backend  # noqa: PLC0415
    from engine.errors import BackendUnavailableError  # noqa: PLC0415

    try:
        resolve_backend("cupy")
    except BackendUnavailableError:
        return False
    return True


@pytest.mark.skipif(_cupy_works(), reason="a CuPy device works here: its bandwidth is measured instead")
def test_without_a_device_there_is_no_device_roofline():
    assert measure_device_bandwidth(16, 3) is None


@pytest.mark.skipif(not _cupy_works(), reason="no working CuPy device")
def test_the_device_bandwidth_is_measured_where_cupy_works():
    # Any CUDA GPU streams well over 50 GB/s; an H100 about 3,000.
    assert measure_device_bandwidth(256, 5) > 50

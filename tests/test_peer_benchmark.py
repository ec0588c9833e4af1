"""The peer benchmark's own machinery on a tiny grid: every backend agrees, disagreement is caught."""

import math

import numpy as np
import pytest

from hpc.peer_benchmark import (SAME_SCHEME, SPACING, WIND, Result, paired_ratio, analytic_blob, blob, check_agreement, measure_device_bandwidth,
                                plumetwin_own_dt, run, stable_dt)


def test_the_problem_is_inside_every_solver_stability_limit():
    courant_sum = stable_dt() * sum(abs(c) for c in WIND) / 10.0
    assert math.isclose(courant_sum, 0.4)
    field = blob(16)
    assert field.dtype == np.float32 and np.unravel_index(field.argmax(), field.shape) in {(7, 7, 7), (8, 8, 8)}


def test_tiny_run_reports_every_backend_and_they_agree():
    report = run(16, 3, skip_devito=True, bandwidth_mb=16)
    solvers = {r["solver"] for r in report["results"]}
    assert "plumetwin-numpy" in solvers
    # Where Numba works, Devito's scheme runs on it too (timed even without Devito).
    assert ("plumetwin-numba" in solvers) == (SAME_SCHEME in solvers)
    assert report["machine"]["bandwidth_GB_s"] > 0
    for result in report["results"]:
        assert result["mlups"] > 0
    assert check_agreement(report) == []


def test_rounds_time_the_solvers_in_turn_and_report_medians():
    report = run(12, 2, skip_devito=True, bandwidth_mb=16, rounds=3)
    assert report["problem"]["rounds"] == 3
    for result in report["results"]:
        assert len(result["rounds"]) == 3
        assert result["seconds_per_step"] == pytest.approx(float(np.median(result["rounds"])))
    assert check_agreement(report) == []


def test_the_ratio_to_a_reference_pairs_the_rounds():
    # Round by round the solver is twice, three times, then half as fast as the reference: the
    # paired median is 2, where the ratio of the medians (0.1 / 0.1) would say 1.
    reference = Result("devito-minmod", 0.1, 0.0, rounds=[0.1, 0.3, 0.05])
    solver = Result("plumetwin-numba", 0.1, 0.0, rounds=[0.05, 0.1, 0.1])
    assert paired_ratio(solver, reference) == pytest.approx(2.0)
    assert paired_ratio(Result("x", 0.2, 0.0), reference) == pytest.approx(0.5)  # no rounds: medians


def test_the_exact_solution_starts_as_the_blob_and_keeps_its_mass():
    n = 64
    np.testing.assert_allclose(analytic_blob(n, 0.0), blob(n), rtol=1e-6, atol=1e-7)
    start, later = analytic_blob(n, 0.0), analytic_blob(n, 10.0)
    # The sides lie 5 σ from the centre; in 10 s the wind moves the blob 0.5 σ (x), so at most
    # 4e-6 of its mass lies beyond them.
    assert later.sum() == pytest.approx(start.sum(), rel=1e-4)
    assert later.max() < start.max()
    centre = [float((later.sum(axis=tuple(a for a in range(3) if a != axis)) * (np.arange(n) + 0.5)).sum()
                    / later.sum()) * SPACING for axis in range(3)]
    assert centre == pytest.approx([0.5 * n * SPACING + 10.0 * WIND[2 - axis] for axis in range(3)], abs=0.1)


def test_time_to_solution_runs_each_solver_at_its_own_step_towards_the_exact_solution():
    report = run(48, 6, skip_devito=True, bandwidth_mb=16)
    to_solution = report["time_to_solution"]
    assert to_solution["end_time_s"] == pytest.approx(6 * stable_dt())
    own_dt = plumetwin_own_dt()
    # Split sweeps may take Courant 0.8 per direction; the wind's x Courant number sets the step.
    assert own_dt == pytest.approx(0.8 * SPACING / max(abs(c) for c in WIND))
    moved = np.linalg.norm(blob(48) - analytic_blob(48, to_solution["end_time_s"])) / np.linalg.norm(
        analytic_blob(48, to_solution["end_time_s"]))
    for row in to_solution["solvers"]:
        assert row["steps"] == 2 and row["dt_s"] * row["steps"] == pytest.approx(to_solution["end_time_s"])
        # On a coarse blob (σ = 4.8 cells) the run still lands far nearer the exact solution than
        # the blob it started from: directions, speeds and diffusion agree with the formula.
        assert row["l2_error_vs_exact"] < 0.25 * moved
    for result in report["results"]:
        assert result["l2_error_vs_exact"] < 0.25 * moved


def test_a_nan_or_a_large_difference_is_a_disagreement():
    report = {"results": [
        {"solver": "plumetwin-numba", "agreement": {"max_relative_to_numpy": float("nan"), "l2_relative_to_numpy": 0}},
        {"solver": "devito-minmod", "agreement": {"max_relative_to_numpy": 0.1, "l2_relative_to_numpy": 0.2}},
        {"solver": SAME_SCHEME, "agreement": {"max_relative_to_numpy": 0.01, "l2_relative_to_numpy": 0.01,
                                              "max_relative_to_devito": 1e-3}},
    ]}
    problems = check_agreement(report)
    assert len(problems) == 3 and "plumetwin-numba" in problems[0] and "devito" in problems[1]
    assert "the same scheme" in problems[2]


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

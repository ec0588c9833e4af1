"""Ensemble scores and footprint measures against values computed by hand on small arrays."""

import math

import numpy as np
import pytest

from validation.ensemble_scores import brier_score, crps, ensemble_scores, rank_histogram, spread_skill
from validation.footprint import figure_of_merit_in_space, measure_of_effectiveness


def test_rank_histogram_counts_ranks_by_hand():
    ensemble = np.array([[1.0, 1.0, 1.0, 5.0], [2.0, 2.0, 2.0, 6.0], [3.0, 3.0, 3.0, 7.0]])
    observed = np.array([0.5, 2.5, 10.0, 5.5])  # ranks 0, 2, 3, 1
    result = rank_histogram(ensemble, observed)
    assert result["counts"] == [1, 1, 1, 1] and result["n"] == 4
    assert result["delta"] == 0.0


def test_rank_histogram_breaks_ties_at_random_reproducibly():
    n = 4000
    ensemble = np.zeros((3, n))
    observed = np.zeros(n)  # every member ties the observation: ranks 0..3 equally likely
    counts = np.array(rank_histogram(ensemble, observed, seed=7)["counts"])
    assert counts.sum() == n
    # binomial(n, 1/4) counts: 5 standard deviations is sqrt(n·¼·¾)·5 ≈ 137
    assert np.all(np.abs(counts - n / 4) < 5 * math.sqrt(n * 0.25 * 0.75))
    assert rank_histogram(ensemble, observed, seed=7)["counts"] == counts.tolist()


def test_nan_cases_are_left_out_and_no_case_gives_nan():
    ensemble = np.array([[0.0, np.nan, 2.0], [2.0, 1.0, 2.0]])
    observed = np.array([1.0, 1.0, np.nan])
    assert rank_histogram(ensemble, observed)["n"] == 1
    assert crps(ensemble, observed) == pytest.approx(0.5)
    empty = rank_histogram(np.zeros((2, 0)), np.zeros(0))
    assert empty["counts"] == [0, 0, 0] and math.isnan(empty["delta"])
    assert math.isnan(crps(np.zeros((2, 0)), np.zeros(0)))
    assert math.isnan(brier_score(np.zeros((2, 0)), np.zeros(0), 1.0)["bs"])
    assert math.isnan(spread_skill(np.zeros((2, 0)), np.zeros(0))["spread"])


def test_crps_standard_and_fair_by_hand():
    # members 0 and 2, observation 1: ∫(F − H)² = 0.25·1 + 0.25·1 = 0.5; the fair form removes the
    # members' own spread term entirely: 1 − 4/(2·2·1) = 0.
    ensemble = np.array([[0.0], [2.0]])
    assert crps(ensemble, [1.0]) == pytest.approx(0.5)
    assert crps(ensemble, [1.0], fair=True) == pytest.approx(0.0)
    # one member: the CRPS is the absolute error; the fair form is undefined
    assert crps(np.array([[3.0, -1.0]]), [1.0, 1.0]) == pytest.approx(2.0)
    assert math.isnan(crps(np.array([[3.0]]), [1.0], fair=True))


def test_crps_equals_the_integral_of_the_squared_cdf_difference():
    rng = np.random.default_rng(3)
    members, y = rng.normal(size=7), 0.3
    grid = np.linspace(-10, 10, 400001)
    cdf = np.searchsorted(np.sort(members), grid, side="right") / members.size
    integral = np.trapezoid((cdf - (grid >= y)) ** 2, grid)
    assert crps(members[:, None], [y]) == pytest.approx(integral, abs=1e-4)  # grid step 5e-5


def test_brier_score_and_its_decomposition_by_hand():
    ensemble = np.array([[0.0, 2.0, 0.0, 0.0], [2.0, 2.0, 0.0, 2.0]])
    observed = np.array([3.0, 0.0, 0.0, 0.0])  # probabilities ½, 1, 0, ½; events 1, 0, 0, 0
    b = brier_score(ensemble, observed, threshold=1.0)
    assert b["bs"] == pytest.approx(0.375)
    assert b["base_rate"] == pytest.approx(0.25) and b["uncertainty"] == pytest.approx(0.1875)
    assert b["reliability"] == pytest.approx(0.25) and b["resolution"] == pytest.approx(0.0625)
    assert b["reliability"] - b["resolution"] + b["uncertainty"] == pytest.approx(b["bs"])


def test_brier_threshold_is_strict_so_zeros_are_no_event():
    b = brier_score(np.zeros((3, 5)), np.zeros(5), threshold=0.0)
    assert b["bs"] == 0.0 and b["base_rate"] == 0.0 and b["uncertainty"] == 0.0


def test_spread_skill_by_hand():
    ensemble = np.array([[1.0, 0.0], [3.0, 2.0]])  # variances 2, 2; means 2, 1
    observed = np.array([2.0, 3.0])                  # errors 0, 2
    s = spread_skill(ensemble, observed)
    assert s["spread"] == pytest.approx(math.sqrt(2)) and s["rmse"] == pytest.approx(math.sqrt(2))
    assert s["ratio"] == pytest.approx(math.sqrt(1.5))
    assert math.isnan(spread_skill(np.ones((1, 2)), [1.0, 1.0])["ratio"])  # one member: no spread


def test_a_reliable_ensemble_scores_as_reliable():
    # observation and members drawn from the same distribution: flat ranks, spread ratio 1
    rng = np.random.default_rng(11)
    n, m = 20000, 10
    centre = rng.normal(size=n)
    ensemble = centre + rng.normal(size=(m, n))
    observed = centre + rng.normal(size=n)
    scores = ensemble_scores(ensemble, observed, threshold=1.0)
    # δ of a flat histogram has mean 1 and standard deviation sqrt(2/M) ≈ 0.45 (chi² with M dof / M)
    assert scores["rank_histogram"]["delta"] < 1 + 4 * math.sqrt(2 / m)
    # the ratio's sampling error over 20000 cases is below 1 %; 5 % leaves ample margin
    assert scores["spread_skill"]["ratio"] == pytest.approx(1.0, abs=0.05)
    assert scores["crps_fair"] < scores["crps"]
    assert scores["brier"]["reliability"] < 0.01


def test_ensemble_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="member, case"):
        crps(np.zeros((3, 4)), np.zeros(5))


AREA = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])


def test_fms_and_moe_weighted_by_cell_area_by_hand():
    predicted = np.array([[5.0, 5.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 0.0]])
    observed = np.array([[5.0, 0.0, 0.0], [0.0, 5.0, 5.0], [0.0, 0.0, 0.0]])
    # predicted area 1 + 2 + 2 = 5, observed 1 + 2 + 3 = 6, overlap 1 + 2 = 3, union 8
    assert figure_of_merit_in_space(predicted, observed, 1.0, AREA) == pytest.approx(3 / 8)
    assert measure_of_effectiveness(predicted, observed, 1.0, AREA) == pytest.approx((3 / 6, 3 / 5))
    assert figure_of_merit_in_space(predicted, observed, 1.0) == pytest.approx(2 / 4)  # equal cells


def test_footprints_edge_cases():
    zeros = np.zeros((3, 3))
    assert math.isnan(figure_of_merit_in_space(zeros, zeros, 0.0))  # both empty: undefined
    x, y = measure_of_effectiveness(zeros, np.full((3, 3), 2.0), 1.0)
    assert x == 0.0 and math.isnan(y)  # nothing predicted
    negative = -np.ones((3, 3))
    assert figure_of_merit_in_space(negative, np.full((3, 3), 2.0), 0.0) == 0.0
    with_nan = np.full((3, 3), 2.0)
    with_nan[0, 0] = np.nan  # unobserved cell: in neither area
    assert figure_of_merit_in_space(np.full((3, 3), 2.0), with_nan, 1.0, AREA) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cell areas"):
        figure_of_merit_in_space(zeros, zeros, 0.0, -AREA)
    with pytest.raises(ValueError, match="same shape"):
        figure_of_merit_in_space(zeros, np.zeros((2, 2)), 0.0)

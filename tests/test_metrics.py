"""The BOOT performance measures against values worked by hand, and their documented edge cases
(NaN pairs, zeros, negative values, empty input); bootstrap intervals on cases whose answer is known."""

import math

import numpy as np
import pytest

from validation import bootstrap, metrics

CO = [1.0, 2.0, 4.0]
CP = [2.0, 2.0, 2.0]


def test_measures_match_hand_computed_values():
    # means 7/3 and 2; differences -1, 0, 2; ratios Cp/Co 2, 1, 0.5; ln ratios -ln2, 0, ln2
    assert metrics.fb(CO, CP) == pytest.approx(2 / 13)
    assert metrics.nmse(CO, CP) == pytest.approx(5 / 14)
    assert metrics.mg(CO, CP) == pytest.approx(1.0)
    assert metrics.vg(CO, CP) == pytest.approx(math.exp(2 * math.log(2) ** 2 / 3))
    assert metrics.fac2(CO, CP) == 1.0  # both limits are inside
    assert metrics.nad(CO, CP) == pytest.approx(3 / 13)
    assert math.isnan(metrics.r(CO, CP))  # a constant prediction has no correlation
    # x = 1, 2, 3 and y = 2, 4, 7: sxy = 5, sxx = 2, syy = 114/9
    assert metrics.r([1, 2, 3], [2, 4, 7]) == pytest.approx(5 / math.sqrt(2 * 114 / 9))
    assert metrics.fac2([1, 2, 3], [2, 4, 7]) == pytest.approx(2 / 3)  # 7/3 > 2


def test_all_metrics_and_the_good_model_band():
    scores = metrics.all_metrics(CO, CP)
    assert scores["n"] == 3 and set(scores) == set(metrics.METRICS) | {"n"}
    assert metrics.in_good_model_band(scores) == {"fb": True, "nmse": True, "mg": True, "vg": True, "fac2": True}
    assert metrics.in_good_model_band({"fb": 0.4, "fac2": 0.45}) == {"fb": False, "fac2": False}


def test_nan_pairs_are_left_out():
    scores = metrics.all_metrics([1.0, np.nan, 4.0], [2.0, 5.0, np.nan])
    assert scores["n"] == 1
    assert scores["fb"] == pytest.approx((1 - 2) / 1.5)
    assert math.isnan(metrics.fb([np.nan], [1.0]))  # no valid pair: nan, not an error


def test_zeros_need_a_threshold_for_the_logarithmic_measures():
    assert math.isnan(metrics.mg([0.0, 1.0], [0.0, 1.0]))
    assert math.isnan(metrics.vg([0.0, 1.0], [0.5, 1.0]))
    assert metrics.mg([0.0, 1.0], [0.0, 1.0], threshold=0.1) == pytest.approx(1.0)
    # raised to 0.1: ln(0.1/0.5) = -ln 5 on the first pair, 0 on the second
    assert metrics.vg([0.0, 1.0], [0.5, 1.0], threshold=0.1) == pytest.approx(math.exp(math.log(5) ** 2 / 2))
    # FAC2: an observed zero agrees only with a predicted zero (or both below the threshold)
    assert metrics.fac2([0.0, 1.0], [0.0, 1.0]) == 1.0
    assert metrics.fac2([0.0, 1.0], [0.5, 1.0]) == 0.5
    assert metrics.fac2([0.05, 1.0], [0.08, 1.0], threshold=0.1) == 1.0


def test_negative_values_and_zero_denominators():
    assert metrics.fb([-1.0, 3.0], [1.0, 1.0]) == pytest.approx(0.0)
    assert metrics.nmse([-1.0, 3.0], [1.0, 1.0]) == pytest.approx(4.0)
    assert math.isnan(metrics.mg([-1.0, 3.0], [1.0, 1.0]))
    assert math.isnan(metrics.nmse([-1.0, 1.0], [1.0, 1.0]))  # mean Co = 0: undefined
    assert math.isnan(metrics.fb([0.0, 0.0], [0.0, 0.0]))
    with pytest.raises(ValueError, match="must pair up"):
        metrics.fb([1.0, 2.0], [1.0])


def test_bootstrap_of_a_constant_factor_has_zero_width():
    co = np.random.default_rng(1).lognormal(size=40)
    ci = bootstrap.confidence_intervals(co, 2 * co, metrics=["fb", "mg", "fac2"], n=200)
    assert ci["fb"] == pytest.approx({"value": -2 / 3, "low": -2 / 3, "high": -2 / 3})
    assert ci["mg"]["low"] == pytest.approx(0.5) and ci["mg"]["high"] == pytest.approx(0.5)
    assert ci["fac2"] == pytest.approx({"value": 1.0, "low": 1.0, "high": 1.0})


def test_bootstrap_intervals_bracket_the_value_and_are_seeded():
    rng = np.random.default_rng(2)
    co = rng.lognormal(size=60)
    cp = co * rng.lognormal(sigma=0.5, size=60)
    first = bootstrap.confidence_intervals(co, cp, n=400, seed=3)
    again = bootstrap.confidence_intervals(co, cp, n=400, seed=3)
    assert first == again
    for name, interval in first.items():
        if name == "r" and not np.isfinite(interval["value"]):
            continue
        assert interval["low"] <= interval["value"] <= interval["high"], name
    with pytest.raises(ValueError, match="unknown measure"):
        bootstrap.confidence_intervals(co, cp, metrics=["fa2"])


def test_difference_between_two_models():
    co = np.random.default_rng(4).lognormal(size=50)
    out = bootstrap.difference(co, co, 2 * co, metrics=["fb", "fac2"], n=300)
    assert out["fb"]["value"] == pytest.approx(2 / 3) and out["fb"]["significant"]
    assert out["fac2"]["value"] == 0.0 and not out["fac2"]["significant"]

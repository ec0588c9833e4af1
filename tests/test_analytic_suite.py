"""The analytic verification suite on its coarse set: orders, monotonicity, conservation, figures."""

import json
import math

import pytest

from engine.errors import ConfigError
from validation.analytic_cases import observed_orders
from validation.analytic_suite import run_suite


def test_observed_orders_from_hand_values():
    assert observed_orders([10.0, 5.0, 2.5], [4.0, 1.0, 0.25]) == pytest.approx([2.0, 2.0])
    assert math.isnan(observed_orders([10.0, 5.0], [0.0, 1.0])[0])


def test_coarse_analytic_suite_passes_with_the_expected_orders(tmp_path):
    result = run_suite({"resolution": "coarse"}, tmp_path, "numpy")
    s = result.scores
    print("puff orders", s["puff"]["orders"], "plume orders", s["plume"]["orders"],
          {k: v["orders"] for k, v in s["step"].items()})
    assert result.passed is True
    assert s["puff"]["orders"][0] >= 1.5 and s["plume"]["orders"][0] >= 1.3
    # a discontinuity: upwind converges at about ½, the compressive superbee limiter fastest
    assert s["step"]["upwind"]["orders"][0] == pytest.approx(0.5, abs=0.1)
    assert s["step"]["superbee"]["l1_error"][-1] < s["step"]["mc"]["l1_error"][-1] < s["step"]["upwind"]["l1_error"][-1]
    assert all(v["monotone"] and v["tvd"] for v in s["step"].values())
    assert all(run["relative_change"] <= 1e-5 for run in s["mass"]["runs"].values())
    json.dumps(s)  # the scores are plain JSON
    figures = [f.path for section in result.sections for f in section.figures]
    assert len(figures) == 3 and all(p.stat().st_size > 5000 for p in figures)


def test_unknown_resolution_names_the_option(tmp_path):
    with pytest.raises(ConfigError, match="resolution"):
        run_suite({"resolution": "ultra"}, tmp_path, "numpy")

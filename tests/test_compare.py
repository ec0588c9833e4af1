"""Retrofit comparisons: linearity of removal, what-if functions, costs and the compare command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from engine.errors import ConfigError
from scenarios.catalogue import Equipment, annual_cost, load_equipment, load_facilities
from scenarios.compare import run_compare, summarise
from scenarios.ensemble import run_ensemble
from scenarios.perturbations import sample_members
from scenarios.retrofit import remaining_fractions, removed_tonnes_per_year, retrofit

from ensemble_configs import tiny_run

ROOT = Path(__file__).resolve().parents[1]
NINETY = Equipment("test_scrubber", "", {"SO2": 0.9}, 1.0e8, 1.0e7, "constructed for the test", "")


def test_ninety_percent_removal_on_the_only_source_lowers_every_concentration_by_ninety_percent():
    # Transport is linear in the concentration (advection with a flux limiter is positively
    # homogeneous, diffusion and deposition are linear), so scaling the only SO2 source by 0.1
    # scales every SO2 value by 0.1; PM10 from the same stack is untouched. float64: round-off only.
    run = tiny_run(dtype="float64", stop=300.0)
    met = sample_members({"direction_sd": 20.0, "speed_sigma": 0.3}, 3, "lhs", seed=5)
    result = run_compare(run, {"scrubbed": {"stack": [NINETY]}}, met, average_from=120.0, progress=False)
    so2, pm10 = result.species.index("SO2"), result.species.index("PM10")
    base, alt = result.ground[0, :, so2], result.ground[1, :, so2]
    assert base.max() > 0
    np.testing.assert_allclose(alt, 0.1 * base, rtol=1e-10, atol=1e-12 * base.max())
    np.testing.assert_allclose(result.sites[1, :, so2], 0.1 * result.sites[0, :, so2], rtol=1e-10)
    np.testing.assert_array_equal(result.ground[1, :, pm10], result.ground[0, :, pm10])
    # The what-if as a function from scenario to scenario gives the same field, run on its own.
    alone = run_ensemble(retrofit(run, {"stack": [NINETY]}), met, average_from=120.0, progress=False)
    plain = run_ensemble(run, met, average_from=120.0, progress=False)
    np.testing.assert_allclose(alone.ground[:, so2], 0.1 * plain.ground[:, so2], rtol=1e-10,
                               atol=1e-12 * plain.ground.max())


def test_devices_in_series_multiply_what_remains_and_installed_ones_are_refused():
    fractions = remaining_fractions({"dyeing_works": ["cyclone", "bag_filter"]},
                                    {"dyeing_works": ["SO2", "PM10", "PM2.5"]})
    eq = load_equipment()
    assert fractions["dyeing_works"]["PM10"] == pytest.approx((1 - eq["cyclone"].removal["PM10"]) * 0.01)
    assert fractions["dyeing_works"]["SO2"] == 1.0
    with pytest.raises(ConfigError, match="already installed"):
        remaining_fractions({"iron_foundry": ["bag_filter"]}, {"iron_foundry": ["PM10"]})
    with pytest.raises(ConfigError, match="not in scenarios/catalogues/equipment.yaml"):
        remaining_fractions({"dyeing_works": ["magic_filter"]}, {"dyeing_works": ["PM10"]})
    with pytest.raises(ConfigError, match="not a source"):
        remaining_fractions({"nowhere": ["bag_filter"]}, {"dyeing_works": ["PM10"]})


def test_tonnes_removed_and_annualised_cost():
    run = {"sources": [{"name": "dyeing_works", "unit": "g/s", "emissions": {"SO2": 1.8, "PM10": 0.25}}]}
    removed = removed_tonnes_per_year(run, {"dyeing_works": {"SO2": 0.05, "PM10": 1.0}})
    hours = load_facilities()["dyeing_works"].operating_hours_per_year
    assert removed["SO2"] == pytest.approx(1.8e-3 * 0.95 * hours * 3600 / 1000)
    assert removed["PM10"] == 0.0
    # Capital recovery factor at 4.5 % over 10 years is 0.12638; plus the operating cost.
    assert annual_cost(load_equipment()["wet_scrubber"]) == pytest.approx(350e6 * 0.126379 + 45e6, rel=1e-5)


def test_facility_inventory_matches_the_default_park_sources():
    stacks = yaml.safe_load((ROOT / "conf/sources/park_stacks.yaml").read_text())["sources"]
    facilities = load_facilities()
    assert {s["name"] for s in stacks} == set(facilities)
    for s in stacks:
        f = facilities[s["name"]]
        assert (f.x, f.y, f.stack_height) == (s["x"], s["y"], s["height"])
        assert f.emissions == s["emissions"]


def test_summary_counts_exceedances_and_ranks_alternatives():
    run = tiny_run(stop=240.0, species=("SO2", "PM10"))
    met = [{"record_hour": h, "direction_offset": 3.0 * h} for h in range(10)]
    alternatives = {"scrubbed": {"stack": ["wet_scrubber"]}, "filtered": {"stack": ["bag_filter"]}}
    result = run_compare(run, alternatives, met, average_from=120.0, background={"PM10": 99.0}, progress=False)
    table = summarise(result, run, percentiles=(95,))
    base = table["scenarios"]["baseline"]["sites"]["PM10"]["near"]
    filtered = table["scenarios"]["filtered"]["sites"]["PM10"]["near"]
    # PM10 = 99 µg/m³ background + the stack: hours above the 24-h standard can only be counted
    # over 24-h windows, and 10 hours form none; the 10-h period mean is compared with the annual one.
    assert base["exceedances"]["24h"]["windows"] == 0
    assert base["exceedances"]["annual"]["count"] == 1 and filtered["exceedances"]["annual"]["count"] == 1
    assert filtered["reduction_mean"] == pytest.approx(0.99 * (base["mean"] - 99.0), rel=1e-4)
    assert [r["scenario"] for r in table["ranking"]] in (["scrubbed", "filtered"], ["filtered", "scrubbed"])
    assert all(r["cost_per_tonne"] > 0 for r in table["ranking"])


def test_compare_command_writes_a_self_contained_report(tmp_path):
    args = [sys.executable, "-m", "engine.app.cli", "compare", "grid=tiny", "sources=tiny", "receptors=tiny",
            "backend=numpy", "grid.nx=40", "grid.ny=30", "grid.dx=25", "grid.dy=25", "grid.nz=8", "grid.dz_bottom=5",
            "grid.stretch=1.2", "time.stop=300", "compare.average_from=120", "compare.met.record.count=8",
            "~compare.alternatives",  # replace the park's alternatives rather than merge into them
            "+compare.alternatives={scrub: {test_stack: [wet_scrubber]}, dust: {test_stack: [bag_filter, cyclone]}}",
            f"output.dir={tmp_path}", "output.progress=false"]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1. " in done.stdout and "2. " in done.stdout
    html = (tmp_path / "park_compare.html").read_text()
    assert html.count("data:image/png;base64,") == 5 and "src=\"http" not in html
    table = json.loads((tmp_path / "park_compare.json").read_text())
    assert set(table["scenarios"]) == {"baseline", "scrub", "dust"}
    assert len(list(tmp_path.glob("park_compare_*.png"))) == 5

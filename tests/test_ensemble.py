"""Ensembles: member sampling, statistics with closed-form answers, chunking, perturbations, the task."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.stats import norm

from engine.errors import ConfigError
from scenarios.ensemble import build_ensemble_model, chunk_size, chunks, bytes_per_member, run_ensemble
from scenarios.ensemble_stats import ensemble_statistics
from scenarios.perturbations import record_members, sample_members

from ensemble_configs import tiny_run

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "scenarios/data/sinpyeong_spring_day_constructed.csv"


# --- statistics on member sets with known answers ---------------------------------------------------
def test_statistics_of_an_arithmetic_member_set_match_closed_forms():
    # Members v_m = m · f (m = 1..M): mean (M+1)/2 · f, population sd sqrt((M²−1)/12) · f, the linear
    # p-th percentile (1 + p/100 · (M−1)) · f, and P(v > T) = #{m : m f > T} / M.
    members, f = 20, np.array([[1.0, 2.5], [0.2, 4.0]])
    values = np.arange(1, members + 1)[:, None, None] * f
    stats = ensemble_statistics(values, percentiles=(10, 50, 95), threshold=7.0)
    np.testing.assert_allclose(stats["mean"], (members + 1) / 2 * f, rtol=1e-14)
    np.testing.assert_allclose(stats["std"], np.sqrt((members**2 - 1) / 12) * f, rtol=1e-14)
    for p in (10, 50, 95):
        np.testing.assert_allclose(stats[f"p{p}"], (1 + p / 100 * (members - 1)) * f, rtol=1e-14)
    expected = np.array([[(np.arange(1, members + 1) * v > 7.0).mean() for v in row] for row in f])
    np.testing.assert_array_equal(stats["exceedance_probability"], expected)


def test_lognormal_emission_members_scale_the_plume_as_predicted():
    # With the weather fixed, member m's field is f_m times the unperturbed one (transport is linear).
    # Members at the equal-probability quantiles f_m = exp(σ Φ⁻¹((m + ½)/M)) of a log-normal factor
    # then give, in closed form: mean = c · mean(f), median = c · exp(0) = c (M odd), and
    # P(c_m > T) = #{m : f_m > T/c} / M. float64, so the tolerances are round-off.
    sigma, n = 0.5, 9
    factors = np.exp(sigma * norm.ppf((np.arange(n) + 0.5) / n))
    run = tiny_run(dtype="float64", stop=240.0)
    base = run_ensemble(run, [{}], progress=False).ground[0, 0]
    result = run_ensemble(run, [{"emission_factor": float(f)} for f in factors], progress=False)
    threshold = 0.3 * base.max()
    stats = ensemble_statistics(result.ground[:, 0], percentiles=(50,), threshold=threshold)
    scale = base.max()
    np.testing.assert_allclose(stats["mean"], base * factors.mean(), rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(stats["p50"], base, rtol=1e-9, atol=1e-12 * scale)
    inside = base > 1e-6 * scale
    with np.errstate(divide="ignore"):
        expected = (factors[:, None, None] > threshold / base[None]).mean(axis=0)
    ratio = threshold / base
    clear = inside & np.all(np.abs(factors[:, None, None] / ratio[None] - 1) > 1e-6, axis=0)  # no member at T
    np.testing.assert_array_equal(stats["exceedance_probability"][clear], expected[clear])
    assert 0 < stats["exceedance_probability"].max() <= 1


# --- sampling --------------------------------------------------------------------------------------------
SPEC = {"direction_sd": 10.0, "speed_sigma": 0.3, "emission_sigma": 0.2,
        "stability": {"classes": ["C", "D", "E"], "weights": [1, 2, 1]},
        "release": {"position_sd": 20.0, "time_spread": 600.0}}


@pytest.mark.parametrize("method", ["random", "lhs", "sobol"])
def test_sampling_is_reproducible_and_complete(method):
    first = sample_members(SPEC, 16, method, seed=3)
    assert first == sample_members(SPEC, 16, method, seed=3)
    assert first != sample_members(SPEC, 16, method, seed=4)
    keys = {"direction_offset", "speed_factor", "emission_factor", "stability", "release_dx", "release_dy",
            "release_delay", "label"}
    assert all(set(m) == keys for m in first)
    assert all(0 <= m["release_delay"] <= 600 and m["speed_factor"] > 0 for m in first)


def test_latin_hypercube_stratifies_every_perturbation():
    # A Latin hypercube puts exactly one member in each of the n equal-probability strata of every
    # dimension, so the class counts follow the weights exactly when n · weight is whole.
    n = 8
    members = sample_members(SPEC, n, "lhs", seed=11)
    for key, to_unit in (("direction_offset", lambda v: norm.cdf(v / 10.0)),
                         ("speed_factor", lambda v: norm.cdf(np.log(v) / 0.3)),
                         ("release_delay", lambda v: v / 600.0)):
        strata = np.floor(to_unit(np.array([m[key] for m in members])) * n).astype(int)
        assert sorted(strata) == list(range(n)), key
    classes = [m["stability"] for m in members]
    assert (classes.count("C"), classes.count("D"), classes.count("E")) == (2, 4, 2)


def test_bad_perturbations_are_refused_by_name():
    with pytest.raises(ConfigError, match="ensemble.perturbations.direction_spread"):
        sample_members({"direction_spread": 5}, 4)
    with pytest.raises(ConfigError, match="ensemble.method"):
        sample_members(SPEC, 4, "monte-carlo")
    with pytest.raises(ConfigError, match="stability.classes"):
        sample_members({"stability": {"classes": ["G"]}}, 4)


def test_record_members_are_the_hours_of_the_record():
    members = record_members(RECORD)
    assert len(members) == 24
    assert [m["record_hour"] for m in members] == list(range(24))
    every_third = record_members(RECORD, every_hours=3, count=4)
    assert [m["label"] for m in every_third] == [members[i]["label"] for i in (0, 3, 6, 9)]
    assert every_third[1]["speed"] == members[3]["speed"]


# --- perturbations reach the engine -------------------------------------------------------------------
def test_members_get_their_own_wind_and_moved_releases():
    run = tiny_run(stop=240.0)
    members = [{}, {"direction_offset": 180.0}, {"release_dy": 100.0}, {"speed_factor": 0.5}]
    model, _ = build_ensemble_model(run, members)
    u = model.wind.u[:, 0, 0, 0, 5]
    np.testing.assert_allclose(u, [4.0, -4.0, 4.0, 2.0], atol=1e-5)  # from the west, east, west, half speed
    result = run_ensemble(run, members, progress=False)
    y = result.grid.y_centres
    ground = result.ground[:, 0]
    centroid = [(g.sum(axis=1) * y).sum() / g.sum() for g in ground]
    # A plume moved 100 m north by the release perturbation lies 100 m north (to a quarter cell).
    assert centroid[2] - centroid[0] == pytest.approx(100.0, abs=25.0 / 4)
    x = result.grid.x_centres
    east = [(g.sum(axis=0) * x).sum() / g.sum() for g in ground]
    assert east[1] < 380200.0 < east[0]  # the reversed wind carries the plume west of the stack


def test_chunks_give_the_same_members_as_one_batch():
    run = tiny_run(stop=180.0)
    members = sample_members({"direction_sd": 20.0, "emission_sigma": 0.3}, 5, "lhs", seed=2)
    one = run_ensemble(run, members, chunk=5, progress=False)
    split = run_ensemble(run, members, chunk=2, progress=False)
    assert [len(c) for c in chunks(5, 2)] == [2, 2, 1] or [len(c) for c in chunks(5, 2)] == [2, 1, 2]
    np.testing.assert_allclose(split.ground, one.ground, rtol=1e-5, atol=1e-6 * one.ground.max())
    np.testing.assert_allclose(split.receptors, one.receptors, rtol=1e-5, atol=1e-6 * one.receptors.max())


def test_chunk_size_follows_the_memory_budget():
    from engine.app.build import build_grid
    from engine.app.validate import to_run_config

    grid = build_grid(to_run_config(tiny_run()))
    per = bytes_per_member(grid, 2)
    assert chunk_size(grid, 2, 100, budget=int(3.5 * per)) == 3
    assert chunk_size(grid, 2, 2, budget=10 * per) == 2
    with pytest.raises(ConfigError, match="memory_budget"):
        chunk_size(grid, 2, 10, budget=per // 2)


# --- the task ----------------------------------------------------------------------------------------
def test_ensemble_command_writes_statistics_and_maps(tmp_path):
    args = [sys.executable, "-m", "engine.app.cli", "ensemble", "grid=tiny", "sources=tiny", "receptors=tiny",
            "backend=numpy", "met=constant", "time.stop=300", "ensemble.average_from=120", "ensemble.members=6",
            "ensemble.method=sobol", f"output.dir={tmp_path}", "output.progress=false"]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "6 members (sobol)" in done.stdout
    with h5py.File(tmp_path / "park_ensemble.h5") as f:
        assert f["species/SO2/members"].shape == (6, 30, 40)
        for key in ("mean", "std", "p50", "p95", "exceedance_probability"):
            assert f[f"species/SO2/{key}"].shape == (30, 40)
        np.testing.assert_allclose(f["species/SO2/mean"][()], f["species/SO2/members"][()].mean(axis=0), rtol=1e-5)
        assert f["receptors/SO2/members"].shape == (6, 2)
    assert len(list(tmp_path.glob("park_ensemble_*.png"))) == 4


def test_each_chunk_can_carry_extra_callbacks():
    from engine.schedules import IterationInterval

    class PeakAtReceptors:
        schedule = IterationInterval(1)

        def __init__(self, sampler):
            self.sampler, self.peak = sampler, None

        def __call__(self, sim):
            values = sim.model.grid.backend.to_host(self.sampler.sample(sim.model.state))
            self.peak = values if self.peak is None else np.maximum(self.peak, values)

    members = [{}, {"emission_factor": 2.0}, {"emission_factor": 3.0}]
    result = run_ensemble(tiny_run(stop=180.0), members, chunk=2, progress=False,
                          chunk_callbacks=lambda model, sampler, part: {"peak": PeakAtReceptors(sampler)})
    assert [list(part) for part, _ in result.chunk_callbacks] == [[0, 1], [2]] or \
        [list(part) for part, _ in result.chunk_callbacks] == [[0], [1, 2]]
    peaks = np.concatenate([extra["peak"].peak for _, extra in result.chunk_callbacks])
    np.testing.assert_allclose(peaks[:, 0] / peaks[0, 0], np.outer([1.0, 2.0, 3.0], [1.0, 1.0]), rtol=1e-5)


def test_record_ensemble_from_python_counts_standards_over_the_hours(tmp_path):
    from scenarios.ensemble_task import ensemble_task

    cfg = tiny_run(stop=180.0, species=("SO2", "PM10"))
    cfg["met"] = {**cfg["met"], "record": str(RECORD)}
    cfg["ensemble"] = {"method": "record", "record": {"count": 4}, "average_from": 60.0, "thresholds": {"SO2": "1h"}}
    summary = ensemble_task(cfg, tmp_path)
    assert summary["members"] == 4 and summary["thresholds"]["SO2"] == pytest.approx(392.8, rel=1e-3)
    one_hour = summary["exceedances"]["SO2"]["1h"]["near"]
    assert one_hour["windows"] == 4 and one_hour["exceedances"] == 0
    assert summary["exceedances"]["SO2"]["24h"]["near"]["windows"] == 0  # 4 hours form no 24-h window
    with h5py.File(summary["h5"]) as f:
        assert f.attrs["method"] == "record" and f["species/SO2/members"].shape[0] == 4

"""Sensor scoring round trip: a run's own receptor series, written as a sensor record, scores back
perfectly; a copy with a known multiplicative bias gives the hand-computed fractional bias."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.output.sensors import export_sensor_records
from validation.sensor_suite import pair_series, run_suite, score_pairs

TINY = ["grid=tiny", "sources=tiny", "receptors=tiny", "time.stop=600", "backend=numpy", "output=fast",
        "met=constant", "met.speed=3", "met.direction=257"]  # towards the downwind receptor
START = "2024-05-01T09:00:00+09:00"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("run")
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    command = [sys.executable, "-c", "import sys; from engine.app.cli import main; sys.exit(main())", "run", *TINY,
               f"hydra.run.dir={directory}"]
    done = subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    paths = export_sensor_records(directory / "park.h5", directory, start=START)
    return {"run": directory / "park.h5", **paths}


def scaled_copy(source: Path, target: Path, factor: float) -> Path:
    with source.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with target.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "value": repr(float(row["value"]) * factor)})
    return target


def options(exported, records) -> dict:
    return {"run": str(exported["run"]), "records": str(records), "stations": str(exported["stations"]),
            "start": START, "species": ["SO2", "NO2"], "bootstrap": 50, "seed": 0}


def test_the_runs_own_series_scores_back_perfectly(exported, tmp_path):
    result = run_suite(options(exported, exported["sensors"]), tmp_path, "numpy")
    so2 = result.scores["species"]["SO2"]["overall"]
    assert so2["n"] == 2 * 21  # two receptors, samples every 30 s from 0 to 600 s
    assert abs(so2["metrics"]["fb"]["value"]) < 1e-12
    assert so2["metrics"]["fac2"]["value"] == 1.0
    assert result.passed is True
    assert any(f.path.name.startswith("series_SO2") for s in result.sections for f in s.figures)


def test_a_known_bias_gives_the_hand_computed_fractional_bias(exported, tmp_path):
    # observations 1.5 × the model: FB = (1.5 − 1)/(½ (1.5 + 1)) = 0.4
    biased = scaled_copy(exported["sensors"], tmp_path / "biased.csv", 1.5)
    result = run_suite(options(exported, biased), tmp_path / "out", "numpy")
    for species in ("SO2", "NO2"):
        metrics = result.scores["species"][species]["overall"]["metrics"]
        assert metrics["fb"]["value"] == pytest.approx(0.4, rel=1e-9)
        assert metrics["fac2"]["value"] == 1.0  # a factor 1.5 is within a factor of two
        # every resample keeps the ratio 1.5 everywhere, so the bootstrap interval collapses onto 0.4
        assert metrics["fb"]["low"] == pytest.approx(0.4, rel=1e-9) and metrics["fb"]["high"] == pytest.approx(0.4, rel=1e-9)


def test_window_pairing_and_ensemble_scores_by_hand():
    model_times = np.array([0.0, 30.0, 60.0, 90.0])
    values = np.array([[1.0, 3.0], [2.0, 4.0], [3.0, 5.0], [4.0, 6.0]])  # (time, member)
    paired = pair_series(model_times, values, np.array([60.0, 90.0, 30.0, 500.0]), np.array([60.0, 0.0, np.nan, 60.0]))
    # (0, 60] holds 30 and 60 s: means 2.5 and 4.5; instantaneous readings take their sample; 500 s has none
    np.testing.assert_allclose(paired[:, :3], [[2.5, 4.0, 2.0], [4.5, 6.0, 4.0]])
    assert np.all(np.isnan(paired[:, 3]))
    scores = score_pairs(np.array([3.5, 5.0, 3.0]), paired[:, :3], bootstrap=20, seed=0, threshold=None)
    assert scores["n"] == 3 and math.isclose(scores["metrics"]["fb"]["value"], 0.0, abs_tol=1e-12)
    assert scores["ensemble"]["rank_histogram"]["counts"] == [0, 3, 0]

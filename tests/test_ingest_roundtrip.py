"""Round trip: the sensor series a run writes, read back by ingest (from the run file, from the
cleaned table ingest writes, and from the long-schema export), reproduce the run's values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.observations import read_sensor_records
from engine.output import open_run
from engine.output.sensors import export_sensor_records

TINY = ["grid=tiny", "sources=tiny", "receptors=tiny", "time.stop=600", "backend=numpy", "output=fast",
        "met=neutral", "met.speed=3", "met.direction=250"]
START = "2024-05-01T09:00:00+09:00"


def plumetwin(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    command = [sys.executable, "-c", "import sys; from engine.app.cli import main; sys.exit(main())"]
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def run_file(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("run")
    done = plumetwin("run", *TINY, f"hydra.run.dir={directory}", cwd=directory)
    assert done.returncode == 0, done.stderr
    return directory / "park.h5"


def expected_series(run_file: Path) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """{(receptor, species): (UTC times, kg/m³ values of member 0)} straight from the run file."""
    out = {}
    origin = np.datetime64("2024-05-01T00:00:00", "s")
    with open_run(run_file) as run:
        for species in run.species:
            series = run.receptors(species)
            times = origin + np.round(series.coords["time"]).astype("timedelta64[s]")
            for n, receptor in enumerate(series.coords["receptor"]):
                out[(str(receptor), species)] = (times, series.values[:, 0, n].astype(np.float64))
    return out


def assert_reproduces(records, expected, rtol):
    assert any(np.any(values > 0) for _, values in expected.values()), "the plume reaches no receptor"
    assert len(records) == sum(t.size for t, _ in expected.values())
    assert records.source_line.min() > 0  # no row was inserted: the run's series are regular
    for (receptor, species), (times, values) in expected.items():
        rows = (records.station_id == receptor) & (records.species == species)
        np.testing.assert_array_equal(records.time[rows], times)
        np.testing.assert_allclose(records.value[rows], values, rtol=rtol, atol=0)


def test_ingesting_the_run_file_reproduces_its_sensor_series_exactly(run_file):
    expected = expected_series(run_file)
    records, report = read_sensor_records(run_file, start=START)
    assert_reproduces(records, expected, rtol=0)  # float32 → float64 is exact
    with open_run(run_file) as run:
        grid = run.grid
    assert list(records.stations.station_id) == ["downwind", "crosswind"]
    assert records.stations.crs == grid["crs"] and records.stations.x[0] == 380700.0
    assert report.flag_counts["unparseable"] == 0 and report.flag_counts["unknown_species"] == 0


def test_ingest_task_writes_a_table_that_ingests_back_to_the_same_values(run_file, tmp_path):
    out = tmp_path / "ingest"
    done = plumetwin("ingest", f"records={run_file}", f"domain={run_file}", f"start={START}", "name=park",
                     "zone=+09:00", f"hydra.run.dir={out}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "records: " in done.stdout and (out / "park_qc.json").exists() and (out / "park_qc.html").exists()
    again, _ = read_sensor_records(out / "park_records.csv", stations=out / "park_stations.csv")
    # kg/m³ → µg/m³ text (17 digits) → kg/m³: two float64 roundings
    assert_reproduces(again, expected_series(run_file), rtol=1e-14)
    first, _ = read_sensor_records(run_file, start=START)
    assert np.array_equal(again.qc, first.qc)  # the same values raise the same flags
    np.testing.assert_array_equal(again.stations.x, first.stations.x)


def test_long_schema_export_of_a_run_ingests_back(run_file, tmp_path):
    paths = export_sensor_records(run_file, tmp_path, start=START, unit="ppb")
    assert paths["sensors"].name == "park_sensors.csv"
    header = paths["sensors"].read_text(encoding="utf-8").splitlines()[0]
    assert header == "time,station_id,species,value,unit,qc"
    records, _ = read_sensor_records(paths["sensors"], stations=paths["stations"])
    # ppb with each species' molar mass and back (particles stay in µg/m³): a few roundings
    assert_reproduces(records, expected_series(run_file), rtol=1e-13)

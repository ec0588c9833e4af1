"""``plumetwin ingest`` end to end: the Seoul excerpt through its mapping, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def plumetwin(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, "-c", "import sys; from engine.app.cli import main; sys.exit(main())"]
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_ingest_seoul_hourly_writes_table_stations_and_qc_report(tmp_path):
    out = tmp_path / "out"
    done = plumetwin("ingest", f"records={ROOT}/validation/data/seoul_air_quality/hourly_2020-02-26_2020-03-03.csv",
                     f"mapping={ROOT}/conf/ingest/seoul_hourly.yaml", "name=seoul", "zone=+09:00",
                     f"hydra.run.dir={out}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "seoul: 1008 rows (864 read, 144 inserted for missing times)" in done.stdout
    assert "whole day 2020-02-29 (+09:00) missing" in done.stdout and "the header is mislabelled" in done.stdout
    table = (out / "seoul_records.csv").read_text(encoding="utf-8").splitlines()
    assert table[0] == "time,station_id,species,value,unit,qc" and len(table) == 1 + 1008
    assert any(line.startswith("2020-02-29T01:00:00+09:00,seoul_city_average,") and line.endswith(",8")
               for line in table)  # the inserted rows, flagged missing (bit 8), nothing dropped
    report = json.loads((out / "seoul_qc.json").read_text(encoding="utf-8"))
    assert report["rows_inserted"] == 144 and report["flag_counts"]["missing"] == 144
    assert (out / "seoul_qc.txt").exists() and (out / "seoul_qc.html").exists()


@pytest.mark.parametrize(("text", "expected"), [
    ("time,station_id,species,value,unit,qc\n2024-05-01T09:00+09:00,a,NO2,0.02,ppm\n",
     "plumetwin: error: bad.csv: line 2, column qc: 5 fields where the header has 6"),
    ("when,station_id,species,value,unit\n", "plumetwin: error: bad.csv: line 1: lacks the column(s) time"),
])
def test_malformed_records_exit_2_naming_file_line_and_column_without_traceback(tmp_path, text, expected):
    (tmp_path / "bad.csv").write_text(text, encoding="utf-8")
    done = plumetwin("ingest", "records=bad.csv", f"hydra.run.dir={tmp_path / 'out'}", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith(expected), done.stderr
    assert "Traceback" not in done.stderr


def test_missing_records_argument_is_named(tmp_path):
    done = plumetwin("ingest", f"hydra.run.dir={tmp_path / 'out'}", cwd=tmp_path)
    assert done.returncode == 2 and "records" in done.stderr and "Traceback" not in done.stderr


def test_domain_from_a_grid_config_flags_stations_outside_it(tmp_path):
    (tmp_path / "r.csv").write_text("time,station_id,species,value,unit\n"
                                    "2024-05-01T09:00+09:00,inside,SO2,10,ug/m3\n"
                                    "2024-05-01T09:00+09:00,far,SO2,10,ug/m3\n", encoding="utf-8")
    # the tiny grid spans x 380000-381000, y 180000-180750 m in EPSG:5186: put "inside" there
    from engine.observations.projection import projected_to_lonlat

    lon, lat = projected_to_lonlat(380500.0, 180400.0, "EPSG:5186")
    (tmp_path / "s.csv").write_text(f"station_id,lon,lat,z_agl\ninside,{float(lon)!r},{float(lat)!r},2\nfar,127.0,37.5,2\n",
                                    encoding="utf-8")
    out = tmp_path / "out"
    done = plumetwin("ingest", "records=r.csv", "stations=s.csv", "domain=tiny", f"hydra.run.dir={out}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[outside_domain] station outside the domain" in done.stdout and "'far'" in done.stdout
    stations = (out / "records_stations.csv").read_text(encoding="utf-8").splitlines()
    x = float(stations[1].split(",")[1])
    assert stations[1].startswith("inside,") and x == pytest.approx(380500.0, abs=1e-6)

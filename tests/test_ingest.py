"""Ingest: the long schema read with tz-aware times and unit conversion, every QC flag raised by
the record that deserves it, clear errors for broken files, and the long table written back."""

import json

import numpy as np
import pytest

from engine import Grid
from engine.observations import (ObservationFileError, QCFlag, StationTable, parse_time, read_sensor_records,
                                 read_station_table, write_long_csv, write_long_hdf5, write_long_parquet)
from engine.units import GAS_CONSTANT

HEADER = "time,station_id,species,value,unit,qc\n"


def write(tmp_path, text, name="records.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def hourly(station, species, values, unit="ug/m3", start_hour=0, day="2024-05-01", zone="+09:00"):
    lines = []
    for k, v in enumerate(values):
        hour = start_hour + k
        stamp = f"{day}T{hour:02d}:00{zone}" if hour < 24 else f"2024-05-02T{hour - 24:02d}:00{zone}"
        lines.append(f"{stamp},{station},{species},{v},{unit},0\n")
    return "".join(lines)


def test_times_are_utc_and_the_kst_hour_24_is_midnight_of_the_next_day():
    assert parse_time("2024-05-01T09:00+09:00") == np.datetime64("2024-05-01T00:00:00")
    assert parse_time("2024-05-01 24:00", "KST") == np.datetime64("2024-05-01T15:00:00")
    assert parse_time("20240501", "+09:00") == np.datetime64("2024-04-30T15:00:00")
    assert parse_time("2024-05-01T00:00Z") == np.datetime64("2024-05-01T00:00:00")
    assert parse_time("2024-05-01 10:00", "Asia/Seoul") == np.datetime64("2024-05-01T01:00:00")
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_time("2024-05-01T09:00")


def test_ppm_ppb_and_mass_units_become_kg_per_m3_with_molar_mass_temperature_and_pressure(tmp_path):
    text = HEADER.replace("qc", "qc,temperature_k,pressure_pa")
    text += "2024-05-01T09:00+09:00,a,SO2,0.05,ppm,0,,\n"
    text += "2024-05-01T09:00+09:00,b,SO2,50,ppb,0,,\n"
    text += "2024-05-01T09:00+09:00,c,SO2,131,µg/m³,0,,\n"
    text += "2024-05-01T09:00+09:00,d,SO2,0.05,ppm,0,273.15,90000\n"
    records, _ = read_sensor_records(write(tmp_path, text))
    by = {s: v for s, v in zip(records.station_id, records.value)}
    so2 = 0.06407
    at_25c = 0.05e-6 * so2 * 101325.0 / (GAS_CONSTANT * 298.15)  # ~1.31e-7 kg/m³ = 131 µg/m³
    assert by["a"] == pytest.approx(at_25c, rel=1e-12)
    assert by["b"] == pytest.approx(at_25c, rel=1e-12)
    assert by["c"] == pytest.approx(131e-9, rel=1e-12)
    assert by["d"] == pytest.approx(0.05e-6 * so2 * 90000.0 / (GAS_CONSTANT * 273.15), rel=1e-12)
    assert records.time[0] == np.datetime64("2024-05-01T00:00:00")


def flagged(records, flag, station=None):
    rows = records.flagged(flag)
    if station is not None:
        rows &= records.station_id == station
    return rows


def test_each_problem_gets_its_flag_and_nothing_is_dropped(tmp_path):
    text = HEADER
    text += hourly("range", "PM10", [30, 31, -5, 32, 5000])
    text += hourly("spike", "PM10", [30, 31, 29, 30, 400, 31, 30, 32, 29])
    text += hourly("flat", "PM10", [45] * 14)
    text += hourly("gap", "PM10", [30, 31, "", 33])  # an empty value
    text += hourly("gap", "PM10", [35, 36], start_hour=6)  # hours 4 and 5 absent
    text += hourly("dup", "NO2", [0.02, 0.021])
    text += hourly("dup", "NO2", [0.025], start_hour=1)
    text += hourly("unit", "NO2", [0.02], unit="furlongs")
    text += hourly("unit", "PM10", [0.02], unit="ppm")  # particles have no molar mass
    text += hourly("species", "XYZ", [1.0])
    text += hourly("text", "NO2", ["0.0x2"])
    text += "yesterday,text,NO2,0.02,ppm,0\n"
    text += hourly("outside", "NO2", [0.02])
    text += hourly("wall", "NO2", [0.02])
    text += hourly("nowhere", "NO2", [0.02])
    stations = write(tmp_path, "station_id,x,y,z_agl\n" + "".join(
        f"{name},{x},{y},2\n" for name, x, y in [("range", 100, 100), ("spike", 110, 100), ("flat", 120, 100),
                                                 ("gap", 130, 100), ("dup", 140, 100), ("unit", 150, 100),
                                                 ("species", 160, 100), ("text", 170, 100), ("outside", 900, 100),
                                                 ("wall", 55, 55)]), "stations.csv")
    grid = Grid(30, 20, 10.0, 10.0, np.arange(0, 60, 5.0), crs="EPSG:5186", backend="numpy")
    grid.add_box(40, 70, 40, 70, 20.0)
    path = write(tmp_path, text)
    records, report = read_sensor_records(path, stations=stations, grid=grid)
    lines_in_file = len(text.splitlines()) - 1
    assert report.rows_read == lines_in_file
    assert len(records) == lines_in_file + 2 and report.rows_inserted == 2  # nothing dropped, two added

    assert flagged(records, QCFlag.RANGE, "range").sum() == 2
    assert flagged(records, QCFlag.SPIKE, "spike").sum() == 1
    assert records.value[flagged(records, QCFlag.SPIKE)][0] == pytest.approx(400e-9)
    assert flagged(records, QCFlag.FLAT_LINE, "flat").sum() == 14
    assert flagged(records, QCFlag.MISSING, "gap").sum() == 3
    inserted = records.time[(records.source_line == 0)]
    assert list(inserted) == [np.datetime64("2024-04-30T19:00:00"), np.datetime64("2024-04-30T20:00:00")]
    assert flagged(records, QCFlag.DUPLICATE_TIME, "dup").sum() == 1
    assert flagged(records, QCFlag.UNKNOWN_UNIT, "unit").sum() == 2
    assert flagged(records, QCFlag.UNKNOWN_SPECIES, "species").sum() == 1
    assert flagged(records, QCFlag.UNPARSEABLE, "text").sum() == 2
    assert flagged(records, QCFlag.OUTSIDE_DOMAIN, "outside").sum() == 1
    assert flagged(records, QCFlag.INSIDE_BUILDING, "wall").sum() == 1
    assert flagged(records, QCFlag.UNKNOWN_STATION, "nowhere").sum() == 1
    # unusable rows carry NaN, good rows finite values
    assert np.all(np.isnan(records.value[flagged(records, QCFlag.UNKNOWN_UNIT)]))
    assert np.all(np.isfinite(records.value[records.good]))
    # every flag that occurred is in the report with the lines it came from
    reasons = {i.flag for i in report.issues}
    assert reasons >= {"range", "spike", "flat_line", "missing", "duplicate_time", "unknown_unit",
                       "unknown_species", "unparseable", "outside_domain", "inside_building", "unknown_station"}
    text_issue = [i for i in report.issues_with("unparseable") if i.reason == "text in a number"][0]
    assert text_issue.examples == ["'0.0x2'"] and text_issue.lines == [42]  # header + 40 rows before it


@pytest.mark.parametrize(("text", "where", "what"), [
    (HEADER + "2024-05-01T09:00+09:00,a,NO2,0.02,ppm\n", "records.csv: line 2, column qc", "5 fields where"),
    (HEADER + "2024-05-01T09:00+09:00,a,NO2,0.02,ppm,0\n" + '2024-05-01T10:00+09:00,a,NO2,"0.02,ppm,0\n',
     "records.csv: line 3", "fields where"),
    ("time,station,species,value,unit\n2024-05-01T09:00+09:00,a,NO2,0.02,ppm\n", "records.csv: line 1",
     "lacks the column(s) station_id"),
    ("", "records.csv: line 1", "the file is empty"),
])
def test_a_malformed_file_is_refused_naming_file_line_and_column(tmp_path, text, where, what):
    with pytest.raises(ObservationFileError) as caught:
        read_sensor_records(write(tmp_path, text))
    assert str(caught.value).startswith(where) and what in str(caught.value)


def test_undecodable_text_names_the_line_and_column_and_suggests_cp949(tmp_path):
    path = tmp_path / "records.csv"
    path.write_bytes((HEADER + "2024-05-01T09:00+09:00,").encode() + "강남구".encode("cp949") + b",NO2,0.02,ppm,0\n")
    with pytest.raises(ObservationFileError, match=r"records.csv: line 2, column 24 .*cp949"):
        read_sensor_records(path)
    records, _ = read_sensor_records(path, mapping={"encoding": "cp949"})
    assert records.station_id[0] == "강남구"


def test_station_table_in_lon_lat_is_projected_into_the_grid_crs(tmp_path):
    path = write(tmp_path, "station_id,lon,lat,z_agl\norigin,127.0,38.0,3\nbusan,129.04,35.1,\n", "st.csv")
    table = read_station_table(path, crs="EPSG:5186")
    assert table.x[0] == pytest.approx(200000.0, abs=1e-6) and table.y[0] == pytest.approx(600000.0, abs=1e-6)
    # pyproj 3.7 (PROJ 9) gives 386014.445 331 m E, 280093.633 923 m N for this point
    assert table.x[1] == pytest.approx(386014.4453, abs=1e-3) and table.y[1] == pytest.approx(280093.6339, abs=1e-3)
    assert table.z_agl.tolist() == [3.0, 1.5] and table.lon[1] == 129.04
    with pytest.raises(ObservationFileError, match="st2.csv: line 3, column lat"):
        read_station_table(write(tmp_path, "station_id,lon,lat\na,127,38\nb,127,north\n", "st2.csv"), crs="EPSG:5186")


def test_long_table_round_trips_through_csv_hdf5_and_parquet(tmp_path):
    text = HEADER + hourly("a", "SO2", [0.011, 0.012, 0.013], unit="ppm") + hourly("b", "PM2.5", [12, "", 14])
    original, _ = read_sensor_records(write(tmp_path, text))
    writers = [("csv", write_long_csv), ("h5", write_long_hdf5)]
    try:
        import pyarrow  # noqa: F401
        writers.append(("parquet", write_long_parquet))
    except ImportError:
        pass
    for suffix, writer in writers:
        path = writer(original, tmp_path / f"out.{suffix}", unit="ppb" if suffix == "csv" else "ug/m3")
        again, report = read_sensor_records(path)
        assert np.array_equal(again.time, original.time) and list(again.station_id) == list(original.station_id)
        # ppb ↔ kg/m³ twice: a few float64 roundings, far below 1e-12
        np.testing.assert_allclose(again.value, original.value, rtol=1e-12, equal_nan=True)
        assert np.array_equal(again.qc, original.qc), suffix
    # the HDF5 file carries its station table
    stations = StationTable(["a", "b"], [380100.0, 380200.0], [180100.0, 180300.0], [2.0, 3.5], "EPSG:5186",
                            averaging_s=[60.0, 3600.0])
    placed, _ = read_sensor_records(write(tmp_path, text), stations=stations)
    again, _ = read_sensor_records(write_long_hdf5(placed, tmp_path / "placed.h5"))
    np.testing.assert_array_equal(again.stations.positions, stations.positions)
    np.testing.assert_array_equal(again.stations.averaging_s, [60.0, 3600.0])
    assert again.stations.crs == "EPSG:5186" and again.qc.tolist() == placed.qc.tolist()


def test_parquet_is_read_when_pyarrow_is_installed(tmp_path):
    pytest.importorskip("pyarrow", reason="Parquet needs the optional pyarrow (pip install plumetwin[parquet])")
    records, _ = read_sensor_records(write(tmp_path, HEADER + hourly("a", "NO2", [0.02, 0.03], unit="ppm")))
    again, _ = read_sensor_records(write_long_parquet(records, tmp_path / "x.parquet"))
    np.testing.assert_allclose(again.value, records.value, rtol=1e-12)


def test_values_on_a_time_species_station_grid_skip_flagged_rows(tmp_path):
    text = HEADER + hourly("a", "NO2", [0.02, 0.03], unit="ppm") + hourly("b", "NO2", [0.04, "bad"], unit="ppm")
    table = StationTable(["a", "b"], [0, 1], [0, 1], [2, 2], "EPSG:5186")
    records, _ = read_sensor_records(write(tmp_path, text), stations=table)
    times, values = records.to_array(species=["NO2"])
    assert values.shape == (2, 1, 2) and np.isnan(values[1, 0, 1]) and np.isfinite(values[1, 0, 0])
    assert values[0, 0, 1] == records.value[(records.station_id == "b") & records.good][0]
    assert times[0] == np.datetime64("2024-04-30T15:00:00")
    assert records.station_index().tolist() == [0, 0, 1, 1]
    assert records.seconds_since("2024-05-01T00:00+09:00").tolist() == [0.0, 3600.0, 0.0, 3600.0]


def test_a_station_without_a_position_flags_its_rows_and_the_callers_table_is_left_alone(tmp_path):
    text = HEADER + hourly("a", "NO2", [0.02], unit="ppm") + hourly("b", "NO2", [0.03], unit="ppm")
    grid = Grid(10, 10, 10.0, 10.0, [0, 5, 10], crs="EPSG:5186", backend="numpy")
    table = StationTable(["a", "b"], [50.0, np.nan], [50.0, np.nan], [2.0, 2.0], "EPSG:5186")
    records, report = read_sensor_records(write(tmp_path, text), stations=table, grid=grid)
    assert records.flagged(QCFlag.UNKNOWN_STATION).tolist() == [False, True]
    assert report.issues_with("unknown_station")[0].reason == "station has no position in the station table"
    outside = StationTable(["a"], [500.0], [50.0], [2.0], "EPSG:5186")
    read_sensor_records(write(tmp_path, text), stations=outside, grid=grid)
    assert outside.qc.tolist() == [0]  # flagged on the copy read_sensor_records made


def test_report_is_written_as_json_text_and_html(tmp_path):
    text = HEADER + hourly("a", "NO2", [0.02, "x", 0.03], unit="ppm")
    _, report = read_sensor_records(write(tmp_path, text))
    paths = report.write(tmp_path / "qc")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["flag_counts"]["unparseable"] == 1 and data["flag_bits"]["unparseable"] == 512
    assert "text in a number" in paths["txt"].read_text(encoding="utf-8")
    assert paths["html"].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

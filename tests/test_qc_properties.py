"""Property-based tests: malformed records (bad lines, unknown units, text in numbers, NaN,
duplicates, arbitrary bytes) end in a QC flag or a clear error naming file and line, never in a
traceback, and no row is silently dropped."""

from __future__ import annotations

import csv
import io
import math
import os
from datetime import datetime

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import PlumetwinError
from engine.observations import UNUSABLE, ObservationFileError, QCFlag, read_sensor_records

HEADER = ["time", "station_id", "species", "value", "unit", "qc"]
# QC_EXAMPLES=1500 for a longer search; 60 keeps the default suite fast.
SETTINGS = settings(max_examples=int(os.environ.get("QC_EXAMPLES", 60)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

times = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M") + "+09:00"),
    st.sampled_from(["", "yesterday", "2024-13-01T00:00+09:00", "2024-05-01T09:00", "2024-05-01 24:00+09:00",
                     "20240501", "NaT", "2024-05-01T09:00Z"]),
    st.text(max_size=12),
)
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "nan", "NaN", "-", "abc", "1e400", "0x10", "1,5", "--", "0.02 ppm"]),
    st.text(max_size=8),
)
units = st.one_of(st.sampled_from(["ppm", "ppb", "ug/m3", "µg/m³", "mg/m3", "kg/m3", "", "furlongs", "PPM"]),
                  st.text(max_size=6))
species = st.one_of(st.sampled_from(["SO2", "NO2", "PM10", "PM2.5", "CO", "O3", "XYZ", ""]), st.text(max_size=5))
stations = st.sampled_from(["a", "b", "강남구", ""])
qcs = st.one_of(st.sampled_from(["0", "", "1", "65535", "70000", "-1", "x"]), st.integers(0, 4096).map(str))
rows = st.lists(st.tuples(times, stations, species, values, units, qcs), max_size=25)


def as_csv(records) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)  # a bare \r is a line break
    writer.writerow(HEADER)
    writer.writerows(records)
    return buffer.getvalue()


def check_outcome(path, n_rows):
    """Either every row comes back, each flagged or good with a finite value, or a clear error."""
    try:
        records, report = read_sensor_records(path)
    except ObservationFileError as exc:
        assert str(exc).startswith(path.name) or "records" in exc.key, str(exc)
        assert "line" in str(exc) or "records" in exc.key, str(exc)
        return None
    assert report.rows_read == n_rows and len(records) == n_rows + report.rows_inserted
    unusable = (records.qc & np.uint16(int(UNUSABLE))) != 0
    assert np.all(np.isnan(records.value[unusable]))
    assert np.all(np.isfinite(records.value[records.qc == 0]))
    assert np.all(~np.isnat(records.time[records.qc == 0]))
    assert sum(report.flag_counts.values()) >= np.count_nonzero(records.qc)
    report.to_text(), report.to_html(), report.to_json()  # every report renders
    return records


@SETTINGS
@given(rows)
def test_well_formed_csv_with_bad_fields_ends_in_flags(tmp_path, records):
    path = tmp_path / "fields.csv"
    path.write_text(as_csv(records), encoding="utf-8")
    result = check_outcome(path, len(records))
    assert result is not None  # quoted by csv: the structure is always readable
    for r in range(len(result)):
        if result.source_line[r] and not np.isfinite(result.value[r]):
            assert result.qc[r] & np.uint16(int(UNUSABLE | QCFlag.UPSTREAM)), (result.qc[r], r)


@SETTINGS
@given(st.lists(st.one_of(st.text(max_size=60), st.sampled_from(
    ["2024-05-01T09:00+09:00,a,NO2,0.02,ppm,0", "2024-05-01T09:00+09:00,a,NO2,0.02,ppm",
     '2024-05-01T09:00+09:00,a,NO2,"0.02,ppm,0', ",,,,,", "a,b,c,d,e,f,g", "\x00"])), max_size=12))
def test_arbitrary_lines_end_in_flags_or_an_error_naming_the_line(tmp_path, lines):
    text = ",".join(HEADER) + "\n" + "\n".join(line.replace("\r", " ") for line in lines) + "\n"
    path = tmp_path / "lines.csv"
    path.write_text(text, encoding="utf-8")
    n_rows = sum(1 for r in csv.reader(io.StringIO(text)) if r) - 1 if _parses(text) else None
    try:
        records, report = read_sensor_records(path)
    except ObservationFileError as exc:
        assert str(exc).startswith("lines.csv: line "), str(exc)
        return
    assert n_rows is not None and report.rows_read == n_rows
    check_outcome(path, n_rows)


def _parses(text: str) -> bool:
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        return False
    return all(len(r) in (0, 6) for r in rows)


@SETTINGS
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_a_plumetwin_error(tmp_path, data):
    path = tmp_path / "bytes.csv"
    path.write_bytes(",".join(HEADER).encode() + b"\n" + data)
    try:
        read_sensor_records(path)
    except PlumetwinError as exc:
        assert "bytes.csv" in str(exc)


@SETTINGS
@given(st.integers(2, 6), st.sampled_from(["ppm", "ug/m3"]), st.floats(0.001, 0.5))
def test_duplicates_keep_every_row_and_flag_all_but_the_first(tmp_path, copies, unit, value):
    line = ["2024-05-01T09:00+09:00", "a", "NO2", repr(value), unit, "0"]
    path = tmp_path / "dup.csv"
    path.write_text(as_csv([line] * copies), encoding="utf-8")
    records, report = read_sensor_records(path)
    assert len(records) == copies
    assert records.flagged(QCFlag.DUPLICATE_TIME).sum() == copies - 1
    assert report.issues_with("duplicate_time")[0].count == copies - 1
    assert records.good.sum() == 1 and math.isfinite(records.value[records.good][0])


@SETTINGS
@given(st.text(min_size=1, max_size=10).filter(lambda u: u.strip().lower() not in {
    "ppm", "ppb", "ug/m3", "mg/m3", "g/m3", "kg/m3"}), st.sampled_from(["NO2", "PM10"]))
def test_unknown_units_are_flagged_with_the_unit_named(tmp_path, unit, name):
    from engine.units import _normalise

    path = tmp_path / "unit.csv"
    path.write_text(as_csv([["2024-05-01T09:00+09:00", "a", name, "1.0", unit, "0"]]), encoding="utf-8")
    records, report = read_sensor_records(path)
    if _normalise(unit) in ("ppm", "ppb", "ug/m3", "mg/m3", "g/m3", "kg/m3") and not (name == "PM10" and
                                                                                     _normalise(unit) in ("ppm", "ppb")):
        assert records.good.all()  # another spelling of a known unit (µg/m³, UG/M3...)
        return
    assert records.flagged(QCFlag.UNKNOWN_UNIT).all() and np.isnan(records.value).all()
    assert report.issues_with("unknown_unit")[0].examples


WIDE_MAPPING = {"layout": "wide", "timezone": "+09:00", "time_column": "일시", "station": "city",
                "columns": {"오존": {"species": "O3", "unit": "ppm"}, "미세먼지": {"species": "PM10", "unit": "ug/m3"}}}


@SETTINGS
@given(st.lists(st.tuples(times, values, values), max_size=20))
def test_wide_files_through_a_mapping_end_in_flags(tmp_path, cells):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(["일시", "오존", "미세먼지"])
    writer.writerows(cells)
    path = tmp_path / "wide.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        records, report = read_sensor_records(path, mapping=WIDE_MAPPING)
    except ObservationFileError as exc:  # a header alone is refused by name
        assert not cells and str(exc).startswith("wide.csv: line 1")
        return
    assert report.rows_read == 2 * len(cells) and len(records) == report.rows_read + report.rows_inserted
    assert np.all(np.isfinite(records.value[records.good]))
    assert np.all(np.isnan(records.value[(records.qc & np.uint16(int(UNUSABLE))) != 0]))

"""The real Seoul records (validation/data/seoul_air_quality) through their column mappings: the
QC report names the CP949 encoding, the Korean headers, the mislabelled column and the missing day."""

from pathlib import Path

import numpy as np
import pytest

from engine.observations import ObservationFileError, QCFlag, read_sensor_records

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "validation" / "data" / "seoul_air_quality"
HOURLY = DATA / "hourly_2020-02-26_2020-03-03.csv"
DAILY = DATA / "daily_2020-01-01_2020-01-20_cp949.csv"


def test_hourly_city_average_missing_day_and_mislabelled_column_are_reported():
    records, report = read_sensor_records(HOURLY, mapping=ROOT / "conf/ingest/seoul_hourly.yaml")
    assert report.rows_read == 144 * 6
    # 29 February 2020 is absent: 24 hours x 6 species inserted as missing, nothing else
    assert report.rows_inserted == 144 and records.flagged(QCFlag.MISSING).sum() == 144
    notes = " | ".join(report.notes)
    assert "whole day 2020-02-29 (+09:00) missing from the record: 6 series" in notes
    assert "column '이산화탄소': header says CO2, mapped to NO2" in notes and "the header is mislabelled" in notes
    assert "일시 → time" in notes and "초미세먼지 → PM2.5 [ug/m3]" in notes
    missing = report.issues_with("missing")[0]
    assert missing.examples == ["'2020-02-29T01:00:00+09:00 to 2020-03-01T00:00:00+09:00 (24)'"]
    # "2020-02-26 01:00" KST is 2020-02-25 16:00 UTC; "2020-03-03 24:00" is 2020-03-03 15:00 UTC
    assert records.time.min() == np.datetime64("2020-02-25T16:00:00")
    assert records.time.max() == np.datetime64("2020-03-03T15:00:00")
    assert records.stations.averaging_s.tolist() == [3600.0]  # hourly means ending at their stamp
    # first row (file line 2): PM2.5 = 2 µg/m³; NO2 0.021 ppm at 25 °C = 39.5 µg/m³
    first = (records.species == "PM2.5") & (records.source_line == 2)
    assert records.value[first][0] == pytest.approx(2e-9, rel=1e-15)
    no2 = (records.species == "NO2") & (records.source_line == 2)
    assert records.value[no2][0] == pytest.approx(0.021e-6 * 0.04601 * 101325 / (8.314462618 * 298.15), rel=1e-12)


def test_hourly_dash_is_a_missing_value_on_its_line():
    records, report = read_sensor_records(DATA / "hourly_2019-08-01.csv", mapping=ROOT / "conf/ingest/seoul_hourly.yaml")
    issue = report.issues_with("missing")[0]
    assert issue.column == "일산화탄소" and issue.lines == [16] and issue.count == 1
    assert records.flagged(QCFlag.MISSING).sum() == 1 and report.rows_inserted == 0


def test_daily_cp949_station_file_reads_through_its_mapping():
    records, report = read_sensor_records(DAILY, mapping=ROOT / "conf/ingest/seoul_daily.yaml")
    assert sorted(set(records.station_id)) == ["강남구", "관악산", "남산", "자연사박물관", "종로구"]
    assert len(records) == 100 * 6 and "encoding cp949" in report.notes[0]
    assert any(n.startswith("daily_2020-01-01_2020-01-20_cp949.csv is cp949 text, not UTF-8 (first non-UTF-8 "
                            "byte on line 1)") for n in report.notes)
    assert any("이산화질소농도(ppm) → NO2 [ppm]" in n for n in report.notes)
    # empty cells are missing values, reported under their Korean column
    by_column = {i.column: i.count for i in report.issues_with("missing")}
    assert by_column["이산화질소농도(ppm)"] == 21 and by_column["일산화탄소농도(ppm)"] == 20
    # the mean of 1 January 2020 (KST) is stamped at the end of its day: 2020-01-02 00:00 KST
    assert records.time.min() == np.datetime64("2020-01-01T15:00:00")
    assert np.all(records.stations.averaging_s == 86400.0)


def test_daily_file_read_as_utf8_is_refused_with_line_column_and_the_encoding_to_use():
    with pytest.raises(ObservationFileError, match=r"line 1, column 1 \(byte 0\).*cp949"):
        read_sensor_records(DAILY, mapping={**_mapping_without_encoding()})


def _mapping_without_encoding():
    import yaml

    mapping = yaml.safe_load((ROOT / "conf/ingest/seoul_daily.yaml").read_text(encoding="utf-8"))
    mapping.pop("encoding")
    return mapping


def test_hourly_duplicated_and_missing_days_of_december_2019_are_reported():
    records, report = read_sensor_records(DATA / "hourly_2019-11-30_2019-12-08.csv",
                                          mapping=ROOT / "conf/ingest/seoul_hourly.yaml")
    assert report.rows_read == 216 * 6 and report.rows_inserted == 24 * 6
    duplicates = report.issues_with("duplicate_time")
    assert [d.reason for d in duplicates] == ["same station, species and time as an earlier row, same value"]
    assert duplicates[0].count == 24 * 6 and duplicates[0].lines[:2] == [27, 29]  # 2019-12-01 01:00, 02:00
    assert any(n.startswith("whole day 2019-12-07 (+09:00) missing from the record: 6 series") for n in report.notes)
    # the first of each pair stays good, so the day is still usable
    december_1 = (records.time >= np.datetime64("2019-11-30T16:00")) & (records.time < np.datetime64("2019-12-01T16:00"))
    assert records.good[december_1].sum() == 24 * 6 and records.flagged(QCFlag.DUPLICATE_TIME)[december_1].sum() == 144

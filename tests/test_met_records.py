"""Recorded weather: Turner's stability classes, the sun, the CSV reader's errors, and a 24-hour
record driving a run hour by hour with its wind solves cached."""

import math
from datetime import datetime

import numpy as np
import pytest

from engine import ConfigError
from engine.app.build import build
from engine.meteorology.records import read_met_record, solar_elevation, turner_class

BUSAN = (35.09, 128.96)


@pytest.mark.parametrize("speed,elevation,oktas,expected", [
    (1.0, 65.0, 0, "A"),    # light wind, strong sun, clear: NRI 4
    (6.0, 65.0, 0, "C"),    # 11.7 knots, strong sun
    (3.0, 45.0, 6, "C"),    # 5.8 knots, moderate sun lowered by broken cloud to NRI 2
    (4.0, 50.0, 8, "D"),    # overcast day: NRI 0
    (1.0, -10.0, 1, "F"),   # clear night, calm: class G, taken as F
    (3.0, -10.0, 6, "E"),   # cloudy night, 5.8 knots: NRI -1
])
def test_turner_classes_follow_the_table(speed, elevation, oktas, expected):
    assert turner_class(speed, elevation, oktas) == expected


def test_solar_elevation_at_busan():
    noon = solar_elevation(datetime.fromisoformat("2026-06-21T12:25+09:00"), *BUSAN)
    assert abs(noon - (90 - 35.09 + 23.44)) < 0.6  # the solstice sun at local solar noon
    assert solar_elevation(datetime.fromisoformat("2026-06-21T00:00+09:00"), *BUSAN) < -20
    equinox = solar_elevation(datetime.fromisoformat("2026-03-20T12:30+09:00"), *BUSAN)
    assert abs(equinox - (90 - 35.09)) < 1.0


HEADER = "time,wind_speed,wind_direction,temperature_c,cloud_cover\n"


@pytest.mark.parametrize("rows,match", [
    ("2026-04-15T00:00,2.0,40,10,2\n", "line 2, column time: '2026-04-15T00:00' has no UTC offset; add one"),
    ("2026-04-15T00:00+09:00,fast,40,10,2\n", "line 2, column wind_speed: 'fast' is not a number"),
    ("2026-04-15T01:00+09:00,2,40,10,2\n2026-04-15T00:00+09:00,2,40,10,2\n", "line 3, column time: .* is not after"),
    ("2026-04-15T00:00+09:00,2,400,10,2\n", "line 2, column wind_direction: 400 degrees is outside 0–360"),
])
def test_bad_records_name_file_line_and_column(tmp_path, rows, match):
    path = tmp_path / "station.csv"
    path.write_text(HEADER + rows)
    with pytest.raises(ConfigError, match=match):
        read_met_record(path, *BUSAN)


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "station.csv"
    path.write_text("time,wind_speed\n2026-04-15T00:00+09:00,2\n")
    with pytest.raises(ConfigError, match="lacks the column\\(s\\) wind_direction, temperature_c"):
        read_met_record(path, *BUSAN)


def test_a_day_of_records_drives_the_run_and_reuses_wind_solves(tmp_path):
    # 24 hours in 12 two-hour pairs of identical weather, turning from west to north-east.
    lines = [HEADER.strip() + ",stability"]
    for hour in range(24):
        pair = hour // 2
        lines.append(f"2026-04-15T{hour:02d}:00+09:00,{2.0 + 0.25 * pair:.2f},{270 - 15 * pair},12,3,"
                     f"{'DDCCBBCCDDEE'[pair]}")
    path = tmp_path / "day.csv"
    path.write_text("\n".join(lines) + "\n")
    from test_config import TINY, compose_run  # noqa: PLC0415 - the tests' own helpers

    cfg = compose_run(*TINY, "grid.dx=100", "grid.dy=100", "time.stop=86400", f"met.record={path}",
                      "met.wind_model=mass_consistent", "output.progress=false")
    built = build(cfg)
    built.simulation.run()
    switcher = built.simulation.callbacks["meteorology"]
    assert math.isclose(built.model.time, 86400.0)
    assert switcher.met.solves == 12 and switcher.met.reuses >= 12
    u, v, _ = built.model.wind.host
    assert u.mean() < 0 < v.mean()  # the last two hours blow from 105° (east-south-east)
    budget = built.model.budget()
    residual = budget["emitted"] - budget["inside"] - budget["outflow"] - budget["deposited"] - budget["decayed"]
    assert np.all(np.abs(residual) <= 1e-4 * budget["emitted"])


def test_a_run_longer_than_its_record_is_refused(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text(HEADER + "2026-04-15T00:00+09:00,2,270,12,3\n2026-04-15T01:00+09:00,2,270,12,3\n")
    from test_config import TINY, compose_run  # noqa: PLC0415

    with pytest.raises(ConfigError, match="time.stop: 9000 s runs past the met record short.csv"):
        build(compose_run(*TINY, "time.stop=9000", f"met.record={path}"))


def test_stack_plume_rise_follows_the_hourly_weather(tmp_path):
    # A calm stable night hour, then a windy neutral one: Briggs' rise differs by tens of metres.
    path = tmp_path / "two_hours.csv"
    path.write_text(HEADER.strip() + ",stability\n2026-04-15T00:00+09:00,1.5,270,8,1,F\n"
                    "2026-04-15T01:00+09:00,7.0,270,14,8,D\n")
    from test_config import TINY, compose_run  # noqa: PLC0415
    from engine.meteorology.plume_rise import Stack, briggs_rise  # noqa: PLC0415
    from engine.meteorology.wind import WindProfile  # noqa: PLC0415

    stack = ["sources.0.stack.diameter=1.5", "sources.0.stack.exit_velocity=12",
             "sources.0.stack.exit_temperature=420"]
    cfg = compose_run(*TINY, "grid.nz=30", "time.stop=7200", f"met.record={path}", "met.wind_model=profile",
                      "output.progress=false", *stack)
    built = build(cfg)
    m = built.config.met

    def expected(speed, temperature_c, stability):
        profile = WindProfile(speed, 270.0, kind=m.profile, reference_height=m.reference_height,
                              roughness_length=m.roughness_length, stability=stability, terrain=m.terrain)
        at_stack = max(float(profile.speed_at(np.array([20.0]))[0]), 1.0)
        return briggs_rise(Stack(20.0, 1.5, 12.0, 420.0), at_stack, temperature_c + 273.15, stability).effective_height

    night, day = expected(1.5, 8.0, "F"), expected(7.0, 14.0, "D")
    assert abs(night - day) > 10.0, (night, day)
    assert built.model.sources[0].height == pytest.approx(night, rel=1e-9)
    built.simulation.stop_time = 3600.0 + 1.0  # just past the switch to the second hour
    built.simulation.run()
    assert built.model.sources[0].height == pytest.approx(day, rel=1e-9)
    budget = built.model.budget()
    residual = budget["emitted"] - budget["inside"] - budget["outflow"] - budget["deposited"] - budget["decayed"]
    assert np.all(np.abs(residual) <= 1e-4 * budget["emitted"])

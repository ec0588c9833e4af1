"""Exceedance counting with running 1-h, 8-h and 24-h windows on constructed series; catalogues."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.catalogue import load_equipment, load_facilities, load_species, standards_for
from scenarios.standards import count_exceedances, required_hours, running_means


def test_hourly_values_exceed_only_strictly_above_the_standard():
    series = np.array([0.0, 4.0, 5.0, 4.0000001, 3.9])
    counted = count_exceedances(series, "1h", 4.0)
    assert counted["exceedances"] == 2 and counted["windows"] == 5
    assert counted["max_mean"] == 5.0


def test_running_8h_windows_over_a_block_of_high_hours():
    # Eight hours at 8 (hours 8–15) in a 24-h day of zeros. The window ending at hour i covers
    # i−7..i, so its mean is the overlap with 8..15 (hours); it exceeds 4.5 when the overlap is
    # ≥ 5 h: windows ending at hours 12..18, i.e. 7 of the 17 windows of the day.
    series = np.zeros(24)
    series[8:16] = 8.0
    means, valid = running_means(series, 8)
    assert means.shape == (17,) and valid.all()
    overlap = [min(i, 15) - max(i - 7, 8) + 1 for i in range(7, 24)]
    np.testing.assert_allclose(means, [8.0 * max(o, 0) / 8 for o in overlap])
    counted = count_exceedances(series, "8h", 4.5)
    assert counted["exceedances"] == 7 and counted["windows"] == 17
    assert counted["max_mean"] == 8.0


def test_running_24h_windows_across_two_days():
    # 24 h at 40 then 24 h at 30: the window ending at hour i (23..47) has mean 40 − 10 (i − 23)/24,
    # above 35 while i − 23 < 12, i.e. 12 of the 25 windows.
    series = np.r_[np.full(24, 40.0), np.full(24, 30.0)]
    counted = count_exceedances(series, "24h", 35.0)
    assert counted["windows"] == 25 and counted["exceedances"] == 12
    means, _ = running_means(series, 24)
    np.testing.assert_allclose(means, 40 - 10 * np.arange(25) / 24)


def test_partial_windows_at_the_start_are_not_formed():
    counted = count_exceedances(np.full(7, 100.0), "8h", 1.0)
    assert counted["windows"] == 0 and counted["exceedances"] == 0 and np.isnan(counted["max_mean"])
    assert count_exceedances(np.full(8, 100.0), "8h", 1.0)["exceedances"] == 1


def test_missing_hours_need_75_percent_of_a_window():
    assert [required_hours(h) for h in (1, 8, 24)] == [1, 6, 18]
    window = np.full(8, 10.0)
    window[[1, 4]] = np.nan               # 6 of 8 present: valid, mean of the present hours
    means, valid = running_means(window, 8)
    assert valid.all() and means[0] == 10.0
    window[5] = np.nan                    # 5 of 8: invalid, neither exceedance nor compliance
    counted = count_exceedances(window, "8h", 1.0)
    assert counted["exceedances"] == 0 and counted["windows"] == 0 and counted["invalid"] == 1
    hourly = count_exceedances(np.array([np.nan, 5.0]), "1h", 1.0)
    assert hourly["exceedances"] == 1 and hourly["invalid"] == 1


def test_annual_standard_uses_the_period_mean():
    series = np.r_[np.full(90, 60.0), np.full(10, np.nan)]
    counted = count_exceedances(series, "annual", 50.0)
    assert counted["exceedances"] == 1 and counted["max_mean"] == 60.0
    assert count_exceedances(np.r_[np.full(70, 60.0), np.full(30, np.nan)], "annual", 50.0)["windows"] == 0


def test_counting_works_over_leading_axes():
    series = np.zeros((2, 3, 24))
    series[1, 2, 10] = 500.0
    counted = count_exceedances(series, "1h", 100.0)
    assert counted["exceedances"].shape == (2, 3) and counted["exceedances"].sum() == 1


def test_species_catalogue_converts_ppm_standards_at_25_C():
    # 0.15 ppm SO2 = 0.15 · 64.07 / 24.45 mg/m³ (DOMAIN §2; 24.45 L/mol is rounded, hence 1e-3).
    so2 = {s.averaging: s for s in standards_for("SO2")}
    assert set(so2) == {"1h", "24h", "annual"}
    assert so2["1h"].ug_m3 == pytest.approx(0.15 * 64.07 / 24.45 * 1000, rel=1e-3)
    pm25 = {s.averaging: s.ug_m3 for s in standards_for("PM2.5")}
    assert pm25 == {"24h": 35.0, "annual": 15.0}
    assert {s.averaging for s in standards_for("CO")} == {"1h", "8h"}
    assert all(entry.source for entry in load_species().values())


def test_equipment_and_facility_catalogues_are_consistent():
    equipment = load_equipment()
    assert {"bag_filter", "electrostatic_precipitator", "wet_scrubber", "scr", "sncr",
            "regenerative_thermal_oxidiser", "activated_carbon", "cyclone"} <= set(equipment)
    assert all(0 <= v <= 1 for e in equipment.values() for v in e.removal.values())
    facilities = load_facilities()
    assert all(set(f.candidates) <= set(equipment) for f in facilities.values())

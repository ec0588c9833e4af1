"""Release task units: chemicals catalogue, source terms against hand calculations, running means
over AEGL durations, toxic load, arrival, threat distance and ensemble probability on
constructed data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import ConfigError
from scenarios.catalogue import CATALOGUE_DIR
from scenarios.chemicals import AEGL_DURATIONS, get_chemical, load_chemicals
from scenarios.release_sources import (critical_pressure_ratio, mackay_matsugu_rate, orifice_gas_rate, pool_area,
                                       pool_evaporation_rate, release_term)
from scenarios.threat import (arrival_time, exceedance_probability, governing_duration, reaches_edge,
                              running_mean_series, threat_distance, toxic_load)


# --- catalogue ---------------------------------------------------------------------------------
def test_catalogue_rows_and_ppm_conversion_at_25c():
    cl2 = get_chemical("Cl2")
    assert cl2.aegl["AEGL-2"] == (2.8, 2.8, 2.0, 1.0, 0.71)
    assert cl2.aegl_ppm("AEGL-3", 3600.0) == 20.0
    assert cl2.erpg["ERPG-2"] == 3.0
    # DOMAIN.md s.2: 1 ppm of Cl2 is 2.90 mg/m3 at 25 degC and 1 atm (M / 24.45).
    assert cl2.ppm_to_kg_m3(1.0) == pytest.approx(70.90 / 24.45 * 1e-6, rel=1e-3)
    assert cl2.kg_m3_to_ppm(cl2.ppm_to_kg_m3(3.0)) == pytest.approx(3.0)
    assert set(load_chemicals()) == {"Cl2", "NH3", "HF", "HCl", "HNO3"}


def test_unknown_chemical_lists_the_known_ones():
    with pytest.raises(ConfigError, match="known chemicals: Cl2, HCl, HF, HNO3, NH3"):
        get_chemical("chlorine")
    with pytest.raises(ConfigError, match="did you mean Cl2"):
        get_chemical("cl2")


def test_a_broken_catalogue_names_the_file_and_field(tmp_path):
    text = (CATALOGUE_DIR / "chemicals.yaml").read_text(encoding="utf-8")
    missing = tmp_path / "no_density.yaml"
    missing.write_text(text.replace("    liquid_density: 603.0\n", ""))
    with pytest.raises(ConfigError, match=r"no_density.yaml: chemicals.NH3.liquid_density: is missing"):
        load_chemicals(str(missing))
    swapped = tmp_path / "swapped.yaml"
    swapped.write_text(text.replace("AEGL-3: [50, 28, 20, 10, 7.1]", "AEGL-3: [1, 28, 20, 10, 7.1]"))
    with pytest.raises(ConfigError, match="chemicals.Cl2.aegl: AEGL-2 exceeds AEGL-3"):
        load_chemicals(str(swapped))
    short = tmp_path / "short.yaml"
    short.write_text(text.replace("AEGL-1: [30, 30, 30, 30, 30]", "AEGL-1: [30, 30]"))
    with pytest.raises(ConfigError, match="chemicals.NH3.aegl.AEGL-1: give 5 values"):
        load_chemicals(str(short))


def test_vapour_pressure_passes_through_both_catalogued_points():
    hno3 = get_chemical("HNO3")
    assert hno3.vapour_pressure(hno3.normal_boiling_point) == pytest.approx(101325.0)
    assert hno3.vapour_pressure(298.15) == pytest.approx(hno3.vapour_pressure_25c)
    assert hno3.vapour_pressure(288.15) < hno3.vapour_pressure_25c


# --- source terms --------------------------------------------------------------------------------
def test_choked_orifice_flow_by_hand():
    # Cl2, 10 mm hole, 7.78 bar abs, 25 degC, Cd 0.62, gamma 1.33, M 0.0709 kg/mol:
    # A = pi 0.01^2 / 4 = 7.854e-5 m2; (2/2.33)^(2.33/0.33) = 0.3402;
    # sqrt(1.33 * 0.0709 / (8.3145 * 298.15) * 0.3402) = 3.597e-3 s/m;
    # m = 0.62 * 7.854e-5 * 7.78e5 * 3.597e-3 = 0.1363 kg/s.
    cl2 = get_chemical("Cl2")
    rate, regime = orifice_gas_rate(0.01, 7.78e5, 298.15, cl2.molar_mass, cl2.heat_capacity_ratio, 0.62)
    assert regime == "choked"
    assert rate == pytest.approx(0.1363, rel=1e-3)


def test_subcritical_orifice_flow_by_hand_and_continuous_at_the_critical_ratio():
    # 1.5 bar abs: r = 101325 / 1.5e5 = 0.6755 > 0.5404 (critical for gamma 1.33);
    # r^(2/1.33) - r^(2.33/1.33) = 0.05142;
    # m = 0.62 * 7.854e-5 * 1.5e5 * sqrt(2 * 0.0709 / (8.3145 * 298.15) * 1.33/0.33 * 0.05142) = 0.02515 kg/s.
    rate, regime = orifice_gas_rate(0.01, 1.5e5, 298.15, 0.0709, 1.33, 0.62)
    assert regime == "subcritical"
    assert rate == pytest.approx(0.02515, rel=1e-3)
    critical = 101325.0 / critical_pressure_ratio(1.33)
    below, _ = orifice_gas_rate(0.01, critical * (1 - 1e-9), 298.15, 0.0709, 1.33)
    above, _ = orifice_gas_rate(0.01, critical * (1 + 1e-9), 298.15, 0.0709, 1.33)
    assert below == pytest.approx(above, rel=1e-6)


def test_pool_evaporation_by_the_rmp_equation_by_hand():
    # RMP guidance in its own units: 10 m2 = 107.64 ft2, 8300 Pa = 62.26 mmHg, u = 3 m/s, MW 63.01:
    # QR = 0.284 * 3^0.78 * 63.01^(2/3) * 107.64 * 62.26 / (82.05 * 298.15) = 2.902 lb/min = 0.02194 kg/s.
    rate = pool_evaporation_rate(10.0, 3.0, 0.06301, 8300.0, 298.15)
    assert rate == pytest.approx(0.02194, rel=1e-3)
    # The RMP equation is Mackay-Matsugu with its constants folded in and the pool-length factor
    # Z^(-1/9) = A^(-1/18) dropped: their ratio scales exactly as A^(-1/18), and across 10-100 m2
    # (a 10^(1/18) = 1.14 span) stays within 15 % of one.
    ratio = [mackay_matsugu_rate(a, 3.0, 0.06301, 8300.0, 298.15) / pool_evaporation_rate(a, 3.0, 0.06301, 8300.0, 298.15)
             for a in (10.0, 100.0)]
    assert ratio[0] / ratio[1] == pytest.approx(10 ** (1 / 18), rel=1e-9)
    assert all(0.85 < r < 1.15 for r in ratio)


def test_pool_spreads_one_centimetre_deep_and_lasts_inventory_over_rate():
    hno3 = get_chemical("HNO3")
    assert pool_area(1000.0, 1510.0) == pytest.approx(1000.0 / 15.1)
    term = release_term("pool", 1000.0, pool={}, chemical=hno3, wind_speed=3.0)
    area = 1000.0 / (1510.0 * 0.01)
    assert term.rate == pytest.approx(pool_evaporation_rate(area, 3.0, 0.06301, hno3.vapour_pressure(298.15), 298.15))
    assert term.duration * term.rate == pytest.approx(1000.0)
    with pytest.raises(ConfigError, match="boils at 239.1 K"):
        release_term("pool", 1000.0, pool={}, chemical=get_chemical("Cl2"), wind_speed=3.0)


def test_direct_releases():
    assert release_term("continuous", 1000.0, duration=600.0).rate == pytest.approx(1000.0 / 600.0)
    capped = release_term("continuous", 100.0, rate=1.0, duration=600.0)
    assert (capped.duration, capped.mass) == (100.0, 100.0)  # the inventory runs out first
    puff = release_term("instantaneous", 250.0)
    assert (puff.rate, puff.mass, puff.duration) == (None, 250.0, 0.0)
    with pytest.raises(ConfigError, match="release.kind"):
        release_term("burst", 1.0)
    with pytest.raises(ConfigError, match="release.orifice.pressure"):
        release_term("orifice", 10.0, orifice={"diameter": 0.01, "pressure": 9e4, "temperature": 298.15},
                     chemical=get_chemical("NH3"))


# --- running means, arrival, toxic load ----------------------------------------------------------
def test_running_means_over_aegl_durations_on_a_constructed_series():
    # 5 one-minute steps of 6 ppm, then clean air for an hour: the 10-min mean peaks at 3 ppm, the
    # 30-min mean at 1 ppm, the 60-min mean at 0.5 ppm; windows reaching before t = 0 count zero.
    series = np.r_[np.full(5, 6.0), np.zeros(60)]
    assert running_mean_series(series, 60.0, 600.0).max() == pytest.approx(3.0)
    assert running_mean_series(series, 60.0, 1800.0).max() == pytest.approx(1.0)
    assert running_mean_series(series, 60.0, 3600.0).max() == pytest.approx(0.5)
    ten = running_mean_series(series, 60.0, 600.0)
    assert ten[0] == pytest.approx(0.6) and ten[4] == pytest.approx(3.0) and ten[14] == 0.0
    with pytest.raises(ConfigError, match="sample_interval"):
        running_mean_series(series, 70.0, 600.0)


def test_toxic_load_and_arrival_on_constructed_series():
    series = np.r_[np.zeros(3), np.full(10, 2.0), np.zeros(5)]  # 2 ppm for 10 one-minute steps
    assert toxic_load(series, 60.0, 2.0) == pytest.approx(40.0)  # ppm^2 min
    assert toxic_load(series, 60.0, 1.0) == pytest.approx(20.0)
    assert toxic_load(series, 60.0, 2.75) == pytest.approx(10 * 2.0**2.75)
    times = 60.0 * np.arange(1, 19)
    assert arrival_time(series, times, 1.0) == 240.0
    assert math.isnan(arrival_time(series, times, 3.0))


def test_governing_duration_follows_the_kosha_rule():
    minutes = {5: 600.0, 6.9: 600.0, 7: 1800.0, 24.9: 1800.0, 25: 3600.0, 60: 3600.0, 61: 14400.0,
               240: 14400.0, 300: 28800.0}
    for exposure, duration in minutes.items():
        assert governing_duration(60.0 * exposure) == duration, exposure
    assert governing_duration(1e9) == AEGL_DURATIONS[-1]


# --- zones and probability -------------------------------------------------------------------------
def test_threat_distance_and_domain_edge():
    x = 10.0 * np.arange(10) + 5.0
    y = 10.0 * np.arange(8) + 5.0
    mask = np.zeros((8, 10), dtype=bool)
    assert threat_distance(mask, x, y, 0.0, 0.0) == 0.0
    mask[3, 2:7] = True
    assert threat_distance(mask, x, y, 25.0, 35.0) == pytest.approx(40.0)
    assert not reaches_edge(mask)
    mask[3, 9] = True
    assert reaches_edge(mask)


def test_exceedance_probability_on_constructed_members():
    maps = np.array([[[1.0, 5.0]], [[3.0, 5.0]], [[0.0, 2.0]], [[4.0, 1.0]]])
    assert np.allclose(exceedance_probability(maps, 3.0), [[0.5, 0.5]])
    assert np.allclose(exceedance_probability(maps, 3.0, weights=[1, 1, 2, 0]), [[0.25, 0.5]])


def test_exposure_picks_the_aegl_duration_for_each_kind_of_release():
    from scenarios.release_task import exposure_of  # noqa: PLC0415

    puff = release_term("instantaneous", 200.0)
    worst = release_term("continuous", 1000.0, duration=600.0)
    leak = release_term("continuous", 1000.0, rate=0.136)
    assert governing_duration(exposure_of({}, puff, 3600.0)) == 600.0      # a passing cloud: 10-min values
    assert governing_duration(exposure_of({}, worst, 3600.0)) == 1800.0    # 10 minutes (KOSHA 7-25 min)
    assert exposure_of({}, leak, 3600.0) == 3600.0                          # 2 h leak, 1 h run: the run's hour
    assert governing_duration(exposure_of({"exposure": 14400}, leak, 3600.0)) == 14400.0

"""Unit conversion against hand-computed values."""

import numpy as np
import pytest

from engine import ConfigError
from engine.units import convert_concentration, convert_rate


def test_ppm_to_mg_per_m3_at_25c_matches_the_24_45_rule():
    # 1 ppm = M / 24.45 mg/m³ at 25 °C and 1 atm (EPA convention; 2.62 for SO2, 1.88 for NO2)
    assert convert_concentration(1.0, "ppm", "mg/m3", molar_mass=0.06407) == pytest.approx(64.07 / 24.45, rel=1e-3)
    assert convert_concentration(1.0, "ppm", "mg/m3", molar_mass=0.04601) == pytest.approx(1.88, rel=2e-3)


def test_mass_units_and_round_trip():
    assert convert_concentration(1e-9, "kg/m3", "µg/m³") == pytest.approx(1.0)
    values = np.array([0.0, 12.5, 300.0])
    back = convert_concentration(convert_concentration(values, "ppb", "kg/m3", 0.048), "kg/m3", "ppb", 0.048)
    np.testing.assert_allclose(back, values, rtol=1e-12)


def test_rates():
    assert convert_rate(500.0, "g/s") == pytest.approx(0.5)
    assert convert_rate(3.6, "kg/h") == pytest.approx(1e-3)
    assert convert_rate(31.536, "t/yr") == pytest.approx(1e-3)


def test_unknown_units_and_missing_molar_mass_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown concentration unit 'furlongs'"):
        convert_concentration(1.0, "furlongs", "ppm", 0.064)
    with pytest.raises(ConfigError, match="molar mass"):
        convert_concentration(1.0, "ppm", "ug/m3")
    with pytest.raises(ConfigError, match="unknown emission-rate unit"):
        convert_rate(1.0, "lb/day")

"""Unit conversion against hand-computed values."""

import numpy as np
import pytest

from engine import ConfigError
from engine.units import GAS_CONSTANT, concentration_units, convert_concentration, convert_rate

SO2, NO2 = 0.06407, 0.04601  # kg/mol


def test_ppm_to_mg_per_m3_at_25c_and_1_atm():
    # Molar volume at 25 °C, 1 atm: R T / p = 8.314462618 * 298.15 / 101325 = 0.0244654 m³/mol,
    # so 1 ppm = 1e-6 * M / 0.0244654 kg/m³ = M[g/mol] / 24.4654 mg/m³.
    assert GAS_CONSTANT * 298.15 / 101325.0 == pytest.approx(0.0244654, rel=1e-5)
    assert float(convert_concentration(1.0, "ppm", "mg/m3", molar_mass=SO2)) == pytest.approx(2.62, abs=0.005)
    assert float(convert_concentration(1.0, "ppm", "mg/m3", molar_mass=SO2)) == pytest.approx(64.07 / 24.4654,
                                                                                          rel=1e-6)
    assert float(convert_concentration(1.0, "ppm", "mg/m3", molar_mass=NO2)) == pytest.approx(1.88, abs=0.005)
    # 100 ppb of NO2 is 188 µg/m³, and back
    assert float(convert_concentration(100.0, "ppb", "ug/m3", molar_mass=NO2)) == pytest.approx(188.06, abs=0.01)
    assert float(convert_concentration(188.06, "µg/m³", "ppb", molar_mass=NO2)) == pytest.approx(100.0, abs=1e-3)


def test_temperature_and_pressure_enter_the_ideal_gas_law():
    # At 0 °C the molar volume is 22.41 L/mol: 1 ppm SO2 = 64.07 / 22.414 mg/m³
    cold = convert_concentration(1.0, "ppm", "mg/m3", molar_mass=SO2, temperature=273.15)
    assert float(cold) == pytest.approx(64.07 / 22.414, rel=1e-4)
    half = convert_concentration(1.0, "ppm", "mg/m3", molar_mass=SO2, pressure=101325.0 / 2)
    assert float(half) == pytest.approx(64.07 / 24.4654 / 2, rel=1e-6)


def test_mass_units_spellings_and_round_trip():
    assert float(convert_concentration(1e-9, "kg/m3", "µg/m³")) == pytest.approx(1.0)
    assert float(convert_concentration(1e-9, "kg m-3", "ug/m3")) == pytest.approx(1.0)
    assert float(convert_concentration(2.5, "mg/m3", "g/m3")) == pytest.approx(2.5e-3)
    assert float(convert_concentration(1.0, "ppm", "ppb")) == pytest.approx(1000.0)  # no molar mass needed
    values = np.array([0.0, 12.5, 300.0], dtype=np.float32)
    assert convert_concentration(values, "ug/m3", "kg/m3").dtype == np.float32
    back = convert_concentration(convert_concentration(values.astype(float), "ppb", "kg/m3", 0.048), "kg/m3",
                                 "ppb", 0.048)
    np.testing.assert_allclose(back, values, rtol=1e-12)
    assert concentration_units() == ["kg/m3", "g/m3", "mg/m3", "ug/m3", "ppm", "ppb"]


def test_rates():
    assert convert_rate(500.0, "g/s") == pytest.approx(0.5)
    assert convert_rate(3.6, "kg/h") == pytest.approx(1e-3)
    assert convert_rate(31.536, "t/yr") == pytest.approx(1e-3)  # 31.536 t over 365 × 86400 s
    assert convert_rate(2.0, "kg/s") == 2.0


def test_unknown_units_and_missing_molar_mass_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown concentration unit 'furlongs'; use one of kg/m3, g/m3, "
                                          "mg/m3, ug/m3, ppm, ppb"):
        convert_concentration(1.0, "furlongs", "ppm", 0.064)
    with pytest.raises(ConfigError, match="converting 'ppm' needs the species' molar mass") as caught:
        convert_concentration(1.0, "ppm", "ug/m3")
    assert "kg/m3, g/m3, mg/m3, ug/m3" in str(caught.value)
    with pytest.raises(ConfigError, match="molar mass"):
        convert_concentration(1.0, "ug/m3", "ppb", molar_mass=float("nan"))
    with pytest.raises(ConfigError, match="unknown emission-rate unit 'lb/day'; use one of kg/s, g/s, kg/h, t/yr"):
        convert_rate(1.0, "lb/day")

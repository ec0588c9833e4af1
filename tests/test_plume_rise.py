"""Briggs plume rise against values worked by hand from the ISC3 equations (EPA-454/B-95-003b).

Buoyant stack: d = 2 m, v = 15 m/s, Ts = 420 K, Ta = 293.15 K.
  F_b = 9.80665 · 15 · 2² · 126.85 / (4 · 420) = 44.4276 m⁴/s³ (< 55)
  ΔT_c = 0.0297 · 420 · 15^(1/3) / 2^(2/3) = 19.38 K < 126.85 K → buoyancy dominated
  class D, u = 5 m/s: Δh = 21.425 · 44.4276^(3/4) / 5 = 73.738 m at x_f = 49 · 44.4276^(5/8) = 524.78 m
  at 200 m: 1.60 · 44.4276^(1/3) · 200^(2/3) / 5 = 38.760 m
  class F, u = 2 m/s: s = 9.80665 · 0.035 / 293.15 = 1.17086e-3 s⁻²,
  Δh = 2.6 (44.4276 / (2 · 1.17086e-3))^(1/3) = 69.345 m at x_f = 2.0715 · 2 / √s = 121.08 m
Momentum jet: d = 0.5 m, v = 20 m/s, Ts = 300 K, Ta = 293.15 K, class D, u = 4 m/s.
  F_b = 0.27990, ΔT_c = 0.0297 · 300 · 20^(1/3) / 0.5^(2/3) = 38.39 K > 6.85 K → momentum
  Δh = 3 d v / u = 7.5 m; F_m = 20² · 0.5² · 293.15 / 1200 = 24.4292 m⁴/s², β = 1/3 + 4/20
  at 20 m: (3 · 24.4292 · 20 / (β² · 16))^(1/3) = 6.8546 m
"""

import math

import pytest

from engine.errors import ConfigError
from engine.meteorology.plume_rise import Stack, briggs_rise, buoyancy_flux, downwash_height, gradual_rise

AMBIENT = 293.15
BUOYANT = Stack(height=40.0, diameter=2.0, exit_velocity=15.0, exit_temperature=420.0)
JET = Stack(height=20.0, diameter=0.5, exit_velocity=20.0, exit_temperature=300.0)


def test_buoyant_stack_in_neutral_air():
    rise = briggs_rise(BUOYANT, 5.0, AMBIENT, "D")
    assert rise.dominated_by == "buoyancy"
    assert math.isclose(rise.buoyancy_flux, 44.4276, rel_tol=1e-5)
    assert math.isclose(rise.final, 73.738, rel_tol=1e-4)
    assert math.isclose(rise.distance_to_final, 524.78, rel_tol=1e-4)
    assert math.isclose(gradual_rise(rise, 200.0, BUOYANT), 38.760, rel_tol=1e-4)
    assert gradual_rise(rise, 2000.0, BUOYANT) == rise.final
    assert math.isclose(rise.effective_height, 113.738, rel_tol=1e-5)


def test_buoyant_stack_in_stable_air():
    rise = briggs_rise(BUOYANT, 2.0, AMBIENT, "F")
    assert rise.dominated_by == "buoyancy"
    assert math.isclose(rise.final, 69.345, rel_tol=1e-4)
    assert math.isclose(rise.distance_to_final, 121.08, rel_tol=1e-4)


def test_momentum_dominated_jet():
    rise = briggs_rise(JET, 4.0, AMBIENT, "D")
    assert rise.dominated_by == "momentum"
    assert math.isclose(rise.buoyancy_flux, 0.27990, rel_tol=1e-4)
    assert math.isclose(rise.momentum_flux, 24.4292, rel_tol=1e-5)
    assert math.isclose(rise.final, 7.5, rel_tol=1e-12)
    assert math.isclose(gradual_rise(rise, 20.0, JET), 6.8546, rel_tol=1e-4)


def test_rise_falls_with_wind_and_stability():
    neutral = [briggs_rise(BUOYANT, u, AMBIENT, "D").final for u in (2.0, 4.0, 8.0)]
    assert neutral[0] > neutral[1] > neutral[2]
    assert briggs_rise(BUOYANT, 2.0, AMBIENT, "F").final < briggs_rise(BUOYANT, 2.0, AMBIENT, "E").final


def test_stack_tip_downwash_and_cold_gas():
    slow = Stack(height=30.0, diameter=1.0, exit_velocity=3.0, exit_temperature=350.0)
    assert math.isclose(downwash_height(slow, 6.0), 30.0 + 2 * 1.0 * (0.5 - 1.5))
    assert downwash_height(slow, 1.0) == 30.0
    cold = Stack(height=10.0, diameter=1.0, exit_velocity=5.0, exit_temperature=280.0)
    assert buoyancy_flux(cold, AMBIENT) == 0.0
    assert briggs_rise(cold, 3.0, AMBIENT, "C").dominated_by == "momentum"


@pytest.mark.parametrize("field,kwargs", [
    ("stack.diameter", {"diameter": 0.0}),
    ("stack.exit_temperature", {"exit_temperature": 150.0}),
    ("stack.exit_velocity", {"exit_velocity": -1.0}),
])
def test_bad_stacks_name_the_field(field, kwargs):
    values = {"height": 20.0, "diameter": 1.0, "exit_velocity": 10.0, "exit_temperature": 400.0} | kwargs
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        Stack(**values)
    with pytest.raises(ConfigError, match="met.stability"):
        briggs_rise(BUOYANT, 3.0, AMBIENT, "G")

"""Minimal meteorology: profile formulas, direction convention, C-grid winds and diffusivities."""

import math

import numpy as np
import pytest

from engine import ConfigError, Diffusivity, Grid, Wind, WindProfile, stability_diffusivity
from engine.meteorology.surface_layer import (friction_velocity, obukhov_length, phi_heat, potential_temperature,
                                              psi_momentum)
from engine.meteorology.profiles import log_law_speed, power_law_speed, wind_components


def test_direction_convention_is_meteorological():
    east, north = wind_components(np.array([5.0]), 270.0)  # from the west: blows towards +x
    assert east[0] == pytest.approx(5.0) and north[0] == pytest.approx(0.0, abs=1e-12)
    east, north = wind_components(np.array([5.0]), 0.0)    # from the north: blows towards -y
    assert north[0] == pytest.approx(-5.0) and east[0] == pytest.approx(0.0, abs=1e-12)


def test_log_law_through_reference_speed():
    z = np.array([2.0, 10.0, 50.0])
    u = log_law_speed(z, 4.0, 10.0, 0.1)
    u_star = 0.4 * 4.0 / math.log(100.0)
    np.testing.assert_allclose(u, u_star / 0.4 * np.log(z / 0.1), rtol=1e-12)
    assert u[1] == pytest.approx(4.0, rel=1e-12)


def test_power_law_and_class_exponents():
    assert power_law_speed(40.0, 3.0, 10.0, 0.25) == pytest.approx(3.0 * 4**0.25)
    profile = WindProfile(3.0, kind="power", stability="F", terrain="rural")
    assert profile.speed_at(np.array([20.0]))[0] == pytest.approx(3.0 * 2**0.55)


def test_bad_profile_and_class_are_clear_errors():
    with pytest.raises(ConfigError, match="met.profile"):
        WindProfile(3.0, kind="cubic").speed_at(np.array([1.0]))
    with pytest.raises(ConfigError, match="met.stability"):
        obukhov_length("G", 0.1)


def test_c_grid_wind_zero_through_solids_and_ground():
    grid = Grid(10, 8, 10.0, 10.0, [0, 10, 20, 30], backend="numpy")
    grid.add_box(40, 60, 30, 50, 15.0)
    wind = Wind.from_profiles(grid, [WindProfile(3.0, 250.0)])
    u, v, w = wind.host
    solid = grid.solid
    assert np.all(u[0][:, :, 1:][solid] == 0) and np.all(u[0][:, :, :-1][solid] == 0)
    assert np.all(v[0][:, 1:, :][solid] == 0) and np.all(w[0, 0] == 0)
    assert np.abs(u).max() > 0


def test_similarity_functions_match_hand_values():
    # Dyer (1974): phi_h(0.5) = 1 + 5*0.5 ; phi_h(-0.5) = (1 + 8)^(-1/2)
    assert phi_heat(0.5) == pytest.approx(3.5)
    assert phi_heat(-0.5) == pytest.approx(1 / 3)
    # Paulson (1970) at zeta = -0.5: x = 9^(1/4)
    x = 9**0.25
    expected = 2 * math.log((1 + x) / 2) + math.log((1 + x * x) / 2) - 2 * math.atan(x) + math.pi / 2
    assert psi_momentum(-0.5) == pytest.approx(expected)
    assert psi_momentum(0.2) == pytest.approx(-1.0)
    # Golder: class F, z0 = 0.1 m -> 1/L = 0.035 + 0.036 = 0.071 1/m
    assert obukhov_length("F", 0.1) == pytest.approx(1 / 0.071)
    assert math.isinf(obukhov_length("D", 0.1))
    assert friction_velocity(5.0, 10.0, 0.1, math.inf) == pytest.approx(0.4 * 5 / math.log(100))


def test_stability_diffusivity_profile_shape():
    grid = Grid(4, 4, 10.0, 10.0, np.linspace(0, 1000, 41), backend="numpy")
    neutral = stability_diffusivity(grid, "D", 5.0, mixing_height=800.0)
    stable = stability_diffusivity(grid, "F", 5.0)
    kz = neutral.host_kz[0]
    # K = kappa u* z (1 - z/h)^2 in neutral air: peaks at h/3, floor above h
    assert np.argmax(kz) == np.argmin(np.abs(grid.z_faces - 800.0 / 3))
    assert kz[-1] == pytest.approx(0.1)
    assert stable.host_kz[0].max() < kz.max()


def test_diffusivity_rejects_negative_values():
    grid = Grid(4, 4, 10.0, 10.0, [0, 10, 20], backend="numpy")
    with pytest.raises(ConfigError, match="met.kh"):
        Diffusivity.constant(grid, -1.0, 1.0)


# Values worked outside the engine with plain math (Businger–Dyer / Paulson, κ = 0.4): a 5 m/s wind
# at 10 m over z0 = 0.1 m. Stable L = 50 m: u* = 0.4·5 / (ln 100 + 5·10/50 − 5·0.1/50) = 0.357451 m/s.
STABLE_SPEEDS = {2.0: 2.846859, 30.0: 7.769006, 100.0: 15.100305}
# Unstable L = −30 m: u* = 0.501805 m/s.
UNSTABLE_SPEEDS = {2.0: 3.514863, 30.0: 5.771596, 100.0: 6.417789}


def test_similarity_profile_is_the_log_law_when_neutral():
    z = np.array([0.5, 2.0, 10.0, 35.0, 80.0])  # the surface layer: a tenth of class D's 800 m
    neutral = WindProfile(5.0, kind="similarity", roughness_length=0.1, stability="D")
    log = WindProfile(5.0, kind="log", roughness_length=0.1)
    assert np.allclose(neutral.speed_at(z), log.speed_at(z), rtol=1e-12)
    u_star = 0.4 * 5.0 / math.log(100.0)
    assert np.allclose(neutral.speed_at(z), u_star / 0.4 * np.log(z / 0.1), rtol=1e-6)


@pytest.mark.parametrize("obukhov,expected,u_star", [(50.0, STABLE_SPEEDS, 0.357451),
                                                     (-30.0, UNSTABLE_SPEEDS, 0.501805)])
def test_similarity_profile_matches_hand_values(obukhov, expected, u_star):
    profile = WindProfile(5.0, kind="similarity", roughness_length=0.1, obukhov_length=obukhov, mixing_height=1000.0)
    heights = np.array(sorted(expected))
    assert np.allclose(profile.speed_at(heights), [expected[z] for z in heights], rtol=1e-6)
    assert math.isclose(profile.speed_at(np.array([10.0]))[0], 5.0, rel_tol=1e-12)
    assert math.isclose(friction_velocity(5.0, 10.0, 0.1, obukhov), u_star, rel_tol=1e-5)


def test_stable_temperature_profile_and_class_obukhov_lengths():
    # θ* = u*² T / (κ g L) = 0.187716 K; θ(30) − θ(10) = θ*/κ (ln 3 + 5·20/50) = 1.454148 K
    u_star = 0.3574511468853213
    theta = potential_temperature(np.array([10.0, 30.0]), 288.15, 10.0, u_star, 50.0)
    assert math.isclose(theta[1] - theta[0], 1.454148, rel_tol=1e-5)
    assert np.allclose(potential_temperature(np.array([2.0, 80.0]), 288.15, 10.0, u_star, np.inf), 288.15)
    # Golder: 1/L = a + b log10(z0); class F over z0 = 0.1 m: 0.035 + 0.036 = 0.071 1/m.
    assert math.isclose(obukhov_length("F", 0.1), 1 / 0.071, rel_tol=1e-12)
    assert obukhov_length("A", 0.1) < 0 < obukhov_length("E", 0.1) and np.isinf(obukhov_length("D", 0.1))
    assert WindProfile(5.0, kind="similarity", stability="F").speed_at(np.array([20.0]))[0] > \
        WindProfile(5.0, kind="similarity", stability="B").speed_at(np.array([20.0]))[0]
    # Above the surface layer (20 m for class F's 200 m mixing height) the speed is held.
    held = WindProfile(5.0, kind="similarity", stability="F").speed_at(np.array([20.0, 60.0, 300.0]))
    assert held[0] == held[1] == held[2]

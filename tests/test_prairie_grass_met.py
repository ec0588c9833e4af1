"""Prairie Grass meteorology → wind and diffusivities, against hand-computed Monin–Obukhov values."""

import math
from dataclasses import replace

import numpy as np
import pytest

from engine.errors import ConfigError
from validation.prairie_grass.data import load_runs, select_runs
from validation.prairie_grass.met import run_met, stability_class, ustar_consistency


@pytest.fixture(scope="module")
def runs():
    return load_runs()


def test_unstable_run_matches_hand_computed_similarity_values(runs):
    met = run_met(runs[5])  # L = −28 m, U(2 m) = 5.93 m/s, zi = 782 m, z0 = 0.008 m
    # x = (1 + 16·2/28)^¼ = 1.2099; ψm(2/L) = 2 ln((1+x)/2) + ln((1+x²)/2) − 2 atan x + π/2 = 0.2188;
    # u* = 0.4 · 5.93 / (ln(2/0.008) − 0.2188 + ψm(z0/L) ≈ 0.0011) = 0.4472 m/s.
    assert met.u_star == pytest.approx(0.4472, rel=1e-3)
    # Kz(1 m) = κ u* · 1 · (1 − 1/782)² / φh, φh = (1 + 16/28)^−½: 0.2237 m²/s.
    assert float(met.kz(1.0)) == pytest.approx(0.2237, rel=1e-3)
    # Above 0.1 zi = 78.2 m the surface-layer form is held (then only the (1 − z/h)² taper acts).
    ratio = float(met.kz(200.0)) / float(met.kz(78.2))
    assert ratio == pytest.approx((1 - 200 / 782) ** 2 / (1 - 78.2 / 782) ** 2, rel=1e-6)
    assert float(met.speed(2.0)) == pytest.approx(5.93, rel=1e-6)
    assert met.stability == "unstable"


def test_stable_run_matches_hand_computed_similarity_values(runs):
    met = run_met(runs[17])  # L = 48 m, U(2 m) = 3.41 m/s, no zi
    # u* = 0.4 · 3.41 / (ln(2/0.008) + 5·2/48 − 5·0.008/48) = 0.2381 m/s
    assert met.u_star == pytest.approx(0.2381, rel=1e-3)
    # h = 0.4 √(u* L / f), f = 2Ω sin 42.49° = 9.852e-5 1/s: 136.2 m
    assert met.h == pytest.approx(136.2, rel=1e-3)
    # Kz(2 m) = 0.4 · 0.2381 · 2 · (1 − 2/136.2)² / (1 + 10/48) = 0.1530 m²/s
    assert float(met.kz(2.0)) == pytest.approx(0.1530, rel=1e-3)
    # u(1.5 m) = u*/κ (ln(1.5/z0) + 5·1.5/L − 5 z0/L) = 3.208 m/s
    assert float(met.speed(1.5)) == pytest.approx(3.208, rel=1e-3)


def test_profile_friction_velocity_agrees_with_the_tabulated_one_rescaled_to_von_karman_0_4(runs):
    used, _ = select_runs(runs)
    ratios = np.array([ustar_consistency(run) for run in used])
    assert np.median(ratios) == pytest.approx(1.0, abs=0.02)
    assert np.mean(np.abs(ratios - 1) < 0.1) > 0.9


def test_lateral_diffusivity_reproduces_the_sigma_theta_spread(runs):
    met = run_met(runs[7])  # the widest plume: σθ = 25.6°
    x = np.linspace(5.0, 900.0, 2000)
    sigma2 = met.sigma_y(x) ** 2
    z = np.array([0.5, 1.5, 10.0])
    kh = met.kh(x, z)
    # Kh = u(z) · ½ dσy²/dx (centred differences of the closed form).
    numeric = 0.5 * np.gradient(sigma2, x)
    assert np.allclose(kh[1, 1:-1] / float(met.speed(1.5)), numeric[1:-1], rtol=2e-3)
    # Near the source f_y → 1 and σy → σθ x.
    assert float(met.sigma_y(1.0)) == pytest.approx(math.radians(25.6), rel=0.02)
    assert np.all(kh[:, 0] > 0) and float(met.kh([0.0], [1.5])[0, 0]) == 0.0


def test_stability_classes_and_bad_met(runs):
    assert [stability_class(v) for v in (-5.0, -99.0, -100.0, 250.0, 99.0, 15.0, 14.9)] == [
        "unstable", "unstable", "near-neutral", "near-neutral", "stable", "stable", "very stable"]
    with pytest.raises(ConfigError, match="no L"):
        run_met(runs[1])
    with pytest.raises(ConfigError, match="mixing height"):
        run_met(replace(runs[5], mixing_height=None))

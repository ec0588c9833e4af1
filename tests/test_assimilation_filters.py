"""Ensemble filters: the linear-Gaussian analysis they must reproduce, localisation, inflation,
and twin experiments (a hidden truth, noisy records from 16 sensors, 4 of them withheld)."""

import numpy as np
import pytest

from engine.assimilation import EnKF, LETKF, ObservationBatch, enkf_transform, etkf_transforms, gaspari_cohn
from engine.assimilation.filters import apply_transform
from engine.assimilation.inflation import inflate, relax_to_prior_spread
from engine.assimilation.twin import assimilation_twin
from engine.errors import ConfigError


def test_gaspari_cohn_taper():
    c = 100.0
    d = np.linspace(0, 250, 2501)
    rho = gaspari_cohn(d, c)
    assert rho[0] == 1.0 and np.all(rho[d >= 2 * c] == 0.0)
    assert np.isclose(gaspari_cohn(c, c), 5 / 24)  # both branches meet at r = 1 (GC 1999, eq. 4.10)
    assert np.isclose(gaspari_cohn(c * (1 - 1e-9), c), gaspari_cohn(c * (1 + 1e-9), c))
    assert np.all(np.diff(rho) <= 1e-15)  # monotone decreasing
    with pytest.raises(ValueError):
        gaspari_cohn(1.0, 0.0)


def linear_problem(members=12, n=6, p=4, seed=0):
    rng = np.random.default_rng(seed)
    states = rng.standard_normal((members, n)) + np.arange(n)
    h = rng.standard_normal((p, n))
    y = rng.standard_normal(p)
    r = 0.3 + rng.random(p)
    return states, h, y, r


def kalman_analysis(states, h, y, r):
    """Mean and covariance of the Kalman filter using the ensemble's own covariance."""
    mean = states.mean(axis=0)
    anomalies = states - mean
    p = anomalies.T @ anomalies / (states.shape[0] - 1)
    gain = p @ h.T @ np.linalg.inv(h @ p @ h.T + np.diag(r))
    return mean + gain @ (y - h @ mean), (np.eye(len(mean)) - gain @ h) @ p


@pytest.mark.parametrize("members, observations", [(12, 4), (5, 8)], ids=["sensor-space", "member-space"])
def test_etkf_reproduces_the_kalman_filter_mean_and_covariance(members, observations):
    states, h, y, r = linear_problem(members=members, p=observations)
    transform = etkf_transforms(states @ h.T, y, r)[0]
    analysis = apply_transform(states, transform)
    mean, cov = kalman_analysis(states, h, y, r)
    np.testing.assert_allclose(analysis.mean(axis=0), mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.cov(analysis.T, ddof=1), cov, rtol=1e-9, atol=1e-12)


def test_stochastic_enkf_mean_is_the_kalman_mean_and_its_spread_converges():
    states, h, y, r = linear_problem(members=12)
    transform = enkf_transform(states @ h.T, y, r, np.random.default_rng(5))
    analysis = apply_transform(states, transform)
    mean, cov = kalman_analysis(states, h, y, r)
    # Centred perturbations: the mean update is exactly the Kalman one.
    np.testing.assert_allclose(analysis.mean(axis=0), mean, rtol=1e-10, atol=1e-12)
    # The covariance is right only in expectation: average it over many perturbation draws.
    rng = np.random.default_rng(6)
    covs = [np.cov(apply_transform(states, enkf_transform(states @ h.T, y, r, rng)).T) for _ in range(4000)]
    np.testing.assert_allclose(np.mean(covs, axis=0), cov, atol=0.03 * np.abs(cov).max())


def test_letkf_with_an_unbounded_radius_is_the_global_etkf():
    from engine import Grid

    grid = Grid(6, 5, 10.0, 10.0, [0.0, 5.0, 10.0], backend="numpy", dtype="float64")
    rng = np.random.default_rng(7)
    members = 10
    fields = rng.random((members, 1) + grid.shape)
    sensors = [(5, 5, 0, 0), (30, 40, 1, 3), (55, 15, 0, 5)]  # (x, y, k, j/i index pair below)
    cells = [(0, 0, 0), (1, 3, 3), (0, 1, 5)]
    predicted = np.stack([fields[:, 0, k, j, i] for k, j, i in cells], axis=1)
    batch = ObservationBatch(values=predicted.mean(axis=0) + 0.3, variances=np.full(3, 0.05),
                             xy=np.array([s[:2] for s in sensors], float), predicted=predicted)
    local, _ = LETKF(radius=1e7).analyse(fields, batch, grid)
    transform = etkf_transforms(predicted, batch.values, batch.variances)[0]
    # The taper at 60 m of a 1e7 m half-width is 1 − O((d/c)²) ≈ 1 − 1e-10, not exactly 1.
    np.testing.assert_allclose(local, apply_transform(fields, transform), rtol=0, atol=1e-9)
    # A short radius leaves columns beyond 2c of every sensor as they were.
    near, _ = LETKF(radius=5.0).analyse(fields, batch, grid)
    far_column = (4, 5)  # centre (55, 45) m: farther than 10 m from every sensor
    np.testing.assert_array_equal(near[..., far_column[0], far_column[1]], fields[..., far_column[0], far_column[1]])


def test_inflation_and_rtps():
    rng = np.random.default_rng(8)
    forecast = rng.standard_normal((20, 5))
    inflated = inflate(forecast, 1.5)
    np.testing.assert_allclose(inflated.std(axis=0), 1.5 * forecast.std(axis=0))
    np.testing.assert_allclose(inflated.mean(axis=0), forecast.mean(axis=0))
    analysis = forecast.mean(axis=0) + 0.2 * (forecast - forecast.mean(axis=0)) + 1.0
    restored = relax_to_prior_spread(analysis, forecast, 1.0)
    np.testing.assert_allclose(restored.std(axis=0, ddof=1), forecast.std(axis=0, ddof=1))
    np.testing.assert_allclose(restored.mean(axis=0), analysis.mean(axis=0))
    half = relax_to_prior_spread(analysis, forecast, 0.5)
    np.testing.assert_allclose(half.std(axis=0, ddof=1), 0.5 * (0.2 + 1.0) * forecast.std(axis=0, ddof=1))
    with pytest.raises(ConfigError):
        LETKF(inflation=0.9)
    with pytest.raises(ConfigError):
        EnKF(rtps=1.5)


@pytest.mark.parametrize("make_filter", [lambda: LETKF(radius=300.0, rtps=0.5), lambda: EnKF(rtps=0.5, seed=1)],
                         ids=["letkf", "enkf"])
def test_twin_assimilation_lowers_check_sensor_rmse_and_corrects_a_biased_rate(make_filter):
    result = assimilation_twin(make_filter(), members=16, seed=0, bias=2.0, duration=1200.0)
    print(f"\nRMSE at withheld sensors: free {result.rmse_free:.3e}, assimilated {result.rmse_assimilated:.3e} kg/m3 "
          f"({100 * result.rmse_reduction:.0f} % lower); rate true {result.true_rate:.3f}, prior "
          f"{result.prior_rate:.3f}, analysed {result.estimated_rate:.3f} ± {result.rate_spread:.3f} kg/s")
    assert result.rmse_reduction >= 0.30
    assert abs(result.prior_rate / result.true_rate - 1) > 0.5  # the bias was real
    assert abs(result.estimated_rate / result.true_rate - 1) <= 0.20


@pytest.mark.parametrize("make_filter", [lambda: LETKF(radius=40.0, rtps=0.3), lambda: EnKF(rtps=0.3, seed=2)],
                         ids=["letkf", "enkf"])
def test_analysis_on_every_backend_matches_numpy(backend, to_host, make_filter):
    from engine import Grid

    grids = {name: Grid(8, 6, 10.0, 10.0, [0.0, 5.0, 10.0], backend=name, dtype="float64")
             for name in ("numpy", backend)}
    rng = np.random.default_rng(9)
    fields = rng.random((10, 2) + grids["numpy"].shape)
    predicted = rng.random((10, 3))
    batch = ObservationBatch(values=predicted.mean(axis=0) + 0.2, variances=np.full(3, 0.02),
                             xy=np.array([[15.0, 15.0], [45.0, 35.0], [70.0, 50.0]]), predicted=predicted)
    reference, _ = make_filter().analyse(fields, batch, grids["numpy"])
    result, _ = make_filter().analyse(grids[backend].xp.asarray(fields), batch, grids[backend])
    assert type(result).__module__.split(".")[0] == type(grids[backend].xp.zeros(1)).__module__.split(".")[0]
    np.testing.assert_allclose(to_host(result), reference, rtol=1e-12, atol=1e-12)

"""The observation operator: trilinear sampling at sensors, its adjoint (dot-product tests),
consistency with point-source injection, and window means in time."""

import numpy as np
import pytest

from engine import Diffusivity, DispersionModel, Grid, PointSource, Species, Wind, WindProfile
from engine.errors import ConfigError
from engine.observations import ObservationCallback, ObservationOperator, StationTable, WindowAverage, check_stations
from engine.schedules import IterationInterval
from engine.simulation import Simulation
from engine.sources import SourceInjector


def grid_with_building(dtype="float32", backend="numpy"):
    grid = Grid(16, 12, 10.0, 8.0, [0, 2, 5, 9, 14, 20, 30], origin=(1000.0, 2000.0), crs="EPSG:5186",
                dtype=dtype, backend=backend)
    grid.add_box(1080.0, 1110.0, 2030.0, 2060.0, 9.0)
    return grid


def stations():
    # Mid-cell, on faces, next to the building, at the domain edge and near the ground.
    return StationTable(["a", "b", "c", "d", "e"], [1033.3, 1040.0, 1075.0, 1001.0, 1155.0],
                        [2021.7, 2048.0, 2045.0, 2001.0, 2090.0], [1.5, 5.0, 3.0, 0.5, 27.0], "EPSG:5186")


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-12), ("float32", 1e-4)])
def test_adjoint_passes_the_dot_product_test(dtype, tolerance, backend, to_host):
    grid = grid_with_building(dtype, backend)
    operator = ObservationOperator(grid, stations(), ["SO2", "NO2"])
    rng = np.random.default_rng(7)
    q = rng.random((3, 2) + grid.shape).astype(grid.float_type)
    q[:, :, grid.solid] = 0.0
    w = rng.random((3, 2, operator.n_sensors)).astype(grid.float_type)
    xp = grid.xp
    hq = to_host(operator.sample(xp.asarray(q))).astype(np.float64)
    htw = to_host(operator.adjoint(xp.asarray(w))).astype(np.float64)
    left = float(np.sum(hq * w))
    right = float(np.sum(q.astype(np.float64) * htw))
    # float32: each side sums ~1e4 products of numbers in [0, 1) with 24-bit mantissas.
    assert abs(left - right) <= tolerance * abs(left)


def test_adjoint_is_point_source_injection_divided_by_nothing_but_the_cell_volume():
    grid = grid_with_building("float64")
    table = stations()
    operator = ObservationOperator(grid, table, ["T"])
    masses = np.zeros((1, 1, operator.n_sensors))
    masses[0, 0, 2] = 3.0  # kg released at station c
    from_operator = operator.inject(masses)
    source = PointSource("leak", {"T": 3.0}, x=table.x[2], y=table.y[2], height=table.z_agl[2])
    field = np.zeros((1, 1) + grid.shape)
    SourceInjector(grid, [Species("T")], [source], 1).inject(field, 0.0, 1.0)  # 3 kg/s for 1 s
    np.testing.assert_allclose(from_operator, field, rtol=1e-12, atol=0)
    # the same mass, whichever way it is counted
    volume = grid.cell_volumes()
    assert float((from_operator[0, 0] * volume).sum()) == pytest.approx(3.0, rel=1e-12)
    # and Hᵀ is V times that: ⟨H q, m⟩ = Σ q · V · inject(m)
    q = np.random.default_rng(1).random((1, 1) + grid.shape)
    assert float((operator.sample(q) * masses).sum()) == pytest.approx(
        float((q * from_operator * volume).sum()), rel=1e-12)


def test_sampling_is_exact_for_a_linear_field_away_from_solids():
    grid = grid_with_building("float64")
    x, y, z = np.meshgrid(grid.x_centres, grid.y_centres, grid.z_centres, indexing="ij")
    field = (2.0 + 0.01 * x + 0.02 * y + 0.3 * z).transpose(2, 1, 0)[None, None]
    table = StationTable(["p"], [1033.3], [2021.7], [4.2], "EPSG:5186")
    value = ObservationOperator(grid, table, ["T"]).sample(field)[0, 0, 0]
    assert value == pytest.approx(2.0 + 0.01 * 1033.3 + 0.02 * 2021.7 + 0.3 * 4.2, rel=1e-13)


def test_unusable_stations_are_refused_by_name():
    grid = grid_with_building("float64")
    table = StationTable(["in", "out", "wall"], [1033.0, 5000.0, 1095.0], [2021.0, 2021.0, 2045.0],
                         [1.5, 1.5, 1.0], "EPSG:5186")
    messages = check_stations(table, grid)
    assert any("out" in m and "outside the domain" in m for m in messages)
    assert any("wall" in m and "inside a building" in m for m in messages)
    with pytest.raises(ConfigError, match="out .*outside_domain.*wall .*inside_building"):
        ObservationOperator(grid, table, ["T"])
    assert table.usable.tolist() == [True, False, False]
    assert ObservationOperator(grid, table.subset(table.usable), ["T"]).n_sensors == 1


def test_window_mean_is_exact_for_a_signal_linear_in_time_and_its_weights_are_its_adjoint():
    average = WindowAverage(np.array([0.0, 60.0, 600.0]))
    times = np.array([0.0, 7.0, 30.0, 45.0, 100.0, 330.0, 600.0, 640.0])
    signal = lambda t: np.broadcast_to(5.0 - 0.003 * t, (2, 1, 3))  # noqa: E731
    for t in times:
        average.add(t, signal(t))
    mean = average.mean(620.0)
    expected = [5.0 - 0.003 * 620.0, 5.0 - 0.003 * (620.0 - 30.0), 5.0 - 0.003 * (620.0 - 300.0)]
    np.testing.assert_allclose(mean[0, 0], expected, rtol=1e-13)
    weights = average.time_weights(620.0)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0, rtol=1e-13)
    # the window starting before the first sample averages what was sampled
    assert average.mean(300.0)[0, 0, 2] == pytest.approx(5.0 - 0.003 * 150.0, rel=1e-13)


def test_callback_window_mean_follows_exponential_decay():
    # A still, uniform field decaying at rate lam: c(t) = c0 exp(-lam t) away from the open edges.
    grid = Grid(20, 20, 10.0, 10.0, np.arange(0, 110, 10.0), backend="numpy", dtype="float64")
    lam, c0, window = 1e-3, 2e-6, 600.0
    wind = Wind.from_profiles(grid, [WindProfile(0.0, 270.0)])
    model = DispersionModel(grid, wind, Diffusivity.constant(grid, 0.5, 0.5), [Species("T", decay_rate=lam)])
    model.set_state(np.full(model.state.shape, c0))
    table = StationTable(["centre"], [100.0], [100.0], [50.0], "local")
    callback = ObservationCallback(ObservationOperator(grid, table, ["T"], averaging_s=window), IterationInterval(1))
    Simulation(model, 900.0, max_dt=10.0, callbacks={"sensors": callback}).run()
    mean = callback.average.mean(900.0)[0, 0, 0]
    exact = c0 * (np.exp(-lam * (900.0 - window)) - np.exp(-lam * 900.0)) / (lam * window)
    # The trapezoidal rule errs by (lam dt)^2 / 12 < 1e-5 relative at dt <= 10 s; the field edges
    # are 100 m (> 6 diffusion lengths of sqrt(0.5 * 900) = 21 m) from the sensor.
    assert mean == pytest.approx(exact, rel=1e-4)
    assert len(callback.average.times) == model.iteration + 1


def test_windowed_operator_passes_the_dot_product_test_over_a_state_history():
    # A q = mean over each window of H q(t_k); Aᵀ w = Σ_k Hᵀ (c_k w): checked with random histories.
    grid = grid_with_building("float64")
    operator = ObservationOperator(grid, stations(), ["SO2"], averaging_s=[0.0, 30.0, 90.0, 200.0, 45.0])
    average = operator.window_average()
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.uniform(5.0, 25.0, 14))
    history = rng.random((times.size, 2, 1) + grid.shape)
    for t, q in zip(times, history):
        average.add(t, operator.sample(q))
    end = times[-1] - 7.0
    w = rng.random((2, 1, operator.n_sensors))
    left = float(np.sum(average.mean(end) * w))
    spread = average.adjoint(w, end)
    right = sum(float(np.sum(q * operator.adjoint(spread[k]))) for k, q in enumerate(history))
    assert left == pytest.approx(right, rel=1e-12)

"""The simulation loop: exact landing on output times, refused unstable steps, the NaN guard,
puffs and time-varying emissions."""

import h5py
import numpy as np
import pytest

from engine import (Diffusivity, DispersionModel, EmissionProfile, Grid, NumericalInstabilityError,
                    PointSource, PuffSource, Species, Wind, WindProfile)
from engine.callbacks import NaNGuard
from engine.schedules import IterationInterval, SpecifiedTimes, TimeInterval
from engine.simulation import Simulation


def small_model(sources=(), speed=3.0):
    grid = Grid(20, 12, 10.0, 10.0, np.arange(0, 90, 10.0), backend="numpy")
    wind = Wind.from_profiles(grid, [WindProfile(speed, 270.0)])
    return DispersionModel(grid, wind, Diffusivity.constant(grid, 1.0, 1.0), [Species("T")], list(sources))


class TimeRecorder:
    def __init__(self, schedule):
        self.schedule = schedule
        self.times = []

    def __call__(self, sim):
        self.times.append(sim.model.time)


def test_adaptive_step_lands_exactly_on_output_times():
    model = small_model()
    stable = model.stable_dt()
    interval = 2.7 * stable  # not a multiple of the stable step
    recorder = TimeRecorder(TimeInterval(interval))
    sim = Simulation(model, 10 * interval, writers={"rec": recorder})
    sim.run()
    expected = [n * interval for n in range(11)]
    assert recorder.times == pytest.approx(expected, rel=0, abs=1e-9)
    assert model.time == 10 * interval
    # no step was longer than the stable one
    assert sim.last_dt <= stable * (1 + 1e-12)


def test_fixed_step_that_breaks_the_cfl_limit_is_refused_before_any_step():
    model = small_model(speed=10.0)  # Courant number 10 * 2 / 10 = 2 with dt = 2 s
    with pytest.raises(NumericalInstabilityError, match="time.dt = 2 s breaks the stability limit"):
        Simulation(model, 100.0, dt=2.0)
    assert model.iteration == 0


class Poison:
    schedule = SpecifiedTimes((30.0,))

    def __call__(self, sim):
        sim.model.state[0, 0, 2, 5, 7] = np.nan


def test_nan_guard_stops_with_a_clear_message_and_saves_the_last_good_state(tmp_path):
    source = PointSource("s", {"T": 1.0}, x=30, y=60, height=20)
    model = small_model([source])
    dump = tmp_path / "last_good.h5"
    guard = NaNGuard(IterationInterval(1), dump_path=dump)
    sim = Simulation(model, 100.0, callbacks={"poison": Poison(), "nan": guard})
    with pytest.raises(NumericalInstabilityError) as info:
        sim.run()
    message = str(info.value)
    assert "non-finite concentration of T" in message and "(k=2, j=5, i=7)" in message
    assert "t = 30 s" in message
    with h5py.File(dump) as f:
        saved = f["state"][...]
        assert np.all(np.isfinite(saved)) and saved.max() > 0
        assert f.attrs["time"] < 30.0


def test_puff_is_released_exactly_at_its_time_with_its_mass():
    puff = PuffSource("leak", {"T": 5.0}, x=45, y=60, height=15, start=7.3)
    model = small_model([puff], speed=0.5)
    recorder = TimeRecorder(TimeInterval(100.0))
    sim = Simulation(model, 7.3, writers={"rec": recorder})
    sim.run()
    assert model.time == 7.3
    assert model.mass()[0, 0] == pytest.approx(0.0, abs=1e-12)
    Simulation(model, 20.0).run()
    budget = model.budget()
    assert budget["emitted"][0, 0] == pytest.approx(5.0, rel=1e-12)
    assert model.mass()[0, 0] + budget["outflow"][0, 0] == pytest.approx(5.0, rel=1e-5)


def test_emission_profile_is_integrated_exactly():
    profile = EmissionProfile(times=(0.0, 3600.0, 7200.0), factors=(1.0, 0.5, 0.0))
    source = PointSource("s", {"T": 2.0}, x=30, y=60, height=20, profile=profile, start=1800.0)
    emitted = source.emitted(0.0, 10000.0)["T"]
    assert emitted == pytest.approx(2.0 * (1800 * 1.0 + 3600 * 0.5))
    assert source.emitted(3000.0, 4200.0)["T"] == pytest.approx(2.0 * (600 + 600 * 0.5))


class StateRecorder:
    """A copy of the state after every step, by iteration."""

    schedule = IterationInterval(1)

    def __init__(self):
        self.states = {}

    def __call__(self, sim):
        self.states[sim.model.iteration] = np.array(sim.model.grid.backend.to_host(sim.model.state))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_saved_last_good_state_is_the_state_of_its_time(tmp_path, backend):
    """The guard checks every 4th step; the Numba step writes each new state into the memory of the
    one before last, so a guard keeping a reference instead of a copy would save a later state."""
    if backend == "numba":
        pytest.importorskip("numba")
    grid = Grid(20, 12, 10.0, 10.0, np.arange(0, 90, 10.0), backend=backend)
    wind = Wind.from_profiles(grid, [WindProfile(3.0, 270.0)])
    source = PointSource("s", {"T": 1.0}, x=30, y=60, height=20)
    model = DispersionModel(grid, wind, Diffusivity.constant(grid, 1.0, 1.0), [Species("T")], [source])
    recorder = StateRecorder()
    dump = tmp_path / "last_good.h5"
    guard = NaNGuard(IterationInterval(4), dump_path=dump)
    sim = Simulation(model, 100.0, callbacks={"record": recorder, "poison": Poison(), "nan": guard})
    with pytest.raises(NumericalInstabilityError):
        sim.run()
    with h5py.File(dump) as f:
        iteration = int(f.attrs["iteration"])
        saved = f["state"][...]
    assert iteration % 4 == 0 and iteration + 4 <= model.iteration  # checked steps went by since
    np.testing.assert_array_equal(saved, recorder.states[iteration])

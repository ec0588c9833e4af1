"""Wet scavenging: exact exponential wash-out under rain, counted as deposited, and driven by a met
record's rain column."""

import math

import numpy as np
import pytest

from engine import ConfigError, Diffusivity, DispersionModel, Grid, Species, Wind, WindProfile, stretched_levels
from engine.app.build import build
from engine.simulation import Simulation

WALLS = ("west", "east", "south", "north", "top")


def closed_box(backend, rain):
    grid = Grid(12, 10, 20.0, 20.0, stretched_levels(6, 4.0, 1.2), backend=backend)
    wind = Wind.from_profiles(grid, [WindProfile(0.0)], closed_boundaries=WALLS)
    species = [Species("SO2", scavenging_coefficient=1e-4, scavenging_exponent=0.64), Species("inert")]
    model = DispersionModel(grid, wind, Diffusivity.constant(grid, 2.0, 1.0), species)
    model.set_state(1e-6)
    model.transport.set_rain(rain)
    return model


def test_rain_washes_out_exponentially_and_the_budget_counts_it(backend):
    model = closed_box(backend, rain=2.0)
    initial = model.mass()
    Simulation(model, 600.0, dt=10.0).run()
    rate = 1e-4 * 2.0**0.64
    mass = model.mass()
    assert math.isclose(mass[0, 0] / initial[0, 0], math.exp(-rate * 600.0), rel_tol=2e-6)
    assert math.isclose(mass[0, 1], initial[0, 1], rel_tol=2e-6)  # a species without scavenging stays
    deposited = model.budget()["deposited"]
    assert math.isclose(deposited[0, 0], initial[0, 0] - mass[0, 0], rel_tol=1e-5)
    assert deposited[0, 1] == 0


def test_no_rain_no_wash_out_and_bad_rain_is_refused(backend):
    model = closed_box(backend, rain=0.0)
    initial = model.mass()
    Simulation(model, 300.0, dt=10.0).run()
    assert np.allclose(model.mass(), initial, rtol=2e-6)
    with pytest.raises(ConfigError, match="met.rain_rate: must be >= 0 mm/h"):
        model.transport.set_rain(-1.0)


def test_a_record_rain_column_switches_scavenging_on(tmp_path):
    path = tmp_path / "shower.csv"
    path.write_text("time,wind_speed,wind_direction,temperature_c,stability,rain_mm_h\n"
                    "2026-07-01T00:00+09:00,3,270,22,D,0\n2026-07-01T01:00+09:00,3,270,22,D,5\n")
    from test_config import TINY, compose_run  # noqa: PLC0415 - the tests' own helpers

    cfg = compose_run(*TINY, "time.stop=7200", f"met.record={path}", "species.0.scavenging_coefficient=1e-4",
                      "output.progress=false")
    built = build(cfg)
    rates = []
    original = built.model.transport.set_rain

    def spy(rain):
        rates.append(rain)
        original(rain)

    built.model.transport.set_rain = spy
    built.simulation.run()
    assert rates[-1] == 5.0 and built.model.transport.rain_rate == 5.0
    b = built.model.budget()
    residual = b["emitted"] - b["inside"] - b["outflow"] - b["deposited"] - b["decayed"]
    assert np.all(np.abs(residual) <= 1e-4 * b["emitted"])

"""Analysis time of the ensemble filters: 64 members, 16 sensors, one species on 128 × 128 × 32.

Run with ``make bench`` (or ``pytest tests/benchmarks/test_assimilation.py --benchmark-only``).
The time covers one whole analysis: the ensemble-space transforms from the members × sensors
arrays and their application to the full state (and RTPS), on the grid's backend.
"""

import numpy as np
import pytest

from engine import Grid
from engine.assimilation import EnKF, LETKF, ObservationBatch

MEMBERS, SENSORS, SHAPE = 64, 16, (32, 128, 128)


def ensemble_and_observations(backend: str):
    grid = Grid(SHAPE[2], SHAPE[1], 10.0, 10.0, np.linspace(0.0, 320.0, SHAPE[0] + 1), backend=backend)
    rng = np.random.default_rng(0)
    xp = grid.xp
    state = xp.asarray(rng.random((MEMBERS, 1) + SHAPE, dtype=np.float32))
    xy = rng.uniform(100.0, 1180.0, (SENSORS, 2))
    predicted = rng.random((MEMBERS, SENSORS))
    batch = ObservationBatch(values=predicted.mean(axis=0) + 0.1, variances=np.full(SENSORS, 0.01), xy=xy,
                             predicted=predicted)
    return grid, state, batch


@pytest.mark.parametrize("name", ["letkf", "enkf"])
def test_analysis_time(benchmark, backend, name):
    if backend == "numba":
        pytest.skip("the analysis is array code shared with numpy; numba adds nothing")
    grid, state, batch = ensemble_and_observations(backend)
    chosen = LETKF(radius=250.0, rtps=0.5) if name == "letkf" else EnKF(rtps=0.5)
    sync = grid.backend.synchronize

    def analyse():
        result = chosen.analyse(state, batch, grid)
        sync()
        return result

    analyse()
    benchmark.pedantic(analyse, rounds=3, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update({
        "backend": backend, "filter": name, "grid": "128x128x32", "members": MEMBERS, "sensors": SENSORS,
        "species": 1, "dtype": grid.dtype, "localisation_half_width_m": 250.0 if name == "letkf" else None,
        "analysis_s": benchmark.stats.stats.median,
    })

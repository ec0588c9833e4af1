"""Resolution convergence of the Prairie Grass simulation (slow: three resolutions)."""

import numpy as np
import pytest

from validation.prairie_grass.data import load_runs
from validation.prairie_grass.scoring import convergence
from validation.prairie_grass.simulate import simulate_run

RUNS = (5, 17)  # one unstable, one stable run


@pytest.mark.slow
def test_predictions_converge_as_every_spacing_is_refined_by_1_5():
    runs = load_runs()
    results = {res: {n: simulate_run(runs[n], res) for n in RUNS} for res in ("coarse", "medium", "fine")}
    first = convergence(results["coarse"], results["medium"])
    second = convergence(results["medium"], results["fine"])
    for quantity in ("arc_max", "cwic"):
        # The change shrinks with refinement and is already small from medium to fine.
        assert second[quantity]["median"] < first[quantity]["median"]
        assert second[quantity]["max"] < 0.05
    # Every grid conserves the emitted flux.
    for per_run in results.values():
        flux = [p.plane_flux_ratio for arcs in per_run.values() for p in arcs.values()]
        assert np.allclose(flux, 1.0, atol=5e-3)

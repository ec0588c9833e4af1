"""Prairie Grass tables: reading, exclusions, arc usability and the arc statistics."""

import csv
import math

import numpy as np
import pytest

from engine.errors import ConfigError
from validation.prairie_grass.data import (ARC_DISTANCES, DATA_DIR, arc_observation, crosswind_integral, load_runs,
                                           select_runs)


@pytest.fixture(scope="module")
def runs():
    return load_runs()


def test_all_68_runs_are_read_and_the_15_without_meteorology_are_excluded(runs):
    assert len(runs) == 68
    used, excluded = select_runs(runs)
    assert len(used) == 53 and len(excluded) == 15
    assert sorted(excluded) == [1, 2, 3, 4, 13, 14, 35, 36, 47, 52, 65, 66, 67, 68, 71]
    assert all("no meteorology" in reason for reason in excluded.values())
    assert {runs[n].release_height for n in (65, 66, 67, 68)} == {1.5}
    assert all(set(run.arcs) == set(ARC_DISTANCES) for run in used)


def test_raw_arc_maxima_agree_with_the_per_run_table(runs):
    """The long table (per sampler) and the per-run table (arc maxima) were derived separately."""
    with (DATA_DIR / "pg_runs.csv").open() as handle:
        for row in csv.DictReader(handle):
            run = runs[int(row["run"])]
            for distance in ARC_DISTANCES:
                tabulated = float(row[f"arcmax_{distance:g}m_mg_m3"]) * 1e-6 / run.q
                assert run.arcs[distance].arc_max_raw == pytest.approx(tabulated, rel=1e-9)


def test_observations_are_normalised_and_evaporation_corrected(runs):
    arc = runs[5].arcs[50.0]
    # Run 5, 50 m: maximum 203.0 mg/m³ at Q = 77.8 g/s -> 203.0e-6 / 77.8e-3 s/m³; Table 5.4 factor 0.93.
    assert arc.arc_max_raw == pytest.approx(203.0e-6 / 77.8e-3)
    assert arc.arc_max == pytest.approx(0.93 * 203.0e-6 / 77.8e-3)
    assert runs[12].arcs[200.0].arc_max / runs[12].arcs[200.0].arc_max_raw == pytest.approx(0.90)  # typo 0.09


def test_suspect_and_off_arc_values_are_flagged(runs):
    assert not runs[58].arcs[50.0].arc_max_ok and "1000" in runs[58].arcs[50.0].reason
    azimuth = np.arange(0, 22, 2.0)
    centred = np.exp(-0.5 * ((azimuth - 10) / 3) ** 2) * 10.0
    ok = arc_observation(1, 100.0, azimuth, centred, 1.0, 0.05)
    assert ok.arc_max_ok and ok.cwic_ok and ok.reason == ""
    edge = arc_observation(1, 100.0, azimuth, np.exp(-0.5 * ((azimuth - 4) / 3) ** 2) * 10.0, 1.0, 0.05)
    assert edge.arc_max_ok and not edge.cwic_ok
    at_end = arc_observation(1, 100.0, azimuth, np.exp(-0.5 * ((azimuth - 20) / 3) ** 2) * 10.0, 1.0, 0.05)
    assert not at_end.arc_max_ok and not at_end.cwic_ok
    faint = arc_observation(1, 100.0, azimuth, centred * 0.005, 1.0, 0.05)
    assert not faint.arc_max_ok
    with_missing = arc_observation(1, 100.0, azimuth, np.where(azimuth == 12, -9.0, centred), 1.0, 0.05)
    assert with_missing.azimuth_deg.size == azimuth.size - 1


def test_crosswind_integral_of_a_gaussian_arc_profile_matches_the_analytic_integral():
    radius, spread = 200.0, math.radians(6.0)
    azimuth = np.arange(-40, 41, 2.0)
    values = np.exp(-0.5 * (np.deg2rad(azimuth) / spread) ** 2)
    # Trapezoidal rule on a 2° grid is spectrally accurate for a Gaussian of σ = 6°.
    assert crosswind_integral(azimuth, values, radius) == pytest.approx(radius * spread * math.sqrt(2 * math.pi),
                                                                        rel=1e-6)


def test_arcs_across_north_are_unwrapped(runs):
    arc = runs[58].arcs[100.0]
    assert np.all(np.diff(arc.azimuth_deg) > 0) and arc.azimuth_deg.max() - arc.azimuth_deg.min() < 180


def test_bad_selection_and_missing_files_raise_clear_errors(runs, tmp_path):
    with pytest.raises(ConfigError, match="unknown run"):
        select_runs(runs, [5, 999])
    with pytest.raises(ConfigError, match="pg_runs.csv"):
        load_runs(tmp_path)
    (tmp_path / "pg_runs.csv").write_text("run,q_gps\n1,2\n")
    with pytest.raises(ConfigError, match="missing column"):
        load_runs(tmp_path)

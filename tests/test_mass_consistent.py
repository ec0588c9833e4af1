"""Mass-consistent wind around buildings (Sherman's adjustment): divergence removed, no flow
through solids, and the flow around a single cube at named probe points."""

import numpy as np
import pytest

from engine import ConfigError, Grid, Wind, WindProfile, stretched_levels
from engine.meteorology.mass_consistent import cell_divergence, mass_consistent_wind

PROFILE = WindProfile(5.0, 270.0, kind="log", roughness_length=0.1)  # from the west, +x


@pytest.fixture(scope="module")
def cube():
    """A 20 m cube (x 150–170, y 140–160) in a 400 × 300 m domain, 5 m cells, levels from 2 m."""
    grid = Grid(80, 60, 5.0, 5.0, stretched_levels(24, 2.0, 1.08), backend="numpy")
    grid.add_box(150, 170, 140, 160, 20.0)
    return grid, Wind.mass_consistent(grid, [PROFILE]), Wind.from_profiles(grid, [PROFILE])


def centre_u(wind, k, x, y):
    u = wind.host[0][0]
    i, j = int(x // 5), int(y // 5)
    return 0.5 * (u[k, j, i] + u[k, j, i + 1])


def test_divergence_is_removed_and_solids_are_walls(cube):
    grid, wind, _ = cube
    report = wind.adjustment[0]
    print(f"divergence {report.divergence_before:.3e} -> {report.divergence_after:.3e} 1/s "
          f"in {report.iterations} CG iterations, {report.seconds:.2f} s")
    assert report.divergence_after < 1e-3 * report.divergence_before
    u, v, w = (a[0].astype(np.float64) for a in wind.host)
    assert np.sqrt(np.mean(cell_divergence(grid, u, v, w)[~grid.solid] ** 2)) < 1e-3 * report.divergence_before
    fx, fy, fz = grid.open_faces()
    assert np.all(u[~fx] == 0) and np.all(v[~fy] == 0) and np.all(w[~fz] == 0)  # solids and the ground
    assert wind.is_divergence_free()  # so transport applies the multi-dimensional correction


def test_flow_splits_around_the_cube_with_a_deficit_behind(cube):
    grid, wind, initial = cube
    k = 3  # cell centre at 7.75 m, below the roof
    probes = {"upstream": (142, 150), "behind": (177, 150), "south side": (160, 132), "north side": (160, 167),
              "far downstream": (290, 150)}
    ratio = {name: centre_u(wind, k, *xy) / centre_u(initial, k, *xy) for name, xy in probes.items()}
    print({name: round(float(r), 3) for name, r in ratio.items()})
    assert ratio["upstream"] < 0.7 and ratio["behind"] < 0.7          # stagnation before, deficit behind
    assert ratio["south side"] > 1.05 and ratio["north side"] > 1.05  # speed-up around the sides
    assert abs(ratio["far downstream"] - 1) < 0.05                    # the disturbance is local
    v, w = wind.host[1][0], wind.host[2][0]
    j_south, j_north, i_front = int(142 // 5), int(157 // 5), int(142 // 5)
    v_south = 0.5 * (v[k, j_south, i_front] + v[k, j_south + 1, i_front])
    v_north = 0.5 * (v[k, j_north, i_front] + v[k, j_north + 1, i_front])
    assert v_south < -0.5 and v_north > 0.5  # the flow splits at the windward face
    i_behind, j_mid, k_roof = int(177 // 5), int(150 // 5), 6
    assert w[k_roof, j_mid, i_front] > 0.3 > -0.3 > w[k_roof, j_mid, i_behind]  # up over, down behind


def test_members_are_adjusted_separately_and_bad_sides_are_refused():
    grid = Grid(24, 16, 10.0, 10.0, stretched_levels(10, 3.0, 1.15), backend="numpy")
    grid.add_box(100, 140, 60, 100, 15.0)
    wind = Wind.mass_consistent(grid, [PROFILE, WindProfile(3.0, 180.0, kind="log")])
    assert len(wind.adjustment) == 2
    assert all(r.divergence_after < 1e-6 * r.divergence_before for r in wind.adjustment)
    v = wind.host[1]
    assert v[1].mean() > 1.0 and abs(v[0].mean()) < 0.1  # the second member blows north, the first east
    with pytest.raises(ConfigError, match="unknown side 'up'"):
        mass_consistent_wind(grid, *(a[0] for a in wind.host), closed_boundaries=("up",))


def test_the_compiled_operator_and_wind_equal_the_numpy_ones_to_the_bit():
    """The Numba backend's one-pass 7-point operator does the reference's operations in its order."""
    pytest.importorskip("numba")
    winds = {}
    for backend in ("numpy", "numba"):
        grid = Grid(30, 24, 5.0, 5.0, stretched_levels(10, 2.0, 1.2), backend=backend)
        grid.add_box(50.0, 80.0, 40.0, 70.0, 12.0)
        grid.add_box(100.0, 115.0, 60.0, 100.0, 20.0)
        winds[backend] = Wind.mass_consistent(grid, [WindProfile(4.0, 240.0, kind="log", roughness_length=0.3)])
    assert winds["numba"].adjustment[0].iterations == winds["numpy"].adjustment[0].iterations
    for reference, compiled in zip(winds["numpy"].host, winds["numba"].host):
        assert np.array_equal(compiled, reference)

"""The NumPy reference run slab by slab in threads equals the whole-array reference to the bit, with
buildings, the divergence correction, stretched levels, deposition and both vertical schemes; so
does the compiled (Numba) step."""

import contextlib

import numpy as np
import pytest

from engine import Diffusivity, DispersionModel, Grid, PointSource, Species, Wind, WindProfile, stretched_levels
from engine.transport import slabs


def city_model(backend: str = "numpy") -> DispersionModel:
    grid = Grid(40, 32, 10.0, 10.0, stretched_levels(12, 2.0, 1.2), backend=backend)
    grid.add_box(120.0, 160.0, 100.0, 150.0, 18.0)
    grid.add_box(220.0, 250.0, 160.0, 220.0, 30.0)
    wind = Wind.mass_consistent(grid, [WindProfile(3.0, 235.0, kind="log", roughness_length=0.3)])
    species = [Species("SO2", deposition_velocity=0.008), Species("PM10", deposition_velocity=0.002, decay_rate=1e-4)]
    source = PointSource("stack", {"SO2": 1.0, "PM10": 0.4}, x=60.0, y=80.0, height=12.0)
    return DispersionModel(grid, wind, Diffusivity.constant(grid, 2.0, 1.5), species, [source])


def run(model: DispersionModel, steps: int, dt: float) -> tuple[np.ndarray, dict]:
    for _ in range(steps):
        model.step(dt)
    return np.asarray(model.state).copy(), {k: np.asarray(v).copy() for k, v in model.budget().items()}


@pytest.mark.parametrize("dt, steps", [(0.5, 40), (1.6, 15)], ids=["explicit-vertical", "implicit-vertical"])
def test_slabs_equal_the_whole_array_reference_to_the_bit(monkeypatch, dt, steps):
    reference_model = city_model()
    assert reference_model.transport.explicit_vertical(dt) == (dt == 0.5)
    whole = run(reference_model, steps, dt)
    monkeypatch.setattr(slabs, "MIN_CELLS", 1)      # split even this small field
    monkeypatch.setattr(slabs, "SLAB_CELLS", 2000)  # into many slabs
    assert len(slabs.slab_ranges(12, 40 * 32 * 2)) > 1 and len(slabs.slab_ranges(32, 12 * 40 * 2)) > 1
    split = run(city_model(), steps, dt)
    assert np.count_nonzero(whole[0]) > 1000  # the plume is spread over many cells
    assert np.array_equal(split[0], whole[0])
    for key in whole[1]:
        assert np.array_equal(split[1][key], whole[1][key]), key


def test_slab_ranges_tile_the_axis_without_gaps_or_overlaps():
    for length, per_index in ((1, 10), (7, 1), (256, 65536), (33, 10**9)):
        ranges = slabs.slab_ranges(length, per_index)
        assert ranges[0][0] == 0 and ranges[-1][1] == length
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        assert all(stop > start for start, stop in ranges)


def test_an_argument_that_neither_spans_nor_broadcasts_is_an_error():
    with pytest.raises(ValueError, match="neither spans nor broadcasts"):
        slabs.take(np.zeros((3, 5, 4)), -3, 0, 2, 6)
    same = np.zeros((1, 5, 4))
    assert slabs.take(same, -3, 0, 2, 6) is same and slabs.take(None, -3, 0, 2, 6) is None


def test_the_thread_count_comes_from_plumetwin_num_threads(monkeypatch):
    monkeypatch.setenv("PLUMETWIN_NUM_THREADS", "3")
    assert len(slabs.slab_ranges(9, 1)) == 3  # at least one slab per thread, no more than needed
    monkeypatch.setenv("PLUMETWIN_NUM_THREADS", "two")
    with pytest.raises(ValueError, match="PLUMETWIN_NUM_THREADS .environment variable.: 'two' is not a number"):
        slabs.slab_ranges(9, 1)


@pytest.mark.parametrize("dt", [0.5, 1.6], ids=["explicit-vertical", "implicit-vertical"])
def test_numba_equals_the_reference_to_the_bit_with_buildings_and_deposition(dt):
    """The compiled pass does the reference's arithmetic in the reference's order, including the
    per-column vertical coefficients around buildings and deposition on roofs and ground."""
    pytest.importorskip("numba")
    reference, compiled = city_model(), city_model("numba")
    for _ in range(40):
        reference.step(dt)
        compiled.step(dt)
    assert np.array_equal(np.asarray(compiled.state), np.asarray(reference.state))


def test_a_chain_of_operators_in_slabs_equals_them_one_after_the_other(monkeypatch):
    """``in_slabs(..., then=...)`` takes each slab through every operator while it is in cache; the
    result and the joined boundary fluxes are those of the operators applied in turn."""
    from engine.transport.advection import advect_axis
    from engine.transport.diffusion import diffuse_horizontal

    monkeypatch.setattr(slabs, "SLAB_CELLS", 500)
    rng = np.random.default_rng(5)
    field = rng.uniform(0.0, 1.0, (2, 1, 9, 10, 11)).astype(np.float32)
    u = rng.uniform(0.5, 2.0, (2, 1, 9, 10, 12)).astype(np.float32)
    v = rng.uniform(-2.0, 2.0, (2, 1, 9, 11, 11)).astype(np.float32)
    kh = np.full((2, 1, 9, 1, 1), 3.0, dtype=np.float32)
    sweep_x = (None, u, 4, 1.5, 10.0, 0.0, "mc")
    sweep_y = (None, v, 3, 1.5, 10.0, 0.0, "mc")
    expected, fluxes_x = advect_axis(field, *sweep_x, direction=1)
    expected, fluxes_y = advect_axis(expected, *sweep_y)
    expected = diffuse_horizontal(expected, kh, 1.5, 10.0, 10.0)
    out = np.empty_like(field)
    then = [(advect_axis, sweep_y, {}, 2), (diffuse_horizontal, (kh, 1.5, 10.0, 10.0), {}, 0)]
    got, fluxes = slabs.in_slabs(advect_axis, field, -3, sweep_x, {"direction": 1}, contextlib.nullcontext,
                                 joined_outputs=4, out=out, then=then)
    assert len(slabs.slab_ranges(9, 10 * 11 * 2)) > 1
    assert got is out and np.array_equal(got, expected)
    for joined, whole in zip(fluxes, (*fluxes_x, *fluxes_y)):
        assert np.array_equal(joined, whole)


def test_the_explicit_vertical_step_level_by_level_equals_the_whole_array_form():
    """The host streams the forward-Euler vertical update level by level; a GPU takes it in
    whole-array operations. Both are the flux form of the implicit solver's update, to the bit."""
    from engine.transport.diffusion import _explicit_vertical_arrays, add_vertical_fluxes, explicit_vertical_step

    rng = np.random.default_rng(11)
    nz = 8
    field = rng.uniform(0.0, 1.0, (2, 3, nz, 5, 6)).astype(np.float32)
    dz = np.array([1.0, 1.0, 1.5, 1.5, 1.5, 2.0, 3.0, 3.0], dtype=np.float32).reshape(1, 1, nz, 1, 1)
    conductance = rng.uniform(0.1, 0.5, (2, 1, nz - 1, 5, 6)).astype(np.float32)
    deposition = rng.uniform(0.0, 0.01, (1, 3, nz, 5, 6)).astype(np.float32)
    for depositing in (None, deposition):
        expected = add_vertical_fluxes(field.copy(), field, conductance, dz, 0.7)
        if depositing is not None:
            expected /= 1 + 0.7 * depositing
        assert np.array_equal(explicit_vertical_step(field, conductance, dz, depositing, 0.7), expected)
        assert np.array_equal(_explicit_vertical_arrays(field, conductance, dz, depositing, 0.7,
                                                        np.empty_like(field)), expected)
        rows = np.empty((2, 3, nz, 9, 6), dtype=np.float32)[:, :, :, 2:7]  # a slab of rows of a larger field
        assert explicit_vertical_step(field, conductance, dz, depositing, 0.7, out=rows) is rows
        assert np.array_equal(rows, expected)


def test_horizontal_diffusion_into_an_output_equals_the_plain_update():
    from engine.transport.diffusion import diffuse_horizontal

    rng = np.random.default_rng(13)
    field = rng.uniform(0.0, 1.0, (1, 2, 4, 6, 7)).astype(np.float32)
    kh = rng.uniform(1.0, 3.0, (1, 1, 4, 6, 7)).astype(np.float32)  # varying: face means along x and y
    open_x = (rng.uniform(size=(4, 6, 6)) > 0.2).astype(np.float32)
    open_y = (rng.uniform(size=(4, 5, 7)) > 0.2).astype(np.float32)
    expected = field.copy()
    flux = (field[..., 1:] - field[..., :-1]) * (0.5 * (kh[..., 1:] + kh[..., :-1])) * open_x * (0.4 / 100.0)
    expected[..., :-1] += flux
    expected[..., 1:] -= flux
    flux = (field[..., 1:, :] - field[..., :-1, :]) * (0.5 * (kh[..., 1:, :] + kh[..., :-1, :])) * open_y * (0.4 / 64.0)
    expected[..., :-1, :] += flux
    expected[..., 1:, :] -= flux
    assert np.array_equal(diffuse_horizontal(field, kh, 0.4, 10.0, 8.0, open_x, open_y), expected)
    for out in (np.empty_like(field), np.empty((1, 2, 4, 6, 9), dtype=np.float32)[..., 1:8]):  # rows apart, too
        assert diffuse_horizontal(field, kh, 0.4, 10.0, 8.0, open_x, open_y, out=out) is out
        assert np.array_equal(out, expected)

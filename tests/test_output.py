"""The HDF5 run file: round trip, layout, atomic writing, and the ground-level map."""

import os

import h5py
import numpy as np
import pytest

from engine import (ConfigError, Diffusivity, DispersionModel, Grid, PlumetwinError, PointSampler, PointSource,
                    Species, Wind, WindProfile)
from engine.atomic import atomic_path
from engine.output import FieldWriter, ReceptorWriter, RunFileError, RunOutput, open_run, plot_ground_map
from engine.output.hdf5 import field_chunks
from engine.schedules import TimeInterval
from engine.simulation import Simulation

ORIGIN = (1000.0, 2000.0)


def small_model(with_sources=True):
    """40 × 20 × 10 cells of 10 m, a building, two wind members, SO2 and PM10 from one stack."""
    grid = Grid(40, 20, 10.0, 10.0, np.arange(0, 110, 10.0), origin=ORIGIN, crs="EPSG:5186", backend="numpy")
    grid.add_box(1200, 1240, 2080, 2120, 15.0)
    wind = Wind.from_profiles(grid, [WindProfile(3.0, 270.0), WindProfile(2.0, 250.0)])
    species = [Species("SO2", molar_mass=0.06407, deposition_velocity=0.005), Species("PM10")]
    sources = [PointSource("stack", {"SO2": 1.0, "PM10": 0.5}, x=1050, y=2100, height=25)] if with_sources else []
    model = DispersionModel(grid, wind, Diffusivity.constant(grid, 2.0, 1.0), species, sources)
    sampler = PointSampler(grid, [(1300.0, 2100.0, 1.5), (1350.0, 2060.0, 10.0)], names=["school", "homes"])
    return model, sampler


class Kill:
    """Raises like an interrupted process once model time reaches ``time``."""

    def __init__(self, time):
        self.schedule = TimeInterval(time, offset=time)

    def __call__(self, sim):
        raise KeyboardInterrupt("killed")


def run_small(path, stop=120.0, kill_at=None, fields=None):
    model, sampler = small_model()
    output = RunOutput(path, model, config_yaml="grid:\n  nx: 40\n", attributes={"title": "test", "tags": ["a", "b"]})
    writers = {"fields": fields or FieldWriter(TimeInterval(30.0)),
               "receptors": ReceptorWriter(TimeInterval(10.0), sampler)}
    callbacks = {} if kill_at is None else {"kill": Kill(kill_at)}
    sim = Simulation(model, stop, writers=writers, callbacks=callbacks, output=output)
    try:
        sim.run()
    finally:
        output.close()  # what a dead process's handle does; a no-op after finalize
    return model, sampler, sim


def test_round_trip_values_coordinates_and_units(tmp_path):
    path = tmp_path / "run.h5"
    model, sampler, sim = run_small(path)
    final = model.grid.backend.to_host(model.state)
    with open_run(path) as run:
        assert run.species == ["SO2", "PM10"] and run.members == 2
        np.testing.assert_array_equal(run.times, [0, 30, 60, 90, 120])
        so2 = run.concentration("SO2")
        assert so2.dims == ("time", "member", "z", "y", "x") and so2.units == "kg/m3"
        assert so2.values.shape == (5, 2, 10, 20, 40) and so2.values.dtype == np.float32
        np.testing.assert_array_equal(so2.values[-1], final[:, 0])
        assert so2.values[0].max() == 0 and so2.values[-1].max() > 0
        np.testing.assert_array_equal(so2.coords["x"], model.grid.x_centres)
        np.testing.assert_array_equal(so2.coords["z"], model.grid.z_centres)
        np.testing.assert_array_equal(so2.coords["time"], run.times)
        ground = so2.ground()
        assert ground.dims == ("time", "member", "y", "x") and float(ground.coords["height"]) == 5.0
        np.testing.assert_array_equal(ground.max_over_time().values, so2.values[:, :, 0].max(axis=0))
        ug = run.concentration("SO2", units="ug/m3", member=1)
        assert ug.dims == ("time", "z", "y", "x") and ug.units == "ug/m3"
        np.testing.assert_allclose(ug.values[-1], final[1, 0] * 1e9, rtol=1e-6)
        rec = run.receptors("PM10", units="ug/m3")
        assert rec.dims == ("time", "member", "receptor") and rec.values.shape == (13, 2, 2)
        assert list(rec.coords["receptor"]) == ["school", "homes"]
        np.testing.assert_array_equal(rec.coords["time"], np.arange(0, 121, 10.0))
        np.testing.assert_array_equal(rec.coords["z"], [1.5, 10.0])
        expected = model.grid.backend.to_host(sampler.sample(model.state))[:, 1] * 1e9
        np.testing.assert_allclose(rec.values[-1], expected, rtol=1e-6)
        budget = run.budget()
        for key, values in model.budget().items():
            np.testing.assert_array_equal(budget[key], values)
        np.testing.assert_allclose(budget["residual"], budget["emitted"] - budget["inside"] - budget["outflow"]
                                   - budget["deposited"] - budget["decayed"])
        assert abs(budget["residual"]).max() < 1e-4 * budget["emitted"].max()
        assert "nx: 40" in run.config and run.version == "0.1.0"
        attrs = run.attrs
        assert attrs["title"] == "test" and attrs["tags"] == ["a", "b"] and attrs["species"] == ["SO2", "PM10"]
        assert attrs["backend"] == "numpy" and attrs["dtype"] == "float32" and attrs["created"].endswith("+00:00")
        assert attrs["iterations"] == model.iteration and attrs["model_time"] == 120.0
        assert attrs["throughput_cell_updates_per_s"] == pytest.approx(sim.throughput)
        grid = run.grid
        assert grid["crs"] == "EPSG:5186" and grid["origin"] == ORIGIN and grid["dx"] == 10.0
        np.testing.assert_array_equal(grid["solid"], model.grid.solid)
        np.testing.assert_array_equal(grid["z_faces"], np.arange(0, 110, 10.0))
        sources = run.sources()
        assert list(sources["name"]) == ["stack"] and list(sources["kind"]) == ["PointSource"]
        assert (sources["x"][0], sources["y"][0], sources["height"][0]) == (1050.0, 2100.0, 25.0)
    with h5py.File(path) as f:
        assert f["grid/solid"].dtype == np.uint8 and f["time"].attrs["units"] == "s"
        assert f["species/SO2"].attrs["molar_mass"] == 0.06407 and np.isnan(f["species/PM10"].attrs["molar_mass"])
        assert f["species/SO2"].attrs["deposition_velocity"] == 0.005
        dataset = f["species/SO2/concentration"]
        assert dataset.compression == "gzip" and dataset.compression_opts == 4 and dataset.shuffle
        assert dataset.chunks[:2] == (1, 1) and dataset.chunks[3:] == (20, 40)
        assert np.prod(dataset.chunks) * dataset.dtype.itemsize <= 4 * 2**20
        assert dataset.attrs["units"] == "kg m-3" and dataset.attrs["dims"] == "time member z y x"
        np.testing.assert_array_equal(dataset.attrs["z"], model.grid.z_centres)
        assert f["receptors/concentration/SO2"].attrs["units"] == "kg m-3"
        assert f["budget/emitted"].dtype == np.float64 and f["budget/emitted"].shape == (2, 2)


def test_chunks_hold_whole_planes_and_stay_under_4_mib():
    assert field_chunks(2, 10, 20, 40, 4) == (1, 1, 10, 20, 40)
    assert field_chunks(3, 50, 400, 500, 4) == (1, 1, 1, 400, 500)  # 0.8 MB a plane: one per chunk
    big = field_chunks(1, 8, 2000, 1500, 4)  # 12 MB a plane: split along y
    assert big[2] == 1 and big[4] == 1500 and np.prod(big) * 4 <= 4 * 2**20


def test_field_writer_subset_of_species_and_levels(tmp_path):
    path = tmp_path / "subset.h5"
    model, _, _ = run_small(path, stop=60.0, fields=FieldWriter(TimeInterval(30.0), species=["PM10"], levels=[2, 0]))
    final = model.grid.backend.to_host(model.state)
    with open_run(path) as run:
        pm = run.concentration("PM10")
        assert pm.values.shape == (3, 2, 2, 20, 40)
        np.testing.assert_array_equal(pm.coords["level"], [0, 2])
        np.testing.assert_array_equal(pm.coords["z"], [5.0, 25.0])
        np.testing.assert_array_equal(pm.values[-1], final[:, 1, [0, 2]])
        with pytest.raises(RunFileError, match="fields were written for PM10"):
            run.concentration("SO2")


@pytest.mark.parametrize("kwargs, key", [({"species": ["NO2"]}, "output.fields.species"),
                                         ({"levels": [0, 10]}, "output.fields.levels"),
                                         ({"levels": [1, 1]}, "output.fields.levels")])
def test_field_writer_refuses_unknown_species_and_levels(tmp_path, kwargs, key):
    with pytest.raises(ConfigError, match=key) as caught:
        run_small(tmp_path / "bad.h5", stop=30.0, fields=FieldWriter(TimeInterval(30.0), **kwargs))
    assert caught.value.key == key and not (tmp_path / "bad.h5").exists()


def test_file_appears_only_when_complete(tmp_path):
    path = tmp_path / "killed.h5"
    with pytest.raises(KeyboardInterrupt):
        run_small(path, kill_at=50.0)
    assert not path.exists() and (tmp_path / "killed.h5.part").exists()
    with pytest.raises(RunFileError, match="unfinished run left .*killed.h5.part"):
        open_run(path)
    with open_run(tmp_path / "killed.h5.part") as unfinished:
        np.testing.assert_array_equal(unfinished.times, [0, 30])
        with pytest.raises(RunFileError, match="no budget: the run did not finish"):
            unfinished.budget()
    run_small(path)  # a fresh run on the same path replaces the unfinished one
    assert path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed.h5"]


def test_reader_errors_name_the_file_and_what_exists(tmp_path):
    with pytest.raises(RunFileError, match="nothing.h5 does not exist"):
        open_run(tmp_path / "nothing.h5")
    path = tmp_path / "run.h5"
    run_small(path, stop=30.0)
    with open_run(path) as run:
        with pytest.raises(RunFileError, match="no species 'NO2'; it holds SO2, PM10"):
            run.concentration("NO2")
        with pytest.raises(RunFileError, match="members 0..1, not 5"):
            run.concentration("SO2", member=5)
        with pytest.raises(ConfigError, match="molar mass"):
            run.concentration("PM10", units="ppb")
    not_a_run = tmp_path / "other.h5"
    with h5py.File(not_a_run, "w") as f:
        f["x"] = 1
    with pytest.raises(PlumetwinError, match="not a plumetwin run file"):
        open_run(not_a_run)


def test_ground_map_is_drawn(tmp_path):
    import matplotlib.image as mpimg

    path = tmp_path / "run.h5"
    run_small(path)
    png = plot_ground_map(path, tmp_path / "maps" / "map.png", species="SO2", statistic="mean", units="ppb")
    image = mpimg.imread(png)
    assert image.shape[0] > 300 and image.shape[1] > 300
    assert image[..., :3].std() > 0.05  # not blank: plume, building, labels
    assert [p.name for p in (tmp_path / "maps").iterdir()] == ["map.png"]  # no temporary left
    with pytest.raises(ConfigError, match="use one of max, mean, last"):
        plot_ground_map(path, tmp_path / "x.png", statistic="median")


def test_ground_map_without_sources_or_receptors(tmp_path):
    import matplotlib.image as mpimg

    model, _ = small_model(with_sources=False)
    blob = np.zeros(model.state.shape, dtype=np.float32)
    blob[:, :, 0, 5:15, 5:15] = 1e-6
    model.set_state(blob)
    path = tmp_path / "bare.h5"
    Simulation(model, 20.0, writers={"fields": FieldWriter(TimeInterval(10.0), levels=[0])},
               output=RunOutput(path, model)).run()
    png = plot_ground_map(path, tmp_path / "bare.png", statistic="last")
    assert mpimg.imread(png)[..., :3].std() > 0.02
    with open_run(path) as run, pytest.raises(RunFileError, match="no receptor series"):
        run.receptors("SO2")


def test_atomic_path_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_receptor_records_written_in_batches_equal_records_written_one_by_one(tmp_path, monkeypatch):
    import engine.output.hdf5 as hdf5

    monkeypatch.setattr(hdf5, "RECEPTOR_BATCH", 1)
    run_small(tmp_path / "one.h5")
    monkeypatch.setattr(hdf5, "RECEPTOR_BATCH", 5)  # 13 records: two full batches and three written at the end
    run_small(tmp_path / "batched.h5")
    with open_run(tmp_path / "one.h5") as one, open_run(tmp_path / "batched.h5") as batched:
        for species in ("SO2", "PM10"):
            a, b = one.receptors(species), batched.receptors(species)
            np.testing.assert_array_equal(b.values, a.values)
            np.testing.assert_array_equal(b.coords["time"], a.coords["time"])


def test_a_receptor_record_of_the_wrong_shape_is_refused_when_appended(tmp_path):
    model, sampler = small_model()
    output = RunOutput(tmp_path / "run.h5", model)
    good = np.zeros((2, 2, 2), np.float32)
    output.append_receptors(0.0, good, sampler.names, sampler.points)
    with pytest.raises(ConfigError, match="does not fit receptors/concentration/SO2"):
        output.append_receptors(10.0, np.zeros((1, 2, 2), np.float32), sampler.names, sampler.points)
    output.close()
    with h5py.File(output.part_path) as f:  # the good record waiting in memory reached the file on close
        assert f["receptors/concentration/SO2"].shape == (1, 2, 2)

"""The HDF5 run file: round trip, layout, atomic writing, and the ground-level map."""

import h5py
import numpy as np
import pytest

from engine import PointSampler
from engine.output import FieldWriter, ReceptorWriter, RunFileError, RunOutput, open_run, plot_ground_map
from engine.schedules import TimeInterval
from engine.simulation import Simulation
from runs import two_member_model


def run_small(path, stop=120.0, fail_at=None):
    model, sampler = two_member_model()
    output = RunOutput(path, model, config_yaml="grid:\n  nx: 40\n", attributes={"title": "test"})
    writers = {"fields": FieldWriter(TimeInterval(30.0)), "receptors": ReceptorWriter(TimeInterval(10.0), sampler)}
    callbacks = {}
    if fail_at is not None:
        class Fail:
            schedule = TimeInterval(fail_at, offset=fail_at)

            def __call__(self, sim):
                raise KeyboardInterrupt("killed")
        callbacks["fail"] = Fail()
    sim = Simulation(model, stop, writers=writers, callbacks=callbacks, output=output)
    sim.run()
    return model, sampler


def test_round_trip_values_coordinates_and_units(tmp_path):
    path = tmp_path / "run.h5"
    model, sampler = run_small(path)
    final = model.grid.backend.to_host(model.state)
    with open_run(path) as run:
        assert run.species == ["SO2", "PM10"] and run.members == 2
        np.testing.assert_allclose(run.times, [0, 30, 60, 90, 120])
        so2 = run.concentration("SO2")
        assert so2.dims == ("time", "member", "z", "y", "x") and so2.units == "kg/m3"
        np.testing.assert_array_equal(so2.values[-1], final[:, 0])
        np.testing.assert_allclose(so2.coords["x"], model.grid.x_centres)
        ug = run.concentration("SO2", units="ug/m3", member=1)
        np.testing.assert_allclose(ug.values[-1], final[1, 0] * 1e9, rtol=1e-6)
        rec = run.receptors("PM10", units="ug/m3")
        assert list(rec.coords["receptor"]) == ["school", "homes"] and rec.values.shape == (13, 2, 2)
        expected = model.grid.backend.to_host(sampler.sample(model.state))[:, 1] * 1e9
        np.testing.assert_allclose(rec.values[-1], expected, rtol=1e-6)
        budget = run.budget()
        assert abs(budget["residual"]).max() < 1e-4 * budget["emitted"].max()
        assert "nx: 40" in run.config and run.version and run.attrs["title"] == "test"
        assert run.grid["crs"] == "EPSG:5186" and run.grid["solid"].any()
    with h5py.File(path) as f:
        dataset = f["species/SO2/concentration"]
        assert dataset.compression == "gzip" and dataset.chunks[0] == 1 and dataset.shuffle


def test_file_appears_only_when_complete(tmp_path):
    path = tmp_path / "killed.h5"
    with pytest.raises(KeyboardInterrupt):
        run_small(path, fail_at=50.0)
    assert not path.exists()
    assert (tmp_path / "killed.h5.part").exists()
    run_small(path)
    assert path.exists() and not (tmp_path / "killed.h5.part").exists()
    assert not (tmp_path / "killed.h5.part.previous").exists()


def test_reader_errors_name_the_file_and_what_exists(tmp_path):
    with pytest.raises(RunFileError, match="does not exist"):
        open_run(tmp_path / "nothing.h5")
    path = tmp_path / "run.h5"
    run_small(path, stop=30.0)
    with open_run(path) as run, pytest.raises(RunFileError, match="holds SO2, PM10"):
        run.concentration("NO2")


def test_ground_map_is_drawn(tmp_path):
    import matplotlib.image as mpimg

    path = tmp_path / "run.h5"
    run_small(path)
    png = plot_ground_map(path, tmp_path / "map.png", species="SO2")
    image = mpimg.imread(png)
    assert image.shape[0] > 300 and image.shape[1] > 300
    assert image[..., :3].std() > 0.05  # not blank: plume, buildings, labels

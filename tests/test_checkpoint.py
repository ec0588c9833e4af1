"""A run stopped after a checkpoint and resumed equals the uninterrupted run, record for record."""

import h5py
import numpy as np
import pytest

from engine import (CheckpointError, Diffusivity, DispersionModel, Grid, PointSampler, PointSource, Species, Wind,
                    WindProfile)
from engine.checkpoint import Checkpointer, load_checkpoint
from engine.output import FieldWriter, ReceptorWriter, RunOutput
from engine.schedules import IterationInterval, TimeInterval
from engine.simulation import Simulation


def small_model(nx=40, species_names=("SO2", "PM10")):
    grid = Grid(nx, 20, 10.0, 10.0, np.arange(0, 110, 10.0), backend="numpy")
    grid.add_box(200, 240, 80, 120, 15.0)
    wind = Wind.from_profiles(grid, [WindProfile(3.0, 270.0), WindProfile(2.0, 250.0)])
    species = [Species(species_names[0], molar_mass=0.06407, deposition_velocity=0.005), Species(species_names[1])]
    sources = [PointSource("stack", {species_names[0]: 1.0, species_names[1]: 0.5}, x=50, y=100, height=25)]
    model = DispersionModel(grid, wind, Diffusivity.constant(grid, 2.0, 1.0), species, sources)
    sampler = PointSampler(grid, [(300.0, 100.0, 1.5), (350.0, 60.0, 10.0)], names=["school", "homes"])
    return model, sampler


class KillAfter:
    """Stands for a killed process: raises on the first step past model time ``time``."""

    def __init__(self, time):
        self.time = time
        self.schedule = IterationInterval(1)

    def __call__(self, sim):
        if sim.model.time > self.time:
            raise KeyboardInterrupt("killed")


def simulation(path, checkpoint, kill_after=None, **model_options):
    model, sampler = small_model(**model_options)
    callbacks = {"checkpoint": Checkpointer(IterationInterval(7), checkpoint)}
    if kill_after is not None:
        callbacks["kill"] = KillAfter(kill_after)  # after the checkpoint: dict order is call order
    return Simulation(model, 150.0, output=RunOutput(path, model), callbacks=callbacks,
                      writers={"fields": FieldWriter(TimeInterval(25.0)),
                               "receptors": ReceptorWriter(TimeInterval(5.0), sampler)})


def killed_run(path, checkpoint, kill_after, resume_from=None):
    """Run until the kill; close the file as the dead process's handle would disappear."""
    sim = simulation(path, checkpoint, kill_after=kill_after)
    with pytest.raises(KeyboardInterrupt):
        sim.run(resume_from=resume_from)
    sim.output.close()
    return sim


def datasets(path):
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, item: out.__setitem__(name, item[...]) if isinstance(item, h5py.Dataset) else None)
    return out


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    reference = tmp_path / "reference.h5"
    simulation(reference, tmp_path / "reference.ckpt.h5").run()

    resumed = tmp_path / "resumed.h5"
    checkpoint = tmp_path / "resumed.ckpt.h5"
    killed = killed_run(resumed, checkpoint, kill_after=80.0)
    with h5py.File(checkpoint) as f:
        stopped_at, counts = f.attrs["time"], dict(f["records"].attrs)
        assert f.attrs["plumetwin_version"] == "0.1.0" and list(f.attrs["species"]) == ["SO2", "PM10"]
        assert tuple(f.attrs["state_shape"]) == killed.model.state.shape and f.attrs["dtype"] == "float32"
        assert f.attrs["members"] == 2 and f.attrs["wall_time_s"] > 0
    assert 0 < stopped_at <= 80.0 < killed.model.time
    with h5py.File(resumed.with_name("resumed.h5.part")) as f:
        # The killed run wrote receptor records after its last checkpoint: resuming must drop them.
        assert f["receptors/time"].shape[0] > counts["receptors/time"]
        assert f["time"].shape[0] == 4  # 0, 25, 50, 75 s
        assert counts["time"] == sum(t <= stopped_at for t in (0, 25, 50, 75))
    resumed_sim = simulation(resumed, checkpoint)
    resumed_sim.run(resume_from=checkpoint)

    expected, got = datasets(reference), datasets(resumed)
    assert expected.keys() == got.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert sorted(p.name for p in tmp_path.glob("resumed.h5*")) == ["resumed.h5"]
    with h5py.File(resumed) as f:
        assert f.attrs["iterations"] == resumed_sim.model.iteration and f.attrs["resumed_unix_s"] > 0
        # Throughput counts every iteration over the wall time of both sessions, not the last one only.
        assert f.attrs["wall_time_s"] > 0 and resumed_sim.wall_time > 0


def test_run_killed_twice_resumes_twice(tmp_path):
    reference = tmp_path / "reference.h5"
    simulation(reference, tmp_path / "reference.ckpt.h5").run()
    path, checkpoint = tmp_path / "twice.h5", tmp_path / "twice.ckpt.h5"
    killed_run(path, checkpoint, kill_after=40.0)
    killed_run(path, checkpoint, kill_after=110.0, resume_from=checkpoint)
    simulation(path, checkpoint).run(resume_from=checkpoint)
    expected, got = datasets(reference), datasets(path)
    assert expected.keys() == got.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def test_checkpoint_of_another_model_is_refused_with_the_fix(tmp_path):
    checkpoint = tmp_path / "c.h5"
    simulation(tmp_path / "a.h5", checkpoint).run()
    with pytest.raises(CheckpointError, match=r"c.h5 holds a state of shape \(2, 2, 10, 20, 40\) \(the model needs "
                                              r"\(2, 2, 10, 20, 50\).*resume with the same grid and members"):
        simulation(tmp_path / "b.h5", checkpoint, nx=50).run(resume_from=checkpoint)
    with pytest.raises(CheckpointError, match=r"species \['SO2', 'PM10'\] \(the model has \['NO2', 'PM10'\]\)"):
        simulation(tmp_path / "b.h5", checkpoint, species_names=("NO2", "PM10")).run(resume_from=checkpoint)
    with pytest.raises(CheckpointError, match="missing.h5 does not exist"):
        simulation(tmp_path / "b.h5", checkpoint).run(resume_from=tmp_path / "missing.h5")
    assert not (tmp_path / "b.h5").exists()


def test_resume_without_the_interrupted_records_is_refused(tmp_path):
    checkpoint = tmp_path / "c.h5"
    killed_run(tmp_path / "a.h5", checkpoint, kill_after=60.0)
    with pytest.raises(CheckpointError, match="interrupted run's records .*elsewhere.h5.part.* are missing"):
        simulation(tmp_path / "elsewhere.h5", checkpoint).run(resume_from=checkpoint)


def test_checkpoint_without_output_restores_the_model(tmp_path):
    checkpoint = tmp_path / "c.h5"
    model, _ = small_model()
    sim = Simulation(model, 40.0, callbacks={"checkpoint": Checkpointer(IterationInterval(3), checkpoint)})
    sim.run()
    with h5py.File(checkpoint) as f:
        iteration = int(f.attrs["iteration"])
        state = f["state"][...]
    fresh, _ = small_model()
    again = Simulation(fresh, 40.0)
    load_checkpoint(checkpoint, again)
    assert fresh.iteration == iteration and fresh.time > 0
    np.testing.assert_array_equal(fresh.state, state)
    with pytest.raises(CheckpointError, match="written by a run without a run file"):
        load_checkpoint(checkpoint, Simulation(small_model()[0], 40.0, output=RunOutput(tmp_path / "o.h5", fresh)))

"""A run stopped after a checkpoint and resumed equals the uninterrupted run, record for record."""

import h5py
import numpy as np
import pytest

from engine import CheckpointError
from engine.checkpoint import Checkpointer
from engine.output import FieldWriter, ReceptorWriter, RunOutput
from engine.schedules import IterationInterval, TimeInterval
from engine.simulation import Simulation
from runs import two_member_model


class KillAfter:
    """Stands for a killed process: raises once model time passes ``time``."""

    def __init__(self, time):
        self.time = time
        self.schedule = IterationInterval(1)

    def __call__(self, sim):
        if sim.model.time > self.time:
            raise KeyboardInterrupt("killed")


def simulation(path, checkpoint, kill_after=None):
    model, sampler = two_member_model()
    callbacks = {"checkpoint": Checkpointer(IterationInterval(7), checkpoint)}
    if kill_after is not None:
        callbacks["kill"] = KillAfter(kill_after)
    return Simulation(model, 150.0, output=RunOutput(path, model), callbacks=callbacks,
                      writers={"fields": FieldWriter(TimeInterval(25.0)),
                               "receptors": ReceptorWriter(TimeInterval(5.0), sampler)})


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
    with pytest.raises(KeyboardInterrupt):
        simulation(resumed, checkpoint, kill_after=80.0).run()
    with h5py.File(checkpoint) as f:
        stopped_at = f.attrs["time"]
    assert 0 < stopped_at <= 80.0 + 1e-9
    simulation(resumed, checkpoint).run(resume_from=checkpoint)

    expected, got = datasets(reference), datasets(resumed)
    assert expected.keys() == got.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def test_checkpoint_of_another_model_is_refused_with_the_fix(tmp_path):
    checkpoint = tmp_path / "c.h5"
    simulation(tmp_path / "a.h5", checkpoint).run()
    with h5py.File(checkpoint, "a") as f:
        state = f["state"][...]
        del f["state"]
        f.create_dataset("state", data=state[:1])
    with pytest.raises(CheckpointError, match="resume with the same grid and members"):
        simulation(tmp_path / "b.h5", checkpoint).run(resume_from=checkpoint)
    with pytest.raises(CheckpointError, match="does not exist"):
        simulation(tmp_path / "b.h5", checkpoint).run(resume_from=tmp_path / "missing.h5")

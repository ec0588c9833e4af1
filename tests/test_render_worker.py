"""The 3D render drawn in a worker process: the same image as in the run's process, the render's
own errors handed back, and a dead worker never costing the run its render."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import engine.output.render_worker as render_worker
from engine.output.render_worker import RenderWorker
from engine.output.scene import scene_from_run

from test_scene_export import tiny_run  # noqa: F401 - the module's fixture: a tiny run with buildings


def _render_available() -> str | None:
    """None where an off-screen render can be drawn here, else why not."""
    try:
        import pyvista  # noqa: F401, PLC0415
    except ImportError:
        return "the viz extra (PyVista/VTK) is not installed"
    from engine.output.render import RenderUnavailable, offscreen_window  # noqa: PLC0415

    try:
        offscreen_window()
    except RenderUnavailable as exc:
        return str(exc)
    return None


@pytest.fixture(scope="module")
def scene(tiny_run):  # noqa: F811 - pytest's fixture by name
    return scene_from_run(tiny_run.output_path, tiny_run.model.wind)


def test_the_worker_draws_the_image_the_run_process_draws(scene, tmp_path):
    reason = _render_available()
    if reason:
        pytest.skip(reason)
    from matplotlib.image import imread  # noqa: PLC0415

    from engine.output.render import render_scene  # noqa: PLC0415

    with RenderWorker() as worker:
        worker.submit(scene, tmp_path / "worker.png")
        drawn = worker.result()
    assert drawn == str((tmp_path / "worker.png").resolve())
    here = render_scene(scene, tmp_path / "here.png")
    # The same software OpenGL draws the same scene in both processes.
    np.testing.assert_array_equal(imread(drawn), imread(here))


def test_the_render_error_reaches_the_caller_as_in_the_run_process(scene, tmp_path):
    # A concentration field one level short of the grid: the render fails (or says it cannot run).
    broken = dataclasses.replace(scene, concentration=scene.concentration[:-1])
    with pytest.raises(Exception) as here:
        render_worker._render(broken, tmp_path / "here.png")
    with RenderWorker() as worker:
        worker.submit(broken, tmp_path / "worker.png")
        with pytest.raises(type(here.value)):
            worker.result()
    assert not (tmp_path / "worker.png").exists()


def test_a_dead_worker_leaves_the_render_to_the_run_process(scene, tmp_path, monkeypatch):
    drawn_here = []
    monkeypatch.setattr(render_worker, "_render", lambda s, path: drawn_here.append(path) or str(path))
    worker = RenderWorker()
    worker._process.kill()
    worker._process.wait()
    worker.submit(scene, tmp_path / "scene.png")
    assert worker.result() == str((tmp_path / "scene.png").resolve())
    assert drawn_here == [(tmp_path / "scene.png").resolve()]
    worker.close()


def test_a_worker_never_given_a_scene_stops_when_closed():
    worker = RenderWorker()
    process = worker._process
    worker.close()
    assert process.poll() == 0

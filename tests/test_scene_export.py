"""The 3D scene: VTK rectilinear-grid export read back (by our own decoder and by VTK), and the
off-screen PyVista render, from a tiny run with buildings."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from engine.app.build import build
from engine.app.tasks import run_task
from engine.app.validate import to_run_config
from engine.errors import ConfigError
from engine.output.scene import centred_wind, scene_from_run
from engine.output.vtk_export import write_vtr

from test_config import CONF

TINY = ["grid=tiny", "sources=tiny", "receptors=tiny", "met=neutral", "time.stop=120", "backend=numpy", "output=fast",
        "output.field_levels=null"]


def compose_run(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="run", overrides=list(overrides))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("scene")
    built = build(to_run_config(compose_run(*TINY)), out)
    built.simulation.run()
    return built


def decode(element: ET.Element, dtype) -> np.ndarray:
    """A base64 inline binary DataArray: UInt64 byte count, then the little-endian values."""
    raw = base64.b64decode(element.text)
    count = int(np.frombuffer(raw[:8], dtype="<u8")[0])
    assert count == len(raw) - 8
    return np.frombuffer(raw[8:], dtype=dtype)


def test_centred_wind_averages_the_two_faces_of_each_axis():
    u = np.arange(2 * 3 * 5, dtype=float).reshape(2, 3, 5)     # nz=2, ny=3, nx=4
    v = np.arange(2 * 4 * 4, dtype=float).reshape(2, 4, 4)
    w = np.arange(3 * 3 * 4, dtype=float).reshape(3, 3, 4)
    centred = centred_wind(u, v, w)
    assert centred.shape == (3, 2, 3, 4)
    assert centred[0, 1, 2, 3] == pytest.approx(0.5 * (u[1, 2, 3] + u[1, 2, 4]))
    assert centred[1, 1, 2, 3] == pytest.approx(0.5 * (v[1, 2, 3] + v[1, 3, 3]))
    assert centred[2, 1, 2, 3] == pytest.approx(0.5 * (w[1, 2, 3] + w[2, 2, 3]))


def test_vtr_holds_the_scene_arrays_in_vtk_order(tiny_run, tmp_path):
    scene = scene_from_run(tiny_run.output_path, tiny_run.model.wind)
    assert scene.concentration.max() > 0 and scene.solid.any()
    path = write_vtr(scene, tmp_path / "scene.vtr")
    root = ET.parse(path).getroot()
    assert root.attrib["type"] == "RectilinearGrid" and root.attrib["header_type"] == "UInt64"
    nz, ny, nx = scene.shape
    assert root.find("RectilinearGrid").attrib["WholeExtent"] == f"0 {nx} 0 {ny} 0 {nz}"
    arrays = {a.attrib["Name"]: a for a in root.iter("DataArray")}
    # Cell data are x-fastest, exactly the C order of (z, y, x) arrays.
    np.testing.assert_array_equal(decode(arrays[scene.species], "<f4"), scene.concentration.ravel())
    np.testing.assert_array_equal(decode(arrays["solid"], "u1"), scene.solid.ravel())
    wind = decode(arrays["wind"], "<f4").reshape(nz, ny, nx, 3)
    np.testing.assert_array_equal(wind[..., 0], scene.wind[0])
    np.testing.assert_array_equal(decode(arrays["z"], "<f8"), scene.z_faces)
    # No flow in buildings; the tiny case's westerly wind at the top is positive eastward.
    assert np.all(wind[scene.solid] == 0) and wind[-1, :, :, 0].min() > 0


def test_vtk_reads_the_vtr_back(tiny_run, tmp_path):
    pv = pytest.importorskip("pyvista", reason="the viz extra (PyVista/VTK) is not installed")
    scene = scene_from_run(tiny_run.output_path, tiny_run.model.wind)
    mesh = pv.read(write_vtr(scene, tmp_path / "scene.vtr"))
    assert mesh.n_cells == scene.solid.size
    np.testing.assert_allclose(mesh.x, scene.x_faces)
    np.testing.assert_allclose(mesh.z, scene.z_faces)
    np.testing.assert_array_equal(np.asarray(mesh.cell_data[scene.species]), scene.concentration.ravel())
    np.testing.assert_array_equal(np.asarray(mesh.cell_data["wind"]),
                                  np.moveaxis(scene.wind, 0, -1).reshape(-1, 3))


def test_render_draws_the_plume_and_buildings(tiny_run, tmp_path):
    pytest.importorskip("pyvista", reason="the viz extra (PyVista/VTK) is not installed")
    from engine.output.render import RenderUnavailable, offscreen_window, render_scene

    try:
        offscreen_window()
    except RenderUnavailable as exc:
        pytest.skip(str(exc))
    scene = scene_from_run(tiny_run.output_path, tiny_run.model.wind)
    png = render_scene(scene, tmp_path / "scene.png", size=(600, 400))
    from matplotlib.image import imread

    image = imread(png)[..., :3]
    assert image.shape[:2] == (400, 600)
    # Not blank: on the white background, grey buildings and the coloured plume and streamlines.
    background = np.all(image > 0.98, axis=-1)
    coloured = np.ptp(image, axis=-1) > 0.15
    assert 0.01 < 1 - background.mean() < 0.9
    assert coloured.mean() > 0.005


def test_the_run_task_writes_scene_files_and_says_where(tmp_path):
    summary = run_task(compose_run(*TINY, "output.vtk=true", "output.render=auto"), tmp_path)
    assert Path(summary["vtr"]) == tmp_path / "park_scene.vtr" and Path(summary["vtr"]).is_file()


def test_a_scene_needs_every_level():
    with pytest.raises(ConfigError, match="output.vtk: the 3D scene needs every level written"):
        build(to_run_config(compose_run(*TINY, "output.field_levels=[0]", "output.vtk=true")))
    with pytest.raises(ConfigError, match="output.render: unknown value 'sometimes'"):
        build(to_run_config(compose_run(*TINY, "output.render=sometimes")))

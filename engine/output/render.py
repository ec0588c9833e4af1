"""Off-screen 3D render of a run's scene with PyVista: buildings, wind streamlines, plume isosurfaces.

PyVista (the ``viz`` extra) and an OpenGL library are needed. Without a display VTK must be told
which off-screen window to use before its first render window exists, and on a machine with no
GL library at all it crashes the process instead of raising; :func:`offscreen_window` therefore
probes for Mesa's EGL or OSMesa first and refuses with the packages to install.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import PlumetwinError
from .scene import Scene

#: Isosurfaces of the plume, as fractions of the scene's peak concentration.
ISOSURFACE_FRACTIONS = (0.01, 0.1)
#: Vertical exaggeration: boundary-layer plumes are flat at the scale of a park.
VERTICAL_EXAGGERATION = 3.0
_WINDOWS = (("vtkEGLRenderWindow", ("libEGL.so.1", "libEGL_mesa.so.0")),
            ("vtkOSOpenGLRenderWindow", ("libOSMesa.so.8",)))


class RenderUnavailable(PlumetwinError):
    """PyVista or an off-screen OpenGL library is missing; the message says what to install."""


def _loads(library: str) -> bool:
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def offscreen_window() -> str | None:
    """Choose VTK's render window class for a machine without a display.

    Returns the class set in ``VTK_DEFAULT_OPENGL_WINDOW`` (None when a display is present or the
    variable was already set). Raises :class:`RenderUnavailable` when no off-screen GL library
    loads, naming the Debian packages that provide one.
    """
    chosen = os.environ.get("VTK_DEFAULT_OPENGL_WINDOW")
    if chosen or os.environ.get("DISPLAY"):
        return chosen or None
    for window, libraries in _WINDOWS:
        if all(_loads(library) for library in libraries):
            # VTK reads this when it creates its first render window; nothing else sets it.
            os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = window
            return window
    raise RenderUnavailable(
        "no display and no off-screen OpenGL library (EGL or OSMesa) for the 3D render; install one, "
        "e.g. apt-get install -y libosmesa6 (or libegl1 libegl-mesa0 libgl1-mesa-dri), or set output.render=false"
    )


def _pyvista():
    try:
        import pyvista  # noqa: PLC0415 - VTK is large and optional
    except ImportError:
        raise RenderUnavailable("the 3D render needs PyVista: pip install -e '.[viz]' "
                                "(or set output.render=false)") from None
    return pyvista


def shown_levels(scene: Scene, margin: int = 3) -> int:
    """How many levels from the ground the render shows: up to the highest one holding the plume's
    lowest isosurface or a solid cell, plus ``margin`` levels (the rest is empty sky)."""
    peak = float(scene.concentration.max())
    occupied = scene.solid.any(axis=(1, 2))
    if peak > 0:
        occupied |= (scene.concentration >= ISOSURFACE_FRACTIONS[0] * peak).any(axis=(1, 2))
    levels = np.flatnonzero(occupied)
    top = int(levels[-1]) + 1 if levels.size else 1
    return min(top + margin, scene.shape[0])


def _mesh(pv, scene: Scene):
    """The scene's lower levels (:func:`shown_levels`) as a PyVista rectilinear grid in local metres
    (origin at the south-west corner), heights exaggerated."""
    nz = shown_levels(scene)
    x = scene.x_faces - scene.x_faces[0]
    y = scene.y_faces - scene.y_faces[0]
    z = scene.z_faces[:nz + 1] * VERTICAL_EXAGGERATION
    mesh = pv.RectilinearGrid(x, y, z)
    mesh.cell_data["concentration"] = scene.concentration[:nz].ravel()
    mesh.cell_data["solid"] = scene.solid[:nz].astype(np.uint8).ravel()
    if scene.wind is not None:
        wind = np.moveaxis(scene.wind[:, :nz], 0, -1).reshape(-1, 3).copy()
        wind[:, 2] *= VERTICAL_EXAGGERATION
        mesh.cell_data["wind"] = wind
    return mesh


def _streamline_seeds(pv, scene: Scene):
    """A lattice of seed points at 10 m and 40 m above the floor, kept out of solid cells."""
    x, y = scene.x_faces - scene.x_faces[0], scene.y_faces - scene.y_faces[0]
    xs = np.linspace(x[0], x[-1], 10)[1:-1]
    ys = np.linspace(y[0], y[-1], 8)[1:-1]
    heights = [h for h in (10.0, 40.0) if h < scene.z_faces[shown_levels(scene)]]
    points = np.array([(px, py, h * VERTICAL_EXAGGERATION) for h in heights for py in ys for px in xs])
    return pv.PolyData(points)


def render_scene(scene: Scene, png_path: str | Path, size: tuple[int, int] = (1400, 900)) -> Path:
    """Render ``scene`` off-screen to ``png_path`` (written atomically); returns the path.

    Buildings and terrain are grey, the plume is shown by translucent isosurfaces at
    :data:`ISOSURFACE_FRACTIONS` of its peak, and streamlines of the wind (when the scene has
    it) are coloured by speed. Heights are exaggerated :data:`VERTICAL_EXAGGERATION` times.
    """
    pv = _pyvista()
    offscreen_window()
    mesh = _mesh(pv, scene)
    points = mesh.cell_data_to_point_data()
    plotter = pv.Plotter(off_screen=True, window_size=list(size))
    try:
        plotter.set_background("white")
        if scene.solid.any():
            solids = mesh.threshold(0.5, scalars="solid")
            try:
                buildings = solids.extract_surface(algorithm="dataset_surface")
            except TypeError:  # PyVista before 0.47 has one algorithm and no keyword
                buildings = solids.extract_surface()
            plotter.add_mesh(buildings, color="#9a9a9a", smooth_shading=False)
        peak = float(scene.concentration.max())
        if peak > 0:
            levels = [fraction * peak for fraction in ISOSURFACE_FRACTIONS]
            surfaces = points.contour(levels, scalars="concentration")
            if surfaces.n_points:
                plotter.add_mesh(surfaces, scalars="concentration", cmap="magma_r", opacity=0.55,
                                 clim=[levels[0], peak], log_scale=True,
                                 scalar_bar_args={"title": f"{scene.species} [{scene.units}]", "color": "black",
                                                  "vertical": True, "position_x": 0.88, "position_y": 0.25})
        if scene.wind is not None:
            lines = points.streamlines_from_source(_streamline_seeds(pv, scene), vectors="wind",
                                                   integration_direction="both",
                                                   max_length=4.0 * float(mesh.length))
            if lines.n_points:
                lines["speed"] = np.linalg.norm(lines["wind"], axis=1)
                plotter.add_mesh(lines, scalars="speed", cmap="viridis", line_width=2,
                                 scalar_bar_args={"title": "wind speed [m/s]", "color": "black",
                                                  "vertical": True, "position_x": 0.02, "position_y": 0.25})
        outline = pv.Box(bounds=mesh.bounds).outline()
        plotter.add_mesh(outline, color="black")
        plotter.add_text(f"{scene.species}: {scene.statistic} over the run; isosurfaces at "
                         f"{', '.join(f'{f:g}' for f in ISOSURFACE_FRACTIONS)} of the peak {peak:.3g} {scene.units}; "
                         f"heights x{VERTICAL_EXAGGERATION:g}", font_size=10, color="black")
        plotter.camera_position = "iso"
        plotter.camera.azimuth = -20.0
        plotter.camera.elevation = -10.0
        plotter.reset_camera()
        plotter.camera.zoom(1.3)
        image = plotter.screenshot(return_img=True)
    finally:
        plotter.close()
    from matplotlib.image import imsave  # noqa: PLC0415

    png_path = Path(png_path)
    with atomic_path(png_path, durable=False) as tmp:
        imsave(tmp, image, format="png")
    return png_path

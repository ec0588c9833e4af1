"""The 3D render in a second process, drawn while the run's own process draws the ground map.

A run ends with two figures: the ground-level map (matplotlib) and the 3D render (VTK). Neither
library releases the interpreter lock while it draws, so in one process they take the sum of
their times. A worker process started when the run starts loads VTK and opens its off-screen GL
context while the run is being built (0.9 s on the park scenario), then renders the scene
(0.3 s) while the run's process draws the map: the two figures cost the longer of the two.

The worker is a fresh interpreter running this module (``python -m
engine.output.render_worker``), never a fork: the run's process holds compiled kernels' thread
pools and HDF5 state that a forked child must not inherit, and unlike ``multiprocessing``'s spawn
it does not re-import the calling script. It reads one pickled ``(scene, png_path)`` on stdin and
answers one pickled ``("ok", path)`` or ``("error", exception)`` on stdout. Where the worker
cannot start or dies, the render falls back to the run's own process, so a run never loses its
render to the worker.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path

from .scene import Scene

log = logging.getLogger(__name__)


def _render(scene: Scene, png_path: str | Path) -> str:
    from .render import render_scene  # noqa: PLC0415 - VTK loads only to render

    return str(render_scene(scene, png_path))


class RenderWorker:
    """One worker process for one run's 3D render.

    Use as a context manager: :meth:`submit` hands the scene over, :meth:`result` waits for the
    PNG's path (re-raising the render's own errors, such as
    :class:`~engine.output.render.RenderUnavailable`), and leaving the block stops the worker.
    """

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self._process: subprocess.Popen | None = None
        self._submitted: tuple[Scene, Path] | None = None
        try:
            self._process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, env=env)
        except OSError as exc:
            log.info("3D render stays in the run's process: no worker process (%s)", exc)

    def __enter__(self) -> "RenderWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker (at once when it was never given a scene or its answer was read)."""
        if self._process is None:
            return
        process, self._process = self._process, None
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def submit(self, scene: Scene, png_path: str | Path) -> None:
        """Start rendering ``scene`` to ``png_path`` in the worker (or remember it for :meth:`result`)."""
        png_path = Path(png_path).resolve()
        self._submitted = (scene, png_path)
        if self._process is None:
            return
        try:
            pickle.dump((scene, str(png_path)), self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.close()
        except OSError as exc:  # the worker died before it could take the scene
            log.warning("the render worker stopped (%s); rendering in the run's process", exc)
            self.close()

    def result(self) -> str:
        """The PNG's path once it is drawn; drawn here when the worker is gone."""
        if self._submitted is None:
            raise RuntimeError("RenderWorker.result() before submit()")
        scene, png_path = self._submitted
        if self._process is not None:
            try:
                status, value = pickle.load(self._process.stdout)
            except Exception as exc:  # noqa: BLE001 - died, or an answer that does not unpickle
                log.warning("the render worker stopped (%s); rendering in the run's process", exc)
            else:
                if status == "error":
                    raise value
                return value
            finally:
                self.close()
        return _render(scene, png_path)


def _preload() -> None:
    """Load VTK's rendering modules and open an off-screen GL context with a tiny render, so the
    real render pays for none of that."""
    try:
        from .render import _pyvista, offscreen_window  # noqa: PLC0415

        pv = _pyvista()
        offscreen_window()
        plotter = pv.Plotter(off_screen=True, window_size=[16, 16])
        try:
            plotter.add_mesh(pv.Cube())
            plotter.screenshot(return_img=True)
        finally:
            plotter.close()
        import matplotlib.image  # noqa: F401, PLC0415
    except Exception:  # noqa: BLE001 - the render itself reports what is missing
        pass


def _serve() -> int:
    """The worker: preload, take one scene from stdin, render it, answer on stdout."""
    answer = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # whatever VTK prints goes to stderr, not the answer
    _preload()
    try:
        scene, png_path = pickle.load(sys.stdin.buffer)
    except EOFError:  # the run ended without a render
        return 0
    try:
        reply = ("ok", _render(scene, png_path))
    except Exception as exc:  # noqa: BLE001 - handed to the run's process, which raises it
        reply = ("error", exc)
    try:
        pickle.dump(reply, answer, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - an exception that does not pickle
        pickle.dump(("error", RuntimeError(f"3D render failed: {exc!r}")), answer)
    answer.close()
    return 0


if __name__ == "__main__":
    sys.exit(_serve())

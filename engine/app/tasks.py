"""Tasks: plain functions from a configuration to results on disk and a summary.

Each task is callable without Hydra (``run_task(cfg_dict, "out/")``); the CLI only composes the
configuration and prints the summary.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..backend import usable_cpus
from ..output.render_worker import RenderWorker
from .build import build
from .validate import to_run_config

log = logging.getLogger(__name__)


def budget_residual(budget: dict[str, np.ndarray]) -> tuple[float, float]:
    """Largest absolute (kg) and relative mass-budget residual over members and species.

    The residual is ``emitted - inside - outflow - deposited - decayed``; the relative one
    divides by the largest of the mass emitted and the mass inside (kg), so it reads as the
    fraction of the mass the bookkeeping lost or gained.
    """
    residual = (budget["emitted"] - budget["inside"] - budget["outflow"] - budget["deposited"]
                - budget["decayed"])
    scale = np.maximum(np.abs(budget["emitted"]), np.abs(budget["inside"]))
    relative = np.where(scale > 0, np.abs(residual) / np.where(scale > 0, scale, 1.0), 0.0)
    return float(np.abs(residual).max()), float(relative.max())


def run_task(cfg: Any, output_dir: str | Path | None = None, attributes: dict | None = None,
             render_worker: bool = True) -> dict[str, Any]:
    """Build and run one scenario; write its HDF5 results and ground-level concentration map.

    Parameters
    ----------
    cfg:
        A :class:`~engine.app.schema.RunConfig`, a composed DictConfig or a plain dict.
    output_dir:
        Directory of the results; None takes ``cfg.output.dir``, else the directory of the
        checkpoint being resumed, else ``results/<name>``.
    attributes:
        Extra root attributes of the HDF5 file (e.g. the Hydra overrides).
    render_worker:
        Draw the 3D render in a second process (:mod:`engine.output.render_worker`) while this
        one draws the ground map, where a second CPU is free and PyVista is installed.

    Returns
    -------
    dict
        ``name``, ``output_dir``, ``h5`` and ``png`` (paths), ``steps``, ``model_time`` (s),
        ``wall_time`` (s spent stepping), ``total_time`` (s, building and output included),
        ``throughput`` (cell-updates/s), ``budget_residual`` (kg), ``budget_relative_residual``,
        ``backend``, ``dtype``, ``members``, ``cells``, ``checkpoint`` (path or None) and
        ``stopped_early``.

    Raises
    ------
    engine.errors.ConfigError
        For an invalid configuration, before any time step and before any file is written.
    """
    started = time.perf_counter()
    config = to_run_config(cfg)
    if output_dir is None:
        # A resumed run continues the interrupted run's file, which lies beside its checkpoint.
        resumed = Path(config.resume).parent if config.resume else None
        output_dir = config.output.dir or resumed or Path("results") / config.name
    output_dir = Path(output_dir)
    worker = RenderWorker() if render_worker and _render_worker_pays(config) else None
    try:
        built = build(config, output_dir, attributes=attributes)
        model, sim = built.model, built.simulation
        log.info("%s: %s", config.name, built.grid.describe())
        log.info("%s: %d member(s) × %d species, %d source(s), %d receptor(s), stable dt %.3g s, stop %g s",
                 config.name, model.members, len(model.species), len(model.sources), len(config.receptors),
                 model.stable_dt(config.time.cfl), config.time.stop)
        sim.run(resume_from=config.resume)
        absolute, relative = budget_residual(model.budget())
        vtr, finish_render = write_scene(config, built, output_dir, worker)

        from ..output import plot_ground_map  # noqa: PLC0415 - matplotlib loads only when a map is drawn

        png = plot_ground_map(built.output_path, built.map_path, species=built.map_species,
                              statistic=config.output.map_statistic, member=0, units=config.output.map_units)
        render = finish_render()
    finally:
        if worker is not None:
            worker.close()
    summary = {
        "name": config.name,
        "output_dir": str(output_dir),
        "h5": str(built.output_path),
        "png": str(png),
        "vtr": vtr,
        "render": render,
        "checkpoint": None if built.checkpoint_path is None else str(built.checkpoint_path),
        "steps": model.iteration,
        "model_time": model.time,
        "wall_time": sim.wall_time,
        "total_time": time.perf_counter() - started,
        "throughput": sim.throughput,
        "budget_residual": absolute,
        "budget_relative_residual": relative,
        "backend": model.grid.backend.name,
        "dtype": model.grid.dtype,
        "members": model.members,
        "cells": model.grid.size,
        "stopped_early": sim.stopped_early,
    }
    return summary


def _wants_render(config) -> bool:
    render = str(config.output.render).lower()
    return render == "true" or (render == "auto" and config.output.field_levels is None)


def _render_worker_pays(config) -> bool:
    """A render worker process only where a render is wanted, PyVista is there and a second CPU is free."""
    return _wants_render(config) and usable_cpus() > 1 and importlib.util.find_spec("pyvista") is not None


def write_scene(config, built, output_dir: Path,
                worker: RenderWorker | None = None) -> tuple[str | None, Callable[[], str | None]]:
    """The 3D scene files the output config asks for: ``<name>_scene.vtr`` and ``<name>_scene.png``.

    Returns the VTR's path and a function that finishes the render and returns the PNG's path
    (None for a file not written): with a ``worker`` the render is drawn there meanwhile, so the
    caller can draw the ground map before it waits. With ``output.render=auto`` a render that
    cannot be made (no PyVista, no off-screen GL, not every level written) is logged and skipped.
    """
    from ..output.render import RenderUnavailable, render_scene  # noqa: PLC0415 - VTK loads only to render
    from ..output.scene import scene_from_run  # noqa: PLC0415
    from ..output.vtk_export import write_vtr  # noqa: PLC0415

    render = str(config.output.render).lower()
    wants_render = _wants_render(config)
    if render == "auto" and config.output.field_levels is not None:
        log.info("3D render skipped: output.field_levels writes only levels %s", list(config.output.field_levels))
    if not (config.output.vtk or wants_render):
        return None, lambda: None
    scene = scene_from_run(built.output_path, built.model.wind, species=built.map_species,
                           statistic=config.output.map_statistic, units=config.output.map_units)
    vtr = str(write_vtr(scene, output_dir / f"{config.name}_scene.vtr")) if config.output.vtk else None
    if not wants_render:
        return vtr, lambda: None
    png_path = output_dir / f"{config.name}_scene.png"
    if worker is not None:
        worker.submit(scene, png_path)

    def finish() -> str | None:
        try:
            if worker is not None:
                return worker.result()
            return str(render_scene(scene, png_path))
        except RenderUnavailable as exc:
            if render == "true":
                raise
            log.warning("3D render skipped: %s", exc)
            return None

    return vtr, finish


def summary_line(summary: dict[str, Any]) -> str:
    """One line: steps, model time, wall time, throughput, budget residual."""
    return (
        f"{summary['name']}: {summary['steps']} steps to t = {summary['model_time']:g} s in "
        f"{summary['wall_time']:.1f} s of stepping ({summary['total_time']:.1f} s in all), "
        f"{summary['throughput'] / 1e6:.1f} M cell-updates/s on {summary['backend']} {summary['dtype']}, "
        f"mass budget residual {summary['budget_relative_residual']:.1e} of the mass "
        f"({summary['budget_residual']:.2e} kg)"
    )

"""Verification cases: the engine's own solver against closed-form solutions, at a given resolution.

Each case builds a model with the public engine API, runs it and returns its error (and what else
the report needs) as plain floats. The physics tests and the analytic validation suite share them.

References
----------
LeVeque, R. J. (2002). Finite Volume Methods for Hyperbolic Problems. Cambridge University Press,
ch. 6 and 8 (limiters; L1 convergence of discontinuous solutions, order below one).
"""

from __future__ import annotations

import math

import numpy as np

from engine import Diffusivity, DispersionModel, Grid, PointSource, Species, Wind, WindProfile
from engine.simulation import Simulation

from .analytic import gaussian_puff_2d, steady_point_source_reflected, step_cell_averages


def _uniform_wind(grid: Grid, u: float, v: float) -> Wind:
    """Uniform wind blowing towards (u, v) m/s (meteorological direction is where it comes from)."""
    return Wind.from_profiles(grid, [WindProfile(math.hypot(u, v), math.degrees(math.atan2(-u, -v)) % 360)])


def puff_error(n: int, backend: str = "numpy") -> float:
    """Relative L2 error of a 2D Gaussian puff (advection + horizontal diffusion) on an n×n grid.

    A puff of initial width 40 m in a 1 km square, wind (2, 1) m/s, K = 5 m²/s, 200 s, float64,
    at a fixed Courant number 0.25 in x so that time and space errors shrink together.
    """
    length, sigma0, u, v, k, t_end = 1000.0, 40.0, 2.0, 1.0, 5.0, 200.0
    dx = length / n
    grid = Grid(n, n, dx, dx, [0.0, 10.0], dtype="float64", backend=backend)
    model = DispersionModel(grid, _uniform_wind(grid, u, v), Diffusivity.constant(grid, k, 0.0), [Species("T")])
    x, y = np.meshgrid(grid.x_centres, grid.y_centres)
    model.set_state(gaussian_puff_2d(x, y, 0.0, 1.0, 300.0, 300.0, u, v, k, sigma0)[None, None, None])
    Simulation(model, t_end, dt=0.25 * dx / u).run()
    exact = gaussian_puff_2d(x, y, t_end, 1.0, 300.0, 300.0, u, v, k, sigma0)
    got = grid.backend.to_host(model.state)[0, 0, 0]
    return float(np.linalg.norm(got - exact) / np.linalg.norm(exact))


def plume_error(dx: float, backend: str = "numpy") -> float:
    """Relative L2 error of a steady continuous point source above a reflecting ground.

    1 kg/s at 25 m in a uniform 2 m/s wind along +x, K = 5 m²/s in every direction, on a
    600 m × 400 m × 200 m box with cubic cells of side ``dx``, run for 1.5 domain crossings
    (steady to well under 1 %). The error is taken over the volume 200–500 m downwind, below
    100 m, against the exact solution with its image source
    (:func:`~validation.analytic.steady_point_source_reflected`); the lateral boundaries are more
    than four plume widths from the axis there, so the bounded domain does not matter.
    """
    speed, k, height = 2.0, 5.0, 25.0
    nx, ny, nz = round(600 / dx), round(400 / dx), round(200 / dx)
    grid = Grid(nx, ny, dx, dx, np.arange(nz + 1) * dx, origin=(-100.0, -200.0), dtype="float64", backend=backend)
    source = PointSource("stack", {"T": 1.0}, x=0.0, y=0.0, height=height)
    model = DispersionModel(grid, _uniform_wind(grid, speed, 0.0), Diffusivity.constant(grid, k, k),
                            [Species("T")], [source])
    Simulation(model, 1.5 * 600 / speed).run()
    c = grid.backend.to_host(model.state)[0, 0]
    z, y, x = np.meshgrid(grid.z_centres, grid.y_centres, grid.x_centres, indexing="ij")
    inside = (x >= 200) & (x <= 500) & (z <= 100)
    exact = steady_point_source_reflected(x[inside], y[inside], z[inside], 1.0, height, speed, k)
    return float(np.linalg.norm(c[inside] - exact) / np.linalg.norm(exact))


def step_advection(n: int, limiter: str, backend: str = "numpy", courant: float = 0.5) -> dict[str, float]:
    """A unit top-hat carried 500 m along a 1 km channel of n cells (2 m/s, no diffusion).

    Returns the L1 error of the cell averages (relative to the step's area), the extremes
    (``min``, ``max``: a monotone scheme keeps them in [0, 1]), the total variation at the end
    and at the start (a TVD scheme never increases it) and ``profile``, the arrays
    ``(x (m), model, exact)`` at the end.
    """
    length, speed, t_end = 1000.0, 2.0, 250.0
    dx = length / n
    grid = Grid(n, 1, dx, dx, [0.0, 10.0], dtype="float64", backend=backend)
    model = DispersionModel(grid, _uniform_wind(grid, speed, 0.0), Diffusivity.constant(grid, 0.0, 0.0),
                            [Species("S")], limiter=limiter)
    initial = step_cell_averages(grid.x_faces - grid.origin[0], 0.0, 100.0, 300.0, speed)
    model.set_state(initial[None, None, None, None, :])
    Simulation(model, t_end, dt=courant * dx / speed).run()
    got = grid.backend.to_host(model.state)[0, 0, 0, 0]
    exact = step_cell_averages(grid.x_faces - grid.origin[0], t_end, 100.0, 300.0, speed)
    return {"l1": float(np.sum(np.abs(got - exact)) * dx / 200.0), "min": float(got.min()), "max": float(got.max()),
            "tv": float(np.abs(np.diff(got)).sum()), "tv_initial": float(np.abs(np.diff(initial)).sum()),
            "profile": (grid.x_centres - grid.origin[0], got, exact)}


def divergence_free_box_wind(grid: Grid, amplitude: float = 2.0) -> Wind:
    """A cellular flow from a streamfunction on cell corners (amplitude in m/s): discretely
    divergence-free, zero normal velocity on every wall of the box."""
    nz, ny, nx = grid.shape
    xf, yf = grid.x_faces - grid.origin[0], grid.y_faces - grid.origin[1]
    lx, ly = nx * grid.dx, ny * grid.dy
    psi = amplitude * lx / np.pi * np.outer(np.sin(np.pi * yf / ly), np.sin(np.pi * xf / lx))  # (ny+1, nx+1)
    u = np.diff(psi, axis=0) / grid.dy            # (ny, nx+1)
    v = -np.diff(psi, axis=1) / grid.dx           # (ny+1, nx)
    shape_u, shape_v = (1, nz, ny, nx + 1), (1, nz, ny + 1, nx)
    return Wind(grid, np.broadcast_to(u, shape_u).copy(), np.broadcast_to(v, shape_v).copy(),
                np.zeros((1, nz + 1, ny, nx)), closed_boundaries=("west", "east", "south", "north", "top"))


def closed_box_mass(nx: int, steps: int, backend: str = "numpy", seed: int = 0) -> dict[str, float]:
    """Mass change of a random float32 field stirred and diffused in a closed 320 m × 240 m × 80 m box.

    ``nx`` cells along x (ny = ¾ nx, nz = nx/4), ``steps`` steps at 0.9 of the stable time step.
    Returns the relative mass change (largest over the two species) and the smallest value.
    """
    ny, nz = 3 * nx // 4, max(nx // 4, 1)
    dx = 320.0 / nx
    grid = Grid(nx, ny, dx, 240.0 / ny, np.linspace(0.0, 80.0, nz + 1), backend=backend)
    model = DispersionModel(grid, divergence_free_box_wind(grid), Diffusivity.constant(grid, 3.0, 2.0),
                            [Species("A"), Species("B")])
    model.set_state(np.random.default_rng(seed).random((1, 2) + grid.shape).astype(np.float32))
    before = model.mass()
    for _ in range(steps):
        model.step(0.9 * model.stable_dt())
    after = model.mass()
    return {"relative_change": float(np.max(np.abs(after - before) / before)),
            "min": float(grid.backend.to_host(model.state).min())}


def observed_orders(spacings, errors) -> list[float]:
    """Orders ``log(e_i/e_{i+1}) / log(h_i/h_{i+1})`` between successive resolutions (nan where undefined)."""
    orders = []
    for (h1, e1), (h2, e2) in zip(zip(spacings, errors), zip(spacings[1:], errors[1:])):
        ok = e1 > 0 and e2 > 0 and h1 != h2
        orders.append(math.log(e1 / e2) / math.log(h1 / h2) if ok else float("nan"))
    return orders

"""One Prairie Grass run simulated with the engine's 3D solver, arc by arc, to steady state.

For every arc a :class:`~engine.DispersionModel` on the arc's grid (:mod:`.grids`) carries a
continuous 1 kg/s point release at the run's release height with the run's similarity wind and
diffusivities (:mod:`.met`), stepped by the engine at its stable time step until the samplers on
the arc no longer change (a steady plume: the field's 10-min means). Because the release is
1 kg/s, the model concentrations are ``C/Q`` (s/m³) directly. Arc maxima and crosswind integrals
are taken over samplers at 1.5 m on the arc at the field's angular spacing, the same way as the
observations (:func:`.data.crosswind_integral`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine import Diffusivity, DispersionModel, PointSampler, PointSource, Species, Wind
from engine.grid import Grid
from engine.transport.advection import face_fluxes

from .data import ARC_DISTANCES, SAMPLER_HEIGHT, Run, crosswind_integral
from .grids import ArcDomain, arc_domain
from .met import RunMet, run_met

#: Steady when no sampler's arc maximum or integral changes by more than this between checks.
STEADY_TOLERANCE = 2e-3
MAX_CROSSINGS = 8.0  # stop anyway after this many transit times (reported)


class FieldDiffusivity(Diffusivity):
    """A diffusivity whose horizontal part varies with height and downwind distance.

    ``kh`` is ``(nz, nx)`` (m²/s) at cell centres, ``kz_faces`` ``(nz+1,)``. The engine's transport
    takes any ``kh`` broadcasting against the state (its horizontal diffusion averages it onto the
    faces and stays conservative); only the compiled one-pass kernel needs a per-level ``kh``, and
    the transport falls back to its reference operators when ``kh`` varies horizontally.
    """

    def __init__(self, grid: Grid, kh: np.ndarray, kz_faces: np.ndarray):
        kh = np.asarray(kh, dtype=np.float64)
        super().__init__(grid, kh.max(axis=1)[None], np.asarray(kz_faces, dtype=np.float64)[None])
        self.kh_field = kh
        self.kh = grid.backend.asarray(kh[None, None, :, None, :].astype(grid.float_type))


@dataclass
class ArcPrediction:
    """Model results on one arc: ``C/Q`` (s/m³) per sampler, with the diagnostics of the run."""

    distance: float
    azimuth_deg: np.ndarray
    c_over_q: np.ndarray
    cells: int
    steps: int
    model_time: float  # s
    steady: bool
    plane_flux_ratio: float  # mass flux through the crosswind plane at r/2 over the emission rate
    top_ratio: float  # largest concentration in the top layer over the largest at 1.5 m

    @property
    def arc_max(self) -> float:
        return float(np.max(self.c_over_q))

    @property
    def cwic(self) -> float:
        return crosswind_integral(self.azimuth_deg, self.c_over_q, self.distance)


def build_model(met: RunMet, domain: ArcDomain, release_height: float) -> tuple[DispersionModel, PointSampler]:
    """The engine model of one arc and its arc samplers."""
    grid = domain.grid
    wind = Wind.from_profiles(grid, [met.profile()])
    x_centres = grid.x_centres
    diffusivity = FieldDiffusivity(grid, met.kh(x_centres, grid.z_centres), met.kz(grid.z_faces))
    source = PointSource("release", {"SO2": 1.0}, x=0.0, y=0.0, height=release_height)
    model = DispersionModel(grid, wind, diffusivity, [Species("SO2")], [source])
    sampler = PointSampler(grid, domain.points)
    return model, sampler


def plane_flux(model: DispersionModel, x: float, dt: float) -> float:
    """Mass flux (kg/s) through the crosswind face nearest ``x`` (m): the solver's own limited
    advective flux for a step of ``dt`` s plus the diffusive flux ``−Kh ∂c/∂x``. At steady state it
    equals the emission rate (nothing is deposited or decays)."""
    grid = model.grid
    i = int(np.clip(round((x - grid.origin[0]) / grid.dx), 1, grid.nx - 1))
    to_host = grid.backend.to_host
    advective = face_fluxes(model.state, model.wind.u, 4, dt, grid.dx, 0.0, model.transport.limiter, 1)
    advective = np.asarray(to_host(advective), dtype=np.float64)[0, 0, :, :, i]
    c = np.asarray(to_host(model.state), dtype=np.float64)[0, 0]
    kh = model.diffusivity.kh_field
    k_face = 0.5 * (kh[:, i - 1] + kh[:, i])[:, None]
    flux = advective - k_face * (c[:, :, i] - c[:, :, i - 1]) / grid.dx
    area = grid.dz[:, None] * grid.dy
    return float(np.sum(flux * area))


def simulate_arc(met: RunMet, radius: float, release_height: float, resolution: str,
                 backend: str = "numpy") -> ArcPrediction:
    """Run one arc's model to a steady state and sample it (see the module notes)."""
    domain = arc_domain(met, radius, resolution, backend)
    model, sampler = build_model(met, domain, release_height)
    grid = domain.grid
    transit = (grid.extent[1] - grid.extent[0]) / float(met.speed(SAMPLER_HEIGHT))
    dt = model.stable_dt(0.9)
    check_every = max(1, int(math.ceil(0.25 * transit / dt)))
    previous = None
    steady = False
    while model.time < MAX_CROSSINGS * transit:
        for _ in range(check_every):
            model.step(dt)
        if model.time < 1.5 * transit:
            continue
        values = np.asarray(grid.backend.to_host(sampler.sample(model.state)), dtype=np.float64)[0, 0]
        summary = np.array([values.max(), crosswind_integral(domain.azimuth_deg, values, radius)])
        if previous is not None and np.all(np.abs(summary - previous) <= STEADY_TOLERANCE * np.abs(summary)):
            steady = True
            break
        previous = summary
    values = np.asarray(grid.backend.to_host(sampler.sample(model.state)), dtype=np.float64)[0, 0]
    state = np.asarray(grid.backend.to_host(model.state))[0, 0]
    top_ratio = float(state[-1].max() / max(values.max(), 1e-300))
    return ArcPrediction(radius, domain.azimuth_deg, values, grid.size, model.iteration, model.time, steady,
                         plane_flux(model, 0.5 * radius, dt), top_ratio)


def simulate_run(run: Run, resolution: str = "medium", backend: str = "numpy",
                 distances=ARC_DISTANCES) -> dict[float, ArcPrediction]:
    """Every arc of one run (distances in m)."""
    met = run_met(run)
    return {r: simulate_arc(met, r, run.release_height, resolution, backend) for r in distances}

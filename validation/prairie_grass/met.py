"""Recorded Prairie Grass meteorology → the engine's wind profile and eddy diffusivities.

Inputs per run: Obukhov length ``L`` (m), wind speed ``U`` at 2 m (m/s), standard deviation of the
wind azimuth ``σθ`` (deg), mixing height ``zi`` (m, unstable runs only) and the site roughness
length ``z0 = 0.008 m`` (Barad; the value the published re-analyses use).

Wind: the engine's Monin–Obukhov ``similarity`` profile through ``U(2 m)`` with ``L`` and ``z0``;
its friction velocity ``u*`` (κ = 0.4) agrees with the tabulated ``u*`` rescaled from κ = 0.35 by
0.4/0.35 (checked in :func:`ustar_consistency`), so the profile and the tabulated turbulence agree.

Vertical diffusivity (the engine's boundary-layer form): ``Kz = κ u* zc (1 − z/h)² / φh(zc/L)`` with
``zc = min(z, 0.1 h)`` in unstable air (the similarity form holds only in the surface layer, the
lowest tenth of the boundary layer; above, Kz no longer grows) and ``zc = z`` in stable air, where
``φh = 1 + 5 z/L`` already caps it at ``κ u* L / 5``. ``h`` is ``zi`` for unstable runs and
Zilitinkevich's ``0.4 √(u* L / f)`` for stable ones (Coriolis ``f`` at 42.49° N).

Lateral diffusivity (a closure from the observed σθ, Taylor's theory): the lateral spread of a
near-ground release is ``σy(x) = σθ x f_y(t)`` with ``t = x/U`` and Draxler's (1976)
``f_y = 1/(1 + 0.9 √(t/Ti))``, ``Ti = 1000 s`` (Irwin 1983). A diffusivity that reproduces exactly
this σy(x) at every downwind distance and every height is ``Kh(x, z) = u(z) · ½ dσy²/dx``: a parcel
at height ``z`` spends ``dx/u(z)`` in each slab, so ``σy² = ∫ 2 Kh dx / u(z) = σy²(x)`` whatever the
parcel's height history. In closed form ``Kh = u(z) σθ² x f² (1 − 0.45 f √(t/Ti))`` for ``x > 0``.
No parameter is fitted to the Prairie Grass concentrations.

References
----------
Draxler, R. R. (1976). Determination of atmospheric diffusion parameters. Atmos. Environ. 10, 99–105.
Irwin, J. S. (1983). Estimating plume dispersion — a comparison of several sigma schemes.
J. Climate Appl. Meteorol. 22, 92–114.
Zilitinkevich, S. S. (1972). On the determination of the height of the Ekman boundary layer.
Boundary-Layer Meteorol. 3, 141–145.
van Ulden, A. P. (1978). Simple estimates for vertical diffusion from sources near the ground.
Atmos. Environ. 12, 2125–2129.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine import WindProfile
from engine.errors import ConfigError
from engine.meteorology.surface_layer import friction_velocity, phi_heat, psi_momentum
from engine.meteorology.profiles import VON_KARMAN

from .data import Run

ROUGHNESS_LENGTH = 0.008  # m, Prairie Grass site
REFERENCE_HEIGHT = 2.0  # m, height of the tabulated U
TABLE_VON_KARMAN = 0.35  # the constant the tabulated u* assumed
LATITUDE = 42.49  # deg N
CORIOLIS = 2 * 7.2921e-5 * math.sin(math.radians(LATITUDE))  # 1/s
LAGRANGIAN_TIME = 1000.0  # s, Draxler's Ti for near-surface releases
#: Stability classes from the Obukhov length (m): (name, test on L).
CLASS_BOUNDS = (
    ("unstable", "−100 m < L < 0"),
    ("near-neutral", "|L| ≥ 100 m"),
    ("stable", "15 m ≤ L < 100 m"),
    ("very stable", "0 < L < 15 m"),
)


def stability_class(obukhov: float) -> str:
    """The class of :data:`CLASS_BOUNDS` an Obukhov length (m) falls in."""
    if abs(obukhov) >= 100:
        return "near-neutral"
    if obukhov < 0:
        return "unstable"
    return "stable" if obukhov >= 15 else "very stable"


@dataclass(frozen=True)
class RunMet:
    """The meteorology of one run in SI units and the fields built from it."""

    obukhov: float  # m
    u2: float  # m/s at 2 m
    sigma_theta: float  # rad
    u_star: float  # m/s, from the profile (κ = 0.4)
    u_star_table: float  # m/s, tabulated (κ = 0.35)
    h: float  # m, boundary-layer height
    z0: float = ROUGHNESS_LENGTH

    @property
    def stability(self) -> str:
        return stability_class(self.obukhov)

    def profile(self) -> WindProfile:
        """The engine's similarity profile, blowing towards +x."""
        return WindProfile(self.u2, direction=270.0, kind="similarity", reference_height=REFERENCE_HEIGHT,
                           roughness_length=self.z0, obukhov_length=self.obukhov, mixing_height=self.h)

    def speed(self, z) -> np.ndarray:
        """Wind speed (m/s) at heights ``z`` (m)."""
        return self.profile().speed_at(np.asarray(z, dtype=np.float64))

    def kz(self, z) -> np.ndarray:
        """Vertical diffusivity (m²/s) at heights ``z`` (m), see the module notes."""
        z = np.asarray(z, dtype=np.float64)
        zc = np.minimum(z, 0.1 * self.h) if self.obukhov < 0 else z
        inside = np.clip(1 - z / self.h, 0, None) ** 2
        return VON_KARMAN * self.u_star * zc * inside / phi_heat(zc / self.obukhov)

    def travel_time(self, x) -> np.ndarray:
        return np.maximum(np.asarray(x, dtype=np.float64), 0.0) / self.u2

    def f_y(self, x) -> np.ndarray:
        """Draxler's lateral factor at distance ``x`` (m)."""
        return 1.0 / (1.0 + 0.9 * np.sqrt(self.travel_time(x) / LAGRANGIAN_TIME))

    def sigma_y(self, x) -> np.ndarray:
        """Lateral spread σy (m) at distance ``x`` (m) downwind."""
        x = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
        return self.sigma_theta * x * self.f_y(x)

    def kh(self, x, z) -> np.ndarray:
        """Lateral diffusivity (m²/s), shape ``(len(z), len(x))``: ``u(z) · ½ dσy²/dx``."""
        x = np.maximum(np.asarray(x, dtype=np.float64), 0.0)
        f = self.f_y(x)
        growth = self.sigma_theta**2 * x * f**2 * (1 - 0.45 * f * np.sqrt(self.travel_time(x) / LAGRANGIAN_TIME))
        return self.speed(z)[:, None] * growth[None, :]

    def mean_plume_height(self, x: float) -> float:
        """van Ulden's (1978) mean height z̄ (m) of a ground-release plume at ``x`` m, used only to
        size the domain: ``dz̄/dx = κ² / ([ln(1.55 z̄/z0) − ψm(1.55 z̄/L)] φh(z̄/L))``."""
        z, position, step = 2 * self.z0, 0.0, 0.05
        while position < x:
            denominator = (math.log(1.55 * z / self.z0) - float(psi_momentum(1.55 * z / self.obukhov)))
            denominator = max(denominator, 1.0) * float(phi_heat(z / self.obukhov))
            z += step * VON_KARMAN**2 / denominator
            position += step
            step = min(step * 1.05, 2.0)
        return z


def run_met(run: Run, z0: float = ROUGHNESS_LENGTH) -> RunMet:
    """The meteorology of a run (see the module notes); a run without it is an error."""
    if not run.has_met:
        raise ConfigError(f"prairie_grass.run{run.number}", "has no L, u*, U or σθ; it cannot be simulated")
    obukhov, u2 = float(run.obukhov), float(run.u2)
    if obukhov == 0 or u2 <= 0 or run.sigma_theta_deg <= 0:
        raise ConfigError(f"prairie_grass.run{run.number}", f"needs L ≠ 0, U > 0 and σθ > 0; got {obukhov}, {u2}, "
                                                          f"{run.sigma_theta_deg}")
    u_star = friction_velocity(u2, REFERENCE_HEIGHT, z0, obukhov)
    if obukhov < 0:
        if run.mixing_height is None:
            raise ConfigError(f"prairie_grass.run{run.number}.zi_m", "an unstable run needs its mixing height")
        h = float(run.mixing_height)
    else:
        h = 0.4 * math.sqrt(u_star * obukhov / CORIOLIS)
        if run.mixing_height is not None:
            h = min(h, float(run.mixing_height))
    return RunMet(obukhov, u2, math.radians(run.sigma_theta_deg), u_star, float(run.u_star), h, z0)


def ustar_consistency(run: Run, z0: float = ROUGHNESS_LENGTH) -> float:
    """Ratio of the profile u* (κ = 0.4) to the tabulated u* rescaled by 0.4/0.35 (1: consistent)."""
    met = run_met(run, z0)
    return met.u_star / (met.u_star_table * VON_KARMAN / TABLE_VON_KARMAN)

"""Eddy diffusivities: constant, or from a Pasquill–Gifford stability class.

The stability-class form uses Monin–Obukhov similarity: the Obukhov length from Golder's (1972)
relation to the class and roughness length, the friction velocity from the reference wind with
the Businger–Dyer stability correction, and the boundary-layer profile
``Kz(z) = κ u* z (1 − z/h)² / φh(z/L)`` below the mixing height ``h``.

References
----------
Golder, D. (1972). Relations among stability parameters in the surface layer. Boundary-Layer
Meteorol. 3, 47–58 (coefficients as tabulated in Seinfeld & Pandis, Atmospheric Chemistry and
Physics, 2nd ed., Table 16.4).
Dyer, A. J. (1974). A review of flux-profile relationships. Boundary-Layer Meteorol. 7, 363–372.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..grid import Grid
from .surface_layer import DEFAULT_MIXING_HEIGHT, VON_KARMAN, friction_velocity, obukhov_length, phi_heat

class Diffusivity:
    """Horizontal (cell centres) and vertical (horizontal faces) eddy diffusivities per member.

    ``kh`` has shape ``(member, 1, nz, 1, 1)`` and ``kz_faces`` ``(member, 1, nz+1, 1, 1)`` (m²/s),
    both on the grid's backend; the singleton axes broadcast over species, y and x.
    """

    def __init__(self, grid: Grid, kh: np.ndarray, kz_faces: np.ndarray):
        kh = np.asarray(kh, dtype=np.float64)
        kz_faces = np.asarray(kz_faces, dtype=np.float64)
        if kh.ndim != 2 or kh.shape[1] != grid.nz:
            raise ConfigError("met.diffusivity", f"kh must be (members, nz={grid.nz}), got {kh.shape}")
        if kz_faces.shape != (kh.shape[0], grid.nz + 1):
            raise ConfigError("met.diffusivity", f"kz must be (members, nz+1={grid.nz + 1}), got {kz_faces.shape}")
        for name, array in (("kh", kh), ("kz", kz_faces)):
            if np.any(array < 0) or not np.all(np.isfinite(array)):
                raise ConfigError(f"met.{name}", "diffusivities must be finite and >= 0 m²/s")
        self.grid = grid
        self.members = kh.shape[0]
        self.host_kh = kh
        self.host_kz = kz_faces
        dtype = grid.float_type
        self.kh = grid.backend.asarray(kh[:, None, :, None, None].astype(dtype))
        self.kz_faces = grid.backend.asarray(kz_faces[:, None, :, None, None].astype(dtype))

    @classmethod
    def constant(cls, grid: Grid, kh: float, kz: float, members: int = 1) -> "Diffusivity":
        """The same ``kh`` and ``kz`` (m²/s) everywhere."""
        return cls(grid, np.full((members, grid.nz), kh), np.full((members, grid.nz + 1), kz))

    @classmethod
    def from_members(cls, grid: Grid, parts: Sequence["Diffusivity"]) -> "Diffusivity":
        """Stack single-member diffusivities along the member axis."""
        return cls(grid, np.concatenate([p.host_kh for p in parts]), np.concatenate([p.host_kz for p in parts]))

    def max_horizontal(self) -> float:
        return float(self.host_kh.max())


def stability_diffusivity(
    grid: Grid,
    stability: str,
    speed: float,
    reference_height: float = 10.0,
    roughness_length: float = 0.1,
    mixing_height: float | None = None,
    kz_min: float = 0.1,
    kh_factor: float = 1.0,
    kh_min: float = 1.0,
    obukhov: float | None = None,
) -> Diffusivity:
    """Diffusivities of one member from a stability class (see module docstring).

    ``Kh = max(kh_factor * Kz, kh_min)`` at cell centres: a first horizontal closure, refined by
    the σv-based closure of the full meteorology.
    """
    if speed <= 0:
        raise ConfigError("met.speed", f"stability-class diffusivity needs a wind speed > 0, got {speed}")
    h = DEFAULT_MIXING_HEIGHT[stability.upper()] if mixing_height is None else float(mixing_height)
    if h <= 0:
        raise ConfigError("met.mixing_height", f"must be > 0 m, got {h}")
    if obukhov is None:
        obukhov = obukhov_length(stability, roughness_length)
    u_star = friction_velocity(speed, reference_height, roughness_length, obukhov)

    def kz_at(z: np.ndarray) -> np.ndarray:
        zeta = 0.0 if np.isinf(obukhov) else z / obukhov
        inside = np.clip(1 - z / h, 0, None) ** 2
        return np.maximum(VON_KARMAN * u_star * z * inside / phi_heat(zeta), kz_min)

    kz_faces = kz_at(grid.z_faces)
    kh = np.maximum(kh_factor * kz_at(grid.z_centres), kh_min)
    return Diffusivity(grid, kh[None], kz_faces[None])

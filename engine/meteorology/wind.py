"""Face-centred (Arakawa C) wind fields per ensemble member."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..grid import Grid
from .profiles import log_law_speed, power_law_exponent, power_law_speed, wind_components
from .surface_layer import DEFAULT_MIXING_HEIGHT, SURFACE_LAYER_FRACTION, obukhov_length, similarity_speed

PROFILE_KINDS = ("uniform", "log", "power", "similarity")


@dataclass(frozen=True)
class WindProfile:
    """A horizontally uniform wind: speed profile and direction.

    Parameters
    ----------
    speed:
        Wind speed (m/s) at ``reference_height``.
    direction:
        Direction the wind blows from (degrees clockwise from north).
    kind:
        ``uniform`` (same speed at every height), ``log`` (neutral log law), ``power``, or
        ``similarity`` (Monin–Obukhov: the log law corrected for stability, with the Obukhov
        length ``obukhov_length`` or, when None, Golder's from ``stability`` and z0), held
        constant above the surface layer (a tenth of ``mixing_height``, by default the class's),
        where the similarity form no longer applies.
    reference_height:
        Height of ``speed`` (m), 10 m by default.
    roughness_length:
        z0 (m) for the log law.
    exponent:
        Power-law exponent; None takes it from ``stability`` and ``terrain`` (ISC3 table).
    vertical_velocity:
        A uniform vertical velocity (m/s) inside the domain, 0 by default (tests only).
    """

    speed: float
    direction: float = 270.0
    kind: str = "uniform"
    reference_height: float = 10.0
    roughness_length: float = 0.1
    exponent: float | None = None
    stability: str = "D"
    terrain: str = "urban"
    vertical_velocity: float = 0.0
    obukhov_length: float | None = None
    mixing_height: float | None = None

    def obukhov(self) -> float:
        """The Obukhov length (m) of a ``similarity`` profile (``inf``: neutral)."""
        if self.obukhov_length is not None:
            if self.obukhov_length == 0 or not np.isfinite(self.obukhov_length) and not np.isinf(self.obukhov_length):
                raise ConfigError("met.obukhov_length", f"must be non-zero (m; inf for neutral), got {self.obukhov_length}")
            return float(self.obukhov_length)
        return obukhov_length(self.stability, self.roughness_length)

    def speed_at(self, z) -> np.ndarray:
        """Speed (m/s) at heights ``z`` (m)."""
        if self.speed < 0 or not np.isfinite(self.speed):
            raise ConfigError("met.speed", f"must be a finite speed >= 0 m/s, got {self.speed}")
        if self.kind == "uniform":
            return np.full(np.shape(z), float(self.speed))
        if self.kind == "log":
            return log_law_speed(z, self.speed, self.reference_height, self.roughness_length)
        if self.kind == "similarity":
            mixing = self.mixing_height or DEFAULT_MIXING_HEIGHT[str(self.stability).upper()]
            top = max(SURFACE_LAYER_FRACTION * mixing, self.reference_height)
            return similarity_speed(np.minimum(z, top), self.speed, self.reference_height, self.roughness_length,
                                    self.obukhov())
        if self.kind == "power":
            p = self.exponent if self.exponent is not None else power_law_exponent(self.stability, self.terrain)
            return power_law_speed(z, self.speed, self.reference_height, p)
        raise ConfigError("met.profile", f"unknown wind profile {self.kind!r}; use one of {', '.join(PROFILE_KINDS)}")


class Wind:
    """Face-normal velocities (m/s) for every member, on the grid's backend.

    Attributes ``u``, ``v``, ``w`` have shapes ``(member, 1, nz, ny, nx+1)``,
    ``(member, 1, nz, ny+1, nx)`` and ``(member, 1, nz+1, ny, nx)``: the second axis broadcasts
    over species. Normal velocity is zero on every face touching a solid cell, on the ground, and
    on the lateral boundaries named in ``closed_boundaries``.
    """

    def __init__(self, grid: Grid, u: np.ndarray, v: np.ndarray, w: np.ndarray,
                 closed_boundaries: Sequence[str] = ()):
        nz, ny, nx = grid.shape
        m = u.shape[0]
        expected = {"u": (m, nz, ny, nx + 1), "v": (m, nz, ny + 1, nx), "w": (m, nz + 1, ny, nx)}
        for name, array in (("u", u), ("v", v), ("w", w)):
            if array.shape != expected[name]:
                raise ConfigError(f"wind.{name}", f"shape {array.shape} should be {expected[name]}")
            if not np.all(np.isfinite(array)):
                raise ConfigError(f"wind.{name}", "contains NaN or infinite values")
        fx, fy, fz = grid.open_faces()
        u = u * fx
        v = v * fy
        w = w * fz
        for side in closed_boundaries:
            if side == "west":
                u[..., 0] = 0
            elif side == "east":
                u[..., -1] = 0
            elif side == "south":
                v[..., 0, :] = 0
            elif side == "north":
                v[..., -1, :] = 0
            elif side == "top":
                w[:, -1] = 0
            else:
                raise ConfigError("grid.closed_boundaries", f"unknown side {side!r}; use west, east, south, north, top")
        self.grid = grid
        self.members = m
        dtype = grid.float_type
        self.host = (u.astype(dtype), v.astype(dtype), w.astype(dtype))
        self.u, self.v, self.w = (grid.backend.asarray(a[:, None]) for a in self.host)

    @classmethod
    def from_profiles(cls, grid: Grid, profiles: Sequence[WindProfile],
                      closed_boundaries: Sequence[str] = ()) -> "Wind":
        """One horizontally uniform profile per member."""
        if len(profiles) == 0:
            raise ConfigError("met", "needs at least one wind profile (one per member)")
        nz, ny, nx = grid.shape
        zc = grid.z_centres
        u = np.empty((len(profiles), nz, ny, nx + 1))
        v = np.empty((len(profiles), nz, ny + 1, nx))
        w = np.zeros((len(profiles), nz + 1, ny, nx))
        for m, profile in enumerate(profiles):
            east, north = wind_components(profile.speed_at(zc), profile.direction)
            u[m] = east[:, None, None]
            v[m] = north[:, None, None]
            w[m, 1:-1] = profile.vertical_velocity
        return cls(grid, u, v, w, closed_boundaries)

    @classmethod
    def mass_consistent(cls, grid: Grid, profiles: Sequence[WindProfile], closed_boundaries: Sequence[str] = (),
                        vertical_weight: float = 1.0, tolerance: float = 1e-9,
                        building_zones: bool = False) -> "Wind":
        """The profile winds adjusted to zero divergence around the grid's solids (Sherman's
        method, :mod:`engine.meteorology.mass_consistent`); ``adjustment`` holds one report per
        member (divergence before and after, iterations, seconds). With ``building_zones`` the
        initial field first gets each building's upwind, cavity and wake zones
        (:mod:`engine.meteorology.building_zones`)."""
        from .building_zones import apply_building_zones  # noqa: PLC0415 - loaded on use
        from .mass_consistent import mass_consistent_wind  # noqa: PLC0415 - loaded on use

        first = cls.from_profiles(grid, profiles)  # unmasked initial fields come from its host copy
        parts, reports = [], []
        for m in range(first.members):
            initial = [a[m].astype(np.float64) for a in first.host]
            if building_zones:
                east, north = wind_components(1.0, profiles[m].direction)
                apply_building_zones(grid, *initial, profiles[m].speed_at, float(east), float(north))
            u, v, w, report = mass_consistent_wind(grid, *initial, closed_boundaries, vertical_weight, tolerance)
            parts.append((u, v, w))
            reports.append(report)
        wind = cls(grid, *(np.stack(arrays) for arrays in zip(*parts)), closed_boundaries=closed_boundaries)
        wind.adjustment = reports
        return wind

    def max_speeds(self) -> tuple[float, float, float]:
        """Largest |u|, |v|, |w| over all members (m/s), from the host copy."""
        return tuple(float(np.abs(a).max()) if a.size else 0.0 for a in self.host)

    def max_courant_rates(self) -> tuple[float, float, float]:
        """Largest |u|/dx, |v|/dy and |w|/dz_upwind (1/s), whose inverses bound the time step."""
        u, v, w = self.host
        dz = self.grid.dz
        rate_z = 0.0
        if w.size and np.any(w != 0):
            # A face's Courant number uses the thinner of its two cells: a safe bound for either sign.
            dz_face = np.minimum(np.concatenate([[dz[0]], dz]), np.concatenate([dz, [dz[-1]]]))
            rate_z = float((np.abs(w) / dz_face[None, :, None, None]).max())
        return float(np.abs(u).max()) / self.grid.dx, float(np.abs(v).max()) / self.grid.dy, rate_z

    def is_divergence_free(self, tolerance: float = 1e-5) -> bool:
        """True when ``max |div u|`` is below ``tolerance`` times the largest Courant rate (1/s)."""
        scale = max(self.max_courant_rates())
        return scale == 0 or float(np.abs(self.divergence()).max()) <= tolerance * scale

    def divergence(self) -> np.ndarray:
        """Discrete divergence (1/s) per member and cell, on the host."""
        u, v, w = self.host
        dz = self.grid.dz[None, :, None, None]
        return (
            np.diff(u, axis=3) / self.grid.dx
            + np.diff(v, axis=2) / self.grid.dy
            + np.diff(w, axis=1) / dz
        )

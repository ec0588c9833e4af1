"""Empirical flow zones around buildings, put into the initial wind before the mass-consistent
adjustment (Röckle's method, as in QUIC-URB and QES-Winds).

Sherman's adjustment alone gives a potential-like flow: it goes around a building but never
separates, so there is no recirculating cavity behind it and no stagnant zone in front, and a
plume released in the lee is carried away instead of being trapped against the wall. The
diagnostic models add those zones to the initial field from wind-tunnel correlations; the
adjustment then makes the whole field divergence-free again.

For each building, in a frame aligned with the wind at roof height (``s`` downwind from the
footprint's centre, ``n`` across, ``z'`` above the building's base), with ``L`` and ``W`` the
footprint's along- and cross-wind extents and ``H`` its height:

* **Upwind displacement zone** (Röckle 1990): length ``L_F = H · 2(W/H) / (1 + 0.8 W/H)``; the
  ellipsoid ``x_f² / (L_F² (1 − (z'/0.6H)²)) + (n / (W/2))² < 1`` ahead of the windward face
  (``x_f = −s − L/2``) gets zero velocity.
* **Lee cavity** (Fackrell 1984's length): ``L_R = H · 1.8 (W/H) / ((L/H)^0.3 (1 + 0.24 W/H))``;
  behind the lee face (``x_b = s − L/2``), inside ``d = L_R √((1 − (z'/H)²)(1 − (n/(W/2))²))``
  the flow is reversed, ``u_s = −U(H) (1 − (x_b/d)²)``.
* **Far wake**: ``d ≤ x_b < 3d``, ``u_s = U(z) (1 − (d/x_b)^1.5)``, a deficit that recovers
  downwind.

Inside the zones the cross-wind and vertical components are set to zero; zones of later buildings
overwrite earlier ones where they overlap, and faces inside or against solids are left to the
adjustment (which closes them). Footprints of any shape are treated as their wind-aligned
bounding box, as QUIC does for its effective width and length.

References
----------
Röckle, R. (1990). Bestimmung der Strömungsverhältnisse im Bereich komplexer Bebauungsstrukturen.
PhD thesis, TH Darmstadt.
Kaplan, H. and Dinar, N. (1996). A Lagrangian dispersion model for calculating concentration
distribution within a built-up domain. Atmos. Environ. 30, 4197–4207.
Fackrell, J. E. (1984). Parameters characterising dispersion in the near wake of buildings.
J. Wind Eng. Ind. Aerodyn. 16, 97–118.
Singh, B. et al. (2008). Evaluation of the QUIC-URB fast response urban wind model for a cubical
building array and wide building street canyon. Environ. Fluid Mech. 8, 281–312.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..grid import BuildingBlock, Grid

#: The far wake reaches this many cavity lengths behind the lee face.
WAKE_CAVITY_LENGTHS = 3.0
#: The upwind displacement zone reaches this fraction of the building height.
UPWIND_HEIGHT_FRACTION = 0.6


def cavity_length(height: float, width: float, length: float) -> float:
    """Fackrell's (1984) lee-cavity length ``L_R`` (m) of a building ``height`` × ``width``
    (cross-wind) × ``length`` (along-wind), all in m."""
    w, l = width / height, length / height
    return height * 1.8 * w / (l**0.3 * (1.0 + 0.24 * w))


def upwind_length(height: float, width: float) -> float:
    """Röckle's (1990) upwind displacement length ``L_F`` (m)."""
    w = width / height
    return height * 2.0 * w / (1.0 + 0.8 * w)


@dataclass(frozen=True)
class BuildingFrame:
    """A building in the wind-aligned frame: centre (projected m), unit vectors downwind
    ``(sx, sy)`` and across ``(-sy, sx)``, extents ``length`` (along) and ``width`` (across), base
    and height (m)."""

    centre_x: float
    centre_y: float
    sx: float
    sy: float
    length: float
    width: float
    base: float
    height: float

    def local(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Downwind ``s`` and cross-wind ``n`` (m) of projected points."""
        dx, dy = x - self.centre_x, y - self.centre_y
        return dx * self.sx + dy * self.sy, -dx * self.sy + dy * self.sx


def building_frame(grid: Grid, building: BuildingBlock, east: float, north: float) -> BuildingFrame | None:
    """``building`` seen by a wind blowing towards ``(east, north)``; None for calm air."""
    speed = float(np.hypot(east, north))
    if speed == 0.0:
        return None
    sx, sy = east / speed, north / speed
    j, i = np.nonzero(building.columns)
    x, y = grid.x_centres[i], grid.y_centres[j]
    s, n = x * sx + y * sy, -x * sy + y * sx
    # A cell's own extent, projected on each axis, widens the span of its centres.
    pad_s = 0.5 * (abs(sx) * grid.dx + abs(sy) * grid.dy)
    pad_n = 0.5 * (abs(sy) * grid.dx + abs(sx) * grid.dy)
    s0, s1 = s.min() - pad_s, s.max() + pad_s
    n0, n1 = n.min() - pad_n, n.max() + pad_n
    sc, nc = 0.5 * (s0 + s1), 0.5 * (n0 + n1)
    return BuildingFrame(centre_x=sc * sx - nc * sy, centre_y=sc * sy + nc * sx, sx=sx, sy=sy,
                         length=s1 - s0, width=n1 - n0, base=building.base, height=building.height)


def _zone_speeds(frame: BuildingFrame, s: np.ndarray, n: np.ndarray, z: np.ndarray, speed_at_roof: float,
                 free_speed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(inside, along)``: where a point lies in one of the building's zones and the downwind
    speed (m/s) the zone gives it there."""
    h, half_w, half_l = frame.height, 0.5 * frame.width, 0.5 * frame.length
    zr = z - frame.base
    lateral = 1.0 - (n / half_w) ** 2
    inside = np.zeros(s.shape, dtype=bool)
    along = np.zeros(s.shape)
    # Lee cavity and far wake.
    x_b = s - half_l
    vertical = 1.0 - (zr / h) ** 2
    cavity = cavity_length(h, frame.width, frame.length) * np.sqrt(np.clip(vertical * lateral, 0.0, None))
    behind = (x_b > 0) & (zr >= 0) & (zr < h) & (lateral > 0) & (cavity > 0)
    reversed_flow = behind & (x_b < cavity)
    wake = behind & ~reversed_flow & (x_b < WAKE_CAVITY_LENGTHS * cavity)
    safe = np.where(behind, cavity, 1.0)
    along = np.where(reversed_flow, -speed_at_roof * (1.0 - (x_b / safe) ** 2), along)
    along = np.where(wake, free_speed * (1.0 - (safe / np.maximum(x_b, 1e-12)) ** 1.5), along)
    inside |= reversed_flow | wake
    # Upwind displacement zone.
    x_f = -s - half_l
    low = UPWIND_HEIGHT_FRACTION * h
    front = upwind_length(h, frame.width) ** 2 * (1.0 - (zr / low) ** 2)
    ahead = (x_f > 0) & (zr >= 0) & (zr < low) & (front > 0)
    displaced = ahead & (x_f**2 / np.where(ahead, front, 1.0) + (n / half_w) ** 2 < 1.0)
    along = np.where(displaced, 0.0, along)
    inside |= displaced
    return inside, along


def apply_building_zones(grid: Grid, u: np.ndarray, v: np.ndarray, w: np.ndarray,
                         speed_at: Callable[[np.ndarray], np.ndarray], east_per_speed: float,
                         north_per_speed: float) -> int:
    """Write the zones of every building of ``grid`` into one member's initial face velocities
    ``u`` ``(nz, ny, nx+1)``, ``v`` ``(nz, ny+1, nx)``, ``w`` ``(nz+1, ny, nx)`` (m/s, in place).

    ``speed_at(z)`` is the undisturbed profile's speed (m/s) at heights ``z`` (m above the domain
    floor); ``(east_per_speed, north_per_speed)`` the unit vector the wind blows towards. Returns
    the number of faces changed.
    """
    changed = 0
    xc, yc, zc = grid.x_centres, grid.y_centres, grid.z_centres
    xf, yf, zf = grid.x_faces, grid.y_faces, grid.z_faces
    points = {  # face positions of each component, broadcast to its array's shape
        "u": np.broadcast_arrays(zc[:, None, None], yc[None, :, None], xf[None, None, :]),
        "v": np.broadcast_arrays(zc[:, None, None], yf[None, :, None], xc[None, None, :]),
        "w": np.broadcast_arrays(zf[:, None, None], yc[None, :, None], xc[None, None, :]),
    }
    arrays = {"u": u, "v": v, "w": w}
    for building in grid.buildings:
        frame = building_frame(grid, building, east_per_speed, north_per_speed)
        if frame is None:
            continue
        roof_speed = float(speed_at(np.array([frame.base + frame.height]))[0])
        window = _window(grid, frame)
        for name, (z, y, x) in points.items():
            part = tuple(slice(a, b) for a, b in window[name])
            z_part, y_part, x_part = z[part], y[part], x[part]
            s, n = frame.local(x_part, y_part)
            free = speed_at(z_part) if name != "w" else np.zeros(z_part.shape)  # w is zeroed, never scaled
            inside, along = _zone_speeds(frame, s, n, z_part, roof_speed, free)
            target = arrays[name][part]
            if name == "u":
                target[inside] = along[inside] * frame.sx
            elif name == "v":
                target[inside] = along[inside] * frame.sy
            else:
                target[inside] = 0.0
            changed += int(inside.sum())
    return changed


def _window(grid: Grid, frame: BuildingFrame) -> dict[str, list[tuple[int, int]]]:
    """Index ranges ``[(k0, k1), (j0, j1), (i0, i1)]`` per component that hold every point of the
    building's zones (a square around it as large as the far wake is long), so the zone formulas
    run on a small window instead of the whole grid."""
    reach = (0.5 * frame.length + 0.5 * frame.width
             + max(WAKE_CAVITY_LENGTHS * cavity_length(frame.height, frame.width, frame.length),
                   upwind_length(frame.height, frame.width)))
    top = frame.base + frame.height

    def span(edges: np.ndarray, low: float, high: float) -> tuple[int, int]:
        return int(np.searchsorted(edges, low, side="left")), int(np.searchsorted(edges, high, side="right"))

    k = span(grid.z_faces, -np.inf, top)
    kc = (0, min(grid.nz, k[1]))
    kf = (0, min(grid.nz + 1, k[1] + 1))
    xs = span(grid.x_faces, frame.centre_x - reach, frame.centre_x + reach)
    ys = span(grid.y_faces, frame.centre_y - reach, frame.centre_y + reach)
    i_faces, j_faces = (max(xs[0] - 1, 0), min(xs[1] + 1, grid.nx + 1)), (max(ys[0] - 1, 0), min(ys[1] + 1, grid.ny + 1))
    i_cells, j_cells = (i_faces[0], min(i_faces[1], grid.nx)), (j_faces[0], min(j_faces[1], grid.ny))
    return {"u": [kc, j_cells, i_faces], "v": [kc, j_faces, i_cells], "w": [kf, j_cells, i_cells]}

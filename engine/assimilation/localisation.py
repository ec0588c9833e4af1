"""Gaspari–Cohn localisation: a compactly supported, fifth-order piecewise rational taper.

References
----------
Gaspari, G. and Cohn, S. E. (1999). Construction of correlation functions in two and three
dimensions. Q. J. R. Meteorol. Soc. 125, 723–757, eq. (4.10).
"""

from __future__ import annotations

import numpy as np


def gaspari_cohn(distance, half_width: float):
    """Gaspari–Cohn taper of ``distance`` (m) for half-width ``c`` (m): 1 at 0, 0 beyond ``2c``.

    Notes
    -----
    With ``r = d / c``:
    ``1 - 5/3 r² + 5/8 r³ + 1/2 r⁴ - 1/4 r⁵`` for ``r <= 1`` and
    ``4 - 5 r + 5/3 r² + 5/8 r³ - 1/2 r⁴ + 1/12 r⁵ - 2/(3 r)`` for ``1 < r <= 2``.
    """
    if not half_width > 0:
        raise ValueError(f"the localisation half-width must be > 0 m, got {half_width}")
    r = np.abs(np.asarray(distance, dtype=np.float64)) / half_width
    inner = 1 - 5 / 3 * r**2 + 5 / 8 * r**3 + 0.5 * r**4 - 0.25 * r**5
    safe = np.where(r > 0, r, 1.0)
    outer = 4 - 5 * r + 5 / 3 * r**2 + 5 / 8 * r**3 - 0.5 * r**4 + r**5 / 12 - 2 / (3 * safe)
    # The outer polynomial reaches 0 at r = 2 only up to round-off: clip the ~-1e-16 values.
    return np.clip(np.where(r <= 1, inner, np.where(r < 2, outer, 0.0)), 0.0, 1.0)


def horizontal_distances(points_xy: np.ndarray, sensors_xy: np.ndarray) -> np.ndarray:
    """Distances (m) ``(points, sensors)`` between analysis points and sensors in the horizontal."""
    points_xy = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    sensors_xy = np.asarray(sensors_xy, dtype=np.float64).reshape(-1, 2)
    return np.hypot(points_xy[:, None, 0] - sensors_xy[None, :, 0], points_xy[:, None, 1] - sensors_xy[None, :, 1])

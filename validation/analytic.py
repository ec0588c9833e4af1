"""Closed-form solutions of advection–diffusion used by the physics tests and the analytic validation suite.

Concentrations in kg/m³ (kg/m² per unit depth for the 2D puff), lengths in m, times in s,
diffusivities in m²/s.
"""

from __future__ import annotations

import numpy as np


def gaussian_puff_2d(x, y, t, mass_per_length, x0, y0, u, v, k, sigma0):
    """2D Gaussian puff (kg/m per unit depth → kg/m³ per m of depth) advected by (u, v) with
    diffusivity k (m²/s), initial width sigma0 (m)."""
    s2 = sigma0**2 + 2 * k * t
    r2 = (x - x0 - u * t) ** 2 + (y - y0 - v * t) ** 2
    return mass_per_length / (2 * np.pi * s2) * np.exp(-r2 / (2 * s2))


def steady_point_source_reflected(x, y, z, rate, height, speed, k):
    """Exact steady concentration (kg/m³) from a continuous point source of ``rate`` kg/s at
    (0, 0, height) in a uniform wind ``speed`` along +x with isotropic diffusivity ``k``, above a
    reflecting ground (image source at −height).

    c = Q/(4πK) Σ exp(−U(r − x)/(2K)) / r over the source and its image; far downwind
    (Ux/K ≫ 1) this is the Gaussian plume with σ² = 2Kx/U.
    """
    total = 0.0
    for zs in (height, -height):
        r = np.sqrt(x**2 + y**2 + (z - zs) ** 2)
        total = total + np.exp(-speed * (r - x) / (2 * k)) / r
    return rate / (4 * np.pi * k) * total


def gaussian_plume_reflected(x, y, z, rate, height, speed, k):
    """Gaussian plume with ground reflection, σy² = σz² = 2Kx/U (slender-plume limit)."""
    s2 = 2 * k * x / speed
    return (rate / (2 * np.pi * speed * s2) * np.exp(-(y**2) / (2 * s2))
            * (np.exp(-((z - height) ** 2) / (2 * s2)) + np.exp(-((z + height) ** 2) / (2 * s2))))


def reflected_diffusion_1d(z, t, mass_per_area, z0, k, t0=0.0):
    """1D diffusion of an instantaneous layer at z0 above a reflecting ground, started at −t0."""
    s = 4 * k * (t + t0)
    return mass_per_area / np.sqrt(np.pi * s) * (np.exp(-((z - z0) ** 2) / s) + np.exp(-((z + z0) ** 2) / s))


def step_cell_averages(x_faces, t, left, right, speed):
    """Cell averages of a unit top-hat on ``[left, right]`` (m) carried unchanged at ``speed`` (m/s)
    for ``t`` (s): the overlap fraction of each cell ``[x_faces[i], x_faces[i+1]]``."""
    faces = np.asarray(x_faces, dtype=np.float64)
    low, high = left + speed * t, right + speed * t
    overlap = np.clip(np.minimum(faces[1:], high) - np.maximum(faces[:-1], low), 0.0, None)
    return overlap / np.diff(faces)

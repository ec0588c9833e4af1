"""Stable time-step limits for the split advection and the explicit horizontal diffusion."""

from __future__ import annotations

import math


def advective_limit(courant_rates: tuple[float, float, float], cfl: float) -> float:
    """Largest dt (s) keeping every directional Courant number ``|u| dt / dx`` at or below ``cfl``.

    ``courant_rates`` are the maxima of ``|u|/dx``, ``|v|/dy`` and ``|w|/dz`` (1/s). Each sweep of
    the split scheme is TVD up to a Courant number of 1, so ``cfl`` must be in (0, 1].
    """
    rate = max(courant_rates)
    return math.inf if rate == 0 else cfl / rate


def diffusive_limit(kh_max: float, dx: float, dy: float, safety: float = 0.9) -> float:
    """Largest dt (s) for which explicit horizontal diffusion stays positive and stable:
    ``dt * 2 Kh (1/dx² + 1/dy²) <= safety``."""
    if kh_max <= 0:
        return math.inf
    return safety / (2 * kh_max * (1 / dx**2 + 1 / dy**2))

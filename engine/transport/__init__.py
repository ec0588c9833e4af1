"""One transport time step: advection, diffusion, deposition and decay (see :class:`Transport`)."""

from .advection import LIMITERS, advect_axis, limited_slope
from .diffusion import diffuse_horizontal, VerticalDiffusionSolver
from .step import VERTICAL_SCHEMES, Transport

__all__ = [
    "LIMITERS",
    "Transport",
    "VERTICAL_SCHEMES",
    "VerticalDiffusionSolver",
    "advect_axis",
    "diffuse_horizontal",
    "limited_slope",
]

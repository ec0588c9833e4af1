"""Minimal meteorology: wind profiles on the C grid and eddy diffusivities."""

from .diffusivity import Diffusivity, stability_diffusivity
from .profiles import log_law_speed, power_law_exponent, power_law_speed, wind_components
from .wind import Wind, WindProfile

__all__ = [
    "Diffusivity",
    "Wind",
    "WindProfile",
    "log_law_speed",
    "power_law_exponent",
    "power_law_speed",
    "stability_diffusivity",
    "wind_components",
]

"""plumetwin's numerical engine: a plain library (no Hydra) read top to bottom as

grid = Grid(...) → model = DispersionModel(grid, wind=..., diffusivity=..., species=..., sources=...)
→ sim = Simulation(model, stop_time=..., callbacks=..., writers=...) → sim.run()
"""

from .backend import Backend, resolve_backend
from .errors import (BackendUnavailableError, CheckpointError, ConfigError, NumericalInstabilityError,
                     PlumetwinError)
from .grid import Grid, stretched_levels
from .meteorology import Diffusivity, Wind, WindProfile, stability_diffusivity
from .model import DispersionModel
from .sampling import PointSampler
from .sources import AreaSource, EmissionProfile, PointSource, PuffSource, VolumeSource
from .species import Species

__version__ = "0.1.0"

__all__ = [
    "AreaSource", "Backend", "BackendUnavailableError", "CheckpointError", "ConfigError", "Diffusivity",
    "DispersionModel", "EmissionProfile", "Grid", "NumericalInstabilityError", "PlumetwinError",
    "PointSampler", "PointSource", "PuffSource", "Species", "VolumeSource", "Wind", "WindProfile",
    "__version__", "resolve_backend", "stability_diffusivity", "stretched_levels",
]

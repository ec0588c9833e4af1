"""State augmentation with log emission rates of named sources.

The filter updates ``log f`` where ``f`` is each member's multiplier of a source's nominal rate
(the model's ``emission_factors``); working in logs keeps the corrected rates positive and makes a
factor-of-two error symmetric. After an analysis the model's injector is rebuilt with ``exp(log f)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..sources import SourceInjector


@dataclass
class EmissionAugmentation:
    """Log emission factors ``(member, n_estimated)`` of the named sources of a model.

    Parameters
    ----------
    names:
        Names of the sources whose rates the filter corrects.
    log_factors:
        Initial ``log f`` per member and named source ``(M, k)``.
    """

    names: Sequence[str]
    log_factors: np.ndarray
    history: list = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.names = list(self.names)
        self.log_factors = np.asarray(self.log_factors, dtype=np.float64)
        if self.log_factors.ndim != 2 or self.log_factors.shape[1] != len(self.names):
            raise ConfigError("assimilation.estimate_sources",
                              f"log factors {self.log_factors.shape} must be (members, {len(self.names)})")

    @classmethod
    def lognormal(cls, names: Sequence[str], members: int, sigma: float, rng: np.random.Generator,
                  median: float = 1.0) -> "EmissionAugmentation":
        """Factors ``exp(N(log median, sigma²))``, centred over members so their log-mean is exact."""
        draws = rng.standard_normal((members, len(names)))
        draws -= draws.mean(axis=0)
        return cls(names, np.log(median) + sigma * draws)

    def _indices(self, model) -> list[int]:
        names = [s.name for s in model.sources]
        missing = [n for n in self.names if n not in names]
        if missing:
            raise ConfigError("assimilation.estimate_sources", f"no source named {missing}; the model has {names}")
        return [names.index(n) for n in self.names]

    def positions(self, model) -> np.ndarray:
        """Horizontal positions ``(k, 2)`` (m) of the named sources, for localisation."""
        out = []
        for n in self._indices(model):
            source = model.sources[n]
            cells, weights = source.cells(model.grid)
            j = (cells // model.grid.nx) % model.grid.ny
            i = cells % model.grid.nx
            out.append((float(np.sum(weights * model.grid.x_centres[i])), float(np.sum(weights * model.grid.y_centres[j]))))
        return np.asarray(out)

    def apply(self, model) -> None:
        """Give ``model`` the current factors (sources not named keep factor 1)."""
        factors = np.ones((model.members, len(model.sources)))
        factors[:, self._indices(model)] = np.exp(self.log_factors)
        model.injector = SourceInjector(model.grid, model.species, model.sources, model.members, factors)

    def rates(self, model, species: str) -> np.ndarray:
        """Corrected rates (kg/s) ``(member, k)`` of ``species`` from each named source."""
        nominal = np.array([model.sources[n].rates.get(species, 0.0) for n in self._indices(model)])
        return np.exp(self.log_factors) * nominal[None, :]

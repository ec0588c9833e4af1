"""Data assimilation and source-term estimation.

Ensemble filters (stochastic EnKF, LETKF with Gaspari–Cohn localisation, multiplicative and RTPS
inflation) over pure ensemble-space analysis functions; assimilation cycles as a simulation
callback, optionally correcting log emission rates; the discrete adjoint of the linear transport
for backward (source–receptor) runs; and a Bayesian inversion for an unknown release.
"""

from .augmentation import EmissionAugmentation
from .cycling import ArrayFeed, AssimilationCallback, InnovationRecord
from .filters import FILTERS, EnKF, LETKF, ObservationBatch, enkf_transform, etkf_transforms
from .inflation import inflate, relax_to_prior_spread
from .localisation import gaspari_cohn

__all__ = [
    "ArrayFeed", "AssimilationCallback", "EmissionAugmentation", "EnKF", "FILTERS", "InnovationRecord", "LETKF",
    "ObservationBatch", "enkf_transform", "etkf_transforms", "gaspari_cohn", "inflate", "relax_to_prior_spread",
]

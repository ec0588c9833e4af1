"""Run output: the HDF5 run file, its writers and reader, and maps.

Writing: :class:`RunOutput` (the file), :class:`FieldWriter` and :class:`ReceptorWriter`
(scheduled writers for :class:`~engine.simulation.Simulation`). Reading: :func:`open_run`,
giving a :class:`RunResult` whose arrays come as :class:`Field`. Drawing: :func:`plot_ground_map`.
"""

from .hdf5 import RunOutput
from .maps import plot_ground_map
from .reader import Field, RunFileError, RunResult, open_run
from .writers import FieldWriter, ReceptorWriter

__all__ = ["Field", "FieldWriter", "ReceptorWriter", "RunFileError", "RunOutput", "RunResult",
           "open_run", "plot_ground_map"]

"""Run output: the HDF5 run file, its writers and reader, and maps."""

from .hdf5 import FieldWriter, ReceptorWriter, RunOutput
from .maps import plot_ground_map
from .reader import Field, RunFileError, RunResult, open_run

__all__ = ["Field", "FieldWriter", "ReceptorWriter", "RunFileError", "RunOutput", "RunResult",
           "open_run", "plot_ground_map"]

"""Compiled kernels beside the NumPy reference in :mod:`engine.transport` (Numba on the CPU)."""

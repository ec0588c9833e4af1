"""Compiled kernels beside the NumPy reference in :mod:`engine.transport` (Numba on the CPU)."""

try:
    from .jit import configure_vector_width
except ImportError:  # Numba is an optional extra; the NumPy reference needs none of this
    pass
else:
    configure_vector_width()

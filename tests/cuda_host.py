"""Test helper: a NumPy-backend model whose sweeps and diffusion run the CUDA kernels built for
the host CPU (:class:`engine.kernels.cuda_kernels.HostKernels`), as the ``cuda-host`` case of the
backend fixture and in ``test_cuda_kernels.py``."""

from __future__ import annotations

from engine.kernels import cuda_fused
from engine.kernels.cuda_kernels import host_compiler
from engine.transport import step as step_module

__all__ = ["host_compiler", "use_host_kernels", "install_host_kernels"]


def use_host_kernels(transport) -> None:
    """Make a NumPy-backend ``transport`` run the CUDA kernels on the host
    (:func:`engine.kernels.cuda_fused.use_host_kernels`), and check it does."""
    cuda_fused.use_host_kernels(transport)
    assert isinstance(transport._fused, cuda_fused.CudaFusedSweeps)
    assert transport._vertical._compiled is transport._compiled_vertical


def install_host_kernels(monkeypatch) -> None:
    """Every NumPy-backend transport built while ``monkeypatch`` is active uses the host kernels."""
    original = step_module.Transport.__init__

    def init(self, grid, *args, **kwargs):
        original(self, grid, *args, **kwargs)
        if grid.backend.name == "numpy":
            use_host_kernels(self)

    monkeypatch.setattr(step_module.Transport, "__init__", init)

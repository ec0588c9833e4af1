"""Backward (adjoint) runs: source–receptor sensitivities, one run per sensor.

A sensor's reading at step ``N`` is ``y = hᵀ c_N`` (``h`` its trilinear weights). An emission of
``q`` kg/s into cell ``c`` during step ``n`` adds ``q dt / V_c`` to that cell before ``S_n``, so

    ∂y/∂q_{n,c} = (S_nᵀ S_{n+1}ᵀ ⋯ S_{N−1}ᵀ h)_c dt / V_c,

which one backward run from ``h`` gives for every cell and every step at once. With steady
meteorology and a fixed step the response depends only on the lag ``N − 1 − n`` (up to the sweep
order, which alternates every step: observations an even number of steps apart share it), so one
run per sensor from the last observation serves every observation time.
"""

from __future__ import annotations

import numpy as np

from ..sampling import PointSampler
from .adjoint import LinearTransport


def backward_sensitivities(transport: LinearTransport, sampler: PointSampler, steps: int, last_step: int,
                           cells: np.ndarray | None = None, progress: bool = False) -> np.ndarray:
    """Sensitivities ``(sensor, lag, cell)`` (s/m³: kg/m³ per kg/s) of each sensor's reading after
    step ``last_step − 1`` to a constant emission during the step ``lag`` steps earlier.

    Parameters
    ----------
    transport:
        The linear transport.
    sampler:
        The sensors' observation operator.
    steps:
        Number of lags to compute (the backward run's length).
    last_step:
        The step count at the sensors' last reading (sets the sweep-order parity).
    cells:
        Flat indices of the candidate source cells (default: every cell).
    """
    grid = transport.grid
    volumes = np.broadcast_to(grid.cell_volumes(), grid.shape).ravel()
    if cells is None:
        cells = np.arange(grid.size)
    scale = transport.dt / volumes[cells]
    out = np.zeros((sampler.host_cells.shape[0], steps, cells.size))
    iterator = range(sampler.host_cells.shape[0])
    if progress:
        from tqdm import tqdm  # noqa: PLC0415

        iterator = tqdm(iterator, desc="backward runs", unit="sensor", disable=None)  # off without a terminal
    for sensor in iterator:
        adjoint = np.zeros(grid.size)
        np.add.at(adjoint, sampler.host_cells[sensor], sampler.host_weights[sensor])
        for lag in range(steps):
            adjoint = transport.adjoint_step(adjoint, last_step - 1 - lag)
            out[sensor, lag] = adjoint[cells] * scale
    return out


def continuous_release_response(sensitivities: np.ndarray) -> np.ndarray:
    """Cumulative sums over lag ``(sensor, lag + 1, cell)``: entry ``m`` is the reading per kg/s
    of a constant release that began ``m`` steps before it (entry 0: no release yet)."""
    zero = np.zeros(sensitivities[:, :1].shape)
    return np.concatenate([zero, np.cumsum(sensitivities, axis=1)], axis=1)

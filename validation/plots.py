"""Figures of the validation suites: convergence, step profiles, time series, scatter, rank histograms.

Every function writes one PNG atomically and returns its path; matplotlib is imported (with the
off-screen Agg backend) only when a figure is drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from engine.atomic import atomic_path


def pyplot():
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def save_png(fig, path: Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return path


def convergence(path: Path, series: Mapping[str, tuple[Sequence[float], Sequence[float]]], slopes: Sequence[float],
                title: str, ylabel: str = "relative error") -> Path:
    """Log–log error against grid spacing (m), one line per series, with reference slopes
    drawn through the first point of the first series."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.4))
    for label, (spacing, error) in series.items():
        ax.loglog(spacing, error, "o-", label=label)
    first_h, first_e = next(iter(series.values()))
    h = np.array([min(first_h), max(first_h)], dtype=float)
    for slope in slopes:
        ax.loglog(h, first_e[0] * (h / first_h[0]) ** slope, "k--" if slope == slopes[0] else "k:",
                  linewidth=1, label=f"slope {slope:g}")
    ax.set_xlabel("grid spacing (m)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return save_png(fig, path)


def profiles(path: Path, x: np.ndarray, exact: np.ndarray, curves: Mapping[str, np.ndarray], title: str) -> Path:
    """1D profiles against x (m) beside the exact one."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    ax.plot(x, exact, "k-", linewidth=2, label="exact")
    for label, values in curves.items():
        ax.plot(x, values, linewidth=1, label=label)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("concentration (relative)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save_png(fig, path)


def time_series(path: Path, times: np.ndarray, observed: np.ndarray, predicted: np.ndarray, title: str,
                units: str, spread: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    """Observed and predicted series at one station; ``spread``: an ensemble's low/high band."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    if spread is not None:
        ax.fill_between(times, spread[0], spread[1], color="tab:orange", alpha=0.25, label="ensemble range")
    ax.plot(times, observed, "k.-", label="observed")
    ax.plot(times, predicted, "-", color="tab:orange", label="predicted")
    ax.set_ylabel(units)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    return save_png(fig, path)


def scatter(path: Path, observed: np.ndarray, predicted: np.ndarray, title: str, units: str) -> Path:
    """Predicted against observed with the 1:1 line and the factor-of-two lines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.plot(observed, predicted, "o", markersize=3, alpha=0.7)
    finite = np.concatenate([observed[np.isfinite(observed)], predicted[np.isfinite(predicted)]])
    top = float(finite.max()) if finite.size else 1.0
    top = top if top > 0 else 1.0
    line = np.array([0.0, top])
    ax.plot(line, line, "k-", linewidth=1, label="1:1")
    ax.plot(line, 2 * line, "k:", linewidth=1, label="factor 2")
    ax.plot(line, 0.5 * line, "k:", linewidth=1)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(f"observed ({units})")
    ax.set_ylabel(f"predicted ({units})")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save_png(fig, path)


def rank_histogram(path: Path, counts: Sequence[int], title: str) -> Path:
    """Bars of the rank counts with the flat (reliable) level."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    ranks = np.arange(len(counts))
    ax.bar(ranks, counts, color="tab:blue")
    ax.axhline(sum(counts) / max(len(counts), 1), color="k", linestyle="--", linewidth=1, label="flat")
    ax.set_xlabel("rank of the observation among the members")
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save_png(fig, path)

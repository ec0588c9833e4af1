"""Scatter and quantile–quantile plots of predicted against observed ``C/Q`` (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from validation.plots import pyplot, save_png

from .met import CLASS_BOUNDS
from .scoring import QUANTITIES, Pairs

_COLOURS = {"unstable": "tab:red", "near-neutral": "tab:green", "stable": "tab:blue", "very stable": "tab:purple"}


def _axes_limits(pairs: Pairs) -> tuple[float, float]:
    values = np.concatenate([pairs.observed, pairs.predicted])
    values = values[values > 0]
    return 10 ** np.floor(np.log10(values.min())), 10 ** np.ceil(np.log10(values.max()))


def _guides(ax, low: float, high: float) -> None:
    line = np.array([low, high])
    ax.plot(line, line, "k-", lw=1)
    ax.plot(line, 2 * line, "k--", lw=0.8, label="factor of 2")
    ax.plot(line, 0.5 * line, "k--", lw=0.8)
    ax.set(xscale="log", yscale="log", xlim=(low, high), ylim=(low, high), aspect="equal")


def scatter(pairs: Pairs, path: Path, title: str) -> Path:
    """Predicted against observed, coloured by stability class, with factor-of-2 lines."""
    fig, ax = pyplot().subplots(figsize=(5.2, 5.2))
    low, high = _axes_limits(pairs)
    _guides(ax, low, high)
    for name, bound in CLASS_BOUNDS:
        part = pairs.stability == name
        if part.any():
            ax.scatter(pairs.observed[part], pairs.predicted[part], s=14, color=_COLOURS[name],
                       label=f"{name} ({bound})", alpha=0.8)
    ax.set(xlabel=f"observed {QUANTITIES[pairs.quantity]}", ylabel=f"predicted {QUANTITIES[pairs.quantity]}",
           title=title)
    ax.legend(fontsize=7, loc="upper left")
    return save_png(fig, path)


def quantile_quantile(pairs: Pairs, path: Path, title: str) -> Path:
    """Sorted predictions against sorted observations (unpaired distributions)."""
    fig, ax = pyplot().subplots(figsize=(5.2, 5.2))
    low, high = _axes_limits(pairs)
    _guides(ax, low, high)
    ax.plot(np.sort(pairs.observed), np.sort(pairs.predicted), "o", ms=3, color="tab:blue")
    ax.set(xlabel=f"observed quantile, {QUANTITIES[pairs.quantity]}",
           ylabel=f"predicted quantile, {QUANTITIES[pairs.quantity]}", title=title)
    ax.legend(fontsize=7, loc="upper left")
    return save_png(fig, path)

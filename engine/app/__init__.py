"""The application layer: Hydra configs → engine objects → tasks, and the ``plumetwin`` CLI.

This package is the only place that imports Hydra or OmegaConf; everything it builds is a plain
engine object, and every task is a plain function callable without Hydra.
"""

"""Benchmark tasks, metrics and figures shared by the scripts under ``benchmarks/``."""

from __future__ import annotations

from matgl_supercon.benchmarks._features import geometry_features, magpie_features
from matgl_supercon.benchmarks._metrics import fold_summary, grouped_mae, mae, r2
from matgl_supercon.benchmarks._plots import group_bar, parity_plot

__all__ = [
    "fold_summary",
    "geometry_features",
    "group_bar",
    "grouped_mae",
    "mae",
    "magpie_features",
    "parity_plot",
    "r2",
]

"""Benchmark tasks (Matbench interface), runners, metrics and figures shared by the scripts under ``benchmarks/``."""

from __future__ import annotations

from matgl_supercon.benchmarks._features import geometry_features, magpie_features
from matgl_supercon.benchmarks._matbench import read_matbench_results, registered_with_matbench, write_matbench_results
from matgl_supercon.benchmarks._metrics import fold_summary, grouped_mae, mae, r2
from matgl_supercon.benchmarks._plots import group_bar, parity_plot
from matgl_supercon.benchmarks._runner import MODEL_INPUTS, MODELS, run_cell, summarise_cell, tuned_svr
from matgl_supercon.benchmarks._tasks import TASKS, TcTask, inner_validation_split, load_task, regression_scores

__all__ = [
    "MODELS",
    "MODEL_INPUTS",
    "TASKS",
    "TcTask",
    "fold_summary",
    "geometry_features",
    "group_bar",
    "grouped_mae",
    "inner_validation_split",
    "load_task",
    "mae",
    "magpie_features",
    "parity_plot",
    "r2",
    "read_matbench_results",
    "registered_with_matbench",
    "regression_scores",
    "run_cell",
    "summarise_cell",
    "tuned_svr",
    "write_matbench_results",
]

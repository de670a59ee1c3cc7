"""Benchmark tasks (Matbench interface), runners, metrics and figures shared by the scripts under ``benchmarks/``.

Names are imported on first use (see :mod:`matgl_supercon._lazy`), so the CLI can list tasks and models
without loading torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matgl_supercon._lazy import lazy_exports

if TYPE_CHECKING:
    from matgl_supercon.benchmarks._features import (
        CHGNET_FEATURES,
        chgnet_features,
        geometry_features,
        magpie_features,
    )
    from matgl_supercon.benchmarks._matbench import (
        read_matbench_results,
        registered_with_matbench,
        write_matbench_results,
    )
    from matgl_supercon.benchmarks._metrics import fold_summary, grouped_mae, mae, r2
    from matgl_supercon.benchmarks._names import FOREST_MODELS, GNN_MODELS, MODELS, TASK_NAMES
    from matgl_supercon.benchmarks._plots import group_bar, parity_plot, site_share_bar
    from matgl_supercon.benchmarks._runner import MODEL_INPUTS, run_cell, runs_on, summarise_cell, tuned_svr
    from matgl_supercon.benchmarks._tasks import TASKS, TcTask, inner_validation_split, load_task, regression_scores

_EXPORTS = {
    "CHGNET_FEATURES": "_features",
    "chgnet_features": "_features",
    "geometry_features": "_features",
    "magpie_features": "_features",
    "read_matbench_results": "_matbench",
    "registered_with_matbench": "_matbench",
    "write_matbench_results": "_matbench",
    "fold_summary": "_metrics",
    "grouped_mae": "_metrics",
    "mae": "_metrics",
    "r2": "_metrics",
    "group_bar": "_plots",
    "parity_plot": "_plots",
    "site_share_bar": "_plots",
    "MODEL_INPUTS": "_runner",
    "MODELS": "_names",
    "GNN_MODELS": "_names",
    "FOREST_MODELS": "_names",
    "run_cell": "_runner",
    "runs_on": "_runner",
    "summarise_cell": "_runner",
    "tuned_svr": "_runner",
    "TASKS": "_tasks",
    "TcTask": "_tasks",
    "inner_validation_split": "_tasks",
    "load_task": "_tasks",
    "regression_scores": "_tasks",
    "TASK_NAMES": "_names",
}
__all__ = [
    "CHGNET_FEATURES",
    "FOREST_MODELS",
    "GNN_MODELS",
    "MODELS",
    "MODEL_INPUTS",
    "TASKS",
    "TASK_NAMES",
    "TcTask",
    "chgnet_features",
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
    "runs_on",
    "site_share_bar",
    "summarise_cell",
    "tuned_svr",
    "write_matbench_results",
]
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)

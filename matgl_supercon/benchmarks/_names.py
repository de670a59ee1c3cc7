"""Names of the leaderboard tasks and models, importable without torch (the CLI's argument choices)."""

from __future__ import annotations

from typing import Literal, get_args

TaskName = Literal[
    "supercon3d_tc",
    "supercon3d_tc_O",
    "supercon3d_tc_OSD",
    "supercon3d_tc_5fold",
    "3dsc_mp_tc_formula",
    "3dsc_mp_tc_mpid",
    "3dsc_mp_tc_random",
    "jarvis_tc_leaderboard",
    "jarvis_tc_5fold",
]
ModelName = Literal[
    "median",
    "RF-c",
    "SVR-c",
    "RF-geo",
    "SVR-geo",
    "CompositionForestTc",
    "CompositionForestTc+formulas",
    "MEGNet",
    "SODNet",
    "SODNet+forest+formulas",
]

TASK_NAMES: tuple[str, ...] = get_args(TaskName)
MODELS: tuple[str, ...] = get_args(ModelName)
# The models trained by gradient descent (checkpoints under --runs, a TrainConfig, a recorded weight average).
GNN_MODELS: tuple[str, ...] = ("SODNet", "MEGNet")
# The CompositionForestTc cells: trees on the composition statistics, ``+formulas`` also on the formula table.
FOREST_MODELS: tuple[str, ...] = ("CompositionForestTc", "CompositionForestTc+formulas")
# SODNet reading, as its state, the ln Tc of a CompositionForestTc+formulas forest that never saw the structure.
FOREST_READER_MODEL = "SODNet+forest+formulas"

"""Training of the Tc models: graph datasets, the Lightning module and its resumable fit, and the composition members.

- ``_datasets``: structures to MatGL graph datasets with the ``ln_tc`` label, loaders, batch prediction.
- ``_lightning``: ``TrainConfig``, the warm-up + cosine schedule, the weight average, ``TcLightningModule``, the
  checkpoint that saves a model folder, the per-epoch log.
- ``_run_folder``: what a run folder trained (``run.json``) and the check that refuses to mix two runs in one.
- ``_fit``: ``fit_tc_model``, a resumable, seeded fit of SODNet or MEGNet (any Lightning strategy).
- ``_composition``: ``fit_composition_tc`` (the ``CompositionTc`` network) and ``fit_composition_forest`` (trees).
- ``_forest_state``: ``out_of_fold_forest_state``, the forest ln Tc a forest-reading SODNet trains on, and
  ``fit_forest_reading_sodnet``, which trains one and saves it beside its forest.
"""

from __future__ import annotations

from torch.utils.data import ConcatDataset, Subset

from matgl_supercon._io import write_json_atomic
from matgl_supercon.training._composition import (
    CompositionForestConfig,
    CompositionTrainConfig,
    fit_composition_forest,
    fit_composition_tc,
)
from matgl_supercon.training._datasets import (
    LABEL,
    graph_dataset,
    make_loader,
    model_inputs,
    predict_dataset,
    records_dataset,
)
from matgl_supercon.training._fit import fit_tc_model
from matgl_supercon.training._forest_state import INNER_SPLITS, fit_forest_reading_sodnet, out_of_fold_forest_state
from matgl_supercon.training._lightning import (
    EpochLog,
    ExponentialAverage,
    FolderCheckpoint,
    TcLightningModule,
    TrainConfig,
    logged_epochs,
    save_model_atomic,
    training_seconds,
    warmup_cosine,
)
from matgl_supercon.training._run_folder import (
    FITTED_ARGUMENTS,
    check_run_folder,
    configuration_differences,
    data_differences,
    run_configuration,
)

__all__ = [
    "FITTED_ARGUMENTS",
    "INNER_SPLITS",
    "LABEL",
    "CompositionForestConfig",
    "CompositionTrainConfig",
    "ConcatDataset",
    "EpochLog",
    "ExponentialAverage",
    "FolderCheckpoint",
    "Subset",
    "TcLightningModule",
    "TrainConfig",
    "check_run_folder",
    "configuration_differences",
    "data_differences",
    "fit_composition_forest",
    "fit_composition_tc",
    "fit_forest_reading_sodnet",
    "fit_tc_model",
    "graph_dataset",
    "logged_epochs",
    "make_loader",
    "model_inputs",
    "out_of_fold_forest_state",
    "predict_dataset",
    "records_dataset",
    "run_configuration",
    "save_model_atomic",
    "training_seconds",
    "warmup_cosine",
    "write_json_atomic",
]

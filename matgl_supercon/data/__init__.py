"""Datasets in their upstream layouts, one record type, and the benchmark splits."""

from __future__ import annotations

from matgl_supercon.data._loaders import (
    load_3dsc_mp,
    load_diffcsp_sc,
    load_jarvis_tc,
    load_perov5,
    load_supercon3d,
    load_supercon_formulas,
    load_table,
)
from matgl_supercon.data._records import (
    DATA_ENV_VAR,
    DATASET_SOURCES,
    FormulaRecord,
    SuperconRecord,
    read_structure,
    resolve_data_dir,
)
from matgl_supercon.data._splits import (
    EXTRA_SCOPES,
    EXTRA_TRAINING_SETS,
    MATBENCH_SEED,
    SAME_COMPOUND_DISTANCE,
    ExtraScope,
    atom_fractions,
    chemical_system,
    extra_training_records,
    group_folds,
    held_out_extra_rows,
    in_new_chemical_systems,
    matbench_folds,
    outside_chemical_systems,
    outside_compounds,
    paper_folds,
)

__all__ = [
    "DATASET_SOURCES",
    "DATA_ENV_VAR",
    "EXTRA_SCOPES",
    "EXTRA_TRAINING_SETS",
    "MATBENCH_SEED",
    "SAME_COMPOUND_DISTANCE",
    "ExtraScope",
    "FormulaRecord",
    "SuperconRecord",
    "atom_fractions",
    "chemical_system",
    "extra_training_records",
    "group_folds",
    "held_out_extra_rows",
    "in_new_chemical_systems",
    "load_3dsc_mp",
    "load_diffcsp_sc",
    "load_jarvis_tc",
    "load_perov5",
    "load_supercon3d",
    "load_supercon_formulas",
    "load_table",
    "matbench_folds",
    "outside_chemical_systems",
    "outside_compounds",
    "paper_folds",
    "read_structure",
    "resolve_data_dir",
]

"""The everyday jobs behind the CLI: predict (structures or formulas), screen, dope, explain, generate."""

from __future__ import annotations

from matgl_supercon.workflows.dope import (
    DOPED_COPY_FRACTIONS,
    DopingVariant,
    doped_copies,
    explore_doping,
    explore_formula_doping,
    group_neighbours,
    substitute,
    substitute_formula,
    teacher_labelled_copies,
)
from matgl_supercon.workflows.explain import SiteContribution, explain_structure
from matgl_supercon.workflows.generate import generate_for_tc
from matgl_supercon.workflows.predict import TcPrediction, predict_formula_tc, predict_tc
from matgl_supercon.workflows.screen import (
    ScreenReport,
    find_structure_files,
    read_formulas,
    screen_folder,
    screen_formulas,
)

__all__ = [
    "DOPED_COPY_FRACTIONS",
    "DopingVariant",
    "ScreenReport",
    "SiteContribution",
    "TcPrediction",
    "doped_copies",
    "explain_structure",
    "explore_doping",
    "explore_formula_doping",
    "find_structure_files",
    "generate_for_tc",
    "group_neighbours",
    "predict_formula_tc",
    "predict_tc",
    "read_formulas",
    "screen_folder",
    "screen_formulas",
    "substitute",
    "substitute_formula",
    "teacher_labelled_copies",
]

"""The everyday jobs behind the CLI: predict, screen, dope, explain."""

from __future__ import annotations

from matgl_supercon.workflows.dope import DopingVariant, explore_doping, substitute
from matgl_supercon.workflows.explain import SiteContribution, explain_structure
from matgl_supercon.workflows.generate import generate_for_tc
from matgl_supercon.workflows.predict import TcPrediction, predict_tc
from matgl_supercon.workflows.screen import ScreenReport, find_structure_files, screen_folder

__all__ = [
    "DopingVariant",
    "ScreenReport",
    "SiteContribution",
    "TcPrediction",
    "explain_structure",
    "explore_doping",
    "find_structure_files",
    "generate_for_tc",
    "predict_tc",
    "screen_folder",
    "substitute",
]

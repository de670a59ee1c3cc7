"""DiffCSP-SC: schedules, wrapped-normal score, denoiser, the model, its one sampler, training and metrics."""

from __future__ import annotations

from matgl_supercon.generate.crystal import CrystalBatch, fully_connected_edges
from matgl_supercon.generate.denoiser import CSPDenoiser
from matgl_supercon.generate.diffcsp_sc import DiffCSPSC
from matgl_supercon.generate.metrics import (
    compositionally_valid,
    csp_matcher,
    match_rate_and_rmse,
    novel,
    structurally_valid,
    success_rates,
    uniqueness,
)
from matgl_supercon.generate.sampler import sample
from matgl_supercon.generate.schedules import DDPMSchedule, cosine_alpha_bars, cosine_betas, geometric_sigmas
from matgl_supercon.generate.train import fit_generator
from matgl_supercon.generate.wrapped_normal import (
    score_norm,
    wrapped_normal_density,
    wrapped_normal_log_density,
    wrapped_normal_score,
)

__all__ = [
    "CSPDenoiser",
    "CrystalBatch",
    "DDPMSchedule",
    "DiffCSPSC",
    "compositionally_valid",
    "cosine_alpha_bars",
    "cosine_betas",
    "csp_matcher",
    "fit_generator",
    "fully_connected_edges",
    "geometric_sigmas",
    "match_rate_and_rmse",
    "novel",
    "sample",
    "score_norm",
    "structurally_valid",
    "success_rates",
    "uniqueness",
    "wrapped_normal_density",
    "wrapped_normal_log_density",
    "wrapped_normal_score",
]

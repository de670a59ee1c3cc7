"""Noise schedules of DiffCSP (Jiao et al., NeurIPS 2023): cosine-beta DDPM and geometric-sigma VE."""

from __future__ import annotations

import math

import torch


def cosine_alpha_bars(timesteps: int, s: float = 0.008) -> torch.Tensor:
    """ᾱ_t for t = 0..T of the cosine schedule (Nichol & Dhariwal 2021); ᾱ_0 = 1.

    Args:
        timesteps: T.
        s: Offset that keeps β small near t = 0.

    Returns:
        ``[T + 1]`` float64 tensor.
    """
    t = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return f / f[0]


def cosine_betas(timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """β_t for t = 1..T (index ``t - 1``), clipped at ``max_beta`` as usual."""
    alpha_bars = cosine_alpha_bars(timesteps, s)
    return (1 - alpha_bars[1:] / alpha_bars[:-1]).clamp(max=max_beta)


class DDPMSchedule(torch.nn.Module):
    """β, α, ᾱ and the posterior standard deviation of a DDPM, indexed by t = 1..T (index 0 unused)."""

    def __init__(self, timesteps: int = 1000) -> None:
        super().__init__()
        betas = torch.cat([torch.zeros(1, dtype=torch.float64), cosine_betas(timesteps)])
        alphas = 1 - betas
        alpha_bars = torch.cumprod(alphas, 0)
        posterior_var = torch.zeros_like(betas)
        posterior_var[1:] = betas[1:] * (1 - alpha_bars[:-1]) / (1 - alpha_bars[1:])
        self.timesteps = timesteps
        self.register_buffer("betas", betas.float(), persistent=False)
        self.register_buffer("alphas", alphas.float(), persistent=False)
        self.register_buffer("alpha_bars", alpha_bars.float(), persistent=False)
        self.register_buffer("posterior_std", posterior_var.sqrt().float(), persistent=False)


def geometric_sigmas(timesteps: int = 1000, sigma_begin: float = 0.005, sigma_end: float = 0.5) -> torch.Tensor:
    """σ_t for t = 0..T: σ_0 = 0, then geometric from ``sigma_begin`` to ``sigma_end``."""
    sigmas = torch.exp(torch.linspace(math.log(sigma_begin), math.log(sigma_end), timesteps, dtype=torch.float64))
    return torch.cat([torch.zeros(1, dtype=torch.float64), sigmas])

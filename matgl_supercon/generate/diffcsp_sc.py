"""DiffCSP-SC: Tc-conditioned periodic E(3)-equivariant diffusion over lattice, coordinates and atom types.

After Jiao et al., NeurIPS 2023 (DiffCSP) and Chen et al., NeurIPS 2024 (DiffCSP-SC), written from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import torch
from matgl.models import MatGLModel
from torch.nn import functional as F

from matgl_supercon.generate.crystal import CrystalBatch, fully_connected_edges
from matgl_supercon.generate.denoiser import CSPDenoiser
from matgl_supercon.generate.schedules import DDPMSchedule, geometric_sigmas
from matgl_supercon.generate.wrapped_normal import score_norm, wrapped_normal_score

if TYPE_CHECKING:
    from pymatgen.core import Structure

Mode = Literal["csp", "ab_initio"]


class DiffCSPSC(MatGLModel):
    """Joint diffusion: DDPM on the lattice (and on one-hot types in ``ab_initio`` mode), wrapped-normal VE on F.

    In ``"csp"`` mode the composition is given and types are not diffused (crystal structure prediction);
    in ``"ab_initio"`` mode types are generated too. With ``conditional=True`` the denoiser sees the
    standardised ln Tc, dropped with probability ``p_uncond`` in training for classifier-free guidance.
    """

    __version__ = 1

    def __init__(
        self,
        element_types: Sequence[str],
        mode: Mode = "csp",
        dim: int = 128,
        n_layers: int = 4,
        n_heads: int = 4,
        n_freq: int = 16,
        timesteps: int = 1000,
        sigma_begin: float = 0.005,
        sigma_end: float = 0.5,
        conditional: bool = False,
        p_uncond: float = 0.1,
        ln_tc_mean: float = 0.0,
        ln_tc_std: float = 1.0,
        n_atoms_counts: Sequence[int] = (),
        loss_weights: Sequence[float] = (1.0, 1.0, 1.0),
    ) -> None:
        """Build the generator.

        Args:
            element_types: Elements the generator can place (type indices).
            mode: ``"csp"`` (composition given) or ``"ab_initio"`` (types generated).
            dim: Hidden width of the denoiser.
            n_layers: Message-passing + attention layers.
            n_heads: Self-attention heads.
            n_freq: Fourier frequencies of relative fractional coordinates.
            timesteps: T of all three diffusions.
            sigma_begin: Smallest σ of the coordinate diffusion.
            sigma_end: Largest σ of the coordinate diffusion.
            conditional: Condition on ln Tc.
            p_uncond: Probability of dropping the condition in training.
            ln_tc_mean: Mean of training ln Tc (standardises the condition).
            ln_tc_std: Standard deviation of training ln Tc.
            n_atoms_counts: Histogram of atoms per cell in training (index = number of atoms), for sampling sizes.
            loss_weights: Weights of the lattice, coordinate and type losses.
        """
        super().__init__()
        self.save_args(locals())
        self.element_types = tuple(element_types)
        self.mode = mode
        self.conditional = conditional
        self.p_uncond = p_uncond
        self.loss_weights = tuple(float(w) for w in loss_weights)
        self.denoiser = CSPDenoiser(len(self.element_types), dim, n_layers, n_heads, n_freq)
        self.lattice_schedule = DDPMSchedule(timesteps)
        sigmas = geometric_sigmas(timesteps, sigma_begin, sigma_end)
        norms = torch.cat([torch.zeros(1, dtype=torch.float64), score_norm(sigmas[1:])])
        self.register_buffer("sigmas", sigmas.float(), persistent=False)
        self.register_buffer("score_norms", norms.float(), persistent=False)
        self.register_buffer("ln_tc_stats", torch.tensor([float(ln_tc_mean), float(ln_tc_std)]))
        self.register_buffer("n_atoms_counts", torch.tensor(list(n_atoms_counts), dtype=torch.float64))

    @property
    def timesteps(self) -> int:
        """T."""
        return self.lattice_schedule.timesteps

    def standardise(self, ln_tc: torch.Tensor) -> torch.Tensor:
        """Standardised condition (``nan`` stays ``nan``)."""
        return (ln_tc - self.ln_tc_stats[0]) / self.ln_tc_stats[1]

    def forward(self, type_features, frac, lattice, batch, t, condition, edge_index=None):
        """Run the denoiser (see :class:`CSPDenoiser`); ``edge_index`` defaults to all pairs per crystal."""
        if edge_index is None:
            edge_index = fully_connected_edges(batch)
        return self.denoiser(type_features, frac, lattice, batch, t, condition, edge_index)

    def loss(self, crystals: CrystalBatch, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Denoising losses at random times (DiffCSP's training objective).

        Args:
            crystals: A batch of ordered crystals.
            generator: Source of the times, noise and condition dropout (seeded by the caller).

        Returns:
            ``{"loss", "lattice", "coords", "types"}`` (``types`` is 0 in CSP mode).
        """
        b, n = crystals.num_crystals, crystals.frac.shape[0]
        t = torch.randint(1, self.timesteps + 1, (b,), generator=generator)
        alpha_bar = self.lattice_schedule.alpha_bars[t][:, None, None]
        eps_l = torch.randn(crystals.lattice.shape, generator=generator)
        lattice_t = alpha_bar.sqrt() * crystals.lattice + (1 - alpha_bar).sqrt() * eps_l

        sigma = self.sigmas[t][crystals.batch][:, None]
        displacement = sigma * torch.randn((n, 3), generator=generator)
        frac_t = torch.remainder(crystals.frac + displacement, 1.0)
        target_score = wrapped_normal_score(displacement, sigma) / self.score_norms[t][crystals.batch][:, None].sqrt()

        one_hot = F.one_hot(crystals.types, len(self.element_types)).float()
        if self.mode == "ab_initio":
            eps_a = torch.randn(one_hot.shape, generator=generator)
            ab_atoms = self.lattice_schedule.alpha_bars[t][crystals.batch][:, None]
            type_features = ab_atoms.sqrt() * one_hot + (1 - ab_atoms).sqrt() * eps_a
        else:
            type_features = one_hot

        condition = None
        if self.conditional:
            condition = self.standardise(crystals.ln_tc)
            drop = torch.rand(b, generator=generator) < self.p_uncond
            condition = torch.where(drop, torch.full_like(condition, float("nan")), condition)

        pred_l, pred_x, pred_a = self(type_features, frac_t, lattice_t, crystals.batch, t, condition)
        losses = {
            "lattice": F.mse_loss(pred_l, eps_l),
            "coords": F.mse_loss(pred_x, target_score),
            "types": F.mse_loss(pred_a, eps_a) if self.mode == "ab_initio" else torch.zeros(()),
        }
        w_l, w_x, w_a = self.loss_weights
        losses["loss"] = w_l * losses["lattice"] + w_x * losses["coords"] + w_a * losses["types"]
        return losses

    def sample_n_atoms(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Cell sizes drawn from the training histogram."""
        if self.n_atoms_counts.numel() == 0 or self.n_atoms_counts.sum() == 0:
            raise ValueError("the model has no atom-count histogram; pass n_atoms explicitly")
        return torch.multinomial(self.n_atoms_counts, n, replacement=True, generator=generator)

    def predict_structure(self, structure: Structure, *args, **kwargs) -> Structure:
        """Crystal structure prediction: a generated structure with ``structure``'s composition and cell size.

        Keyword arguments go to :func:`matgl_supercon.generate.sample`.
        """
        from matgl_supercon.generate.sampler import sample

        types = torch.tensor([self.element_types.index(site.specie.symbol) for site in structure])
        result = sample(self, n_atoms=torch.tensor([len(structure)]), types=types, **kwargs)
        return result.to_structures(self.element_types)[0]

"""The one predictor-corrector sampler of DiffCSP(-SC), for CSP and ab initio generation."""

from __future__ import annotations

import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from matgl_supercon.generate.crystal import CrystalBatch, fully_connected_edges
from matgl_supercon.generate.diffcsp_sc import DiffCSPSC


def _denoise(model, type_features, frac, lattice, batch, t_vec, condition, guidance, edges):
    """Denoiser output with classifier-free guidance: (1 + w) conditional - w unconditional."""
    out = model(type_features, frac, lattice, batch, t_vec, condition, edges)
    if condition is None or guidance == 0:
        return out
    uncond = model(type_features, frac, lattice, batch, t_vec, None, edges)
    return tuple((1 + guidance) * c - guidance * u for c, u in zip(out, uncond, strict=True))


@torch.no_grad()
def sample(
    model: DiffCSPSC,
    n_atoms: torch.Tensor,
    types: torch.Tensor | None = None,
    ln_tc: torch.Tensor | float | None = None,
    guidance: float = 0.0,
    step_lr: float = 1e-5,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> CrystalBatch:
    """Generate crystals by reverse diffusion from t = T to 1.

    Each step runs a Langevin corrector on the coordinates, then a predictor: reverse DDPM on the
    lattice (and types) and a reverse VE step on the coordinates (DiffCSP, Algorithm 2).

    Args:
        model: A trained :class:`DiffCSPSC`.
        n_atoms: ``[B]`` atoms per crystal.
        types: ``[sum(n_atoms)]`` element indices (CSP); ``None`` generates types (ab initio mode).
        ln_tc: Target ln(Tc / K), one value or ``[B]``; ``None`` samples unconditionally.
        guidance: Classifier-free guidance scale w (0 = plain conditional).
        step_lr: Corrector step size factor (DiffCSP uses 1e-5 for CSP).
        generator: Seeded source of all randomness; the same seed gives the same crystals.
        progress: Show a progress bar.

    Returns:
        The generated crystals.
    """
    model.eval()
    generator = generator or torch.Generator().manual_seed(0)
    n_atoms = torch.as_tensor(n_atoms, dtype=torch.long)
    b, n = int(n_atoms.numel()), int(n_atoms.sum())
    batch = torch.repeat_interleave(torch.arange(b), n_atoms)
    edges = fully_connected_edges(batch)
    n_types = len(model.element_types)
    if types is None and model.mode != "ab_initio":
        raise ValueError("a CSP model needs the atom types (composition) of every crystal")
    condition = None
    if ln_tc is not None:
        if not model.conditional:
            raise ValueError("this model was trained without a Tc condition")
        condition = model.standardise(torch.as_tensor(ln_tc, dtype=torch.float32).expand(b).clone())

    schedule = model.lattice_schedule
    sigmas, norms = model.sigmas, model.score_norms
    lattice = torch.randn((b, 3, 3), generator=generator)
    frac = torch.rand((n, 3), generator=generator)
    if types is None:
        type_features = torch.randn((n, n_types), generator=generator)
    else:
        type_features = F.one_hot(torch.as_tensor(types, dtype=torch.long), n_types).float()

    for t in tqdm(range(model.timesteps, 0, -1), disable=not progress, desc="sampling"):
        t_vec = torch.full((b,), t, dtype=torch.long)
        sigma_t, norm_t = sigmas[t], norms[t].sqrt()
        # Corrector: Langevin step on F with the score at time t.
        _, score, _ = _denoise(model, type_features, frac, lattice, batch, t_vec, condition, guidance, edges)
        step = step_lr * (sigma_t / sigmas[1]) ** 2
        frac = torch.remainder(
            frac + step * score * norm_t + (2 * step).sqrt() * torch.randn((n, 3), generator=generator), 1.0
        )
        # Predictor: reverse DDPM on L (and types), reverse VE on F.
        eps_l, score, eps_a = _denoise(model, type_features, frac, lattice, batch, t_vec, condition, guidance, edges)
        alpha, alpha_bar = schedule.alphas[t], schedule.alpha_bars[t]
        noise_scale = schedule.posterior_std[t] if t > 1 else torch.zeros(())
        lattice = (lattice - (1 - alpha) / (1 - alpha_bar).sqrt() * eps_l) / alpha.sqrt()
        lattice = lattice + noise_scale * torch.randn((b, 3, 3), generator=generator)
        if types is None:
            type_features = (type_features - (1 - alpha) / (1 - alpha_bar).sqrt() * eps_a) / alpha.sqrt()
            type_features = type_features + noise_scale * torch.randn((n, n_types), generator=generator)
        sigma_prev = sigmas[t - 1]
        step = sigma_t**2 - sigma_prev**2
        std = (sigma_prev**2 * step / sigma_t**2).sqrt()
        frac = torch.remainder(frac + step * score * norm_t + std * torch.randn((n, 3), generator=generator), 1.0)

    final_types = type_features.argmax(-1) if types is None else torch.as_tensor(types, dtype=torch.long)
    return CrystalBatch(
        lattice=lattice,
        frac=frac,
        types=final_types,
        batch=batch,
        n_atoms=n_atoms,
        ln_tc=torch.full((b,), float("nan")) if ln_tc is None else torch.as_tensor(ln_tc).expand(b).float(),
    )

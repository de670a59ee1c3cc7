"""The denoiser of DiffCSP-SC: CSPNet message passing (Jiao et al. 2023), self-attention and a Tc condition."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.utils import scatter, softmax


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer-style embedding of (integer) diffusion times ``[B]`` -> ``[B, dim]``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def fourier_features(d: torch.Tensor, n_freq: int) -> torch.Tensor:
    """sin/cos(2π k d), k = 1..n_freq, of relative fractional coordinates ``[E, 3]`` -> ``[E, 6 n_freq]``.

    Periodic in d, so invariant to which periodic image (and to a common shift of all coordinates).
    """
    k = torch.arange(1, n_freq + 1, dtype=d.dtype, device=d.device)
    angles = 2 * math.pi * d[..., None] * k
    return torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(1)


def _mlp(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_out), nn.SiLU(), nn.Linear(n_out, n_out), nn.SiLU())


class CSPLayer(nn.Module):
    """Message passing over all atom pairs of a crystal, then self-attention within the crystal."""

    def __init__(self, dim: int, n_freq: int, n_heads: int) -> None:
        super().__init__()
        self.n_freq = n_freq
        self.edge_mlp = _mlp(2 * dim + 9 + 6 * n_freq, dim)
        self.node_mlp = _mlp(2 * dim, dim)
        self.norm_mp = nn.LayerNorm(dim)
        self.norm_attention = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, n_heads, batch_first=True)

    def forward(
        self,
        h: torch.Tensor,
        fourier: torch.Tensor,
        gram: torch.Tensor,
        edge_index: torch.Tensor,
        batch: torch.Tensor,
    ) -> torch.Tensor:
        """Update ``[N, dim]`` node features.

        Args:
            h: ``[N, dim]`` node features.
            fourier: ``[E, 6 n_freq]`` Fourier features of each pair's relative fractional coordinates.
            gram: ``[B, 9]`` flattened L Lᵀ.
            edge_index: Fully connected pairs within each crystal.
            batch: ``[N]`` crystal index.
        """
        x = self.norm_mp(h)
        messages = self._messages(x, fourier, gram, edge_index, batch)
        aggregated = scatter(messages, edge_index[0], dim=0, dim_size=h.shape[0], reduce="mean")
        h = h + self.node_mlp(torch.cat([x, aggregated], dim=-1))
        return h + self._attention(self.norm_attention(h), edge_index)

    def _messages(
        self, x: torch.Tensor, fourier: torch.Tensor, gram: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor
    ) -> torch.Tensor:
        """``edge_mlp([x_i, x_j, gram, fourier(f_j - f_i)])`` for every pair.

        The first linear layer is split by input block, so the node and lattice parts are computed once per
        atom and per crystal instead of once per pair (the same function, about 3x fewer multiply-adds).
        """
        i, j = edge_index
        first = self.edge_mlp[0]
        dim = x.shape[1]
        w_i, w_j, w_gram, w_fourier = first.weight.split([dim, dim, 9, 6 * self.n_freq], dim=1)
        per_atom_i = x @ w_i.T + (gram @ w_gram.T)[batch] + first.bias
        per_atom_j = x @ w_j.T
        pre = per_atom_i[i] + per_atom_j[j] + fourier @ w_fourier.T
        return self.edge_mlp[2:](self.edge_mlp[1](pre))

    def _attention(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Multi-head self-attention among the atoms of each crystal, with ``self.attention``'s weights.

        Computed over the pairs of each crystal (plus self pairs) rather than on a padded dense batch, so one
        large crystal in a batch does not make every crystal pay for its size.
        """
        attention = self.attention
        n, dim = x.shape
        heads = attention.num_heads
        q, k, v = (
            F.linear(x, attention.in_proj_weight, attention.in_proj_bias).view(n, 3, heads, dim // heads).unbind(1)
        )
        loops = torch.arange(n, device=x.device)
        query = torch.cat([edge_index[0], loops])
        key = torch.cat([edge_index[1], loops])
        scores = (q[query] * k[key]).sum(-1) / math.sqrt(dim // heads)
        weights = softmax(scores, query, num_nodes=n)
        out = scatter(weights[..., None] * v[key], query, dim=0, dim_size=n, reduce="sum")
        return attention.out_proj(out.reshape(n, dim))


class CSPDenoiser(nn.Module):
    """Predicts lattice noise (as φ·L, rotation-equivariant), the normalised coordinate score and type noise.

    Invariances: atom permutation (message passing and attention are permutation-equivariant), rotation
    (only L Lᵀ enters; the lattice output is φ(invariants)·L), periodic translation (only (f_j - f_i) mod 1
    enters, through Fourier features).
    """

    def __init__(self, n_types: int, dim: int = 128, n_layers: int = 4, n_heads: int = 4, n_freq: int = 16) -> None:
        super().__init__()
        self.dim = dim
        self.type_embedding = nn.Linear(n_types, dim)
        self.time_mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.condition_mlp = nn.Sequential(nn.Linear(1, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.null_condition = nn.Parameter(torch.zeros(dim))
        self.layers = nn.ModuleList(CSPLayer(dim, n_freq, n_heads) for _ in range(n_layers))
        self.norm_out = nn.LayerNorm(dim)
        self.coord_head = nn.Linear(dim, 3, bias=False)
        self.lattice_head = nn.Linear(dim, 9, bias=False)
        self.type_head = nn.Linear(dim, n_types)

    def forward(
        self,
        type_features: torch.Tensor,
        frac: torch.Tensor,
        lattice: torch.Tensor,
        batch: torch.Tensor,
        t: torch.Tensor,
        condition: torch.Tensor | None,
        edge_index: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Denoise one step.

        Args:
            type_features: ``[N, n_types]`` one-hot (or noisy one-hot) types.
            frac: ``[N, 3]`` noisy fractional coordinates.
            lattice: ``[B, 3, 3]`` noisy lattices.
            batch: ``[N]`` crystal index.
            t: ``[B]`` diffusion times.
            condition: ``[B]`` standardised ln Tc, with ``nan`` where unconditional; ``None`` for all unconditional.
            edge_index: Fully connected pairs within each crystal.

        Returns:
            ``(lattice_eps [B, 3, 3], coord_score [N, 3], type_eps [N, n_types])``.
        """
        n_crystals = lattice.shape[0]
        context = self.time_mlp(sinusoidal_embedding(t, self.dim))
        null = self.null_condition.expand(n_crystals, -1)
        if condition is not None:
            given = ~torch.isnan(condition)
            embedded = self.condition_mlp(torch.nan_to_num(condition)[:, None])
            context = context + torch.where(given[:, None], embedded, null)
        else:
            context = context + null
        h = self.type_embedding(type_features) + context[batch]
        gram = (lattice @ lattice.transpose(-1, -2)).flatten(1)
        i, j = edge_index
        fourier = fourier_features(torch.remainder(frac[j] - frac[i], 1.0), self.layers[0].n_freq)
        for layer in self.layers:
            h = layer(h, fourier, gram, edge_index, batch)
        h = self.norm_out(h)
        pooled = scatter(h, batch, dim=0, dim_size=n_crystals, reduce="mean")
        phi = self.lattice_head(pooled).view(-1, 3, 3)
        return phi @ lattice, self.coord_head(h), self.type_head(h)

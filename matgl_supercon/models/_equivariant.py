"""Small e3nn building blocks: equivariant layer norm, gated feed-forward, per-head channel map."""

from __future__ import annotations

import torch
from e3nn import o3
from e3nn.nn import Gate
from torch import nn


def gate_irreps(irreps_out: o3.Irreps) -> tuple[o3.Irreps, o3.Irreps, o3.Irreps]:
    """Split ``irreps_out`` into (scalars, gates, gated) for :class:`e3nn.nn.Gate`: one gate per l > 0 channel."""
    irreps_out = o3.Irreps(irreps_out)
    scalars = o3.Irreps([(mul, ir) for mul, ir in irreps_out if ir.l == 0])
    gated = o3.Irreps([(mul, ir) for mul, ir in irreps_out if ir.l > 0])
    gates = o3.Irreps(f"{gated.num_irreps}x0e") if gated.num_irreps else o3.Irreps("")
    return scalars, gates, gated


def make_gate(irreps_out: str | o3.Irreps) -> Gate:
    """A gate whose output is ``irreps_out``: SiLU on scalars, sigmoid gates on the l > 0 channels."""
    scalars, gates, gated = gate_irreps(o3.Irreps(irreps_out))
    return Gate(scalars, [nn.functional.silu], gates, [torch.sigmoid] if gates else [], gated)


class EquivariantLayerNorm(nn.Module):
    """Layer norm that commutes with rotations.

    Scalars get a standard layer norm; each l > 0 block is divided by the root-mean-square norm of
    its channels and scaled per channel (no bias, no mean subtraction, which would break equivariance).
    """

    def __init__(self, irreps: str | o3.Irreps, eps: float = 1e-5) -> None:
        super().__init__()
        self.irreps = o3.Irreps(irreps)
        self.eps = eps
        n_scalars = sum(mul for mul, ir in self.irreps if ir.l == 0)
        self.scalar_norm = nn.LayerNorm(n_scalars) if n_scalars else None
        self.scales = nn.ParameterList([nn.Parameter(torch.ones(mul)) for mul, ir in self.irreps if ir.l > 0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``[n, irreps.dim]`` features."""
        scalars, blocks = [], []
        scale_iter = iter(self.scales)
        for (mul, ir), sl in zip(self.irreps, self.irreps.slices(), strict=True):
            block = x[:, sl]
            if ir.l == 0:
                scalars.append((len(blocks), block))
                blocks.append(None)
            else:
                block = block.reshape(-1, mul, ir.dim)
                rms = block.pow(2).sum(-1).mean(-1, keepdim=True).add(self.eps).sqrt()
                blocks.append((block / rms[..., None] * next(scale_iter)[None, :, None]).reshape(-1, mul * ir.dim))
        if scalars:
            normed = self.scalar_norm(torch.cat([b for _, b in scalars], dim=-1))
            start = 0
            for position, block in scalars:
                blocks[position] = normed[:, start : start + block.shape[1]]
                start += block.shape[1]
        return torch.cat(blocks, dim=-1)


class GatedFeedForward(nn.Module):
    """Linear -> gate -> linear, all equivariant."""

    def __init__(self, irreps: str | o3.Irreps, irreps_hidden: str | o3.Irreps) -> None:
        super().__init__()
        self.gate = make_gate(irreps_hidden)
        self.linear_in = o3.Linear(irreps, self.gate.irreps_in)
        self.linear_out = o3.Linear(self.gate.irreps_out, irreps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``[n, irreps.dim]`` to the same irreps."""
        return self.linear_out(self.gate(self.linear_in(x)))


def head_index(irreps: str | o3.Irreps, n_heads: int) -> torch.Tensor:
    """For each flat feature dimension, the attention head that owns it.

    Every irrep's multiplicity is split evenly over the heads, so each head sees all irrep types.

    Args:
        irreps: Value irreps; every multiplicity must be divisible by ``n_heads``.
        n_heads: Number of heads.

    Returns:
        ``[irreps.dim]`` long tensor of head indices.
    """
    irreps = o3.Irreps(irreps)
    parts = []
    for mul, ir in irreps:
        if mul % n_heads:
            raise ValueError(f"multiplicity {mul} of {ir} in {irreps} is not divisible by {n_heads} heads")
        parts.append(torch.arange(n_heads).repeat_interleave(mul // n_heads * ir.dim))
    return torch.cat(parts)

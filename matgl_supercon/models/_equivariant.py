"""Small e3nn building blocks: equivariant layer norm, gated feed-forward, per-head channel map, a fast linear map."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

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


class SplitLinear(o3.Linear):
    """:class:`e3nn.o3.Linear` (same weights, state dict and output) that splits its input once.

    e3nn's generated code takes each input irrep with ``narrow``; the gradient of every ``narrow`` is a zero tensor of
    the whole input's size with one block filled in, and those are then summed. On edge features
    (``[n_edges, irreps.dim]``, one block per tensor-product path) that zero-filling took half of SODNet's backward
    pass. One ``torch.split`` has a single, block-sized backward (a concatenation).
    """

    #: Whether opt_einsum optimises e3nn's generated code. Here that code only serves the calls SODNet does not
    #: make (see ``forward``), and optimising it was a third of the time to build a SODNet; a benchmark that runs
    #: e3nn's own code sets this to True first (``benchmarks/sodnet_cost.py``).
    optimize_e3nn_code: bool = False

    def __init__(self, irreps_in: str | o3.Irreps, irreps_out: str | o3.Irreps) -> None:
        super().__init__(irreps_in, irreps_out, _optimize_einsums=self.optimize_e3nn_code)
        self._block_sizes = [mul_ir.dim for mul_ir in self.irreps_in]
        self._weight_sizes = [prod(ins.path_shape) for ins in self.instructions]

    def forward(self, features: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None):
        """Map ``[..., irreps_in.dim]`` to ``[..., irreps_out.dim]``."""
        if weight is not None or bias is not None or self.bias_numel:
            return super().forward(features, weight, bias)  # not a case SODNet uses: e3nn's own code
        shape = features.shape[:-1]
        x = features.reshape(-1, self.irreps_in.dim)
        out = self.forward_blocks(torch.split(x, self._block_sizes, dim=-1))
        return out.reshape(*shape, self.irreps_out.dim)

    def forward_blocks(self, blocks: Sequence[torch.Tensor | None]) -> torch.Tensor:
        """The map of ``[n, irreps_in.dim]`` features given as their ``[n, mul * ir.dim]`` blocks, one per irrep.

        A producer that builds its output block by block (SODNet's depthwise tensor product) hands them over without
        concatenating them first; a ``None`` block stands for zeros.
        """
        like = next(block for block in blocks if block is not None)
        n = like.shape[0]
        weights = torch.split(self.weight, self._weight_sizes) if self.instructions else ()
        outputs: list[torch.Tensor | None] = [None] * len(self.irreps_out)
        for ins, w in zip(self.instructions, weights, strict=True):
            mul_in, ir_in = self.irreps_in[ins.i_in]
            mul_out = self.irreps_out[ins.i_out].mul
            if mul_in == 0 or mul_out == 0 or blocks[ins.i_in] is None:
                continue
            block = blocks[ins.i_in].reshape(n, mul_in, ir_in.dim)
            term = ins.path_weight * torch.einsum("uw,zui->zwi", w.view(mul_in, mul_out), block)
            outputs[ins.i_out] = term if outputs[ins.i_out] is None else outputs[ins.i_out] + term
        return concatenate_blocks(outputs, self.irreps_out, n, like)


def concatenate_blocks(
    blocks: Sequence[torch.Tensor | None], irreps: o3.Irreps, n: int, like: torch.Tensor
) -> torch.Tensor:
    """``[n, irreps.dim]`` from one block per irrep of ``irreps``; ``None`` (no path into it) is zeros."""
    parts = [
        like.new_zeros(n, mul_ir.dim) if block is None else block.reshape(n, mul_ir.dim)
        for block, mul_ir in zip(blocks, irreps, strict=True)
        if mul_ir.dim > 0
    ]
    return torch.cat(parts, dim=-1)


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
        self.linear_in = SplitLinear(irreps, self.gate.irreps_in)
        self.linear_out = SplitLinear(self.gate.irreps_out, irreps)

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

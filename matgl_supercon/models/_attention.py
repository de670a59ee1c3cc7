"""Equiformer-style equivariant graph attention and the transformer block built from it."""

from __future__ import annotations

from math import prod

import torch
from e3nn import o3
from torch import nn
from torch_geometric.utils import scatter, softmax

from matgl_supercon.models._equivariant import (
    EquivariantLayerNorm,
    GatedFeedForward,
    SplitLinear,
    concatenate_blocks,
    head_index,
    make_gate,
)


class DepthwiseTensorProduct(o3.TensorProduct):
    """e3nn's ``uvu`` :class:`~e3nn.o3.TensorProduct` with per-edge weights, computed from split inputs.

    The same instructions, path weights, state dict and output as e3nn's generated code (to float rounding), with
    each input taken apart by one ``torch.split`` instead of a ``narrow`` per path, whose gradients each fill a
    zero tensor of the whole input (see :class:`SplitLinear`). Every instruction must be ``uvu`` with the second
    input's multiplicity 1 (spherical harmonics), as :func:`depthwise_tensor_product` builds them.
    """

    #: As :attr:`SplitLinear.optimize_e3nn_code`: e3nn's generated code is only the fallback here.
    optimize_e3nn_code: bool = False

    def __init__(self, irreps_in1: o3.Irreps, irreps_in2: o3.Irreps, irreps_out: o3.Irreps, instructions: list):
        super().__init__(
            irreps_in1,
            irreps_in2,
            irreps_out,
            instructions,
            shared_weights=False,
            internal_weights=False,
            _optimize_einsums=self.optimize_e3nn_code,
        )
        for ins in self.instructions:
            if ins.connection_mode != "uvu" or self.irreps_in2[ins.i_in2].mul != 1 or not ins.has_weight:
                raise ValueError(f"DepthwiseTensorProduct computes weighted uvu paths with mul 1 on input 2, not {ins}")
        self._sizes1 = [mul_ir.dim for mul_ir in self.irreps_in1]
        self._sizes2 = [mul_ir.dim for mul_ir in self.irreps_in2]
        self._weight_sizes = [prod(ins.path_shape) for ins in self.instructions]
        for ins in self.instructions:
            ls = (self.irreps_in1[ins.i_in1].ir.l, self.irreps_in2[ins.i_in2].ir.l, self.irreps_out[ins.i_out].ir.l)
            name = "_split_w3j_{}_{}_{}".format(*ls)
            if not hasattr(self, name):  # not saved: a constant of e3nn, rebuilt with the module
                self.register_buffer(name, o3.wigner_3j(*ls), persistent=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """``[n, irreps_in1.dim]`` x ``[n, irreps_in2.dim]`` with ``[n, weight_numel]`` weights."""
        if weight is None or x.dim() != 2:
            return super().forward(x, y, weight)  # not a case SODNet uses: e3nn's own code
        return concatenate_blocks(self.forward_blocks(x, y, weight), self.irreps_out, x.shape[0], x)

    def forward_blocks(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> list[torch.Tensor | None]:
        """The product as one ``[n, mul * ir.dim]`` block per output irrep (``None`` where no path leads)."""
        n = x.shape[0]
        blocks1 = torch.split(x, self._sizes1, dim=-1)
        blocks2 = torch.split(y.expand(n, -1), self._sizes2, dim=-1)
        weights = torch.split(weight, self._weight_sizes, dim=-1)
        outputs: list[torch.Tensor | None] = [None] * len(self.irreps_out)
        for ins, w in zip(self.instructions, weights, strict=True):
            mul1, ir1 = self.irreps_in1[ins.i_in1]
            ir2, ir3 = self.irreps_in2[ins.i_in2].ir, self.irreps_out[ins.i_out].ir
            w3j = getattr(self, f"_split_w3j_{ir1.l}_{ir2.l}_{ir3.l}")
            # (x2 . w3j) first: [n, d1, d3], then the channels of x1, each scaled by its weight.
            coupling = torch.einsum("zj,ijk->zik", blocks2[ins.i_in2], w3j)
            term = torch.einsum("zui,zik->zuk", blocks1[ins.i_in1].reshape(n, mul1, ir1.dim), coupling)
            term = ((ins.path_weight * w.reshape(n, mul1, 1)) * term).reshape(n, mul1 * ir3.dim)
            outputs[ins.i_out] = term if outputs[ins.i_out] is None else outputs[ins.i_out] + term
        return outputs


def depthwise_tensor_product(
    irreps_in: o3.Irreps, irreps_sh: o3.Irreps, allowed: o3.Irreps
) -> tuple[DepthwiseTensorProduct, o3.Irreps]:
    """Channel-wise ('uvu') product of node features with edge spherical harmonics.

    Only outputs whose irrep occurs in ``allowed`` are kept; weights are supplied per edge.

    Returns:
        The tensor product and its (unsorted) output irreps.
    """
    allowed_set = {ir for _, ir in o3.Irreps(allowed)}
    irreps_out, instructions = [], []
    for i1, (mul, ir1) in enumerate(irreps_in):
        for i2, (_, ir2) in enumerate(irreps_sh):
            for ir_out in ir1 * ir2:
                if ir_out in allowed_set:
                    instructions.append((i1, i2, len(irreps_out), "uvu", True))
                    irreps_out.append((mul, ir_out))
    irreps_out = o3.Irreps(irreps_out)
    tp = DepthwiseTensorProduct(irreps_in, irreps_sh, irreps_out, instructions)
    return tp, irreps_out


class EquivariantGraphAttention(nn.Module):
    """Multi-head attention over each site's neighbours, with equivariant values.

    Messages are depthwise tensor products of the neighbour's features with the edge's spherical
    harmonics, weighted per edge by an MLP of the (occupancy-weighted) radial basis. Attention logits
    come from the scalar channels of the message and of the receiving site; the occupancy weight of
    the edge enters the softmax as ``log w`` so a half-occupied neighbour gets half the attention
    mass of a full one at equal logit. Values pass a gate (SiLU on scalars, sigmoid-gated l > 0).
    """

    def __init__(
        self,
        irreps_node: str,
        irreps_sh: str,
        n_radial: int,
        n_heads: int,
        radial_hidden: int = 32,
        attention_hidden: int = 16,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.irreps_node = o3.Irreps(irreps_node)
        self.n_heads = n_heads
        self.tp, irreps_mid = depthwise_tensor_product(self.irreps_node, o3.Irreps(irreps_sh), self.irreps_node)
        self.radial = nn.Sequential(
            nn.Linear(n_radial, radial_hidden), nn.SiLU(), nn.Linear(radial_hidden, self.tp.weight_numel)
        )
        self.gate = make_gate(self.irreps_node)
        self.to_value = SplitLinear(irreps_mid, self.gate.irreps_in)
        scalars = o3.Irreps(f"{n_heads * attention_hidden}x0e")
        self.message_scalars = SplitLinear(irreps_mid, scalars)
        self.center_scalars = SplitLinear(self.irreps_node, scalars)
        self.attention_vector = nn.Parameter(torch.randn(n_heads, attention_hidden) / attention_hidden**0.5)
        self.dropout = nn.Dropout(attention_dropout)
        self.register_buffer("heads", head_index(self.irreps_node, n_heads), persistent=False)
        self.out = SplitLinear(self.irreps_node, self.irreps_node)

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_sh: torch.Tensor,
        edge_radial: torch.Tensor,
        edge_weight: torch.Tensor,
    ) -> torch.Tensor:
        """Attend from each centre (``edge_index[0]``) to its neighbours (``edge_index[1]``)."""
        center, neighbor = edge_index
        # The message stays in blocks (one per tensor-product path) from the product into both linear maps.
        message = self.tp.forward_blocks(x[neighbor], edge_sh, self.radial(edge_radial))
        hidden = self.message_scalars.forward_blocks(message) + self.center_scalars(x)[center]
        hidden = nn.functional.leaky_relu(hidden, 0.2).reshape(-1, self.n_heads, self.attention_vector.shape[1])
        logits = (hidden * self.attention_vector).sum(-1) + torch.log(edge_weight.clamp_min(1e-6))[:, None]
        alpha = self.dropout(softmax(logits, center, num_nodes=x.shape[0]))
        value = self.gate(self.to_value.forward_blocks(message)) * alpha[:, self.heads]
        return self.out(scatter(value, center, dim=0, dim_size=x.shape[0], reduce="sum"))


class TransformerBlock(nn.Module):
    """Pre-norm block: x + attention(norm(x)), then x + gated feed-forward(norm(x))."""

    def __init__(
        self,
        irreps_node: str,
        irreps_sh: str,
        irreps_ffn: str,
        n_radial: int,
        n_heads: int,
        radial_hidden: int = 32,
        attention_hidden: int = 16,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm_attention = EquivariantLayerNorm(irreps_node)
        self.attention = EquivariantGraphAttention(
            irreps_node, irreps_sh, n_radial, n_heads, radial_hidden, attention_hidden, attention_dropout
        )
        self.norm_ffn = EquivariantLayerNorm(irreps_node)
        self.ffn = GatedFeedForward(irreps_node, irreps_ffn)

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_sh: torch.Tensor,
        edge_radial: torch.Tensor,
        edge_weight: torch.Tensor,
    ) -> torch.Tensor:
        """Update ``[n, irreps_node.dim]`` node features."""
        x = x + self.attention(self.norm_attention(x), edge_index, edge_sh, edge_radial, edge_weight)
        return x + self.ffn(self.norm_ffn(x))

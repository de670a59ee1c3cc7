"""Equiformer-style equivariant graph attention and the transformer block built from it."""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn
from torch_geometric.utils import scatter, softmax

from matgl_supercon.models._equivariant import EquivariantLayerNorm, GatedFeedForward, head_index, make_gate


def depthwise_tensor_product(
    irreps_in: o3.Irreps, irreps_sh: o3.Irreps, allowed: o3.Irreps
) -> tuple[o3.TensorProduct, o3.Irreps]:
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
    tp = o3.TensorProduct(irreps_in, irreps_sh, irreps_out, instructions, shared_weights=False, internal_weights=False)
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
        self.to_value = o3.Linear(irreps_mid, self.gate.irreps_in)
        scalars = o3.Irreps(f"{n_heads * attention_hidden}x0e")
        self.message_scalars = o3.Linear(irreps_mid, scalars)
        self.center_scalars = o3.Linear(self.irreps_node, scalars)
        self.attention_vector = nn.Parameter(torch.randn(n_heads, attention_hidden) / attention_hidden**0.5)
        self.dropout = nn.Dropout(attention_dropout)
        self.register_buffer("heads", head_index(self.irreps_node, n_heads), persistent=False)
        self.out = o3.Linear(self.irreps_node, self.irreps_node)

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
        message = self.tp(x[neighbor], edge_sh, self.radial(edge_radial))
        hidden = self.message_scalars(message) + self.center_scalars(x)[center]
        hidden = nn.functional.leaky_relu(hidden, 0.2).reshape(-1, self.n_heads, self.attention_vector.shape[1])
        logits = (hidden * self.attention_vector).sum(-1) + torch.log(edge_weight.clamp_min(1e-6))[:, None]
        alpha = self.dropout(softmax(logits, center, num_nodes=x.shape[0]))
        value = self.gate(self.to_value(message)) * alpha[:, self.heads]
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

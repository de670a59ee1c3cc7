from __future__ import annotations

import pytest
import torch
from e3nn import o3

from matgl_supercon.models._attention import DepthwiseTensorProduct, depthwise_tensor_product
from matgl_supercon.models._equivariant import SplitLinear

IRREPS = o3.Irreps("8x0e+4x1o+2x2e")
SH = o3.Irreps("1x0e+1x1o+1x2e")


def outputs_and_gradients(module, inputs, weights):
    out = module(*inputs)
    return [out, *torch.autograd.grad(out.pow(2).sum(), [*inputs, *weights])]


def test_depthwise_tensor_product_matches_e3nn():
    torch.manual_seed(0)
    tp, irreps_mid = depthwise_tensor_product(IRREPS, SH, IRREPS)
    reference = o3.TensorProduct(
        IRREPS,
        SH,
        irreps_mid,
        [(i.i_in1, i.i_in2, i.i_out, i.connection_mode, i.has_weight) for i in tp.instructions],
        shared_weights=False,
        internal_weights=False,
    )
    assert sorted(tp.state_dict()) == sorted(reference.state_dict())  # e3nn-saved models load unchanged
    x = torch.randn(50, IRREPS.dim, requires_grad=True)
    sh = o3.spherical_harmonics(SH, torch.randn(50, 3), normalize=True).requires_grad_()
    w = torch.randn(50, tp.weight_numel, requires_grad=True)
    for ours, theirs in zip(
        outputs_and_gradients(tp, (x, sh, w), []), outputs_and_gradients(reference, (x, sh, w), []), strict=True
    ):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    # A graph without edges (a formula's virtual crystal) sends zero messages.
    empty = tp(x[:0], sh[:0], w[:0])
    assert empty.shape == (0, irreps_mid.dim)
    with pytest.raises(ValueError, match="uvu"):
        DepthwiseTensorProduct(IRREPS, SH, o3.Irreps("8x0e"), [(0, 0, 0, "uvw", True)])


@pytest.mark.parametrize("irreps_out", ["8x0e+4x1o+2x2e", "16x0e", "4x1o+3x0e+1x3o", "4x0e+2x1o+3x0e+1x1o"])
def test_split_linear_matches_e3nn(irreps_out):
    torch.manual_seed(0)
    irreps_in = o3.Irreps("8x0e+4x1o+2x2e+4x0e+2x1o")  # repeated irreps: several paths into one output
    ours, reference = SplitLinear(irreps_in, irreps_out), o3.Linear(irreps_in, irreps_out)
    reference.load_state_dict(ours.state_dict())  # the same keys and shapes
    x = torch.randn(7, 5, irreps_in.dim, requires_grad=True)  # any leading shape, as e3nn allows
    for a, b in zip(
        outputs_and_gradients(ours, (x,), [ours.weight]),
        outputs_and_gradients(reference, (x,), [reference.weight]),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_split_linear_takes_blocks_with_gaps():
    torch.manual_seed(0)
    irreps_in = o3.Irreps("8x0e+4x1o+2x2e")
    linear = SplitLinear(irreps_in, "4x0e+2x1o")
    x = torch.randn(6, irreps_in.dim)
    x[:, 8:20] = 0.0  # the 4x1o block
    blocks = list(torch.split(x, [8, 12, 10], dim=-1))
    torch.testing.assert_close(linear.forward_blocks(blocks), linear(x))
    torch.testing.assert_close(linear.forward_blocks([blocks[0], None, blocks[2]]), linear(x))

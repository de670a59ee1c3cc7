from __future__ import annotations

import math

import matgl
import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from matgl_supercon.generate import (
    CrystalBatch,
    DiffCSPSC,
    compositionally_valid,
    cosine_alpha_bars,
    fit_generator,
    fully_connected_edges,
    geometric_sigmas,
    match_rate_and_rmse,
    sample,
    score_norm,
    structurally_valid,
    success_rates,
    wrapped_normal_log_density,
    wrapped_normal_score,
)

ELEMENTS = ("O", "Mg", "Ti", "Sr", "Ba")


def perovskite(a: float, a_site: str = "Sr") -> Structure:
    return Structure(
        Lattice.cubic(a),
        [a_site, "Ti", "O", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )


@pytest.fixture
def tiny() -> DiffCSPSC:
    torch.manual_seed(0)
    return DiffCSPSC(
        ELEMENTS,
        dim=16,
        n_layers=2,
        n_heads=2,
        n_freq=4,
        timesteps=20,
        conditional=True,
        n_atoms_counts=[0, 0, 0, 0, 0, 4],
    ).eval()


@pytest.fixture
def crystals() -> CrystalBatch:
    structures = [perovskite(3.9), perovskite(4.0, "Ba"), perovskite(4.1, "Mg")]
    return CrystalBatch.from_structures(structures, ELEMENTS, ln_tc=[0.5, 1.0, float("nan")])


def test_schedules():
    ab = cosine_alpha_bars(1000)
    assert ab[0] == 1.0
    assert torch.all(ab[1:] < ab[:-1])
    sigmas = geometric_sigmas(1000)
    assert sigmas[0] == 0
    assert sigmas[1].item() == pytest.approx(0.005)
    assert sigmas[-1].item() == pytest.approx(0.5)
    assert torch.allclose(sigmas[2:] / sigmas[1:-1], (sigmas[2] / sigmas[1]).expand(999))


@pytest.mark.parametrize("sigma", [0.01, 0.1, 0.3, 0.5])
def test_score_matches_finite_difference_of_log_density(sigma):
    x = torch.linspace(-0.499, 0.499, 41, dtype=torch.float64)
    h = 1e-5
    fd = (wrapped_normal_log_density(x + h, sigma) - wrapped_normal_log_density(x - h, sigma)) / (2 * h)
    assert torch.allclose(wrapped_normal_score(x, sigma), fd, rtol=1e-5, atol=1e-5 / sigma)
    # Periodic: the score at x and x + 1 agree.
    assert torch.allclose(wrapped_normal_score(x + 1, sigma), wrapped_normal_score(x, sigma), atol=1e-8)


def test_score_norm_limits_and_monte_carlo():
    # Small sigma: the wrapped normal is a normal, E[score^2] = 1 / sigma^2.
    assert score_norm(0.01) == pytest.approx(1e4, rel=1e-6)
    # Agrees with a large seeded Monte Carlo estimate at a sigma where wrapping matters.
    g = torch.Generator().manual_seed(0)
    x = 0.3 * torch.randn(2_000_000, generator=g, dtype=torch.float64)
    mc = float((wrapped_normal_score(torch.remainder(x + 0.5, 1.0) - 0.5, 0.3) ** 2).mean())
    assert score_norm(0.3) == pytest.approx(mc, rel=5e-3)
    vector = score_norm(torch.tensor([0.01, 0.3], dtype=torch.float64))
    assert vector[1].item() == pytest.approx(score_norm(0.3))


def _outputs(model, crystals, lattice, frac, types, perm=None):
    features = torch.nn.functional.one_hot(types, len(ELEMENTS)).float()
    t = torch.full((crystals.num_crystals,), 7)
    condition = model.standardise(crystals.ln_tc)
    return model(features, frac, lattice, crystals.batch, t, condition, fully_connected_edges(crystals.batch))


def test_denoiser_symmetries(tiny, crystals):
    lattice, frac, types = crystals.lattice, crystals.frac, crystals.types
    eps_l, score, eps_a = _outputs(tiny, crystals, lattice, frac, types)
    # Rotation acts on the lattice rows only: lattice noise rotates, scores and types do not change.
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(3)))
    r_l, r_s, r_a = _outputs(tiny, crystals, lattice @ q.T, frac, types)
    assert torch.allclose(r_l, eps_l @ q.T, atol=1e-4)
    assert torch.allclose(r_s, score, atol=1e-5)
    assert torch.allclose(r_a, eps_a, atol=1e-5)
    # A common periodic shift of all fractional coordinates changes nothing.
    s_l, s_s, s_a = _outputs(
        tiny, crystals, lattice, torch.remainder(frac + torch.tensor([0.3, 0.7, 0.11]), 1.0), types
    )
    assert torch.allclose(s_l, eps_l, atol=1e-4)
    assert torch.allclose(s_s, score, atol=1e-4)
    # Permuting the atoms inside each crystal permutes the per-atom outputs.
    perm = torch.cat([torch.tensor([4, 2, 0, 1, 3]) + 5 * b for b in range(3)])
    p_l, p_s, p_a = _outputs(tiny, crystals, lattice, frac[perm], types[perm])
    assert torch.allclose(p_l, eps_l, atol=1e-4)
    assert torch.allclose(p_s, score[perm], atol=1e-5)
    assert torch.allclose(p_a, eps_a[perm], atol=1e-5)


def test_layer_matches_its_dense_definition():
    # The layer computes edge_mlp on [x_i, x_j, gram, fourier] and nn.MultiheadAttention over each crystal,
    # factorised per atom and over pairs; check against the literal definition on crystals of 1, 2 and 4 atoms.
    from torch_geometric.utils import scatter, to_dense_batch

    from matgl_supercon.generate.denoiser import CSPLayer, fourier_features

    torch.manual_seed(1)
    layer = CSPLayer(dim=8, n_freq=3, n_heads=2).eval()
    batch = torch.tensor([0, 1, 1, 2, 2, 2, 2])
    edges = fully_connected_edges(batch)
    h, frac, gram = torch.randn(7, 8), torch.rand(7, 3), torch.randn(3, 9)
    i, j = edges
    fourier = fourier_features(torch.remainder(frac[j] - frac[i], 1.0), 3)
    with torch.no_grad():
        x = layer.norm_mp(h)
        messages = layer.edge_mlp(torch.cat([x[i], x[j], gram[batch[i]], fourier], dim=-1))
        h_mp = h + layer.node_mlp(torch.cat([x, scatter(messages, i, dim=0, dim_size=7, reduce="mean")], dim=-1))
        dense, mask = to_dense_batch(layer.norm_attention(h_mp), batch)
        attended, _ = layer.attention(dense, dense, dense, key_padding_mask=~mask, need_weights=False)
        expected = h_mp + attended[mask]
        assert torch.allclose(layer(h, fourier, gram, edges, batch), expected, atol=1e-5)


def test_crystals_in_a_batch_do_not_interact(tiny, crystals):
    both = _outputs(tiny, crystals, crystals.lattice, crystals.frac, crystals.types)
    first = crystals.subset([0])
    alone = _outputs(tiny, first, first.lattice, first.frac, first.types)
    assert torch.allclose(alone[0], both[0][:1], atol=1e-5)
    assert torch.allclose(alone[1], both[1][:5], atol=1e-5)


def test_train_sample_reproducible_and_round_trip(tiny, crystals, tmp_path):
    rows = fit_generator(tiny, crystals, tmp_path / "run", epochs=3, batch_size=2, lr=1e-3, seed=0)
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert all(math.isfinite(r["loss"]) for r in rows)
    # Resuming at the total epoch count does nothing more.
    assert fit_generator(tiny, crystals, tmp_path / "run", epochs=3) == []

    def draw(model, seed):
        return sample(
            model,
            torch.tensor([5, 5]),
            types=crystals.types[:10],
            ln_tc=1.0,
            guidance=0.5,
            generator=torch.Generator().manual_seed(seed),
        )

    first, again, other = draw(tiny, 7), draw(tiny, 7), draw(tiny, 8)
    assert first.lattice.shape == (2, 3, 3)
    assert first.frac.shape == (10, 3)
    assert torch.isfinite(first.lattice).all() and torch.isfinite(first.frac).all()
    assert ((first.frac >= 0) & (first.frac < 1)).all()
    assert torch.equal(first.frac, again.frac) and torch.equal(first.lattice, again.lattice)
    assert not torch.equal(first.frac, other.frac)
    structures = first.to_structures(ELEMENTS)
    assert [s.composition.reduced_formula for s in structures] == ["SrTiO3", "BaTiO3"]

    tiny.save(tmp_path / "gen")
    loaded = matgl.load_model(tmp_path / "gen")
    assert isinstance(loaded, DiffCSPSC)
    assert torch.equal(draw(loaded, 7).frac, first.frac)


def test_ab_initio_mode_generates_types(crystals):
    torch.manual_seed(0)
    model = DiffCSPSC(
        ELEMENTS,
        mode="ab_initio",
        dim=16,
        n_layers=1,
        n_heads=2,
        n_freq=4,
        timesteps=10,
        n_atoms_counts=[0, 0, 0, 0, 0, 4],
    )
    losses = model.loss(crystals, torch.Generator().manual_seed(0))
    assert losses["types"] > 0
    n_atoms = model.sample_n_atoms(3, torch.Generator().manual_seed(0))
    assert n_atoms.tolist() == [5, 5, 5]
    out = sample(model, n_atoms, generator=torch.Generator().manual_seed(0))
    assert out.types.shape == (15,)
    with pytest.raises(ValueError, match="trained without a Tc condition"):
        sample(model, n_atoms, ln_tc=1.0)


def test_metrics():
    good = perovskite(3.9)
    assert structurally_valid(good)
    squashed = Structure(Lattice.cubic(3.9), ["Sr", "Ti"], [[0, 0, 0], [0.05, 0, 0]])
    assert not structurally_valid(squashed)
    assert compositionally_valid(good)
    assert not compositionally_valid(
        Structure(Lattice.cubic(4), ["Na", "Cl", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]])
    )
    shifted = good.copy()
    shifted.translate_sites([0], [0.02, 0, 0])
    rate, rmse = match_rate_and_rmse([shifted, None], [good, good])
    assert rate == 0.5
    assert 0 < rmse < 0.05
    rates = success_rates([3.0, 0.0, 2.0, -1.0], np.arange(10) / 3)
    assert rates == {"SR10": 0.25, "SR30": 0.25, "SR50": 0.5}


def test_disordered_input_rejected():
    disordered = Structure(Lattice.cubic(4), [{"Sr": 0.5, "Ba": 0.5}], [[0, 0, 0]])
    with pytest.raises(ValueError, match="row 7 .*ordered structures only"):
        CrystalBatch.from_structures([disordered], ELEMENTS, names=["row 7"])


def test_compositional_validity_is_bounded():
    from pymatgen.core import Lattice, Structure

    from matgl_supercon.generate import compositionally_valid

    # Eleven elements with many oxidation states each: ~10^9 combinations; counted invalid at once, as in CDVAE.
    many = ["Mn", "Fe", "Co", "Ni", "Cr", "V", "Ti", "Re", "Os", "Ir", "O"]
    crowded = Structure(Lattice.cubic(8.0), many, [[i / 11, 0, 0] for i in range(11)])
    assert compositionally_valid(crowded) is False
    assert compositionally_valid(Structure(Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]))

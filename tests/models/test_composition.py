from __future__ import annotations

import copy
import json
import math
from dataclasses import replace

import matgl
import numpy as np
import pytest
import torch
from pymatgen.core import Structure

from matgl_supercon.models import CompositionTc, SODNet, TcEnsemble
from matgl_supercon.pretrained import load_model
from matgl_supercon.training import CompositionTrainConfig, fit_composition_tc

from .conftest import ELEMENTS, cubic

TINY = {"element_types": ELEMENTS, "cutoff": 4.0, "max_neighbors": 8, "width": 16, "retrieval_neighbors": 3}


@pytest.fixture
def trained(structures) -> tuple[CompositionTc, np.ndarray]:
    model = CompositionTc(**TINY)
    x = model.graph_composition_statistics([g for g, _ in model.graphs(structures)]).numpy()
    y = np.linspace(0.5, 3.5, len(x))
    config = CompositionTrainConfig(max_epochs=30, patience=30, batch_size=4, lr=3e-3)
    trained, _ = fit_composition_tc((x[:6], y[:6]), (x[6:], y[6:]), TINY, config)
    return trained, x


def test_graph_prediction_is_the_statistics_prediction_and_ignores_cell_and_site_order(trained, structures):
    model, x = trained
    from_graphs = model.predict_ln_tc(structures)
    assert torch.allclose(from_graphs, model.predict_statistics(x), atol=1e-6)
    s = structures[5]
    supercell = s.copy()
    supercell.make_supercell([2, 1, 1])
    reordered = Structure(s.lattice, [s[1].species, s[0].species], [s[1].frac_coords, s[0].frac_coords])
    ln_tc = model.predict_ln_tc([s, supercell, reordered])
    assert torch.allclose(ln_tc, ln_tc[0].expand(3), rtol=1e-5)
    assert float(model.predict_structure(s)) == pytest.approx(float(ln_tc[0].exp()), rel=1e-6)
    # Each site's contribution is its occupancy share of the prediction.
    model.predict_ln_tc([s])
    assert torch.allclose(model.feature_dict["site_contributions"].sum(), ln_tc[0], atol=1e-6)


def test_mixed_site_tends_to_the_ordered_prediction(trained):
    model, _ = trained
    ordered = float(model.predict_ln_tc([cubic(["Mg", "B"], 3.1)])[0])
    gaps = [
        abs(float(model.predict_ln_tc([cubic([{"Mg": x, "Al": 1 - x}, "B"], 3.1)])[0]) - ordered)
        for x in (0.9, 0.99, 0.999999)
    ]
    assert gaps[-1] < 1e-3 and gaps[-1] <= gaps[0]


def test_training_is_seeded_lowers_the_loss_and_keeps_the_best_epoch(structures):
    model = CompositionTc(**TINY)
    x = model.graph_composition_statistics([g for g, _ in model.graphs(structures)]).numpy()
    y = np.linspace(0.5, 3.5, len(x))
    untrained_fit = CompositionTrainConfig(max_epochs=1, patience=0, batch_size=4, lr=1e-12)
    config = CompositionTrainConfig(max_epochs=40, patience=40, batch_size=4, lr=3e-3)
    start, _ = fit_composition_tc((x, y), (x, y), TINY, untrained_fit)
    first, summary = fit_composition_tc((x, y), (x, y), TINY, config)
    again, _ = fit_composition_tc((x, y), (x, y), TINY, config)
    assert summary["epochs"] == 40 and summary["best_val_mae"] >= 0
    before = float(np.abs(start.predict_statistics(x).detach().numpy() - y).mean())
    after = float(np.abs(first.predict_statistics(x).detach().numpy() - y).mean())
    assert after < 0.7 * before
    assert after == pytest.approx(summary["best_val_mae"], rel=1e-4)
    assert torch.equal(first.predict_statistics(x), again.predict_statistics(x))
    # Extra training rows and read-only rows both join the memory; only the former train.
    extra, memory = (x[:2] + 0.01, y[:2]), (x[2:5] + 0.02, y[2:5])
    both, _ = fit_composition_tc((x, y), (x, y), TINY, untrained_fit, extra=extra, memory=memory)
    assert both.retrieval.memory_labels.shape == (len(x) + 5,)
    assert both._init_args["retrieval_memory_size"] == len(x) + 5
    assert float(both.target_mean) == pytest.approx(float(y.mean()))  # the scaling is the training rows' own
    with pytest.raises(ValueError, match="all equal"):
        fit_composition_tc((x, np.ones(len(x))), (x, y), TINY, untrained_fit)


def test_extra_rows_weigh_in_the_loss_what_extra_weight_says(structures):
    model = CompositionTc(**TINY)
    x = model.graph_composition_statistics([g for g, _ in model.graphs(structures)]).numpy()
    y = np.linspace(0.5, 3.5, len(x))
    extra = (x[:4] + 0.05, y[:4] + 3.0)  # nearly the same compositions, far higher labels
    config = CompositionTrainConfig(max_epochs=40, patience=40, batch_size=4, lr=3e-3)
    miss = {}
    for weight in (1.0, 0.05):
        fitted, _ = fit_composition_tc((x, y), (x, y), TINY, replace(config, extra_weight=weight), extra=extra)
        miss[weight] = float(np.abs(fitted.predict_statistics(extra[0]).detach().numpy() - extra[1]).mean())
    assert miss[1.0] < 0.8 * miss[0.05]
    with pytest.raises(ValueError, match="extra_weight must be a positive number, got 0.0"):
        fit_composition_tc((x, y), (x, y), TINY, replace(config, extra_weight=0.0), extra=extra)


def test_save_load_round_trip_and_ensembles_with_sodnet_members(trained, structures, tmp_path):
    model, _ = trained
    model.save(tmp_path / "composition")
    loaded = matgl.load_model(tmp_path / "composition")
    assert isinstance(loaded, CompositionTc)
    assert torch.equal(loaded.predict_ln_tc(structures), model.predict_ln_tc(structures))
    with pytest.raises(ValueError, match="3 memory rows need as many ln Tc values"):
        loaded.set_retrieval_memory(torch.zeros(3, loaded.retrieval.memory_statistics.shape[1]), [1.0])
    # A folder of a SODNet and a CompositionTc with weights in ensemble.json is one weighted ensemble.
    torch.manual_seed(0)
    sodnet = SODNet(
        element_types=ELEMENTS,
        cutoff=4.0,
        max_neighbors=8,
        irreps_node="8x0e+4x1o",
        irreps_ffn="8x0e+4x1o",
        n_heads=2,
        n_radial=4,
        radial_hidden=4,
        attention_hidden=4,
        readout_hidden=8,
    )
    folder = tmp_path / "ensemble"
    sodnet.save(folder / "sodnet")
    model.save(folder / "composition")
    each = torch.stack([sodnet.predict_ln_tc(structures), model.predict_ln_tc(structures)])
    plain = load_model(folder)
    mean, sd = plain.predict_ln_tc(structures)
    assert torch.allclose(mean, each.mean(0), atol=1e-6) and torch.allclose(sd, each.std(0), atol=1e-6)
    (folder / "ensemble.json").write_text(json.dumps({"member_weights": {"sodnet": 3.0, "composition": 1.0}}))
    weighted = load_model(folder)
    mean, sd = weighted.predict_ln_tc(structures)
    assert torch.allclose(mean, 0.75 * each[0] + 0.25 * each[1], atol=1e-6)
    # Two members: the unbiased weighted spread is |difference| * sqrt(w1 w2 / (1 - w1^2 - w2^2)) = |d| / sqrt(2).
    assert torch.allclose(sd, (each[0] - each[1]).abs() / 2**0.5, atol=1e-5)
    assert weighted.fingerprint() != plain.fingerprint()
    shares = weighted.site_contributions(structures[4])
    assert float(shares.sum()) == pytest.approx(float(weighted.predict_ln_tc([structures[4]])[0][0]), abs=1e-5)
    # The structure-reading members' view: SODNet's own shares, whatever the composition member weighs.
    sodnet.predict_ln_tc([structures[4]])
    assert torch.allclose(
        weighted.site_contributions(structures[4], structure_only=True), sodnet.feature_dict["site_contributions"]
    )
    with pytest.raises(ValueError, match="no member reads the structure"):
        TcEnsemble([model]).site_contributions(structures[4], structure_only=True)
    # A named subset of the members, with its own weights and spread scale.
    subset = {"member_weights": {"composition": 1.0}, "sd_scale": 2.0}
    described = {"member_weights": {"sodnet": 3.0, "composition": 1.0}, "subsets": {"composition": subset}}
    (folder / "ensemble.json").write_text(json.dumps(described))
    alone = load_model(folder, members="composition")
    assert len(alone) == 1 and alone.name == "ensemble[composition]" and alone.sd_scale == 2.0
    assert torch.allclose(alone.predict_ln_tc(structures)[0], each[1], atol=1e-6)
    assert load_model(folder).fingerprint() == weighted.fingerprint()  # "all" ignores the subsets
    with pytest.raises(ValueError, match=r"no member subset 'fast' \(it has: \['all', 'composition'\]\)"):
        load_model(folder, members="fast")
    subset["member_weights"]["gone"] = 1.0
    (folder / "ensemble.json").write_text(json.dumps(described))
    with pytest.raises(ValueError, match=r"subset 'composition' names members without a folder: \['gone'\]"):
        load_model(folder, members="composition")
    (folder / "ensemble.json").write_text(json.dumps({"member_weights": {"sodnet": 3.0, "other": 1.0}}))
    with pytest.raises(ValueError, match=r"without a weight: \['composition'\]; weights of no member: \['other'\]"):
        load_model(folder)
    with pytest.raises(ValueError, match=r"no member subset 'composition' \(it has: \['all'\]\)"):
        load_model(folder, members="composition")
    with pytest.raises(ValueError, match="member_weights: need 2 finite values >= 0 with a positive sum"):
        TcEnsemble([sodnet, model], member_weights=[0.0, 0.0])
    with pytest.raises(ValueError, match="member_weights: need 2 finite values >= 0 with a positive sum"):
        TcEnsemble([sodnet, model], member_weights=[1.0, -0.5])
    # A member of weight 0 (one a gate weighs elsewhere) leaves the mean to the others.
    alone = TcEnsemble([sodnet, model], member_weights=[0.0, 1.0]).predict_ln_tc(structures)[0]
    assert torch.allclose(alone, model.predict_ln_tc(structures), atol=1e-6)
    # One spread scale per band of the predicted ln Tc, from calibration.json (a band holds its lower edge).
    (folder / "ensemble.json").unlink()
    mean, sd = load_model(folder).predict_ln_tc(structures)
    edge = float(mean.median())
    banded = {"sd_scale": 1.0, "sd_scale_by_predicted_tc": {"edges_ln_k": [edge], "scales": [2.0, 3.0]}}
    (folder / "calibration.json").write_text(json.dumps(banded))
    scaled = load_model(folder)
    assert scaled.sd_scale == (2.0, 3.0) and scaled.sd_scale_edges == (edge,)
    assert torch.allclose(scaled.predict_ln_tc(structures)[1], sd * torch.where(mean >= edge, 3.0, 2.0), atol=1e-6)
    (folder / "calibration.json").write_text(json.dumps({"sd_scale": 2.0}))  # one factor, as written until then
    one_factor = load_model(folder)
    assert torch.allclose(one_factor.predict_ln_tc(structures)[1], 2.0 * sd, atol=1e-6)
    assert one_factor.fingerprint() != scaled.fingerprint()
    for scales, edges in (([1.0], [0.0]), ([1.0, 0.0], [0.0]), ([1.0, 1.0, 1.0], [1.0, 0.0]), ([1.0, 2.0], [math.inf])):
        with pytest.raises(ValueError, match="sd_scale must be positive and finite, one per band of ascending"):
            TcEnsemble([sodnet, model], sd_scale=scales, sd_scale_edges=edges)


def test_members_sharing_a_module_keep_their_own_memory_keys(trained, structures, tmp_path):
    """Folds of one architecture share a module in a loaded ensemble; each encodes its memory once, not every call."""
    model, _ = trained
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.retrieval.encode.weight.mul_(0.5)  # another fold: same architecture, other weights
    model.save(tmp_path / "ensemble" / "fold_0")
    other.save(tmp_path / "ensemble" / "fold_1")
    ensemble = load_model(tmp_path / "ensemble")
    (module,) = {id(m): m for m in ensemble.members()}.values()
    each = torch.stack([model.predict_ln_tc(structures), other.predict_ln_tc(structures)])
    first = ensemble.predict_ln_tc(structures)[0]
    keys = [entry[1] for entry in module.retrieval._memory_cache.values()]
    assert len(keys) == 2 and not torch.equal(*keys)
    second = ensemble.predict_ln_tc(structures)[0]
    assert torch.equal(first, second) and torch.allclose(first, each.mean(0), atol=1e-6)
    assert all(a is b for a, b in zip(keys, [e[1] for e in module.retrieval._memory_cache.values()], strict=True))
    # An in-place change of a member's weights is seen (its version moves), not hidden by the cache.
    with torch.no_grad():
        ensemble._members[1][1]["retrieval.encode.weight"].mul_(2.0)
    assert torch.allclose(ensemble.predict_ln_tc(structures)[0], torch.stack([each[0], each[0]]).mean(0), atol=1e-6)
    assert len(module.retrieval._memory_cache) == 2  # the changed member's old entry was dropped, not kept


def test_same_composition_mask_equals_the_pairwise_comparison() -> None:
    """The training mask (a float64 distance, then a feature-by-feature check) is the brute-force one exactly."""
    from matgl_supercon.models._retrieval import SAME_COMPOSITION, LabelRetrieval

    generator = torch.Generator().manual_seed(0)
    memory = torch.randn(300, 12, generator=generator) * torch.logspace(-3, 3, 12)  # features of very unequal scale
    memory[:, 5] = 7.0  # a constant feature (its scale is clamped to 1e-6)
    queries = memory[torch.randint(0, 300, (40,), generator=generator)].clone()
    scale = memory.std(0).clamp_min(1e-6)
    queries[:10] += 0.5 * SAME_COMPOSITION * scale  # inside the tolerance on every feature
    queries[10:20, 3] += 2.0 * SAME_COMPOSITION * scale[3]  # outside it on one feature
    queries[20:25] = torch.randn(5, 12, generator=generator) * 1e3  # far from everything
    retrieval = LabelRetrieval(12, 8, 4)
    retrieval.set_memory(memory, torch.randn(300, generator=generator))
    brute = ((queries[:, None] - memory[None]) / retrieval.periodic.scale).abs().amax(-1) < SAME_COMPOSITION
    mask = retrieval.same_composition(queries)
    assert torch.equal(mask, brute)
    assert mask[:10].any(1).all() and not mask[10:25].any()


def test_memory_encoded_in_blocks_without_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without gradients a large memory is encoded in blocks, to the values of one pass; a training step keeps one."""
    from matgl_supercon.models import _retrieval

    generator = torch.Generator().manual_seed(0)
    statistics = torch.randn(50, 12, generator=generator)
    retrieval = _retrieval.LabelRetrieval(12, 8, 4)
    retrieval.set_memory(statistics, torch.randn(50, generator=generator))
    with torch.no_grad():
        whole = retrieval.encode_keys(statistics)
    monkeypatch.setattr(_retrieval, "ENCODE_BLOCK", 16)  # 50 rows: blocks of 16, 16, 16 and 2
    rows = []
    retrieval.periodic.register_forward_hook(lambda module, args, output: rows.append(args[0].shape[0]))
    with torch.no_grad():
        blocked = retrieval.encode_keys(statistics)
    assert rows == [16, 16, 16, 2]
    for one, other in zip(whole, blocked, strict=True):
        torch.testing.assert_close(other, one, rtol=1e-6, atol=1e-6)
    rows.clear()
    retrieval.encode_keys(statistics)[1].sum().backward()
    assert rows == [50]


def test_a_misspelt_argument_is_an_error():
    from matgl_supercon.generate import DiffCSPSC
    from matgl_supercon.models import CompositionForestTc, MEGNetTc

    for model in (CompositionTc, CompositionForestTc, DiffCSPSC, MEGNetTc):
        with pytest.raises(TypeError, match=r"unexpected keyword argument.*'retreival_neighbors'"):
            model(retreival_neighbors=32)
    assert MEGNetTc(nblocks=1, max_neighbors=8).max_neighbors == 8  # MEGNet's own arguments still pass through

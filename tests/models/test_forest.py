from __future__ import annotations

import json

import matgl
import numpy as np
import pytest
import torch
from pymatgen.core import Structure
from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
from torch_geometric.data import Batch

from matgl_supercon.models import (
    CompositionForestTc,
    CompositionTc,
    ForestSpreadGate,
    LowTcGate,
    SODNet,
    TcEnsemble,
)
from matgl_supercon.models import forest as forest_module
from matgl_supercon.models._embedding import OLIYNYK_COLUMNS
from matgl_supercon.models._tc_model import composition_statistics
from matgl_supercon.models.forest import LEAF, float32_at_most, preorder_layout
from matgl_supercon.pretrained import load_model
from matgl_supercon.training import CompositionForestConfig, fit_composition_forest

from .conftest import ELEMENTS, cubic

GRAPH = {"element_types": ELEMENTS, "cutoff": 4.0, "max_neighbors": 8}
#: The forest's default descriptor options.
BOTH = {"solid_descriptors": True, "ground_state_descriptors": True}


def statistics_and_labels(structures) -> tuple[np.ndarray, np.ndarray]:
    """The fixture's composition statistics, with 40 rows more between them, and made-up ln Tc labels."""
    x = CompositionForestTc(**GRAPH).graph_composition_statistics(
        [g for g, _ in CompositionForestTc(**GRAPH).graphs(structures)]
    )
    generator = torch.Generator().manual_seed(0)
    i, j = torch.randint(0, len(x), (2, 40), generator=generator)
    lam = torch.rand(40, 1, generator=generator)
    rows = torch.cat([x, lam * x[i] + (1 - lam) * x[j]]).numpy().astype(np.float64)
    return rows, np.sin(rows[:, :5].sum(1)) + rows[:, -2]


def test_float32_at_most_makes_float32_features_split_as_float64_thresholds() -> None:
    generator = np.random.default_rng(0)
    thresholds = generator.normal(size=200) * 10.0 ** generator.integers(-3, 4, 200)
    t32 = float32_at_most(thresholds)
    assert t32.dtype == np.float32 and (t32 <= thresholds).all()
    # The float32 values next to each threshold are on the same side under both comparisons.
    below = t32
    above = np.nextafter(t32, np.float32(np.inf))
    for x in (below, above, np.nextafter(below, np.float32(-np.inf))):
        assert np.array_equal(x.astype(np.float64) <= thresholds, x <= t32)


@pytest.mark.parametrize(
    "estimator",
    [
        ExtraTreesRegressor(12, max_features=0.5, random_state=0),
        RandomForestRegressor(12, max_features=0.33, min_samples_leaf=2, random_state=1),
    ],
)
def test_copied_forest_predicts_what_scikit_learn_predicts(structures, estimator) -> None:
    x, y = statistics_and_labels(structures)
    estimator.fit(x, y)
    model = CompositionForestTc.from_estimator(estimator, **GRAPH)
    assert model.n_trees == 12
    assert len(model.feature) == sum(e.tree_.node_count for e in estimator.estimators_)
    queries = np.vstack([x, x[:10] * 1.01 + 0.003])
    np.testing.assert_allclose(model.predict_statistics(queries).numpy(), estimator.predict(queries), atol=1e-5)
    # Each tree reads the leaf its scikit-learn twin reads.
    trees = model.tree_predictions(torch.as_tensor(queries)).numpy()
    leaves = np.stack([e.predict(queries) for e in estimator.estimators_], 1)
    np.testing.assert_allclose(trees, leaves, atol=1e-6)


def test_copying_refuses_what_it_cannot_copy(structures) -> None:
    x, y = statistics_and_labels(structures)
    with pytest.raises(ValueError, match="ExtraTreesRegressor has no fitted trees"):
        CompositionForestTc.from_estimator(ExtraTreesRegressor(3), **GRAPH)
    with pytest.raises(ValueError, match="fitted on 5 features; this model's composition statistics have 138"):
        CompositionForestTc.from_estimator(ExtraTreesRegressor(3).fit(x[:, :5], y), **GRAPH)
    best_first = RandomForestRegressor(3, max_leaf_nodes=8, random_state=0).fit(x, y)
    with pytest.raises(ValueError, match="tree 0 is not in depth-first order"):
        CompositionForestTc.from_estimator(best_first, **GRAPH)
    model = CompositionForestTc.from_estimator(ExtraTreesRegressor(3, random_state=0).fit(x, y), **GRAPH)
    bad = x[:4].copy()
    bad[2, 7] = np.nan
    with pytest.raises(ValueError, match=r"composition statistics of rows \[2\] are not finite"):
        model.predict_statistics(bad)
    with pytest.raises(ValueError, match=r"train: rows \[1\] hold non-finite statistics or ln Tc"):
        fit_composition_forest((x[:3], np.array([1.0, np.inf, 2.0])), GRAPH)
    with pytest.raises(ValueError, match=r"kind must be one of \['extra_trees', 'random_forest'\], got 'boosting'"):
        fit_composition_forest((x, y), GRAPH, CompositionForestConfig(kind="boosting"))
    with pytest.raises(ValueError, match="extra: need"):
        fit_composition_forest((x, y), GRAPH, extra=(x[:3], y[:2]))
    with pytest.raises(ValueError, match="criterion must be 'squared_error' or 'absolute_error', got 'huber'"):
        fit_composition_forest((x, y), GRAPH, CompositionForestConfig(criterion="huber"))


def test_absolute_error_splits_make_leaves_predict_their_median(structures) -> None:
    x, y = statistics_and_labels(structures)
    y = y.copy()
    y[0] = 50.0  # an outlier moves a mean, not a median
    # One leaf per tree (it must hold every row; extra trees draw no bootstrap): each tree predicts the whole set.
    one_leaf = {"n_estimators": 2, "min_samples_leaf": len(y), "median_weight": 0.0}
    for criterion, expected in (("squared_error", np.mean(y)), ("absolute_error", np.median(y))):
        model, summary = fit_composition_forest((x, y), GRAPH, CompositionForestConfig(criterion=criterion, **one_leaf))
        assert summary["nodes"] == 2
        np.testing.assert_allclose(model.predict_statistics(x[:1]).numpy(), [expected], rtol=1e-6)


def test_trained_forest_is_seeded_blind_to_the_cell_and_follows_occupancies(structures) -> None:
    x, y = statistics_and_labels(structures)
    config = CompositionForestConfig(n_estimators=8, min_samples_leaf=1, median_weight=0.0)  # the trees alone
    model, summary = fit_composition_forest((x[:30], y[:30]), GRAPH, config, extra=(x[30:], y[30:]))
    again, _ = fit_composition_forest((x[:30], y[:30]), GRAPH, config, extra=(x[30:], y[30:]))
    assert summary["training_rows"] == len(x) and summary["nodes"] == len(model.feature)
    assert torch.equal(model.predict_statistics(x), again.predict_statistics(x))
    # Fully grown trees reproduce their training rows (distinct statistics), and graphs give the statistics' answer.
    np.testing.assert_allclose(model.predict_statistics(x).numpy(), y, atol=1e-5)
    assert torch.allclose(model.predict_ln_tc(structures), model.predict_statistics(x[: len(structures)]), atol=1e-6)
    s = structures[5]
    supercell = s.copy()
    supercell.make_supercell([2, 1, 1])
    reordered = Structure(s.lattice, [s[1].species, s[0].species], [s[1].frac_coords, s[0].frac_coords])
    ln_tc = model.predict_ln_tc([s, supercell, reordered])
    assert torch.equal(ln_tc, ln_tc[0].expand(3))
    model.predict_ln_tc([s])
    assert torch.allclose(model.feature_dict["site_contributions"].sum(), ln_tc[0], atol=1e-6)
    ordered = model.predict_ln_tc([cubic(["Mg", "B"], 3.1)])[0]
    assert model.predict_ln_tc([cubic([{"Mg": 0.999999, "Al": 1e-6}, "B"], 3.1)])[0] == pytest.approx(float(ordered))


def test_forest_extra_rows_take_sample_weights(structures) -> None:
    x, y = statistics_and_labels(structures)
    config = CompositionForestConfig(n_estimators=4, min_samples_leaf=len(x), median_weight=0.0)  # one leaf per tree
    # One leaf holds every row: it predicts their weighted mean, the extra rows weighing 0.25 each.
    weights = np.full(len(x) - 30, 0.25)
    model, _ = fit_composition_forest((x[:30], y[:30]), GRAPH, config, extra=(x[30:], y[30:]), extra_weights=weights)
    expected = (y[:30].sum() + 0.25 * y[30:].sum()) / (30 + 0.25 * (len(x) - 30))
    np.testing.assert_allclose(model.predict_statistics(x[:3]).numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="extra_weights need median_weight 0"):
        fit_composition_forest((x[:30], y[:30]), GRAPH, extra=(x[30:], y[30:]), extra_weights=weights)
    with pytest.raises(ValueError, match=r"extra_weights: need \d+ finite weights above 0"):
        fit_composition_forest((x[:30], y[:30]), GRAPH, config, extra=(x[30:], y[30:]), extra_weights=weights[1:])
    with pytest.raises(ValueError, match="give them as extra"):
        fit_composition_forest((x[:30], y[:30]), GRAPH, config, extra_weights=weights)


def test_leaf_median_is_the_weighted_median_of_the_training_rows_in_the_leaves(structures, tmp_path) -> None:
    x, y = statistics_and_labels(structures)
    y = np.round(y, 1)  # ties between rows
    estimator = ExtraTreesRegressor(7, min_samples_leaf=3, random_state=0).fit(x, y)
    forest = CompositionForestTc.from_estimator(estimator, training_rows=(x, y), median_weight=0.25, **GRAPH)
    assert len(forest.leaf_targets) == 7 * len(x)
    queries = x[::3] + 0.01
    # Meinshausen's weights: a row sharing a leaf of m rows with the query weighs 1 / (m * trees).
    stored = torch.tensor(y).half().double().numpy()
    train_leaves, query_leaves = estimator.apply(x), estimator.apply(queries)
    expected = []
    for leaves in query_leaves:
        same = train_leaves == leaves
        weight = (same / same.sum(0)).sum(1) / 7
        order = np.argsort(stored, kind="stable")
        expected.append(stored[order][np.searchsorted(np.cumsum(weight[order]), 0.5 - 1e-9)])
    median = forest.leaf_median(torch.as_tensor(queries))
    np.testing.assert_array_equal(median.numpy(), np.float32(expected))
    mean = forest.tree_predictions(torch.as_tensor(queries)).double().mean(-1).float()
    assert torch.allclose(forest.predict_statistics(queries), 0.75 * mean + 0.25 * median, atol=1e-6)
    predicted, variance = forest.predict_graphs_and_variance(forest.graphs(structures), batch_size=4)
    assert torch.allclose(predicted, forest.predict_ln_tc(structures), atol=1e-6)
    trees = forest.tree_predictions(x[: len(structures)]).double()
    assert torch.allclose(variance, trees.var(-1).float(), atol=1e-6)  # still the trees' spread about their mean
    forest.save(tmp_path / "forest")
    loaded = matgl.load_model(tmp_path / "forest")
    assert loaded.median_weight == 0.25 and torch.equal(
        loaded.predict_ln_tc(structures), forest.predict_ln_tc(structures)
    )
    # Without the rows there is no median; rows that are not the fitted ones leave leaves empty.
    plain = CompositionForestTc.from_estimator(estimator, **GRAPH)
    assert len(plain.leaf_targets) == 0 and plain.median_weight == 0
    with pytest.raises(ValueError, match="no leaf targets"):
        plain.leaf_median(torch.as_tensor(queries))
    with pytest.raises(ValueError, match="needs the training targets"):
        CompositionForestTc.from_estimator(estimator, median_weight=0.5, **GRAPH)
    with pytest.raises(ValueError, match="empty: not the rows the forest was fitted on"):
        CompositionForestTc.from_estimator(estimator, training_rows=(x[:3], y[:3]), **GRAPH)
    with pytest.raises(ValueError, match="median_weight must be in"):
        CompositionForestTc(**GRAPH, median_weight=1.5)


def test_save_load_round_trip_and_ensembles_with_a_composition_network(structures, tmp_path) -> None:
    x, y = statistics_and_labels(structures)
    model, _ = fit_composition_forest((x, y), GRAPH, CompositionForestConfig(n_estimators=5))
    model.save(tmp_path / "forest")
    loaded = matgl.load_model(tmp_path / "forest")
    assert isinstance(loaded, CompositionForestTc)
    assert loaded.max_depth == model.max_depth and loaded._init_args["tree_sizes"] == model._init_args["tree_sizes"]
    assert torch.equal(loaded.predict_ln_tc(structures), model.predict_ln_tc(structures))
    network = CompositionTc(**GRAPH, **BOTH, width=16, retrieval_neighbors=3)  # the same statistics
    network.set_retrieval_memory(x, y)
    ensemble = TcEnsemble([loaded, network], member_weights=[3.0, 1.0])
    mean, _ = ensemble.predict_ln_tc(structures)
    each = torch.stack([loaded.predict_ln_tc(structures), network.predict_ln_tc(structures)])
    assert torch.allclose(mean, 0.75 * each[0] + 0.25 * each[1], atol=1e-6)


def test_forest_saved_before_the_descriptor_options_loads_as_it_was_grown(structures, tmp_path) -> None:
    earlier = {**GRAPH, "solid_descriptors": False, "ground_state_descriptors": False}
    template = CompositionForestTc(**earlier)
    x = template.graph_composition_statistics([g for g, _ in template.graphs(structures)]).numpy().astype(np.float64)
    config = CompositionForestConfig(n_estimators=3)
    model, _ = fit_composition_forest((x, np.arange(len(x), dtype=float)), earlier, config)
    assert model.descriptors.shape[1] + 4 + 5 == CompositionForestTc(**GRAPH).descriptors.shape[1]  # the defaults
    model.save(tmp_path / "forest")
    # A file written before the options existed: its constructor arguments hold neither.
    init_args = torch.load(tmp_path / "forest" / "model.pt", weights_only=True)
    assert init_args.pop("solid_descriptors") is False and init_args.pop("ground_state_descriptors") is False
    torch.save(init_args, tmp_path / "forest" / "model.pt")
    loaded = matgl.load_model(tmp_path / "forest")
    assert loaded._init_args["solid_descriptors"] is False and loaded._init_args["ground_state_descriptors"] is False
    assert torch.equal(loaded.predict_ln_tc(structures), model.predict_ln_tc(structures))


def test_forest_on_oliynyk_columns_reads_them_after_a_round_trip(structures, tmp_path) -> None:
    options = {**GRAPH, "oliynyk_descriptors": True}
    template = CompositionForestTc(**options)
    assert template.descriptors.shape[1] == CompositionForestTc(**GRAPH).descriptors.shape[1] + len(OLIYNYK_COLUMNS)
    x = template.graph_composition_statistics([g for g, _ in template.graphs(structures)]).numpy().astype(np.float64)
    y = np.arange(len(x), dtype=float)
    model, _ = fit_composition_forest((x, y), options, CompositionForestConfig(n_estimators=3))
    model.save(tmp_path / "forest")
    loaded = matgl.load_model(tmp_path / "forest")
    assert loaded._init_args["oliynyk_descriptors"] is True
    assert torch.equal(loaded.predict_ln_tc(structures), model.predict_ln_tc(structures))


def test_forest_saved_before_the_leaf_median_loads_as_the_trees_mean(structures, tmp_path) -> None:
    x, y = statistics_and_labels(structures)
    model = CompositionForestTc.from_estimator(ExtraTreesRegressor(3, random_state=0).fit(x, y), **GRAPH)
    model.save(tmp_path / "forest")
    # Files written before 2026-12-06 night: no leaf arguments, no leaf_targets buffer.
    init_args = torch.load(tmp_path / "forest" / "model.pt", weights_only=True)
    assert init_args.pop("n_leaf_targets") == 0 and init_args.pop("median_weight") == 0.0
    torch.save(init_args, tmp_path / "forest" / "model.pt")
    state = torch.load(tmp_path / "forest" / "state.pt", weights_only=True)
    assert len(state.pop("leaf_targets")) == 0
    torch.save(state, tmp_path / "forest" / "state.pt")
    loaded = matgl.load_model(tmp_path / "forest")
    assert loaded.median_weight == 0 and torch.equal(loaded.predict_ln_tc(structures), model.predict_ln_tc(structures))


def test_right_children_and_leaf_targets_follow_from_the_stored_leaf_pattern(structures, tmp_path) -> None:
    x, y = statistics_and_labels(structures)
    estimator = RandomForestRegressor(4, min_samples_leaf=2, random_state=0).fit(x, y)
    forest = CompositionForestTc.from_estimator(estimator, training_rows=(x, y), median_weight=0.5, **GRAPH)
    # 6 bytes a node on disk (int16 feature or leaf code, float32 threshold or value): no right children stored.
    state = forest.state_dict()
    assert (
        "right" not in state
        and state["feature"].dtype == torch.int16
        and state["split_or_value"].dtype == torch.float32
    )
    sizes = [e.tree_.node_count for e in estimator.estimators_]
    right, first, count = preorder_layout(forest.feature, sizes, len(forest.leaf_targets))
    offsets = np.cumsum([0, *sizes[:-1]])
    inner = np.concatenate([e.tree_.children_right >= 0 for e in estimator.estimators_])
    expected = np.concatenate([e.tree_.children_right + o for e, o in zip(estimator.estimators_, offsets, strict=True)])
    np.testing.assert_array_equal(right.numpy()[inner], expected[inner])
    leaves = estimator.apply(x)
    rows = np.concatenate([np.bincount(leaves[:, k], minlength=n) for k, n in enumerate(sizes)])
    np.testing.assert_array_equal(count.numpy(), np.where(inner, 0, rows))
    np.testing.assert_array_equal(first.numpy()[~inner], (np.cumsum(rows) - rows)[~inner])
    # A damaged pattern or target count is named, not walked.
    broken = forest.feature.clone()
    broken[sizes[0] - 1] = 3  # the last leaf of tree 0 made internal
    with pytest.raises(ValueError, match=r"leaf pattern of trees \[0\] is not a depth-first tree"):
        preorder_layout(broken, sizes, len(forest.leaf_targets))
    with pytest.raises(ValueError, match=f"the leaves hold {len(forest.leaf_targets)} training targets; the forest"):
        preorder_layout(forest.feature, sizes, len(forest.leaf_targets) + 1)
    with pytest.raises(ValueError, match="tree sizes add up to"):
        preorder_layout(forest.feature, sizes[:-1], len(forest.leaf_targets))

    # A file saved before 2026-12-07: leaves marked LEAF, and an int32 ``right`` holding each internal node's right
    # child and each leaf's first target, as scikit-learn's arrays give them.
    forest.save(tmp_path / "forest")
    old_feature = torch.where(forest.feature < 0, LEAF, forest.feature).to(torch.int16)
    old_right = torch.as_tensor(np.where(inner, expected, np.cumsum(rows) - rows), dtype=torch.int32)
    torch.save({**state, "feature": old_feature, "right": old_right}, tmp_path / "forest" / "state.pt")
    loaded = matgl.load_model(tmp_path / "forest")
    assert torch.equal(loaded.feature, forest.feature) and "right" not in loaded.state_dict()
    assert torch.equal(loaded.predict_ln_tc(structures), forest.predict_ln_tc(structures))
    with pytest.raises(RuntimeError, match="leaf target offsets out of order"):
        loaded.load_state_dict({**state, "feature": old_feature, "right": old_right.flip(0)})
    with pytest.raises(RuntimeError, match=r"feature: the leaf pattern of trees \[0\]"):  # at loading, not later
        loaded.load_state_dict({**state, "feature": broken})


def test_composition_statistics_do_not_depend_on_the_batch(structures) -> None:
    # In float32 the spread of a descriptor shared by every element present is rounding noise that moved with the
    # batch; trees split on it, so a structure's prediction did too.
    model = CompositionForestTc(**GRAPH)
    together = model.structure_composition_statistics(structures)
    assert torch.equal(together, torch.cat([model.structure_composition_statistics([s]) for s in structures]))
    assert torch.equal(together, model.structure_composition_statistics(structures[::-1]).flip(0))
    # Stacked from the graphs' site tensors, as PyG's collation stacks them.
    graphs = [g for g, _ in model.graphs(structures)]
    batch = Batch.from_data_list(graphs)
    collated = composition_statistics(batch.occupancy, batch.vacancy, model.descriptors, batch.batch, len(graphs))
    assert torch.equal(model.graph_composition_statistics(graphs), collated)


def test_forest_variance_is_its_trees_and_ensembles_add_it_to_their_spread(structures) -> None:
    x, y = statistics_and_labels(structures)
    estimator = ExtraTreesRegressor(6, min_samples_leaf=3, random_state=0).fit(x, y)
    forest = CompositionForestTc.from_estimator(estimator, **GRAPH)
    graphs = forest.graphs(structures)
    mean, variance = forest.predict_graphs_and_variance(graphs, batch_size=4)  # batches of 4, 4 and the rest
    assert torch.equal(mean, forest.predict_graphs(graphs))
    # The trees are walked WALK_ROWS rows at a time, whatever the batches: chunks of 3 change nothing.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(forest_module, "WALK_ROWS", 3)
        walked_in_threes = forest.predict_graphs_and_variance(graphs, batch_size=4)
    assert torch.equal(walked_in_threes[0], mean) and torch.equal(walked_in_threes[1], variance)
    x_graphs = forest.graph_composition_statistics([g for g, _ in graphs]).numpy().astype(np.float64)
    trees = np.stack([e.predict(x_graphs) for e in estimator.estimators_])
    np.testing.assert_allclose(variance.numpy(), trees.var(0, ddof=1), rtol=1e-4, atol=1e-6)
    assert (variance > 0).any()
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        forest.predict_graphs_and_variance(graphs, batch_size=0)
    # One forest: its spread is its trees' sd. A network: none. Both: the mixture's variance, between + within.
    alone = TcEnsemble([forest], sd_scale=2.0).predict_graphs(graphs)[1]
    assert torch.allclose(alone, 2.0 * variance.sqrt(), atol=1e-6)
    network = CompositionTc(**GRAPH, **BOTH, width=16, retrieval_neighbors=3)
    network.set_retrieval_memory(x, y)
    assert torch.equal(TcEnsemble([network]).predict_graphs(graphs)[1], torch.zeros(len(graphs)))
    other = network.predict_graphs(graphs)
    weighted = TcEnsemble([forest, network], member_weights=[3.0, 1.0]).predict_graphs(graphs)
    blended = 0.75 * mean + 0.25 * other
    between = (0.75 * (mean - blended) ** 2 + 0.25 * (other - blended) ** 2) / (1 - 0.75**2 - 0.25**2)
    assert torch.allclose(weighted[0], blended, atol=1e-6)
    assert torch.allclose(weighted[1], (between + 0.75 * variance).sqrt(), atol=1e-5)
    plain = TcEnsemble([forest, network]).predict_graphs(graphs)[1]
    assert torch.allclose(plain, (torch.stack([mean, other]).var(0) + variance / 2).sqrt(), atol=1e-5)


def test_gate_weights_members_by_the_forests_tree_spread_and_loads_from_ensemble_json(structures, tmp_path) -> None:
    x, y = statistics_and_labels(structures)
    forest = CompositionForestTc.from_estimator(
        ExtraTreesRegressor(6, min_samples_leaf=3, random_state=0).fit(x, y), **GRAPH
    )
    network = CompositionTc(**GRAPH, **BOTH, width=16, retrieval_neighbors=3)
    network.set_retrieval_memory(x, y)
    graphs = forest.graphs(structures)
    trees, variance = forest.predict_graphs_and_variance(graphs)
    other = network.predict_graphs(graphs)
    edge = float(variance.sqrt().median())
    # Below the edge the forest alone, at or above it the network alone.
    gate = ForestSpreadGate((edge,), ((1.0, 0.0), (0.0, 2.0)))
    gated = TcEnsemble([forest, network], gate=gate, member_weights=[1.0, 1.0])
    mean, sd = gated.predict_graphs(graphs)
    wide = variance.sqrt() >= edge
    assert 0 < int(wide.sum()) < len(graphs)
    assert torch.allclose(mean, torch.where(wide, other, trees), atol=1e-6)
    assert torch.allclose(sd, torch.where(wide, 0.0, variance.sqrt()), atol=1e-5)  # one member weighted: no between
    assert gated.fingerprint() != TcEnsemble([forest, network], member_weights=[1.0, 1.0]).fingerprint()
    for i in (int(wide.nonzero()[0]), int((~wide).nonzero()[0])):
        share = gated.site_contributions(structures[i]).sum()
        assert float(share) == pytest.approx(float(mean[i]), abs=1e-5)
    for bad, message in (
        (ForestSpreadGate((edge,), ((1.0, 0.0),)), "per band"),
        (ForestSpreadGate((edge,), ((1.0, 0.0), (0.0, 0.0))), "positive sum"),
        (ForestSpreadGate((0.5, 0.2), ((1.0, 0.0),) * 3), "ascending finite edges"),
    ):
        with pytest.raises(ValueError, match=message):
            TcEnsemble([forest, network], gate=bad)
    with pytest.raises(ValueError, match="no member has a variance of its own"):
        TcEnsemble([network, network], gate=gate)
    # From an ensemble folder's ensemble.json, by member folder name.
    forest.save(tmp_path / "ensemble" / "forest")
    network.save(tmp_path / "ensemble" / "network")
    described = {
        "member_weights": {"forest": 1.0, "network": 1.0},
        "gate": {"edges": [edge], "member_weights": [{"forest": 1.0, "network": 0.0}, {"forest": 0.0, "network": 2.0}]},
    }
    (tmp_path / "ensemble" / "ensemble.json").write_text(json.dumps(described))
    loaded = load_model(tmp_path / "ensemble")
    assert loaded.gate == gate and torch.allclose(loaded.predict_graphs(graphs)[0], mean, atol=1e-6)
    described["gate"]["member_weights"][1] = {"forest": 1.0}
    (tmp_path / "ensemble" / "ensemble.json").write_text(json.dumps(described))
    with pytest.raises(ValueError, match="gate band 1 must weight every member folder once"):
        load_model(tmp_path / "ensemble")


def test_low_tc_gate_lets_a_group_share_the_prediction_where_it_reads_cold(structures, tmp_path) -> None:
    x, y = statistics_and_labels(structures)
    forest = CompositionForestTc.from_estimator(
        ExtraTreesRegressor(6, min_samples_leaf=3, random_state=0).fit(x, y), **GRAPH
    )
    cold_reader = CompositionForestTc.from_estimator(
        ExtraTreesRegressor(4, min_samples_leaf=3, random_state=1).fit(x, y - 1.0), **GRAPH
    )
    graphs = forest.graphs(structures)
    base, base_variance = forest.predict_graphs_and_variance(graphs)
    group, _ = cold_reader.predict_graphs_and_variance(graphs)
    threshold = float(group.median())
    gate = LowTcGate((False, True), threshold, 0.5)
    ensemble = TcEnsemble([forest, cold_reader], member_weights=[1.0, 0.0], low_tc_gate=gate)
    mean, sd = ensemble.predict_graphs(graphs)
    cold = group < threshold
    assert 0 < int(cold.sum()) < len(graphs)
    # Elsewhere the group weighs nothing: the forest's prediction and its own trees' spread.
    assert torch.allclose(mean, torch.where(cold, 0.5 * base + 0.5 * group, base), atol=1e-6)
    assert torch.allclose(sd[~cold], base_variance[~cold].sqrt(), atol=1e-5)
    assert ensemble.fingerprint() != TcEnsemble([forest, cold_reader], member_weights=[1.0, 0.0]).fingerprint()
    i = int(cold.nonzero()[0])
    assert float(ensemble.site_contributions(structures[i]).sum()) == pytest.approx(float(mean[i]), abs=1e-5)
    for bad in (LowTcGate((True, True), 0.0, 0.5), LowTcGate((False, True), 0.0, 0.0), LowTcGate((True,), 0.0, 1.0)):
        with pytest.raises(ValueError, match="low_tc_gate: need one flag per member"):
            TcEnsemble([forest, cold_reader], low_tc_gate=bad)
    with pytest.raises(ValueError, match="the members outside the group need a positive weight"):
        TcEnsemble([forest, cold_reader], member_weights=[0.0, 1.0], low_tc_gate=gate)
    # From ensemble.json, by member folder name; the spread gate reads the other forests' trees only.
    forest.save(tmp_path / "ensemble" / "forest")
    cold_reader.save(tmp_path / "ensemble" / "nonsc")
    edge = float(base_variance.sqrt().median())
    described = {
        "member_weights": {"forest": 1.0, "nonsc": 0.0},
        "gate": {"edges": [edge], "member_weights": [{"forest": 1.0, "nonsc": 0.0}] * 2},
        "low_tc_gate": {"members": ["nonsc"], "threshold": threshold, "weight": 0.5},
    }
    (tmp_path / "ensemble" / "ensemble.json").write_text(json.dumps(described))
    fast_weights = {"forest": 1.0, "nonsc": 0.0}
    described["subsets"] = {
        "fast": {"member_weights": fast_weights, "sd_scale": 1.0, "low_tc_gate": described["low_tc_gate"]}
    }
    (tmp_path / "ensemble" / "ensemble.json").write_text(json.dumps(described))
    loaded = load_model(tmp_path / "ensemble")
    assert loaded.low_tc_gate == gate and torch.allclose(loaded.predict_graphs(graphs)[0], mean, atol=1e-6)
    # A subset may hold its own gate, over its own members.
    fast = load_model(tmp_path / "ensemble", members="fast")
    assert fast.low_tc_gate == gate and torch.allclose(fast.predict_graphs(graphs)[0], mean, atol=1e-6)
    described["low_tc_gate"]["members"] = ["nonsc", "gone"]
    (tmp_path / "ensemble" / "ensemble.json").write_text(json.dumps(described))
    with pytest.raises(ValueError, match=r"low_tc_gate names members without a folder: \['gone'\]"):
        load_model(tmp_path / "ensemble")


def test_sodnet_with_a_state_reads_the_forests_mean_ln_tc_outside_the_low_tc_group(structures, tmp_path) -> None:
    x, y = statistics_and_labels(structures)
    forests = [
        CompositionForestTc.from_estimator(
            ExtraTreesRegressor(4, min_samples_leaf=3, random_state=seed).fit(x, y + shift), **GRAPH
        )
        for seed, shift in ((0, 0.0), (1, 0.5), (2, -3.0))  # the last: the low-Tc group, which the state skips
    ]
    torch.manual_seed(0)
    tiny = {"irreps_node": "8x0e+4x1o", "irreps_ffn": "8x0e+4x1o", "n_heads": 2, "n_radial": 4, "readout_hidden": 8}
    reader = SODNet(**GRAPH, **tiny, radial_hidden=4, attention_hidden=4, state_dim=1, state_std=[0.5]).eval()
    graphs = reader.graphs(structures)
    first, second, _ = (f.predict_graphs(graphs) for f in forests)
    state = ((first + second) / 2)[:, None]
    corrected = reader.predict_graphs(graphs, state_attr=state)
    # The state moves the prediction, so reading the wrong one would show.
    assert not torch.allclose(corrected, reader.predict_graphs(graphs, state_attr=state + 1.0), atol=1e-4)
    never_cold = LowTcGate((False, False, True, False), -100.0, 0.5)
    flags = [False, False, False, True]
    ensemble = TcEnsemble(
        [*forests, reader], member_weights=[1.0, 1.0, 0.0, 2.0], low_tc_gate=never_cold, state_from_forests=flags
    )
    mean, _ = ensemble.predict_graphs(graphs, batch_size=3)
    assert torch.allclose(mean, (first + second + 2 * corrected) / 4, atol=1e-5)
    assert float(ensemble.site_contributions(structures[5]).sum()) == pytest.approx(float(mean[5]), abs=1e-5)
    alone = ensemble.site_contributions(structures[5], structure_only=True).sum()
    assert float(alone) == pytest.approx(float(corrected[5]), abs=1e-5)
    with pytest.raises(ValueError, match="needs a CompositionForestTc member outside the low_tc_gate's group"):
        TcEnsemble([reader], state_from_forests=[True])
    # A state the ensemble is not told is a forest's (pressure, say) is refused rather than fed the forests' ln Tc.
    with pytest.raises(ValueError, match="member 1 reads a state vector of width 1, and the ensemble gives it none"):
        TcEnsemble([forests[0], reader])
    wide = SODNet(**GRAPH, **tiny, radial_hidden=4, attention_hidden=4, state_dim=2)
    with pytest.raises(ValueError, match="member 1 reads a state vector of width 2"):
        TcEnsemble([forests[0], wide], state_from_forests=[False, True])
    with pytest.raises(ValueError, match="reads a state vector of width 0, and the ensemble gives it the forests'"):
        TcEnsemble([forests[0], forests[1]], state_from_forests=[False, True])
    # Saved and loaded as an ensemble folder, it reads the same state.
    for name, member in zip(("forest_a", "forest_b", "nonsc", "sodnet"), [*forests, reader], strict=True):
        member.save(tmp_path / "ensemble" / name)
    described = {
        "member_weights": {"forest_a": 1.0, "forest_b": 1.0, "nonsc": 0.0, "sodnet": 2.0},
        "low_tc_gate": {"members": ["nonsc"], "threshold": -100.0, "weight": 0.5},
        "state_from_forests": ["sodnet"],
    }
    (tmp_path / "ensemble" / "ensemble.json").write_text(json.dumps(described))
    assert torch.allclose(load_model(tmp_path / "ensemble").predict_graphs(graphs)[0], mean, atol=1e-5)
    described["state_from_forests"] = ["sodnet", "gone"]
    (tmp_path / "ensemble" / "ensemble.json").write_text(json.dumps(described))
    with pytest.raises(ValueError, match=r"state_from_forests names members without a folder: \['gone'\]"):
        load_model(tmp_path / "ensemble")
    # Readers that differ only in their state scaling (a buffer, like the target's) share one module when loaded,
    # each with its own scaling.
    other = SODNet(**GRAPH, **tiny, radial_hidden=4, attention_hidden=4, state_dim=1).eval()
    other.load_state_dict(reader.state_dict())
    other.set_state_scaling([1.0], [2.0])
    own = forests[0].predict_graphs(graphs)[:, None]
    expected = own[:, 0] + reader.predict_graphs(graphs, state_attr=own) + other.predict_graphs(graphs, state_attr=own)
    for name, member in (("forest", forests[0]), ("reader_a", reader), ("reader_b", other)):
        member.save(tmp_path / "two_readers" / name)
    (tmp_path / "two_readers" / "ensemble.json").write_text(
        json.dumps(
            {
                "member_weights": dict.fromkeys(("forest", "reader_a", "reader_b"), 1.0),
                "state_from_forests": ["reader_a", "reader_b"],
            }
        )
    )
    loaded = load_model(tmp_path / "two_readers")
    assert len({id(module) for module, _ in loaded._members}) == 2
    assert torch.allclose(loaded.predict_graphs(graphs)[0], expected / 3, atol=1e-5)
    # Each member's site shares come from its own weights and scaling, though the readers share one module.
    shares = loaded.site_contributions(structures[5])
    assert float(shares.sum()) == pytest.approx(float(expected[5] / 3), abs=1e-5)

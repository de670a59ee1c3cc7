"""CompositionForestTc: a tree ensemble on composition statistics, stored as tensors and loaded without pickle.

On SuperCon3D, trees fitted on composition statistics plus the formula-only SuperCon table are the most accurate
single predictor we measured (``benchmarks/results/composition_forest.md``); the networks gain little from the
same table. A fitted scikit-learn forest is a pickle, which must never be loaded from untrusted bytes, so this
module copies its trees into tensors: a :class:`CompositionForestTc` is a MatGL model like the others
(``model.save(dir)``, ``matgl.load_model(dir)``, ``torch.load(..., weights_only=True)`` underneath), reads the same
graphs and can be a member of a :class:`~matgl_supercon.models.TcEnsemble`.

A forest copied with its training targets also predicts the weighted median of the training rows that share a leaf
with the query (a quantile regression forest: Meinshausen, JMLR 7, 2006) and can average it with the trees' mean:
the metric is an MAE, which a median serves, and on SuperCon3D all/all the average of the two scored lower than
either (``benchmarks/results/forest_variants.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch
from matgl.models import MatGLModel
from torch_geometric.data import Data

from matgl_supercon.graph import ALL_ELEMENTS
from matgl_supercon.models._embedding import element_descriptors
from matgl_supercon.models._tc_model import CompositionStatisticsTcModel, composition_statistics_width

#: ``feature`` of a leaf without stored targets; a leaf holding ``m`` targets has ``LEAF - m`` (scikit-learn's
#: ``TREE_UNDEFINED`` is -2; any negative value marks a leaf here).
LEAF = -1
#: Most training targets one leaf can hold (``feature`` is int16).
MAX_LEAF_TARGETS = 2**15 - 1
#: Rows whose trees are walked together. A walk costs a few tensor operations per level of the deepest tree,
#: whatever the number of rows, so rows are walked many at a time, not in the graph batches that bound the memory
#: of the composition statistics: the shipped composition members predicted SuperCon3D's 1,578 converted structures
#: at about 330 per second on 2 cores walking 16 rows at a time, and at about 770 walking 4,096 (2026-12-07).
WALK_ROWS = 4096


def float32_at_most(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 values not above float64 thresholds.

    scikit-learn compares float32 features with float64 thresholds; for a float32 ``x``, ``x <= t`` holds exactly
    when ``x <= float32_at_most(t)``, so the tensors make the same decisions as the fitted trees.
    """
    rounded = threshold.astype(np.float32)
    return np.where(rounded > threshold, np.nextafter(rounded, np.float32(-np.inf)), rounded).astype(np.float32)


def preorder_layout(
    feature: torch.Tensor, tree_sizes: Sequence[int], n_leaf_targets: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right children and leaf target ranges of trees stored in depth-first order by their ``feature`` alone.

    In a depth-first (preorder) listing of a binary tree whose nodes have 0 or 2 children, count +1 for an internal
    node and -1 for a leaf: every proper prefix of a subtree sums to 0 or more and the whole subtree to -1. The left
    subtree of internal node ``i`` starts at ``i + 1`` and so ends at the first ``j > i`` where the running sum falls
    one below its value at ``i``; the right child is ``j + 1``.

    Args:
        feature: ``[n_nodes]`` split columns (>= 0) and leaf codes (``LEAF - m`` for ``m`` stored targets), trees one
            after the other.
        tree_sizes: Node count of each tree.
        n_leaf_targets: Number of stored targets, which the leaf codes must add up to.

    Returns:
        ``right`` (int64 row of each internal node's right child; 0 for a leaf), ``first_target`` and
        ``target_count`` (int64 per node; 0 for an internal node).

    Raises:
        ValueError: If the leaf pattern is not a sequence of such trees of these sizes, or the leaves hold another
            number of targets.
    """
    device, codes = feature.device, feature.detach().cpu().numpy().astype(np.int64)
    n, sizes = len(codes), np.asarray(tree_sizes, dtype=np.int64)
    if sizes.sum() != n:
        raise ValueError(f"tree sizes add up to {sizes.sum()} nodes; the forest stores {n}")
    leaf = codes < 0
    running = np.cumsum(np.where(leaf, -1, 1))
    starts, last = np.cumsum(sizes) - sizes, np.cumsum(sizes) - 1
    tree = np.repeat(np.arange(len(sizes)), sizes)
    within = running - np.concatenate([[0], running])[starts][tree]  # the running sum from the tree's root
    is_last = np.zeros(n, dtype=bool)
    is_last[last] = True
    bad = (is_last & (within != -1)) | (~is_last & (within < 0))
    if bad.any():
        trees = np.unique(tree[bad]).tolist()
        raise ValueError(f"the leaf pattern of trees {trees[:10]} is not a depth-first tree of the stored size")
    # Positions grouped by running sum, increasing within a group (a stable sort); the internal nodes in that order
    # too, so the lookups of the first position after i whose sum is one lower come sorted (about 3x faster).
    narrow = running.astype(np.int16) if running.min() >= -(2**15) and running.max() < 2**15 else running
    order = np.argsort(narrow, kind="stable")  # a radix sort for 16-bit values: 5x faster
    key = running[order] * (n + 1) + order
    inner = order[~leaf[order]]
    right = np.zeros(n, dtype=np.int64)
    right[inner] = order[np.searchsorted(key, (running[inner] - 1) * (n + 1) + inner + 1)] + 1
    count = np.where(leaf, LEAF - codes, 0)
    if count.sum() != n_leaf_targets:
        raise ValueError(f"the leaves hold {count.sum()} training targets; the forest stores {n_leaf_targets}")
    return tuple(torch.as_tensor(a, device=device) for a in (right, np.cumsum(count) - count, count))


class CompositionForestTc(CompositionStatisticsTcModel, MatGLModel):
    """Regression trees on composition statistics (ln Tc), as a MatGL model.

    It predicts the mean of the trees or, with ``median_weight``, that mean averaged with the median of the
    training rows in the query's leaves.

    Build it from a fitted scikit-learn forest with :meth:`from_estimator` or train it with
    :func:`matgl_supercon.training.fit_composition_forest`. It reads the composition statistics CompositionTc
    reads (:func:`~matgl_supercon.models._tc_model.composition_statistics` of the site occupancies, valence
    descriptors included, and by default the properties of each element's solid and DFT ground state), so its
    predictions follow fractional occupancies and are blind to the structure; ``cutoff`` and ``max_neighbors`` only
    set the converter an ensemble shares.
    """

    #: Not raised when the nodes went from 10 bytes to 6 (2026-12-07): files of either layout load, told apart by
    #: their keys, and MatGL would warn on every older file.
    __version__ = 1
    #: Forests saved before these options existed (2026-12-06) were grown without those columns.
    DEFAULTS_BEFORE: ClassVar[dict[str, object]] = {"solid_descriptors": False, "ground_state_descriptors": False}

    def __init__(
        self,
        element_types: Sequence[str] = ALL_ELEMENTS,
        cutoff: float = 6.0,
        max_neighbors: int | None = 16,
        valence_descriptors: bool = True,
        solid_descriptors: bool = True,
        ground_state_descriptors: bool = True,
        oliynyk_descriptors: bool = False,
        tree_sizes: Sequence[int] = (1,),
        max_depth: int = 0,
        n_leaf_targets: int = 0,
        median_weight: float = 0.0,
    ) -> None:
        """Build an empty forest (every tree one leaf of value 0) whose tensors ``load_state_dict`` then fills.

        Args:
            element_types: Element list of the graphs (occupancy columns).
            cutoff: Neighbour radius (Å) of the converter's graphs (not read by the model).
            max_neighbors: Neighbours per site of the converter's graphs (not read by the model).
            valence_descriptors: Add valence-electron counts to the elemental descriptors (as ``CompositionTc``).
            solid_descriptors: Add the properties of each element's solid (log resistivity, elemental Tc, metallic
                radius, bulk modulus) to the elemental descriptors. On SuperCon3D all/all with the formula table
                (200 trees, 10 folds) they measured 0.537 ln K against 0.545 without, better on 8 folds of 10
                (``benchmarks/results/element_properties.md``).
            ground_state_descriptors: Add Magpie's DFT ground-state columns (volume per atom, band gap, magnetic
                moment and space group of each element's ground state, covalent radius) as well: with both,
                0.530 ln K (R2 0.753), better than without either on 9 folds of 10, and than the solid's alone on 9.
            oliynyk_descriptors: Add Oliynyk et al.'s elemental properties as well (``OLIYNYK_COLUMNS``: more radii
                and electronegativity scales, metallic valence, the thermal properties of each element). They lower
                the error of the trees' mean (200 trees: 0.499 -> 0.493 ln K, better on 8 of 10 folds), but not
                that of the default forest, whose leaf median gains about as much (45 trees: 0.495 -> 0.494, 4 of
                10), nor the shipped ensemble's (``benchmarks/results/forest_element_tables.md``): off by default.
            tree_sizes: Node count of each tree (set by :meth:`from_estimator`).
            max_depth: Depth of the deepest tree (set by :meth:`from_estimator`).
            n_leaf_targets: Number of stored training targets, one per training row and tree (set by
                :meth:`from_estimator` when given the training rows; 0: none stored, as in forests saved before
                2026-12-06's leaf medians).
            median_weight: Weight of the leaf median in the prediction, ``(1 - w) * mean + w * median`` (0: the
                trees' mean alone; needs stored targets otherwise).
        """
        super().__init__()
        tree_sizes = [int(n) for n in tree_sizes]
        if not tree_sizes or min(tree_sizes) < 1:
            raise ValueError(f"tree_sizes: need at least one tree of at least one node, got {tree_sizes}")
        if max_depth < 0:
            raise ValueError(f"max_depth must be >= 0, got {max_depth}")
        if not 0.0 <= median_weight <= 1.0:
            raise ValueError(f"median_weight must be in [0, 1], got {median_weight}")
        if median_weight > 0 and n_leaf_targets < 1:
            raise ValueError("median_weight > 0 needs the training targets in the leaves (n_leaf_targets > 0)")
        self.save_args(locals())
        self._init_args["tree_sizes"] = tree_sizes  # plain ints, whatever sequence was passed
        self.element_types = tuple(element_types)
        self.cutoff = float(cutoff)
        self.max_neighbors = max_neighbors
        self.max_depth = int(max_depth)
        self.median_weight = float(median_weight)
        self.register_buffer(
            "descriptors",
            element_descriptors(
                self.element_types,
                valence_descriptors,
                solid_descriptors,
                ground_state_descriptors,
                oliynyk_descriptors,
            ),
        )
        n_nodes = sum(tree_sizes)
        self.register_buffer("roots", torch.tensor(np.cumsum([0, *tree_sizes[:-1]]), dtype=torch.long))
        # One node per row, trees one after the other, in scikit-learn's depth-first order (an internal node's left
        # child is the next row). ``feature`` is an internal node's split column (>= 0) or, negative, marks a leaf
        # holding ``-1 - feature`` stored training targets; ``split_or_value`` is an internal node's threshold (go
        # left when the feature value is <= it) and a leaf's ln Tc. The right children and the leaves' target
        # offsets follow from the leaf pattern (:func:`preorder_layout`) and are rebuilt when weights load, so a node
        # costs 6 bytes on disk; ten fold forests of 45 trees then fit under 5 MB each.
        self.register_buffer("feature", torch.full((n_nodes,), LEAF, dtype=torch.int16))
        self.register_buffer("split_or_value", torch.zeros(n_nodes, dtype=torch.float32))
        # The training targets of every leaf, leaf after leaf in node order (each training row once per tree), as
        # float16 (ln Tc to within 0.002: 2 bytes per row and tree).
        self.register_buffer("leaf_targets", torch.zeros(int(n_leaf_targets), dtype=torch.float16))
        self.init_target_scaling(0.0, 1.0)  # trees predict ln Tc itself; kept for the shared mixin

    @classmethod
    def from_estimator(
        cls,
        estimator,
        training_rows: tuple[np.ndarray, np.ndarray] | None = None,
        median_weight: float = 0.0,
        **model_kwargs,
    ) -> CompositionForestTc:
        """Copy a fitted scikit-learn ``RandomForestRegressor`` or ``ExtraTreesRegressor`` (one output).

        The estimator must have been fitted on this model's :meth:`graph_composition_statistics` (same
        ``element_types`` and descriptor options). With ``median_weight`` 0, predictions then equal
        ``estimator.predict`` up to float32 rounding of the leaf values.

        Args:
            estimator: The fitted forest.
            training_rows: ``(statistics, ln Tc)`` the forest was fitted on: each tree's leaves keep the targets of
                the rows that fall in them, for :meth:`leaf_median`.
            median_weight: Weight of the leaf median in the prediction (needs ``training_rows`` when above 0).
            **model_kwargs: Arguments of :class:`CompositionForestTc` other than the tree layout.
        """
        trees = [e.tree_ for e in getattr(estimator, "estimators_", [])]
        if not trees:
            raise ValueError(f"{type(estimator).__name__} has no fitted trees (call fit first)")
        if trees[0].n_outputs != 1:
            raise ValueError(f"only single-output forests can be copied, got {trees[0].n_outputs} outputs")
        leaves = None
        if training_rows is not None:
            x, y = (np.asarray(a) for a in training_rows)
            if x.ndim != 2 or y.shape != (len(x),) or len(x) == 0:
                raise ValueError(f"training_rows: need [n, n_features] and [n] arrays, got {x.shape} and {y.shape}")
            if x.shape[1] != estimator.n_features_in_:
                raise ValueError(
                    f"training_rows have {x.shape[1]} features; the forest was fitted on {estimator.n_features_in_}"
                )
            leaves = estimator.apply(x)  # [n, n_trees] leaf node of each row in each tree
        model = cls(
            **model_kwargs,
            tree_sizes=[t.node_count for t in trees],
            max_depth=max(t.max_depth for t in trees),
            n_leaf_targets=0 if leaves is None else leaves.size,
            median_weight=median_weight,
        )
        n_features = composition_statistics_width(model.descriptors.shape[1])
        if estimator.n_features_in_ != n_features:
            raise ValueError(
                f"the forest was fitted on {estimator.n_features_in_} features; this model's composition "
                f"statistics have {n_features}"
            )
        columns: dict[str, list[np.ndarray]] = {"feature": [], "split_or_value": [], "leaf_targets": []}
        for k, tree in enumerate(trees):
            leaf = tree.children_left < 0
            inner = np.flatnonzero(~leaf)
            if not np.array_equal(tree.children_left[inner], inner + 1):
                raise ValueError(f"tree {k} is not in depth-first order (grown with max_leaf_nodes?): cannot copy it")
            count = np.zeros(tree.node_count, dtype=np.int64)
            if leaves is not None:
                # Rows sorted by leaf (node order), then by ln Tc within a leaf.
                columns["leaf_targets"].append(y[np.lexsort((y, leaves[:, k]))])
                count = np.bincount(leaves[:, k], minlength=tree.node_count)
                if empty := np.flatnonzero(leaf & (count == 0)).size:
                    raise ValueError(
                        f"training_rows leave {empty} leaves of tree {k} empty: not the rows the forest was fitted on"
                    )
                if count.max() > MAX_LEAF_TARGETS:
                    raise ValueError(
                        f"a leaf of tree {k} holds {count.max()} training rows; at most {MAX_LEAF_TARGETS} are stored"
                    )
            columns["feature"].append(np.where(leaf, LEAF - count, tree.feature))
            columns["split_or_value"].append(np.where(leaf, tree.value[:, 0, 0], float32_at_most(tree.threshold)))
        dtypes = {"feature": torch.int16, "split_or_value": torch.float32, "leaf_targets": torch.float16}
        state = {n: torch.as_tensor(np.concatenate(v)).to(dtypes[n]) for n, v in columns.items() if v}
        model.load_state_dict({**model.state_dict(), **state})
        return model.eval()

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return len(self.roots)

    def _layout(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``feature``, right children, first stored target and target count of every node, all int64.

        Rebuilt from the stored tensors (:func:`preorder_layout`, about 20 ms for half a million nodes) only when they
        change. The same tensor unchanged since (same storage and version counter) is told at once; weights loaded
        again (an ensemble's members take theirs in turn) are compared with the cached copy.
        """
        try:
            key = (self.feature.data_ptr(), self.feature._version, self.feature.device, len(self.leaf_targets))
        except RuntimeError:  # tensors made under torch.inference_mode keep no version counter
            key = None
        cached = getattr(self, "_layout_cache", None)  # (key, feature, number of targets, layout)
        if key is not None and cached is not None and cached[0] == key:
            return cached[3]
        if (
            cached is None
            or cached[1].shape != self.feature.shape
            or cached[1].device != self.feature.device
            or cached[2] != len(self.leaf_targets)
            or not torch.equal(cached[1], self.feature)
        ):
            layout = preorder_layout(self.feature, self._init_args["tree_sizes"], len(self.leaf_targets))
            cached = (key, self.feature.clone(), len(self.leaf_targets), (self.feature.long(), *layout))
        self._layout_cache = (key, *cached[1:])
        return cached[3]

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:
        """Check the loaded leaf pattern now, not at the first prediction; read files saved with 10-byte nodes too.

        Those (saved before 2026-12-07) stored an int32 ``right``: each internal node's right child, and each leaf's
        first target, its targets ending where the next leaf's begin. It becomes the leaves' target counts.
        """
        right = state_dict.pop(prefix + "right", None)
        if right is not None and prefix + "feature" in state_dict:
            feature = state_dict[prefix + "feature"].long()
            leaf = torch.nonzero(feature < 0).flatten()
            n_targets = len(state_dict.get(prefix + "leaf_targets", ()))
            first = right.long()[leaf]
            end = torch.tensor([n_targets], device=first.device)
            count = torch.cat([first[1:], end]) - first if n_targets else torch.zeros_like(first)
            if bool((count < 0).any() | (count > MAX_LEAF_TARGETS).any()):
                error_msgs.append(f"{prefix}right: leaf target offsets out of order or too far apart")
                return
            feature[leaf] = LEAF - count
            state_dict[prefix + "feature"] = feature.to(torch.int16)
        errors_before = len(error_msgs)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        if len(error_msgs) == errors_before:
            try:
                self._layout()
            except ValueError as error:
                error_msgs.append(f"{prefix}feature: {error}")

    def leaf_nodes(self, statistics: torch.Tensor) -> torch.Tensor:
        """``[n, n_trees]`` the leaf (row of the node tensors) that each tree sends each statistics row to."""
        x = torch.as_tensor(statistics, dtype=torch.float32)
        if not bool(torch.isfinite(x).all()):
            rows = torch.nonzero(~torch.isfinite(x).all(-1)).flatten().tolist()
            raise ValueError(f"composition statistics of rows {rows[:10]} are not finite")
        node = self.roots.expand(len(x), -1).clone()
        feature, right, _, _ = self._layout()
        for _ in range(self.max_depth):  # every path ends at a leaf within max_depth steps
            f = feature[node]
            inner = f >= 0
            if not bool(inner.any()):
                break
            goes_left = x.gather(1, f.clamp_min(0)) <= self.split_or_value[node]
            node = torch.where(inner, torch.where(goes_left, node + 1, right[node]), node)
        return node

    def tree_predictions(self, statistics: torch.Tensor) -> torch.Tensor:
        """``[n, n_trees]`` ln Tc of every tree for ``[n, n_statistics]`` composition statistics."""
        return self.split_or_value[self.leaf_nodes(statistics)]

    def leaf_median(self, statistics: torch.Tensor) -> torch.Tensor:
        """``[n]`` weighted median ln Tc of the training rows that share a leaf with each statistics row.

        A training row in a leaf of ``m`` rows weighs ``1 / (m * n_trees)`` (Meinshausen's quantile regression
        forest), so the weighted mean of these rows is the trees' mean; the median is the first value, in
        increasing order, at which the cumulative weight reaches one half.
        """
        return self._median_in_leaves(self.leaf_nodes(statistics))

    def _median_in_leaves(self, nodes: torch.Tensor) -> torch.Tensor:
        """:meth:`leaf_median` of the rows whose leaves are ``nodes`` (``[n, n_trees]``)."""
        if not len(self.leaf_targets):
            raise ValueError("this forest was copied without its training rows: it has no leaf targets")
        (n, n_trees), device = nodes.shape, nodes.device
        start, count = (t[nodes].flatten() for t in self._layout()[2:])
        # One entry per (row, tree, stored target of that tree's leaf).
        pair = torch.repeat_interleave(torch.arange(n * n_trees, device=device), count)
        offset = torch.arange(len(pair), device=device) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
        value = self.leaf_targets[start[pair] + offset].double()
        weight = 1.0 / (count[pair].double() * n_trees)
        row = pair // n_trees
        order = torch.argsort(value, stable=True)
        order = order[torch.argsort(row[order], stable=True)]  # by row, increasing value within a row
        cumulative = torch.cumsum(weight[order], 0)
        row_start = torch.cumsum(torch.bincount(row, minlength=n), 0) - torch.bincount(row, minlength=n)
        before = torch.cat([torch.zeros(1, dtype=torch.float64, device=device), cumulative])[row_start]
        reached = (cumulative - before[row[order]]) >= 0.5 - 1e-9
        # The first entry of each row that reaches one half: reached entries keep their position, the rest sort last.
        position = torch.where(reached, torch.arange(len(order), device=device), torch.full_like(order, len(order)))
        first = torch.full((n,), len(order), dtype=torch.long, device=device)
        first = first.scatter_reduce(0, row[order], position, "amin")
        return value[order][first].float()

    def predict_statistics(self, statistics: torch.Tensor) -> torch.Tensor:
        """ln(Tc / K) ``[n]`` of ``[n, n_statistics]`` composition statistics.

        The mean over trees, averaged with :meth:`leaf_median` by ``median_weight``.
        """
        return self.predict_statistics_and_trees(statistics)[0]

    def predict_statistics_and_trees(self, statistics: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`predict_statistics` ``[n]`` and :meth:`tree_predictions` ``[n, n_trees]`` (float64).

        The trees are walked once for both.
        """
        nodes = self.leaf_nodes(statistics)
        trees = self.split_or_value[nodes].double()
        prediction = trees.mean(-1).float()
        if self.median_weight > 0:
            prediction = (1 - self.median_weight) * prediction + self.median_weight * self._median_in_leaves(nodes)
        return prediction, trees

    @torch.no_grad()
    def predict_graphs_and_variance(
        self, graphs: Sequence[tuple[Data, torch.Tensor]], batch_size: int = 16
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """ln(Tc / K) of ``(graph, lattice)`` pairs and the (unbiased) variance of the trees' predictions.

        The first is :meth:`predict_graphs`'s; both are ``[len(graphs)]``. The variance is about the trees' mean,
        with or without a leaf median in the prediction (what the shipped gate and calibration were fitted on).

        A :class:`~matgl_supercon.models.TcEnsemble` adds this variance to the spread between its members: on
        held-out SuperCon3D structures the trees' spread ranks the errors far better than the members'
        disagreement does (the shipped model card).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if not graphs:
            return torch.zeros(0), torch.zeros(0)
        # The statistics in batches (each holds a [batch, elements, descriptors] table), the walk in larger chunks.
        statistics = torch.cat(
            [
                self.graph_composition_statistics([g for g, _ in graphs[start : start + batch_size]])
                for start in range(0, len(graphs), batch_size)
            ]
        )
        means, variances = [], []
        for start in range(0, len(statistics), WALK_ROWS):
            prediction, trees = self.predict_statistics_and_trees(statistics[start : start + WALK_ROWS])
            means.append(prediction)
            variances.append(trees.var(-1).float() if self.n_trees > 1 else torch.zeros(len(trees)))
        return torch.cat(means), torch.cat(variances)

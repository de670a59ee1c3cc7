"""CompositionForestTc: a tree ensemble on composition statistics, stored as tensors and loaded without pickle.

On SuperCon3D, trees fitted on composition statistics plus the formula-only SuperCon table are the most accurate
single predictor we measured (``benchmarks/results/composition_forest.md``); the networks gain little from the
same table. A fitted scikit-learn forest is a pickle, which must never be loaded from untrusted bytes, so this
module copies its trees into tensors: a :class:`CompositionForestTc` is a MatGL model like the others
(``model.save(dir)``, ``matgl.load_model(dir)``, ``torch.load(..., weights_only=True)`` underneath), reads the same
graphs and can be a member of a :class:`~matgl_supercon.models.TcEnsemble`.
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

#: ``feature`` of a leaf node (scikit-learn's ``TREE_UNDEFINED`` is -2; any negative value marks a leaf here).
LEAF = -1


def float32_at_most(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 values not above float64 thresholds.

    scikit-learn compares float32 features with float64 thresholds; for a float32 ``x``, ``x <= t`` holds exactly
    when ``x <= float32_at_most(t)``, so the tensors make the same decisions as the fitted trees.
    """
    rounded = threshold.astype(np.float32)
    return np.where(rounded > threshold, np.nextafter(rounded, np.float32(-np.inf)), rounded).astype(np.float32)


class CompositionForestTc(CompositionStatisticsTcModel, MatGLModel):
    """Mean of regression trees on composition statistics (ln Tc), as a MatGL model.

    Build it from a fitted scikit-learn forest with :meth:`from_estimator` or train it with
    :func:`matgl_supercon.training.fit_composition_forest`. It reads the composition statistics CompositionTc
    reads (:func:`~matgl_supercon.models._tc_model.composition_statistics` of the site occupancies, valence
    descriptors included, and by default the properties of each element's solid and DFT ground state), so its
    predictions follow fractional occupancies and are blind to the structure; ``cutoff`` and ``max_neighbors`` only
    set the converter an ensemble shares.
    """

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
        tree_sizes: Sequence[int] = (1,),
        max_depth: int = 0,
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
            tree_sizes: Node count of each tree (set by :meth:`from_estimator`).
            max_depth: Depth of the deepest tree (set by :meth:`from_estimator`).
        """
        super().__init__()
        tree_sizes = [int(n) for n in tree_sizes]
        if not tree_sizes or min(tree_sizes) < 1:
            raise ValueError(f"tree_sizes: need at least one tree of at least one node, got {tree_sizes}")
        if max_depth < 0:
            raise ValueError(f"max_depth must be >= 0, got {max_depth}")
        self.save_args(locals())
        self._init_args["tree_sizes"] = tree_sizes  # plain ints, whatever sequence was passed
        self.element_types = tuple(element_types)
        self.cutoff = float(cutoff)
        self.max_neighbors = max_neighbors
        self.max_depth = int(max_depth)
        self.register_buffer(
            "descriptors",
            element_descriptors(self.element_types, valence_descriptors, solid_descriptors, ground_state_descriptors),
        )
        n_nodes = sum(tree_sizes)
        self.register_buffer("roots", torch.tensor(np.cumsum([0, *tree_sizes[:-1]]), dtype=torch.long))
        # One node per row, trees one after the other, in scikit-learn's depth-first order: an internal node's left
        # child is the next row and ``right`` holds the absolute row of its right child. ``split_or_value`` is an
        # internal node's threshold (go left when the feature value is <= it) and a leaf's ln Tc; ``feature`` is
        # the split's column or LEAF. 10 bytes per node, so that ten fold forests fit in a shipped package.
        self.register_buffer("feature", torch.full((n_nodes,), LEAF, dtype=torch.int16))
        self.register_buffer("right", torch.zeros(n_nodes, dtype=torch.int32))
        self.register_buffer("split_or_value", torch.zeros(n_nodes, dtype=torch.float32))
        self.init_target_scaling(0.0, 1.0)  # trees predict ln Tc itself; kept for the shared mixin

    @classmethod
    def from_estimator(cls, estimator, **model_kwargs) -> CompositionForestTc:
        """Copy a fitted scikit-learn ``RandomForestRegressor`` or ``ExtraTreesRegressor`` (one output).

        The estimator must have been fitted on this model's :meth:`graph_composition_statistics` (same
        ``element_types`` and descriptor options). Predictions then equal ``estimator.predict`` up to float32
        rounding of the leaf values.

        Args:
            estimator: The fitted forest.
            **model_kwargs: Arguments of :class:`CompositionForestTc` other than the tree layout.
        """
        trees = [e.tree_ for e in getattr(estimator, "estimators_", [])]
        if not trees:
            raise ValueError(f"{type(estimator).__name__} has no fitted trees (call fit first)")
        if trees[0].n_outputs != 1:
            raise ValueError(f"only single-output forests can be copied, got {trees[0].n_outputs} outputs")
        model = cls(**model_kwargs, tree_sizes=[t.node_count for t in trees], max_depth=max(t.max_depth for t in trees))
        n_features = composition_statistics_width(model.descriptors.shape[1])
        if estimator.n_features_in_ != n_features:
            raise ValueError(
                f"the forest was fitted on {estimator.n_features_in_} features; this model's composition "
                f"statistics have {n_features}"
            )
        columns: dict[str, list[np.ndarray]] = {"feature": [], "right": [], "split_or_value": []}
        for k, (offset, tree) in enumerate(zip(model.roots.tolist(), trees, strict=True)):
            leaf = tree.children_left < 0
            inner = np.flatnonzero(~leaf)
            if not np.array_equal(tree.children_left[inner], inner + 1):
                raise ValueError(f"tree {k} is not in depth-first order (grown with max_leaf_nodes?): cannot copy it")
            columns["feature"].append(np.where(leaf, LEAF, tree.feature))
            columns["right"].append(np.where(leaf, 0, tree.children_right + offset))
            columns["split_or_value"].append(np.where(leaf, tree.value[:, 0, 0], float32_at_most(tree.threshold)))
        dtypes = {"feature": torch.int16, "right": torch.int32, "split_or_value": torch.float32}
        state = {n: torch.as_tensor(np.concatenate(v)).to(dtypes[n]) for n, v in columns.items()}
        model.load_state_dict({**model.state_dict(), **state})
        return model.eval()

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return len(self.roots)

    def _int64_layout(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``feature`` and ``right`` as int64 for indexing, converted once per change of the stored tensors.

        They are stored narrow (the file size); converting a few million nodes on every call of a 16-structure batch
        costs more than walking the trees.
        """
        try:
            key = tuple((t.data_ptr(), t._version, t.device) for t in (self.feature, self.right))
        except RuntimeError:  # tensors made under torch.inference_mode keep no version counter
            return self.feature.long(), self.right.long()
        if getattr(self, "_int64_key", None) != key:
            self._int64_key, self._int64 = key, (self.feature.long(), self.right.long())
        return self._int64

    def tree_predictions(self, statistics: torch.Tensor) -> torch.Tensor:
        """``[n, n_trees]`` ln Tc of every tree for ``[n, n_statistics]`` composition statistics."""
        x = torch.as_tensor(statistics, dtype=torch.float32)
        if not bool(torch.isfinite(x).all()):
            rows = torch.nonzero(~torch.isfinite(x).all(-1)).flatten().tolist()
            raise ValueError(f"composition statistics of rows {rows[:10]} are not finite")
        node = self.roots.expand(len(x), -1).clone()
        feature, right = self._int64_layout()
        for _ in range(self.max_depth):  # every path ends at a leaf within max_depth steps
            f = feature[node]
            inner = f >= 0
            if not bool(inner.any()):
                break
            goes_left = x.gather(1, f.clamp_min(0)) <= self.split_or_value[node]
            node = torch.where(inner, torch.where(goes_left, node + 1, right[node]), node)
        return self.split_or_value[node]

    def predict_statistics(self, statistics: torch.Tensor) -> torch.Tensor:
        """ln(Tc / K) ``[n]`` of ``[n, n_statistics]`` composition statistics (the mean over trees)."""
        return self.tree_predictions(statistics).double().mean(-1).float()

    @torch.no_grad()
    def predict_graphs_and_variance(
        self, graphs: Sequence[tuple[Data, torch.Tensor]], batch_size: int = 16
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """ln(Tc / K) of ``(graph, lattice)`` pairs and the (unbiased) variance of the trees' predictions about it.

        The first is :meth:`predict_graphs`'s; both are ``[len(graphs)]``.

        A :class:`~matgl_supercon.models.TcEnsemble` adds this variance to the spread between its members: on
        held-out SuperCon3D structures the trees' spread ranks the errors far better than the members'
        disagreement does (the shipped model card).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        means, variances = [torch.zeros(0)], [torch.zeros(0)]
        for start in range(0, len(graphs), batch_size):
            statistics = self.graph_composition_statistics([g for g, _ in graphs[start : start + batch_size]])
            trees = self.tree_predictions(statistics).double()
            means.append(trees.mean(-1).float())
            variances.append(trees.var(-1).float() if self.n_trees > 1 else torch.zeros(len(trees)))
        return torch.cat(means), torch.cat(variances)

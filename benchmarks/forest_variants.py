"""More ways to improve the members' extra trees: neighbours' Tc as inputs, robust means, and their size budget.

Usage:
    python benchmarks/forest_variants.py --data ../shared/data [--folds 0 1 2] [--threads 2]

Paper protocol, regime ``all`` (10 folds 8:1:1, ln Tc, MAE in ln K). Every row grows the shipped
``CompositionForestTc`` members' forest with 200 trees instead of 30 (so that a difference of a few thousandths is
not the trees' seed) on their inputs: the composition statistics of the fold's training and validation structures
and of every formula-table row at least ``SAME_COMPOUND_DISTANCE`` (atom-fraction L1) from its test compounds (the
``compound`` scope of :func:`matgl_supercon.data.held_out_extra_rows`, the members' since the evening of
2026-12-06; until then this script used the ``system`` scope, whose report is in the git history). Each row
changes one thing:

- **neighbour Tc**: each row also gets the ln Tc of its ``N_NEIGHBOURS`` nearest rows of that training set (L1
  distance between atom fractions), the distances, and their inverse-distance weighted mean (as a k-nearest-
  neighbour regressor would predict). No row sees a row within ``SAME_COMPOUND_DISTANCE`` of its own composition,
  itself included: a test structure never has one among the formula rows, so a training row must not either.
  **Other chemical systems only**: the same, but no row sees any row of its own chemical system.
- **median of the trees**, **20% trimmed mean of the trees**: the forest's prediction for a test structure is the
  median (or the mean of the middle 60%) of its trees' predictions instead of their mean; the metric is an MAE,
  which a median serves better than a mean when the trees disagree.
- **mean of the trees and leaf median, averaged**: the same trees copied into a ``CompositionForestTc`` with their
  leaves' training targets; the prediction is the mean of the trees averaged with the weighted median of the
  training rows that share a leaf with the test structure (a quantile regression forest's median; the members'
  prediction since the night of 2026-12-06, ``CompositionForestConfig.median_weight``).
- **absolute-error splits**: the same 200 trees' settings, but each split lowers the rows' absolute error about
  their median instead of their squared error about their mean (``CompositionForestConfig.criterion``), so that the
  splits serve an MAE as the leaf median does; the trees' mean, and their mean averaged with their leaf median.
- **N trees, leaves of at least L rows**: the shipped members' size budget (about 3 MB, 300,000-340,000 nodes per
  fold) spent on fewer, deeper trees or on more, shallower ones (``SIZE_BUDGET``); the node counts are reported.

Each fold's rows go to ``--out/fold_K.json`` as they finish (a rerun skips finished folds, and a fresh ``--out``
starts from the committed report's folds; a fold that lacks a row added since is run again); the report, with
per-family and ordered/disordered MAE over all test predictions, is ``benchmarks/results/forest_variants.{json,md}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _report import header_lines, provenance, write_report
from forest_inputs import (
    N_TREES,
    FoldData,
    compared_table,
    finished_folds,
    fit_predict,
    fold_arguments,
    row_range,
    save_fold,
    unfinished_folds,
)
from scipy.spatial.distance import cdist

from matgl_supercon.data import SAME_COMPOUND_DISTANCE, chemical_system
from matgl_supercon.models import CompositionForestTc
from matgl_supercon.training import CompositionForestConfig, fit_composition_forest

RESULTS = Path(__file__).parent / "results"
N_NEIGHBOURS = 10
#: Neighbours whose ln Tc and distance are columns of their own (all ``N_NEIGHBOURS`` enter the weighted mean).
N_LISTED = 5
#: Added to each distance before inverting it, so that a near neighbour does not take all the weight.
DISTANCE_FLOOR = 0.02
#: (trees, minimum rows per leaf) near the shipped members' size; the members' own (30, 2) first.
SIZE_BUDGET = ((30, 2), (45, 3), (60, 4), (90, 6))
ROWS = (
    "mean of the trees",
    "neighbour Tc",
    "neighbour Tc, other chemical systems only",
    "median of the trees",
    "20% trimmed mean of the trees",
    "mean of the trees and leaf median, averaged",
    "absolute-error splits, mean of the trees",
    "absolute-error splits, mean of the trees and leaf median, averaged",
    *(f"{n} trees, leaves of at least {leaf} rows" for n, leaf in SIZE_BUDGET),
)
#: The rows that spend the size budget otherwise (after the rows that change how the 200 trees predict).
BUDGET_ROWS = ROWS[-len(SIZE_BUDGET) :]


def neighbour_features(
    queries: np.ndarray,
    query_systems: np.ndarray,
    memory: np.ndarray,
    memory_ln_tc: np.ndarray,
    memory_systems: np.ndarray,
    other_systems_only: bool = False,
) -> np.ndarray:
    """The neighbour columns of the module docstring, one row per query.

    Args:
        queries: ``[q, n_elements]`` atom fractions.
        query_systems: ``[q]`` chemical system ids.
        memory: ``[m, n_elements]`` atom fractions of the training rows.
        memory_ln_tc: ``[m]`` their ln Tc.
        memory_systems: ``[m]`` their chemical system ids.
        other_systems_only: Skip every row of the query's chemical system.

    Returns:
        ``[q, 2 * N_LISTED + 1]``: the nearest ``N_LISTED`` ln Tc, their distances, the weighted mean of
        ``N_NEIGHBOURS``.
    """
    columns = []
    for start in range(0, len(queries), 512):
        block = slice(start, start + 512)
        distance = cdist(queries[block], memory, "cityblock")
        if other_systems_only:
            distance[query_systems[block, None] == memory_systems[None, :]] = np.inf
        distance[distance < SAME_COMPOUND_DISTANCE] = np.inf  # the row itself too, when the queries are the memory
        nearest = np.argpartition(distance, N_NEIGHBOURS, axis=1)[:, :N_NEIGHBOURS]
        order = np.argsort(np.take_along_axis(distance, nearest, axis=1), axis=1)
        nearest = np.take_along_axis(nearest, order, axis=1)
        d = np.take_along_axis(distance, nearest, axis=1)
        ln_tc = memory_ln_tc[nearest]
        weight = 1.0 / (d + DISTANCE_FLOOR)
        weighted = (weight * ln_tc).sum(axis=1, keepdims=True) / weight.sum(axis=1, keepdims=True)
        columns.append(np.hstack([ln_tc[:, :N_LISTED], d[:, :N_LISTED], weighted]))
    return np.vstack(columns)


def grown(
    x: np.ndarray, y: np.ndarray, seed: int, threads: int, median_weight: float = 0.0, **settings: int | str
) -> tuple[CompositionForestTc, int]:
    """The members' forest with ``N_TREES`` trees (or ``settings``' changes) grown as the package grows its members,
    and its node count.

    The neighbour rows' inputs go beside the statistics, which a :class:`~matgl_supercon.models.CompositionForestTc`
    cannot read: those forests are grown in scikit-learn (:func:`forest_inputs.fit_predict`, the same settings).
    """
    config = CompositionForestConfig(
        **{"n_estimators": N_TREES, **settings}, seed=seed, n_jobs=threads, median_weight=median_weight
    )
    model, summary = fit_composition_forest((x, y), config=config)
    return model, summary["nodes"]


def predicted(model: CompositionForestTc, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``model``'s prediction ``[n]`` and its trees' ``[n_trees, n]``, float64."""
    prediction, trees = model.predict_statistics_and_trees(x)
    return prediction.numpy().astype(np.float64), trees.numpy().T


def trimmed_mean(per_tree: np.ndarray, cut: float = 0.2) -> np.ndarray:
    """Mean over trees (axis 0) of the predictions left after dropping the ``cut`` lowest and highest."""
    k = round(cut * len(per_tree))
    return np.sort(per_tree, axis=0)[k : len(per_tree) - k].mean(axis=0)


def main() -> None:
    args = fold_arguments(__doc__, "runs/forest_variants")
    data = FoldData.load(args.data)
    records, y = data.records, data.y
    x, formula_x = data.member_statistics()
    fractions, formula_fractions = data.fractions, data.formula_fractions
    system_ids: dict[frozenset[str], int] = {}
    formula_system_ids = np.array([system_ids.setdefault(s, len(system_ids)) for s in data.formula_systems])
    system_of = np.array([system_ids.setdefault(chemical_system(r.structure), len(system_ids)) for r in records])
    out = Path(args.out)
    for k, path, train, val, test in unfinished_folds(data, args.folds, out, RESULTS / "forest_variants.json", ROWS):
        fit, rows = data.member_rows(train, val, test)
        x_fit = np.vstack([x[fit], formula_x[rows]])
        target = np.concatenate([y[fit], data.formula_y[rows]])
        memory = (
            np.vstack([fractions[fit], formula_fractions[rows]]),
            target,
            np.concatenate([system_of[fit], formula_system_ids[rows]]),
        )
        # One forest gives the rows that differ only in how its 200 trees predict.
        with_median, per_tree = predicted(grown(x_fit, target, k, args.threads, median_weight=0.5)[0], x[test])
        predictions = {ROWS[0]: per_tree.mean(axis=0)}
        for name, other_systems_only in ((ROWS[1], False), (ROWS[2], True)):
            columns = neighbour_features(memory[0], memory[2], *memory, other_systems_only)
            test_columns = neighbour_features(fractions[test], system_of[test], *memory, other_systems_only)
            predictions[name], _ = fit_predict(
                np.hstack([x_fit, columns]), target, np.hstack([x[test], test_columns]), k, args.threads
            )
        predictions[ROWS[3]] = np.median(per_tree, axis=0)
        predictions[ROWS[4]] = trimmed_mean(per_tree)
        predictions[ROWS[5]] = with_median
        absolute = grown(x_fit, target, k, args.threads, median_weight=0.5, criterion="absolute_error")[0]
        absolute_with_median, absolute_trees = predicted(absolute, x[test])
        predictions[ROWS[6]], predictions[ROWS[7]] = absolute_trees.mean(axis=0), absolute_with_median
        nodes = {}
        for name, (n_trees, leaf) in zip(BUDGET_ROWS, SIZE_BUDGET, strict=True):
            budget, nodes[name] = grown(x_fit, target, k, args.threads, n_estimators=n_trees, min_samples_leaf=leaf)
            predictions[name] = predicted(budget, x[test])[0]
        save_fold(path, [data.ids[i] for i in test], len(rows), y[test], predictions, k, nodes=nodes)
    per_fold = finished_folds(out)
    nodes = {k: f["nodes"] for k, f in per_fold.items()}
    node_cells = {name: row_range(nodes, name) if name in BUDGET_ROWS else "–" for name in ROWS}
    summary, table = compared_table(per_fold, records, y, ROWS, "forest", {"nodes per fold": node_cells})
    meta = provenance("python benchmarks/forest_variants.py --data ../shared/data", f"{args.threads} jobs")
    lines = [
        *header_lines(
            "Neighbours' Tc as inputs, robust means and size budgets of the trees (SuperCon3D all/all)", meta
        ),
        f"{len(per_fold)} folds; {N_TREES} extra trees (the last rows: as many as named), leaves of at least 2 rows "
        "(the last rows: as named), half the features per split, on the shipped members' composition statistics of "
        "each fold's training and validation structures and of its "
        f"{row_range(per_fold, 'formula_rows')} formula rows at least {SAME_COMPOUND_DISTANCE} (atom-fraction L1) "
        f"from its test compounds; neighbour Tc: the {N_LISTED} nearest ln Tc and distances and the "
        f"inverse-distance weighted mean of the {N_NEIGHBOURS} nearest, never a row within {SAME_COMPOUND_DISTANCE} "
        "of the row's own composition. Family and order columns: MAE ln K over every fold's test structures. The "
        "last column counts the folds on which the row's MAE is below the first row's.",
        "",
        *table,
    ]
    write_report(RESULTS / "forest_variants", {"meta": meta, "summary": summary, "folds": per_fold}, lines)


if __name__ == "__main__":
    main()

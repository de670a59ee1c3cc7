"""Two more ways to improve the members' extra trees: their neighbours' Tc as inputs, and a robust mean of the trees.

Usage:
    python benchmarks/forest_variants.py --data ../shared/data [--folds 0 1 2] [--threads 2]

Paper protocol, regime ``all`` (10 folds 8:1:1, ln Tc, MAE in ln K). Every row grows the same forest as
``forest_inputs.py``'s first row (the shipped ``CompositionForestTc`` members' settings with 200 trees, on the
composition statistics of the fold's training structures and of the formula-table rows of every chemical system
outside its validation and test blocks) and changes one thing:

- **neighbour Tc**: each row also gets the ln Tc of its ``N_NEIGHBOURS`` nearest rows of that training set (L1
  distance between atom fractions), the distances, and their inverse-distance weighted mean (as a k-nearest-
  neighbour regressor would predict). A row never sees itself, a formula row of its own chemical system (a test
  structure's system has none), or a row of its own composition (the formula table holds most SuperCon3D
  compounds, so a formula row would otherwise read its own Tc off a training structure, which a test structure
  almost never can): a training row sees what a test row would. **Other chemical systems only**: the same, but
  no row (a test row included) sees any row of its own chemical system, structures included.
- **median of the trees**, **20% trimmed mean of the trees**: the forest's prediction for a test structure is the
  median (or the mean of the middle 60%) of its trees' predictions instead of their mean; the metric is an MAE,
  which a median serves better than a mean when the trees disagree.

Each fold's rows go to ``--out/fold_K.json`` as they finish (a rerun skips finished folds); the report, with
per-family and ordered/disordered MAE over all test predictions, is ``benchmarks/results/forest_variants.{json,md}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _report import header_lines, provenance, write_report
from composition_mlp import supercon3d_statistics
from composition_retrieval import records_statistics
from forest_inputs import N_TREES, compared_table, finished_folds, fold_arguments, row_range, save_fold
from scipy.spatial.distance import cdist

from matgl_supercon.data import chemical_system, extra_training_records, load_supercon3d, outside_chemical_systems
from matgl_supercon.graph import ALL_ELEMENTS
from matgl_supercon.training import CompositionForestConfig

RESULTS = Path(__file__).parent / "results"
N_NEIGHBOURS = 10
#: Neighbours whose ln Tc and distance are columns of their own (all ``N_NEIGHBOURS`` enter the weighted mean).
N_LISTED = 5
#: Added to each distance before inverting it, so that a near neighbour does not take all the weight.
DISTANCE_FLOOR = 0.02
#: Rows closer than this (L1 between atom fractions) hold the same compound; they are not each other's neighbours.
SAME_COMPOSITION = 1e-3
ROWS = (
    "mean of the trees (the members)",
    "neighbour Tc",
    "neighbour Tc, other chemical systems only",
    "median of the trees",
    "20% trimmed mean of the trees",
)


def atom_fractions(records: list) -> np.ndarray:
    """``[n, 103]`` atom fraction of every element (H to Lr) in each record's structure, partial occupancies too."""
    index = {symbol: i for i, symbol in enumerate(ALL_ELEMENTS)}
    out = np.zeros((len(records), len(ALL_ELEMENTS)))
    for i, record in enumerate(records):
        for symbol, fraction in record.structure.composition.fractional_composition.get_el_amt_dict().items():
            out[i, index[symbol]] += fraction
    return out


def neighbour_features(
    queries: np.ndarray,
    query_systems: np.ndarray,
    memory: np.ndarray,
    memory_ln_tc: np.ndarray,
    memory_systems: np.ndarray,
    memory_is_formula: np.ndarray,
    other_systems_only: bool = False,
) -> np.ndarray:
    """The neighbour columns of the module docstring, one row per query.

    Args:
        queries: ``[q, n_elements]`` atom fractions.
        query_systems: ``[q]`` chemical system ids.
        memory: ``[m, n_elements]`` atom fractions of the training rows.
        memory_ln_tc: ``[m]`` their ln Tc.
        memory_systems: ``[m]`` their chemical system ids.
        memory_is_formula: ``[m]`` True for a formula-table row.
        other_systems_only: Skip every row of the query's chemical system, structures included.

    Returns:
        ``[q, 2 * N_LISTED + 1]``: the nearest ``N_LISTED`` ln Tc, their distances, the weighted mean of
        ``N_NEIGHBOURS``.
    """
    columns = []
    for start in range(0, len(queries), 512):
        block = slice(start, start + 512)
        distance = cdist(queries[block], memory, "cityblock")
        own_system = query_systems[block, None] == memory_systems[None, :]
        distance[own_system if other_systems_only else own_system & memory_is_formula[None, :]] = np.inf
        distance[distance < SAME_COMPOSITION] = np.inf  # the row itself too, when the queries are the memory
        nearest = np.argpartition(distance, N_NEIGHBOURS, axis=1)[:, :N_NEIGHBOURS]
        order = np.argsort(np.take_along_axis(distance, nearest, axis=1), axis=1)
        nearest = np.take_along_axis(nearest, order, axis=1)
        d = np.take_along_axis(distance, nearest, axis=1)
        ln_tc = memory_ln_tc[nearest]
        weight = 1.0 / (d + DISTANCE_FLOOR)
        weighted = (weight * ln_tc).sum(axis=1, keepdims=True) / weight.sum(axis=1, keepdims=True)
        columns.append(np.hstack([ln_tc[:, :N_LISTED], d[:, :N_LISTED], weighted]))
    return np.vstack(columns)


def tree_predictions(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, seed: int, threads: int) -> np.ndarray:
    """``[N_TREES, n_test]``: each of the members' extra trees' prediction (their mean is the forest's)."""
    from sklearn.ensemble import ExtraTreesRegressor

    members = CompositionForestConfig()
    forest = ExtraTreesRegressor(
        n_estimators=N_TREES,
        min_samples_leaf=members.min_samples_leaf,
        max_features=members.max_features,
        random_state=seed,
        n_jobs=threads,
    ).fit(x, y)
    return np.stack([tree.predict(x_test) for tree in forest.estimators_])


def trimmed_mean(per_tree: np.ndarray, cut: float = 0.2) -> np.ndarray:
    """Mean over trees (axis 0) of the predictions left after dropping the ``cut`` lowest and highest."""
    k = round(cut * len(per_tree))
    return np.sort(per_tree, axis=0)[k : len(per_tree) - k].mean(axis=0)


def main() -> None:
    args = fold_arguments(__doc__, "runs/forest_variants")
    records = load_supercon3d(args.data)
    ids, y, statistics, folds = supercon3d_statistics(args.data, records)
    formulas = extra_training_records("formulas_new_systems", [], args.data)
    formula_x, formula_y = records_statistics(formulas)
    system_ids: dict[frozenset[str], int] = {}
    formula_systems = [chemical_system(r.structure) for r in formulas]
    formula_system_ids = np.array([system_ids.setdefault(s, len(system_ids)) for s in formula_systems])
    system_of = np.array([system_ids.setdefault(chemical_system(r.structure), len(system_ids)) for r in records])
    fractions, formula_fractions = atom_fractions(records), atom_fractions(formulas)
    out = Path(args.out)
    for k in args.folds:
        path = out / f"fold_{k}.json"
        if path.exists():
            continue
        train, val, test = (np.asarray(block) for block in folds[k])
        rows = np.asarray(outside_chemical_systems(formula_systems, [records[i] for i in (*val, *test)]))
        x = np.vstack([statistics[train], formula_x[rows]])
        target = np.concatenate([y[train], formula_y[rows]])
        memory = (
            np.vstack([fractions[train], formula_fractions[rows]]),
            target,
            np.concatenate([system_of[train], formula_system_ids[rows]]),
            np.concatenate([np.zeros(len(train), bool), np.ones(len(rows), bool)]),
        )
        per_tree = tree_predictions(x, target, statistics[test], seed=k, threads=args.threads)
        predictions = {ROWS[0]: per_tree.mean(axis=0)}
        for name, other_systems_only in ((ROWS[1], False), (ROWS[2], True)):
            columns = neighbour_features(memory[0], memory[2], *memory, other_systems_only)
            test_columns = neighbour_features(fractions[test], system_of[test], *memory, other_systems_only)
            predictions[name] = tree_predictions(
                np.hstack([x, columns]), target, np.hstack([statistics[test], test_columns]), k, args.threads
            ).mean(axis=0)
        predictions[ROWS[3]] = np.median(per_tree, axis=0)
        predictions[ROWS[4]] = trimmed_mean(per_tree)
        save_fold(path, [ids[i] for i in test], len(rows), y[test], predictions, k)
    per_fold = finished_folds(out)
    summary, table = compared_table(per_fold, records, y, ROWS, "forest")
    meta = provenance("python benchmarks/forest_variants.py --data ../shared/data", f"{args.threads} jobs")
    lines = [
        *header_lines("Neighbours' Tc as inputs, and robust means of the trees (SuperCon3D all/all)", meta),
        f"{len(per_fold)} folds; {N_TREES} extra trees, leaves of at least 2 rows, half the features per split, on "
        f"composition statistics and per fold {row_range(per_fold, 'formula_rows')} formula rows; neighbour Tc: the "
        f"{N_LISTED} nearest ln Tc and distances (L1 between atom fractions) and the inverse-distance weighted mean "
        f"of the {N_NEIGHBOURS} nearest, never a row of the same composition nor a formula row of its own chemical "
        "system. Family and order columns: MAE ln K over every fold's test structures. The last column counts the "
        "folds on which the row's MAE is below the first row's.",
        "",
        *table,
    ]
    write_report(RESULTS / "forest_variants", {"meta": meta, "summary": summary, "folds": per_fold}, lines)


if __name__ == "__main__":
    main()

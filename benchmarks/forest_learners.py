"""Other learners and settings on the shipped forests' own inputs: boosting, more features per split, Magpie columns.

Usage:
    python benchmarks/forest_learners.py --data ../shared/data [--folds 0 1 2] [--threads 2]

Paper protocol, regime ``all`` (10 folds 8:1:1, ln Tc, MAE in ln K). Every row trains on what the shipped
``CompositionForestTc`` members train on since 2026-12-06 (``composition_forest.py``): the composition statistics
of ``CompositionForestTc``'s default descriptor table, on each fold's training and validation blocks and on the
formula-only SuperCon rows of every chemical system outside its test block. The first row grows the members'
extra trees with 200 trees (``forest_inputs.fit_predict``); each other row changes one thing:

- **all features per split**, **three quarters of the features per split**: ``max_features`` 1.0 or 0.75 instead of
  the members' 0.5;
- **SuperCon3D rows weighted 3**: each SuperCon3D structure weighs three formula rows in the trees' splits and
  leaves (the formula table holds half as many sub-kelvin compounds as SuperCon3D: 7% against 15%);
- **a column marking the formula rows** (1 on them, 0 on the structures and on the test rows), so that the trees
  may tell the two sources apart;
- **+ Magpie columns**: matminer's 132 Magpie statistics (``magpie_features``: minimum, maximum, range, mean,
  average deviation and mode of 22 elemental properties) beside the members' statistics;
- **gradient boosting**: scikit-learn's ``HistGradientBoostingRegressor`` (``BOOSTING``: learning rate 0.05, 1,500
  rounds of 63-leaf trees, half the features per split, no early stopping) on the members' statistics;
- **mean of the extra trees and the boosting**: the two predictions averaged with equal weights, fixed beforehand.

Each fold's rows go to ``--out/fold_K.json`` as they finish (a rerun skips finished folds); the report, with
per-family and ordered/disordered MAE over all test predictions, is ``benchmarks/results/forest_learners.{json,md}``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from _report import header_lines, provenance, write_report
from forest_inputs import FoldData, compared_table, finished_folds, fit_predict, fold_arguments, row_range, save_fold

from matgl_supercon.benchmarks import magpie_features
from matgl_supercon.data import (
    outside_chemical_systems,
)

RESULTS = Path(__file__).parent / "results"
MEMBERS_ROW = "the members' extra trees (200)"
ROWS = (
    MEMBERS_ROW,
    "all features per split",
    "three quarters of the features per split",
    "SuperCon3D rows weighted 3",
    "a column marking the formula rows",
    "+ Magpie columns",
    "gradient boosting",
    "mean of the extra trees and the boosting",
)
#: ``HistGradientBoostingRegressor`` settings of the boosting row.
BOOSTING = {
    "learning_rate": 0.05,
    "max_iter": 1500,
    "max_leaf_nodes": 63,
    "min_samples_leaf": 5,
    "l2_regularization": 1.0,
    "max_features": 0.5,
    "early_stopping": False,
}
STRUCTURE_WEIGHT = 3.0


def boosting(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, seed: int) -> np.ndarray:
    """Test predictions of the ``BOOSTING`` model grown on ``(x, y)``."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(**BOOSTING, random_state=seed).fit(x, y).predict(x_test)


def main() -> None:
    args = fold_arguments(__doc__, "runs/forest_learners")
    data = FoldData.load(args.data)
    records, ids, y, folds = data.records, data.ids, data.y, data.folds
    formulas, formula_y, formula_systems = data.formulas, data.formula_y, data.formula_systems
    x, formula_x = data.member_statistics()
    magpie = magpie_features([r.structure for r in records])
    formula_magpie = magpie_features([r.structure for r in formulas])
    out = Path(args.out)
    for k in args.folds:
        path = out / f"fold_{k}.json"
        if path.exists():
            continue
        train, val, test = (np.asarray(block) for block in folds[k])
        fit = np.concatenate([train, val])
        rows = np.asarray(outside_chemical_systems(formula_systems, [records[i] for i in test]))
        x_fit, y_fit = np.vstack([x[fit], formula_x[rows]]), np.concatenate([y[fit], formula_y[rows]])
        is_formula = np.concatenate([np.zeros(len(fit)), np.ones(len(rows))])

        trees = partial(fit_predict, y=y_fit, seed=k, threads=args.threads)  # -> (predictions, node count)
        flagged_test = np.hstack([x[test], np.zeros((len(test), 1))])
        with_magpie = np.hstack([x_fit, np.vstack([magpie[fit], formula_magpie[rows]])])
        predictions = {
            MEMBERS_ROW: trees(x_fit, x_test=x[test])[0],
            ROWS[1]: trees(x_fit, x_test=x[test], max_features=1.0)[0],
            ROWS[2]: trees(x_fit, x_test=x[test], max_features=0.75)[0],
            ROWS[3]: trees(x_fit, x_test=x[test], sample_weight=np.where(is_formula == 1, 1.0, STRUCTURE_WEIGHT))[0],
            ROWS[4]: trees(np.hstack([x_fit, is_formula[:, None]]), x_test=flagged_test)[0],
            ROWS[5]: trees(with_magpie, x_test=np.hstack([x[test], magpie[test]]))[0],
            ROWS[6]: boosting(x_fit, y_fit, x[test], seed=k),
        }
        predictions[ROWS[7]] = (predictions[MEMBERS_ROW] + predictions[ROWS[6]]) / 2
        save_fold(path, [ids[i] for i in test], len(rows), y[test], predictions, k)
    per_fold = finished_folds(out)
    summary, table = compared_table(per_fold, records, y, ROWS, "learner")
    meta = provenance("python benchmarks/forest_learners.py --data ../shared/data", f"{args.threads} jobs")
    lines = [
        *header_lines("Other learners and settings on the shipped forests' inputs (SuperCon3D all/all)", meta),
        f"{len(per_fold)} folds; every row trains on the composition statistics of the fold's training and "
        f"validation structures and of {row_range(per_fold, 'formula_rows')} formula rows (chemical systems outside "
        "its test block). Family and order columns: MAE ln K over every fold's test structures. The last column "
        "counts the folds on which the row's MAE is below the first row's.",
        "",
        *table,
    ]
    write_report(RESULTS / "forest_learners", {"meta": meta, "summary": summary, "folds": per_fold}, lines)


if __name__ == "__main__":
    main()

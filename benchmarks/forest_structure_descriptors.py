"""Does the crystal structure help the best composition learner? Extra trees with and without geometry descriptors.

Usage:
    python benchmarks/forest_structure_descriptors.py --data ../shared/data [--folds 0 1 2] [--threads 2]

Paper protocol, regime ``all`` (10 folds 8:1:1, ln Tc, MAE in ln K). The learner is the shipped
``CompositionForestTc`` members' (extra trees, leaves of at least 2 rows, half the features tried per split) with
200 trees instead of 30, so that a difference of a few thousandths is not the trees' seed. Features: the
composition statistics SODNet's readout reads, alone or beside the 16 cell and neighbour descriptors of the
``-geo`` baselines (:func:`matgl_supercon.benchmarks.geometry_features`: atoms per volume, density,
nearest-neighbour distances, coordination, lattice ratios and angles, vacant and mixed site fractions). Each
with the formula-only SuperCon rows of every chemical system outside the fold's validation and test blocks (as
``composition_forest.py``) or without them. Formula rows have no structure: their geometry descriptors are
missing (NaN), which scikit-learn's trees route at every split to the side that fits best.

Each fold's rows go to ``--out/fold_K.json`` as they finish (a rerun skips finished folds); the report, with
per-family and ordered/disordered MAE over all test predictions, is
``benchmarks/results/forest_structure_descriptors.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _report import header_lines, provenance, write_report
from composition_forest import formula_rows
from composition_mlp import supercon3d_statistics

from matgl_supercon.benchmarks import fold_summary, geometry_features, grouped_mae, mae, r2
from matgl_supercon.data import load_supercon3d, outside_chemical_systems
from matgl_supercon.training import write_json_atomic

RESULTS = Path(__file__).parent / "results"
#: Row name: (geometry descriptors, formula table).
ROWS = {
    "composition + formula table": (False, True),
    "composition + geometry + formula table": (True, True),
    "composition": (False, False),
    "composition + geometry": (True, False),
}
N_TREES = 200
#: SuperCon3D's ``order`` labels, as the table's columns say them.
ORDER_COLUMNS = (("order", "ordered"), ("disorder", "disordered"))


def fit_predict(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, seed: int, threads: int) -> tuple[np.ndarray, int]:
    """Test predictions and node count of the members' extra trees (``N_TREES`` of them) grown on ``(x, y)``."""
    from sklearn.ensemble import ExtraTreesRegressor

    forest = ExtraTreesRegressor(
        n_estimators=N_TREES, min_samples_leaf=2, max_features=0.5, random_state=seed, n_jobs=threads
    ).fit(x, y)
    return forest.predict(x_test), sum(t.tree_.node_count for t in forest.estimators_)


def table_row(name: str, summary: dict, families: list[str]) -> str:
    """One markdown row: fold mean ± sd, R2, then the MAE of the ordered, disordered and each family's structures."""
    groups = [*(summary["order"][key] for key, _ in ORDER_COLUMNS), *(summary["family"][f] for f in families)]
    cells = [f"{summary['mae_mean']:.3f} ± {summary['mae_sd']:.3f}", f"{summary['r2_mean']:.3f}"]
    return f"| {name} | " + " | ".join(cells + [f"{g['mae']:.3f}" for g in groups]) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", nargs="*", type=int, default=list(range(10)))
    parser.add_argument("--out", default="runs/forest_structure_descriptors")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    records = load_supercon3d(args.data)
    ids, y, statistics, folds = supercon3d_statistics(args.data, records)
    geometry = geometry_features([r.structure for r in records])
    formula_x, formula_y, formula_systems = formula_rows(args.data)
    missing = np.full((len(formula_x), geometry.shape[1]), np.nan)
    out = Path(args.out)
    for k in args.folds:
        path = out / f"fold_{k}.json"
        if path.exists():
            continue
        train, val, test = folds[k]
        rows = outside_chemical_systems(formula_systems, [records[i] for i in (*val, *test)])
        result = {"ids": [ids[i] for i in test], "formula_rows": len(rows)}
        for name, (with_geometry, with_formulas) in ROWS.items():
            x = np.hstack([statistics, geometry]) if with_geometry else statistics
            x_train, y_train = x[train], y[train]
            if with_formulas:
                extra = np.hstack([formula_x, missing]) if with_geometry else formula_x
                x_train, y_train = np.vstack([x_train, extra[rows]]), np.concatenate([y_train, formula_y[rows]])
            p, nodes = fit_predict(x_train, y_train, x[test], seed=k, threads=args.threads)
            result[name] = {"mae": mae(y[test], p), "r2": r2(y[test], p), "y_pred": p.tolist(), "nodes": nodes}
            print(f"fold {k} {name}: {result[name]['mae']:.3f} ln K", flush=True)
        write_json_atomic(path, result)
    per_fold = {
        k: json.loads((out / f"fold_{k}.json").read_text()) for k in range(10) if (out / f"fold_{k}.json").exists()
    }
    position = {record.id: i for i, record in enumerate(records)}
    tested = [position[i] for f in per_fold.values() for i in f["ids"]]
    family = [records[i].metadata["family"] for i in tested]
    order = [records[i].metadata["order"] for i in tested]
    summary = {}
    for name in ROWS:
        p = np.concatenate([f[name]["y_pred"] for f in per_fold.values()])
        summary[name] = {
            "folds": list(per_fold),
            **fold_summary([{m: f[name][m] for m in ("mae", "r2")} for f in per_fold.values()]),
            "family": grouped_mae(y[tested], p, family),
            "order": grouped_mae(y[tested], p, order),
        }
    families = sorted(summary[next(iter(ROWS))]["family"])
    counts = summary[next(iter(ROWS))]["family"]
    orders = [(label, summary[next(iter(ROWS))]["order"][key]["n"]) for key, label in ORDER_COLUMNS]
    meta = provenance("python benchmarks/forest_structure_descriptors.py --data ../shared/data", f"{args.threads} jobs")
    lines = [
        *header_lines("Extra trees with and without geometry descriptors, SuperCon3D all/all", meta),
        f"{len(per_fold)} folds; {N_TREES} extra trees, leaves of at least 2 rows, half the features per split; "
        f"{statistics.shape[1]} composition statistics, {geometry.shape[1]} geometry descriptors (missing on the "
        f"{min(f['formula_rows'] for f in per_fold.values()):,}-{max(f['formula_rows'] for f in per_fold.values()):,}"
        " formula rows per fold). Family and order columns: MAE ln K over every fold's test structures.",
        "",
        "| features | MAE ln K | R2 | "
        + " | ".join(f"{g} ({n})" for g, n in [*orders, *((f, counts[f]["n"]) for f in families)])
        + " |",
        "|---|---|---|---|---|" + "---|" * len(families),
        *(table_row(n, s, families) for n, s in summary.items()),
    ]
    write_report(RESULTS / "forest_structure_descriptors", {"meta": meta, "summary": summary, "folds": per_fold}, lines)


if __name__ == "__main__":
    main()

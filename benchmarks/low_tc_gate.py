"""The shipped ensemble's low-Tc gate: where forests that know the non-superconductors read cold, listen to them.

Usage:
    python benchmarks/low_tc_gate.py --data ../shared/data [--folds 0 1 2] [--threads 2] [--save-members]

Without the gate the shipped ensemble reads too warm below 1 K: the 231 sub-kelvin structures of SuperCon3D carry a
third of its held-out error (MAE about 1.16 ln K, bias about +1 ln K; the model card). Forests that also grow on the
formula table's non-superconductors at a floor Tc (``non_superconductors.py``) read colder there, but worse
everywhere else (0.538 ln K against 0.499 with 200 trees). This script uses them only where they read cold.

Each fold grows one such forest (``NS_TREES`` extra trees, the members' other settings, the mean of the trees) on
the shipped forest members' rows (the fold's training and validation structures and the formula table's
superconductors 0.02 or more from its test compounds) and on the formula table's Tc = 0 compositions of the same
scope at ln ``FLOOR_K``, each weighing ``FLOOR_WEIGHT`` (``fit_composition_forest(..., extra_weights=...)``). The
rule, on top of the shipped ensemble's held-out predictions without it (``_ensemble_blend.shipped_held_out``,
``low_tc=False``): where that forest predicts ln Tc below a threshold, the prediction becomes ``(1 - w)`` × the
ensemble's + ``w`` × the forest's. Threshold (``_ensemble_blend.LOW_TC_THRESHOLDS``) and ``w`` (``LOW_TC_WEIGHTS``)
are picked for each fold on the other nine folds, so each fold's score is held out; the rule picked on all folds is
reported beside it.

With ``--save-members`` each fold's forest is also saved (``composition_retrieval.member_runs_dir(LOW_TC_VARIANT)``)
with its test predictions (``member_results_dir``), for ``make_pretrained.py`` to ship as the ``LowTcGate``'s group.

Each fold's forest predictions go to ``--out/fold_K.json`` as they finish (a rerun skips finished folds, and a fresh
``--out`` starts from the committed report's folds); the report, with per-family, ordered/disordered and sub-kelvin
MAE over all test structures, is ``benchmarks/results/low_tc_gate.{json,md}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _ensemble_blend import low_tc_cross_fitted, low_tc_rule, shipped_held_out
from _ensemble_members import LOW_TC_VARIANT
from _report import header_lines, provenance, write_report
from composition_retrieval import member_results_dir, member_runs_dir
from forest_inputs import (
    FoldData,
    finished_folds,
    fold_arguments,
    row_range,
    summarise,
    table_header,
    table_row,
    unfinished_folds,
)
from non_superconductors import non_superconductors

from matgl_supercon.benchmarks import mae, r2
from matgl_supercon.data import outside_compounds
from matgl_supercon.models import CompositionForestTc
from matgl_supercon.training import (
    CompositionForestConfig,
    fit_composition_forest,
    save_model_atomic,
    write_json_atomic,
)

RESULTS = Path(__file__).parent / "results"
#: The non-superconductors' floor Tc (K) and sample weight: ``non_superconductors.py``'s best rule with them all.
FLOOR_K = 0.5
FLOOR_WEIGHT = 0.1
#: Trees of the non-superconductor forest: the shipped members' count.
NS_TREES = 45
ROWS = ("the ensemble without the gate", "non-superconductor forest alone", "the ensemble with the low-Tc gate")


def grow_low_tc_forest(
    data: FoldData,
    x: np.ndarray,
    formula_x: np.ndarray,
    zero_x: np.ndarray,
    fit: np.ndarray,
    rows: np.ndarray,
    zeros: np.ndarray,
    seed: int,
    threads: int,
) -> tuple[CompositionForestTc, dict]:
    """One fold's low-Tc forest and its growing summary: ``NS_TREES`` trees (their mean, no leaf median) on the
    ``fit`` structures, the formula rows ``rows`` and the Tc = 0 compositions ``zeros`` at ``FLOOR_K``, each of those
    weighing ``FLOOR_WEIGHT``.

    Args:
        data: SuperCon3D and the formula table.
        x: The structures' composition statistics; ``formula_x``: the formula rows'; ``zero_x``: the Tc = 0
            compositions' (``non_superconductors``).
        fit: Structure indices to grow on; ``rows``: formula rows; ``zeros``: Tc = 0 compositions.
        seed: The trees' seed (the fold).
        threads: Threads for growing the trees.
    """
    config = CompositionForestConfig(n_estimators=NS_TREES, median_weight=0.0, seed=seed, n_jobs=threads)
    return fit_composition_forest(
        (x[fit], data.y[fit]),
        config=config,
        extra=(
            np.vstack([formula_x[rows], zero_x[zeros]]),
            np.concatenate([data.formula_y[rows], np.full(len(zeros), np.log(FLOOR_K))]),
        ),
        extra_weights=np.concatenate([np.ones(len(rows)), np.full(len(zeros), FLOOR_WEIGHT)]),
    )


def main() -> None:
    args = fold_arguments(__doc__, "runs/low_tc_gate", save_members="save the fold forests for make_pretrained.py")
    data = FoldData.load(args.data)
    records, y = data.records, data.y
    x, formula_x = data.member_statistics()
    zero_x, zero_fractions = non_superconductors(args.data)
    fractions = data.fractions
    out = Path(args.out)
    todo = list(unfinished_folds(data, args.folds, out, RESULTS / "low_tc_gate.json"))
    if args.save_members:  # a finished fold is grown again (the same seed: the same forest) to save its member
        todo = [
            (k, out / f"fold_{k}.json", *(np.asarray(block) for block in data.folds[k]))
            for k in args.folds
            if not (member_runs_dir(LOW_TC_VARIANT) / "all" / f"fold_{k}" / "model" / "model.json").exists()
        ]
    for k, path, train, val, test in todo:
        fit, rows = data.member_rows(train, val, test)
        zeros = np.asarray(outside_compounds(zero_fractions, fractions[test]))
        forest, summary = grow_low_tc_forest(data, x, formula_x, zero_x, fit, rows, zeros, k, args.threads)
        prediction = forest.predict_statistics(x[test]).numpy().astype(np.float64)
        print(f"fold {k}: non-superconductor forest {mae(y[test], prediction):.3f} ln K", flush=True)
        if args.save_members:
            member = member_runs_dir(LOW_TC_VARIANT) / "all" / f"fold_{k}" / "model"
            member.parent.mkdir(parents=True, exist_ok=True)
            save_model_atomic(forest, member)
            saved = {"ids": [data.ids[i] for i in test], "y_true": y[test].tolist(), "y_pred": prediction.tolist()}
            saved.update(mae=mae(y[test], prediction), r2=r2(y[test], prediction), epochs_run=None)  # trees: none
            write_json_atomic(member_results_dir(LOW_TC_VARIANT) / "all" / f"fold_{k}.json", saved)
        write_json_atomic(
            path,
            {
                "ids": [data.ids[i] for i in test],
                "formula_rows": len(rows),
                "non_superconductor_rows": len(zeros),
                "nodes": summary["nodes"],
                "y_pred": prediction.tolist(),
            },
        )
    per_fold = finished_folds(out)
    forest_by_id = {i: p for f in per_fold.values() for i, p in zip(f["ids"], f["y_pred"], strict=True)}
    held_out, ensemble_by_id = shipped_held_out(args.data, low_tc=False)
    ids = [i for i in held_out if i in forest_by_id]
    truth = np.array([held_out[i][0] for i in ids])
    fold = np.array([held_out[i][1] for i in ids])
    ensemble = np.array([ensemble_by_id[i] for i in ids])
    forest = np.array([forest_by_id[i] for i in ids])
    with_gate, picks = low_tc_cross_fitted(truth, ensemble, forest, fold)
    everywhere = low_tc_rule(truth, ensemble, forest)
    predictions = dict(zip(ROWS, (ensemble, forest, with_gate), strict=True))
    # The per-fold layout summarise reads: each row's MAE, R2 and test predictions, in each fold's id order.
    scored = {
        k: {
            "ids": [ids[j] for j in np.flatnonzero(fold == k)],
            **{
                name: {
                    "mae": mae(truth[fold == k], p[fold == k]),
                    "r2": r2(truth[fold == k], p[fold == k]),
                    "y_pred": p[fold == k].tolist(),
                }
                for name, p in predictions.items()
            },
        }
        for k in sorted(set(fold.tolist()))
    }
    summary = summarise(scored, records, y, ROWS)
    cold = truth < 0.0
    for name, p in predictions.items():
        summary[name]["better_folds"] = sum(scored[k][name]["mae"] < scored[k][ROWS[0]]["mae"] for k in scored)
        summary[name]["sub_kelvin"] = {"mae": mae(truth[cold], p[cold]), "bias": float(np.mean(p[cold] - truth[cold]))}
        summary[name]["one_kelvin_and_above"] = {"mae": mae(truth[~cold], p[~cold])}
    header, families = table_header(
        "prediction", summary, [f"Tc < 1 K ({int(cold.sum())}): MAE (bias)", "Tc >= 1 K", "folds better"]
    )
    table = [
        f"{table_row(name, s, families)} {s['sub_kelvin']['mae']:.3f} ({s['sub_kelvin']['bias']:+.2f}) | "
        f"{s['one_kelvin_and_above']['mae']:.3f} | {s['better_folds']} of {len(scored)} |"
        for name, s in summary.items()
    ]
    taken = sorted({(t, w) for t, w in picks})
    meta = provenance("python benchmarks/low_tc_gate.py --data ../shared/data", f"{args.threads} jobs")
    lines = [
        *header_lines("The low-Tc gate of the shipped ensemble (SuperCon3D all/all)", meta),
        f"{len(scored)} folds; the shipped ensemble's held-out predictions without the low-Tc gate (each fold's "
        "members, gated as picked on "
        f"the other folds). Non-superconductor forest: {NS_TREES} extra trees (the mean of the trees) on the shipped "
        f"forests' rows ({row_range(per_fold, 'formula_rows')} formula rows) and "
        f"{row_range(per_fold, 'non_superconductor_rows')} Tc = 0 compositions at {FLOOR_K:g} K weighing "
        f"{FLOOR_WEIGHT:g} each. Gate: where that forest's ln Tc is below a threshold, (1 - w) × the ensemble + w × "
        "the forest; threshold and w picked for each fold on the other nine folds (taken: "
        + ", ".join(f"below {t:g} with w {w:g}" for t, w in taken)
        + f"; on all folds: below {everywhere[0]:g} with w {everywhere[1]:g}). Family and order columns: MAE ln K "
        "over every fold's test structures. The last column counts the folds on which the row's MAE is below the "
        "ensemble's without the gate.",
        "",
        *header,
        *table,
    ]
    report = {
        "meta": meta,
        "summary": summary,
        "picks": [list(p) for p in picks],
        "rule_on_all_folds": list(everywhere),
        "folds": per_fold,
    }
    write_report(RESULTS / "low_tc_gate", report, lines)


if __name__ == "__main__":
    main()

"""Do the members' trees err alike on neighbouring compositions? Residual smoothing (regression kriging) on top.

Usage:
    python benchmarks/forest_residuals.py --data ../shared/data [--folds 0 1 2] [--threads 2]

Paper protocol, regime ``all`` (10 folds 8:1:1, ln Tc, MAE in ln K). The learner is the shipped
``CompositionForestTc`` members' (extra trees, leaves of at least 2 rows, the trees' mean averaged with their leaf
median) with ``N_TREES`` trees, on their inputs: the composition statistics of the fold's training and validation
structures and of every formula-table row at least ``SAME_COMPOUND_DISTANCE`` (atom-fraction L1) from its test
compounds (the ``compound`` scope of :func:`matgl_supercon.data.held_out_extra_rows`).

If the forest is wrong in the same direction across a doping series or a chemical neighbourhood, the errors it makes
on a test compound's neighbours tell how to correct it (kriging of the residuals, as geostatistics corrects a trend
model). Those errors must be measured as the test compound's is: on rows the forest did not see. So the fold's
training rows are split at random (a seeded ``torch.Generator``) into ``INNER_FOLDS`` blocks, and each block is
predicted by a forest grown on the other blocks without any row within ``SAME_COMPOUND_DISTANCE`` of the block's
compounds (the outer protocol's rule for the formula rows). The residual of training row i is r_i = ln Tc_i minus
that out-of-fold prediction. A test compound's correction is

    c = alpha * sum_i w_i r_i / (sum_i w_i + lambda),   w_i = exp(-(d_i - 0.02) / tau) for d_i < ``MAX_DISTANCE``,

where d_i is the L1 distance between atom fractions (no training row is nearer than 0.02 but the test compound's own
doping series in SuperCon3D); ``lambda`` shrinks the correction where few neighbours are near. Rows: the forest alone,
then ``SETTINGS`` (tau, lambda, alpha); the report adds the row picked on the other nine folds for each fold, and
the correlation between a test compound's residual and its nearest training row's out-of-fold residual, and the
forest's error by distance to the nearest training row.

Each fold's rows go to ``--out/fold_K.json`` as they finish (a rerun skips finished folds, and a fresh ``--out``
starts from the committed report's folds); the report is ``benchmarks/results/forest_residuals.{json,md}``.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
from _report import header_lines, provenance, write_report
from forest_inputs import (
    N_TREES,
    FoldData,
    compared_table,
    finished_folds,
    fold_arguments,
    row_range,
    save_fold,
    unfinished_folds,
)
from forest_variants import grown, predicted
from scipy.spatial.distance import cdist

from matgl_supercon.benchmarks import mae
from matgl_supercon.data import SAME_COMPOUND_DISTANCE

RESULTS = Path(__file__).parent / "results"
INNER_FOLDS = 5
MAX_DISTANCE = 0.4
#: (tau, lambda, alpha) of the correction rows: distance scale, shrinkage and how much of the correction is added.
SETTINGS = ((0.02, 1.0, 1.0), (0.02, 10.0, 0.5), (0.05, 10.0, 0.25), (0.1, 10.0, 0.25), (0.1, 1.0, 1.0))
BASE = "forest alone (the members' prediction)"
ROWS = (BASE, *(f"+ residuals, tau {t}, lambda {lam:g}, alpha {a}" for t, lam, a in SETTINGS))
PICKED = "+ residuals, the row best on the other nine folds"
#: Edges (atom-fraction L1) of the bands of distance to a test compound's nearest training row in the report.
DISTANCE_BANDS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, np.inf)


def grown_prediction(x: np.ndarray, y: np.ndarray, queries: np.ndarray, seed: int, threads: int) -> np.ndarray:
    """The members' forest with ``N_TREES`` trees grown on ``(x, y)`` (``forest_variants.grown``, the trees' mean
    averaged with their leaf median): its float64 prediction of ``queries``."""
    return predicted(grown(x, y, seed, threads, median_weight=0.5)[0], queries)[0]


def near_any(queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``[len(rows)]`` bool: the rows within ``SAME_COMPOUND_DISTANCE`` (L1) of any of ``queries``."""
    hit = np.zeros(len(rows), dtype=bool)
    for start in range(0, len(queries), 256):
        hit |= (cdist(queries[start : start + 256], rows, "cityblock") < SAME_COMPOUND_DISTANCE).any(axis=0)
    return hit


def out_of_fold_residuals(x: np.ndarray, y: np.ndarray, fractions: np.ndarray, seed: int, threads: int) -> np.ndarray:
    """ln Tc minus each row's prediction by a forest grown without its inner block and that block's near copies."""
    block = torch.randint(0, INNER_FOLDS, (len(y),), generator=torch.Generator().manual_seed(seed)).numpy()
    prediction = np.empty(len(y))
    for b in range(INNER_FOLDS):
        held = block == b
        keep = ~held & ~near_any(fractions[held], fractions)
        prediction[held] = grown_prediction(x[keep], y[keep], x[held], seed * INNER_FOLDS + b + 1, threads)
    return y - prediction


def corrections(distance: np.ndarray, residuals: np.ndarray) -> dict[str, np.ndarray]:
    """Each correction row's ``c`` of the module docstring, from the test-by-training ``distance`` matrix."""
    out = {}
    for name, (tau, lam, alpha) in zip(ROWS[1:], SETTINGS, strict=True):
        weight = np.exp(-(distance - SAME_COMPOUND_DISTANCE) / tau) * (distance < MAX_DISTANCE)
        out[name] = alpha * (weight @ residuals) / (weight.sum(axis=1) + lam)
    return out


def picked_on_other_folds(per_fold: dict[int, dict]) -> tuple[float, float, list[str]]:
    """Fold mean ± sd of the MAE when each fold takes the row (the forest alone included) with the lowest mean MAE
    on the other folds, and the rows taken."""
    maes, taken = [], []
    for k, fold in per_fold.items():
        name = min(ROWS, key=lambda n: np.mean([f[n]["mae"] for j, f in per_fold.items() if j != k]))
        maes.append(fold[name]["mae"])
        taken.append(name)
    return float(np.mean(maes)), float(np.std(maes, ddof=1)) if len(maes) > 1 else 0.0, taken


def error_by_distance(per_fold: dict[int, dict], data: FoldData) -> tuple[dict, list[str]]:
    """Where the forest alone errs: its MAE and share of the summed error by distance from each test compound to the
    nearest row it trained on, and on the structures whose recorded Tc is below 1 K."""
    position = {i: n for n, i in enumerate(data.ids)}
    nearest, error, truth = [], [], []
    for k, fold in per_fold.items():
        train, val, test = (np.asarray(block) for block in data.folds[k])
        fit, rows = data.member_rows(train, val, test)
        if [data.ids[i] for i in test] != fold["ids"]:
            raise SystemExit(f"fold {k}: the stored test ids are not this data's fold {k} test block")
        fit_fractions = np.vstack([data.fractions[fit], data.formula_fractions[rows]])
        nearest.append(cdist(data.fractions[test], fit_fractions, "cityblock").min(axis=1))
        y = data.y[[position[i] for i in fold["ids"]]]
        error.append(np.abs(y - np.asarray(fold[BASE]["y_pred"])))
        truth.append(y)
    nearest, error, truth = np.concatenate(nearest), np.concatenate(error), np.concatenate(truth)
    bands = {}
    lines = ["| nearest training row (L1) | test structures | MAE ln K | share of the error |", "|---|---|---|---|"]
    groups = [(f"{lo:g}-{hi:g}", (nearest >= lo) & (nearest < hi)) for lo, hi in pairwise(DISTANCE_BANDS)]
    for name, chosen in [*groups, ("recorded Tc below 1 K", truth < 0.0)]:
        share = float(error[chosen].sum() / error.sum())
        bands[name] = {"n": int(chosen.sum()), "mae": float(error[chosen].mean()), "share": share}
        lines.append(f"| {name} | {chosen.sum()} | {error[chosen].mean():.3f} | {share:.2f} |")
    return bands, lines


def main() -> None:
    args = fold_arguments(__doc__, "runs/forest_residuals")
    data = FoldData.load(args.data)
    records, y = data.records, data.y
    x, formula_x = data.member_statistics()
    fractions, formula_fractions = data.fractions, data.formula_fractions
    out = Path(args.out)
    for k, path, train, val, test in unfinished_folds(data, args.folds, out, RESULTS / "forest_residuals.json", ROWS):
        fit, rows = data.member_rows(train, val, test)
        x_fit = np.vstack([x[fit], formula_x[rows]])
        target = np.concatenate([y[fit], data.formula_y[rows]])
        fit_fractions = np.vstack([fractions[fit], formula_fractions[rows]])
        base = grown_prediction(x_fit, target, x[test], k, args.threads)
        residuals = out_of_fold_residuals(x_fit, target, fit_fractions, k, args.threads)
        distance = cdist(fractions[test], fit_fractions, "cityblock")
        predictions = {BASE: base, **{n: base + c for n, c in corrections(distance, residuals).items()}}
        nearest = residuals[distance.argmin(axis=1)]
        correlation = float(np.corrcoef(y[test] - base, nearest)[0, 1])
        print(f"fold {k}: out-of-fold MAE of the training rows {np.abs(residuals).mean():.3f}", flush=True)
        save_fold(
            path,
            [data.ids[i] for i in test],
            len(rows),
            y[test],
            predictions,
            k,
            out_of_fold_mae=mae(target, target - residuals),
            nearest_residual_correlation=correlation,
        )
    per_fold = finished_folds(out)
    summary, table = compared_table(per_fold, records, y, ROWS, "prediction")
    picked_mean, picked_sd, taken = picked_on_other_folds(per_fold)
    correlations = [f["nearest_residual_correlation"] for f in per_fold.values()]
    out_of_fold = [f["out_of_fold_mae"] for f in per_fold.values()]
    bands, band_lines = error_by_distance(per_fold, data)
    meta = provenance("python benchmarks/forest_residuals.py --data ../shared/data", f"{args.threads} jobs")
    lines = [
        *header_lines(
            "Residual smoothing in composition space on top of the members' trees (SuperCon3D all/all)", meta
        ),
        f"{len(per_fold)} folds; {N_TREES} extra trees with the members' settings (leaves of at least 2 rows, the "
        "trees' mean averaged with their leaf median) on the composition statistics of each fold's training and "
        f"validation structures and of its {row_range(per_fold, 'formula_rows')} formula rows at least "
        f"{SAME_COMPOUND_DISTANCE} (atom-fraction L1) from its test compounds. Residuals of the training rows: "
        f"{INNER_FOLDS} inner blocks, each predicted without its rows' near copies (out-of-fold MAE "
        f"{min(out_of_fold):.3f}-{max(out_of_fold):.3f} ln K). Correction rows: tau, lambda and alpha of the "
        "script's docstring. Family and order columns: MAE ln K over every fold's test structures. The last column "
        "counts the folds on which the row's MAE is below the first row's.",
        "",
        *table,
        "",
        f"Each fold with the row best on the other nine folds: {picked_mean:.3f} ± {picked_sd:.3f} ln K "
        f"({sum(t == BASE for t in taken)} of {len(taken)} folds take the forest alone). The correlation between a "
        "test compound's residual and the out-of-fold residual of its nearest training row is "
        f"{min(correlations):+.3f} to {max(correlations):+.3f} over the folds (mean {np.mean(correlations):+.3f}).",
        "",
        "Where the forest alone errs, over every fold's test structures (the last line is not a distance band):",
        "",
        *band_lines,
    ]
    payload = {
        "meta": meta,
        "summary": summary,
        PICKED: {"mae_mean": picked_mean, "mae_sd": picked_sd, "rows_taken": taken},
        "error_by_distance": bands,
        "folds": per_fold,
    }
    write_report(RESULTS / "forest_residuals", payload, lines)


if __name__ == "__main__":
    main()

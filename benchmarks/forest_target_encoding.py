"""Do the members' trees gain from target encodings, the mean ln Tc of the training rows that hold each element?

Usage:
    python benchmarks/forest_target_encoding.py --data ../shared/data [--folds 0 1 2] [--threads 2]

Paper protocol, regime ``all`` (10 folds 8:1:1, ln Tc, MAE in ln K). Every row grows the shipped
``CompositionForestTc`` members' extra trees, ``N_TREES`` of them (:func:`forest_inputs.fit_predict`; the mean of
the trees, no leaf median, so that the rows differ only in their inputs), on the members' rows: the composition
statistics of the fold's training and validation structures and of every formula-table row at least
``SAME_COMPOUND_DISTANCE`` (atom-fraction L1) from its test compounds. The rows:

- **the members' inputs**;
- **+ element encodings**: for each element of a compound, the mean ln Tc of the training rows that hold it,
  shrunk towards the mean of all rows by ``SHRINK_ROWS`` pseudo-rows (CatBoost's target statistics,
  Prokhorenkova et al., NeurIPS 2018); three columns: their mean weighted by the compound's atom fractions, their
  minimum and their maximum;
- **+ element and pair encodings**: the same, and the encodings of each pair of the compound's elements (the mean
  ln Tc of the rows that hold both: Cu with O, Fe with As), with their fraction-weighted mean, minimum and maximum.

The trees read a training row's encodings as a test compound sees them: a test compound has no formula row within
``SAME_COMPOUND_DISTANCE`` of its composition, so every row's encodings leave out the training rows within that
distance of its own (a training row itself included). Without that, a training row's encodings would hold its own
label, and the trees would learn to trust them more than they deserve on a test compound.

Each fold's rows go to ``--out/fold_K.json`` as they finish (a rerun skips finished folds, and a fresh ``--out``
starts from the committed report's folds); the report, with per-family and ordered/disordered MAE over all test
predictions, is ``benchmarks/results/forest_target_encoding.{json,md}``.
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

from matgl_supercon.data import SAME_COMPOUND_DISTANCE

RESULTS = Path(__file__).parent / "results"
#: Pseudo-rows at the mean ln Tc of all rows added to each element's (and pair's) rows before averaging.
SHRINK_ROWS = 5.0
ROWS = ("the members' inputs", "+ element encodings", "+ element and pair encodings")


def near_rows(queries: np.ndarray, memory: np.ndarray) -> list[np.ndarray]:
    """For each row of ``queries`` (atom fractions), the ``memory`` rows within ``SAME_COMPOUND_DISTANCE`` (L1)."""
    near = []
    for start in range(0, len(queries), 512):
        distance = cdist(queries[start : start + 512], memory, "cityblock")
        near.extend(np.nonzero(row < SAME_COMPOUND_DISTANCE)[0] for row in distance)
    return near


def shrunk_mean(total: np.ndarray, count: np.ndarray, prior: float) -> np.ndarray:
    """Mean of ``count`` rows summing to ``total``, shrunk towards ``prior`` by ``SHRINK_ROWS`` pseudo-rows."""
    return (total + SHRINK_ROWS * prior) / (count + SHRINK_ROWS)


def target_encodings(
    fractions: np.ndarray, ln_tc: np.ndarray, queries: np.ndarray, left_out: list[np.ndarray]
) -> np.ndarray:
    """The encoding columns of the module docstring, one row per query.

    Args:
        fractions: ``[m, n_elements]`` atom fractions of the training rows.
        ln_tc: ``[m]`` their ln Tc.
        queries: ``[q, n_elements]`` atom fractions of the rows to encode.
        left_out: For each query, the training rows its encodings leave out.

    Returns:
        ``[q, 6]``: fraction-weighted mean, minimum and maximum of the element encodings, then of the pair
        encodings (a one-element compound repeats its element's).
    """
    holds = (fractions > 0).astype(np.float64)
    prior = float(ln_tc.mean())
    element_count, element_total = holds.sum(0), holds.T @ ln_tc
    pair_count, pair_total = holds.T @ holds, holds.T @ (holds * ln_tc[:, None])
    columns = np.zeros((len(queries), 6))
    for q, (composition, drop) in enumerate(zip(queries, left_out, strict=True)):
        present = np.nonzero(composition > 0)[0]
        dropped = holds[np.ix_(drop, present)]
        count = element_count[present] - dropped.sum(0)
        total = element_total[present] - dropped.T @ ln_tc[drop]
        encoding = shrunk_mean(total, count, prior)
        weight = composition[present] / composition[present].sum()
        columns[q, :3] = weight @ encoding, encoding.min(), encoding.max()
        if len(present) == 1:
            columns[q, 3:] = columns[q, :3]
            continue
        upper = np.triu_indices(len(present), 1)
        count = pair_count[np.ix_(present, present)] - dropped.T @ dropped
        total = pair_total[np.ix_(present, present)] - dropped.T @ (dropped * ln_tc[drop][:, None])
        encoding = shrunk_mean(total, count, prior)[upper]
        pair_weight = np.outer(weight, weight)[upper]
        columns[q, 3:] = pair_weight @ encoding / pair_weight.sum(), encoding.min(), encoding.max()
    return columns


def main() -> None:
    args = fold_arguments(__doc__, "runs/forest_target_encoding")
    data = FoldData.load(args.data)
    records, y = data.records, data.y
    x, formula_x = data.member_statistics()
    fractions, formula_fractions = data.fractions, data.formula_fractions
    out = Path(args.out)
    report = RESULTS / "forest_target_encoding.json"
    for k, path, train, val, test in unfinished_folds(data, args.folds, out, report, ROWS):
        fit, rows = data.member_rows(train, val, test)
        x_fit = np.vstack([x[fit], formula_x[rows]])
        target = np.concatenate([y[fit], data.formula_y[rows]])
        memory = np.vstack([fractions[fit], formula_fractions[rows]])
        encoded = target_encodings(memory, target, memory, near_rows(memory, memory))
        # The members' formula rows are never near a test compound, but a few SuperCon3D compositions recur across
        # blocks: the same rule for test compounds keeps their encodings those of an unseen composition.
        encoded_test = target_encodings(memory, target, fractions[test], near_rows(fractions[test], memory))
        predictions = {ROWS[0]: fit_predict(x_fit, target, x[test], k, args.threads)[0]}
        for name, width in ((ROWS[1], 3), (ROWS[2], 6)):
            predictions[name] = fit_predict(
                np.hstack([x_fit, encoded[:, :width]]),
                target,
                np.hstack([x[test], encoded_test[:, :width]]),
                k,
                args.threads,
            )[0]
        save_fold(path, [data.ids[i] for i in test], len(rows), y[test], predictions, k)
    per_fold = finished_folds(out)
    summary, table = compared_table(per_fold, records, y, ROWS, "inputs")
    meta = provenance("python benchmarks/forest_target_encoding.py --data ../shared/data", f"{args.threads} jobs")
    lines = [
        *header_lines("Target encodings of elements and element pairs as forest inputs (SuperCon3D all/all)", meta),
        f"{len(per_fold)} folds; {N_TREES} extra trees with the members' settings (the mean of the trees) on the "
        "shipped members' composition statistics of each fold's training and validation structures and of its "
        f"{row_range(per_fold, 'formula_rows')} formula rows at least {SAME_COMPOUND_DISTANCE} (atom-fraction L1) "
        f"from its test compounds; encodings shrunk by {SHRINK_ROWS:g} pseudo-rows, each training row's leaving "
        f"out the rows within {SAME_COMPOUND_DISTANCE} of its composition. Family and order columns: MAE ln K over "
        "every fold's test structures. The last column counts the folds on which the row's MAE is below the first "
        "row's.",
        "",
        *table,
    ]
    write_report(RESULTS / "forest_target_encoding", {"meta": meta, "summary": summary, "folds": per_fold}, lines)


if __name__ == "__main__":
    main()

"""Which formula-table rows may a SuperCon3D fold train on? Chemical systems against compounds, and near copies.

Usage:
    python benchmarks/formula_scope.py --data ../shared/data [--folds 0 1 2] [--threads 2]

The SuperCon formula table (Stanev et al. 2018) is where SuperCon3D's Tc labels come from, so a fold must not train
on the rows of its held-out compounds. Until now every script kept the rows *outside the chemical systems* of the
fold's test block. That filter does two things at once: it drops the held-out compounds and their doping series
(``La2-xSrxCuO4`` at every x), and it keeps lightly doped copies of them from neighbouring systems
(``Mg0.997Fe0.003B2`` beside a test MgB2). This script measures both, with the learner of the shipped
``CompositionForestTc`` members (extra trees on the composition statistics of its default descriptor table,
``forest_inputs.fit_predict`` with 200 trees) on each fold's training and validation blocks and the formula rows
of one scope (:func:`matgl_supercon.data.held_out_extra_rows`):

- **system**: outside the test block's chemical systems (the members' scope until now);
- **system and compound**: also no row within 0.02 (atom-fraction L1, ``SAME_COMPOUND_DISTANCE``) of a test
  composition, so no near copy either;
- **compound, r apart**: every system, but no row within r of a test composition, for r = 0.02, 0.05, 0.1 and 0.2.
  At 0.02 this is the formula table's counterpart of the paper's split, which is random over structures: a test
  compound's doping series is on the training side, and 163 of SuperCon3D's test structures have a training
  structure nearer than 0.02.

Regimes: ``all`` (train and test on every structure) and ``ordered`` (train on the ordered structures of the
training and validation blocks, test on the ordered structures of the test block; the O/O of the paper's Table 1).
Beside the scores, the report gives the distance from each test structure to its nearest training structure and to
its nearest formula row, and how far apart the two Tc are, by distance band.

Each fold's rows go to ``--out/fold_K.json`` as they finish (a rerun skips finished folds); the report is
``benchmarks/results/formula_scope.{json,md}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _report import header_lines, provenance, write_report
from forest_inputs import FoldData, compared_table, finished_folds, fit_predict, fold_arguments, scored
from scipy.spatial.distance import cdist

from matgl_supercon.data import SAME_COMPOUND_DISTANCE, atom_fractions, held_out_extra_rows
from matgl_supercon.models import CompositionForestTc
from matgl_supercon.training import write_json_atomic

RESULTS = Path(__file__).parent / "results"
#: Row name: (scope, minimum distance to a test composition).
SCOPES = {
    "system": ("system", SAME_COMPOUND_DISTANCE),
    "system and compound": ("system_and_compound", SAME_COMPOUND_DISTANCE),
    "compound, 0.02 apart": ("compound", 0.02),
    "compound, 0.05 apart": ("compound", 0.05),
    "compound, 0.1 apart": ("compound", 0.1),
    "compound, 0.2 apart": ("compound", 0.2),
}
#: The rows of the ordered-only regime.
ORDERED_SCOPES = ("system", "system and compound", "compound, 0.02 apart")
#: Distance bands (atom-fraction L1) of the nearest-neighbour table.
BANDS = ((0.0, 1e-6), (1e-6, 0.02), (0.02, 0.05), (0.05, 0.1), (0.1, 0.2), (0.2, np.inf))


def nearest_table(data: FoldData, fractions: np.ndarray, formula_fractions: np.ndarray) -> tuple[dict, list[str]]:
    """Per distance band: how many test structures have their nearest training structure (or formula row) that far,
    and the mean |ln Tc difference| to it; also the test structures with a near copy among the ``system`` rows."""
    found: dict[str, list] = {"structure": [], "formula row": [], "near copy": []}
    for train, val, test in data.folds:
        fit = np.concatenate([train, val])
        for name, candidates, labels in (
            ("structure", fractions[fit], data.y[fit]),
            ("formula row", formula_fractions, data.formula_y),
        ):
            d = cdist(fractions[test], candidates, "cityblock")
            nearest = d.argmin(1)
            found[name] += list(zip(d.min(1), np.abs(data.y[test] - labels[nearest]), strict=True))
        rows = held_out_extra_rows(data.formula_systems, formula_fractions, [data.records[i] for i in test], "system")
        d = cdist(fractions[test], formula_fractions[rows], "cityblock")
        near = d.min(1) < SAME_COMPOUND_DISTANCE
        gaps = np.abs(data.y[test] - data.formula_y[np.asarray(rows)[d.argmin(1)]])
        found["near copy"] += gaps[near].tolist()
    bands = {}
    for name in ("structure", "formula row"):
        distance, gap = (np.array(column) for column in zip(*found[name], strict=True))
        bands[name] = [
            {
                "band": [lo, hi],
                "n": int(((distance >= lo) & (distance < hi)).sum()),
                "gap": float(gap[(distance >= lo) & (distance < hi)].mean())
                if ((distance >= lo) & (distance < hi)).any()
                else None,
            }
            for lo, hi in BANDS
        ]
    copies = np.array(found["near copy"])
    summary = {
        "bands": bands,
        "near_copies": {"n": len(copies), "gap_mean": float(copies.mean()), "gap_median": float(np.median(copies))},
    }
    lines = [
        "| distance to the nearest (atom-fraction L1) | test structures: training structure | mean |Δ ln Tc| | "
        "test structures: formula row | mean |Δ ln Tc| |",
        "|---|---|---|---|---|",
    ]
    for i, (lo, hi) in enumerate(BANDS):
        s, f = bands["structure"][i], bands["formula row"][i]
        label = "0 (same composition)" if lo == 0 else f"{lo:g} - {hi:g}" if np.isfinite(hi) else f"{lo:g} and more"
        cell = lambda g: "-" if g is None else f"{g:.3f}"  # noqa: E731
        lines.append(f"| {label} | {s['n']} | {cell(s['gap'])} | {f['n']} | {cell(f['gap'])} |")
    return summary, lines


def main() -> None:
    args = fold_arguments(__doc__, "runs/formula_scope")
    data = FoldData.load(args.data)
    records, ids, y = data.records, data.ids, data.y
    members = CompositionForestTc()  # the default descriptors, as the members are grown
    x = members.structure_composition_statistics([r.structure for r in records], allow_overlaps=True)
    x = x.numpy().astype(np.float64)
    formula_x = members.structure_composition_statistics([r.structure for r in data.formulas]).numpy()
    formula_x = formula_x.astype(np.float64)
    fractions, formula_fractions = atom_fractions(records), atom_fractions(data.formulas)
    ordered = np.array([r.metadata["order"] == "order" for r in records])
    out = Path(args.out)
    for k in args.folds:
        path = out / f"fold_{k}.json"
        if path.exists():
            continue
        train, val, test = (np.asarray(block) for block in data.folds[k])
        result = {}
        for regime, names in (("all", tuple(SCOPES)), ("ordered", ORDERED_SCOPES)):
            fit = np.concatenate([train, val])
            tested = test[ordered[test]] if regime == "ordered" else test
            fit = fit[ordered[fit]] if regime == "ordered" else fit
            held_out = [records[i] for i in tested]
            counts, rows = {}, {}
            for name in names:
                scope, distance = SCOPES[name]
                chosen = held_out_extra_rows(data.formula_systems, formula_fractions, held_out, scope, distance)
                x_fit = np.vstack([x[fit], formula_x[chosen]])
                p, _ = fit_predict(x_fit, np.concatenate([y[fit], data.formula_y[chosen]]), x[tested], k, args.threads)
                rows[name], counts[name] = scored(y[tested], p, k, f"{regime} {name}"), len(chosen)
            result[regime] = {"ids": [ids[i] for i in tested], "formula_rows": counts, **rows}
        write_json_atomic(path, result)
    per_fold = finished_folds(out)
    nearest, nearest_lines = nearest_table(data, fractions, formula_fractions)
    summaries, tables = {}, []
    for regime, names in (("all", tuple(SCOPES)), ("ordered", ORDERED_SCOPES)):
        folds = {k: f[regime] for k, f in per_fold.items()}
        counts = {
            n: f"{min(f['formula_rows'][n] for f in folds.values()):,}-"
            f"{max(f['formula_rows'][n] for f in folds.values()):,}"
            for n in names
        }
        summaries[regime], table = compared_table(folds, records, y, names, "formula rows", {"rows per fold": counts})
        tables += [f"## Regime {regime}", "", *table, ""]
    copies = nearest["near_copies"]
    meta = provenance("python benchmarks/formula_scope.py --data ../shared/data", f"{args.threads} jobs")
    lines = [
        *header_lines("Which formula-table rows a SuperCon3D fold may train on (extra trees, 200)", meta),
        f"{len(per_fold)} folds of the paper protocol. Every row trains the shipped forests' learner on the fold's "
        "training and validation structures (regime `ordered`: their ordered ones) and on the formula rows of its "
        "scope; the test block (its ordered structures) is scored. Family and order columns: MAE ln K over every "
        "fold's test structures. The last column counts the folds on which the row's MAE is below the first row's.",
        "",
        *tables,
        "## How near the nearest training structure and formula row are",
        "",
        "Each test structure of the ten folds against the fold's training and validation structures, and against the "
        "whole formula table (12,440 superconductors), by atom-fraction L1 distance; |Δ ln Tc| is between the test "
        "structure and that nearest neighbour.",
        "",
        *nearest_lines,
        "",
        f"Near copies kept by the `system` scope: {copies['n']} test structures have a formula row of another "
        f"chemical system within {SAME_COMPOUND_DISTANCE} (e.g. Mg0.997Fe0.003B2 for MgB2); their Tc differ by "
        f"{copies['gap_mean']:.3f} ln K on average (median {copies['gap_median']:.3f}).",
    ]
    payload = {"meta": meta, "summary": summaries, "nearest": nearest, "folds": per_fold}
    write_report(RESULTS / "formula_scope", payload, lines)


if __name__ == "__main__":
    main()

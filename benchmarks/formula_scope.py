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

The shipped ``CompositionTc`` members read, as neighbours, the formula rows of the chemical systems absent from
SuperCon3D. Until 2026-12-06 (``composition_tc_formula_memory``) those included near copies of SuperCon3D compounds;
the members shipped since (``composition_tc_formula_memory_no_near_copies``) leave every row within 0.02 of a
SuperCon3D composition out of their memory. The last section checks that: it scores each fold's member on its
test block twice, with its memory as shipped and with the memory rows within 0.02 of a test composition taken out
(``near_copy_rows``), and blends both into the shipped ensemble's held-out prediction with the card's per-fold
kind weights.

Each fold's rows go to ``--out/fold_K.json`` as they finish (a rerun skips finished folds; a fresh clone starts
from the committed report's folds), the retrieval members' scores to ``--out/retrieval_members.json``; the report
is ``benchmarks/results/formula_scope.{json,md}``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from _report import header_lines, provenance, write_report
from composition_forest import SHIPPED_VARIANT as FOREST_VARIANT
from composition_retrieval import MEMBER_VARIANTS
from forest_inputs import (
    FoldData,
    compared_table,
    finished_folds,
    fit_predict,
    fold_arguments,
    scored,
    unfinished_folds,
)
from scipy.spatial.distance import cdist

from matgl_supercon.benchmarks import mae
from matgl_supercon.data import (
    SAME_COMPOUND_DISTANCE,
    atom_fractions,
    extra_training_records,
    held_out_extra_rows,
    outside_compounds,
)
from matgl_supercon.pretrained import pretrained_dir
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
#: The shipped retrieval members, and the extra set their memories end with (rows within
#: ``SAME_COMPOUND_DISTANCE`` of a SuperCon3D composition left out).
RETRIEVAL_MEMBER, RETRIEVAL_MEMORY = MEMBER_VARIANTS["distinct_memory"], "formulas_new_systems"
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
        inside = [(lo, hi, (distance >= lo) & (distance < hi)) for lo, hi in BANDS]
        bands[name] = [
            {"band": [lo, hi], "n": int(m.sum()), "gap": float(gap[m].mean()) if m.any() else None}
            for lo, hi, m in inside
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


def near_copy_rows(memory_fractions: np.ndarray, held_out_fractions: np.ndarray) -> np.ndarray:
    """Indices of the memory rows within ``SAME_COMPOUND_DISTANCE`` of a held-out composition."""
    return np.setdiff1d(np.arange(len(memory_fractions)), outside_compounds(memory_fractions, held_out_fractions))


def retrieval_members(data: FoldData, fractions: np.ndarray, data_root: str | None) -> dict:
    """Each fold's shipped ``CompositionTc`` member on its test block, with and without the near copies of the test
    compounds in its memory, and the shipped ensemble's held-out predictions either way (card's kind weights).

    The memory ends with the formula rows of chemical systems absent from SuperCon3D (``RETRIEVAL_MEMORY``) that are
    0.02 or more from every SuperCon3D composition; those within 0.02 of a test composition (none, then) are taken
    out (the training block's rows stay).
    """
    import torch
    from _ensemble_members import kind, member_dirs
    from sodnet_variants import SHIPPED_SODNET

    from matgl_supercon.pretrained import load_model

    shipped = pretrained_dir("SODNet-SuperCon3D")
    weights = json.loads((shipped / "calibration.json").read_text())["kind_weights_per_fold"]
    memory_records = extra_training_records(RETRIEVAL_MEMORY, data.records, data_root, SAME_COMPOUND_DISTANCE)
    memory_fractions = atom_fractions(memory_records)
    result = {"kind_weights_per_fold": weights, "folds": {}}
    for k, (_, _, test) in enumerate(data.folds):
        test = np.asarray(test)
        model = next(load_model(shipped / f"{RETRIEVAL_MEMBER}_fold_{k}").members())
        x = model.structure_composition_statistics([data.records[i].structure for i in test], allow_overlaps=True)
        retrieval = model.retrieval
        with torch.no_grad():
            as_shipped = model.predict_statistics(x).double().numpy()
            hidden = near_copy_rows(memory_fractions, fractions[test])
            tail = retrieval.memory_labels.shape[0] - len(memory_records)  # the training block's rows come first
            if k == 0:  # the memory's last rows must be these records, in this order
                check = model.structure_composition_statistics([r.structure for r in memory_records[:8]])
                # float32 statistics of the same composition differ in their last bits (e.g. the mass spreads)
                if not torch.allclose(check, retrieval.memory_statistics[tail : tail + 8], rtol=1e-4, atol=1e-4):
                    raise SystemExit(f"{RETRIEVAL_MEMBER}: its memory does not end with the {RETRIEVAL_MEMORY} rows")
            keep = np.setdiff1d(np.arange(retrieval.memory_labels.shape[0]), tail + hidden)
            statistics, labels = retrieval.memory_statistics[keep].clone(), retrieval.memory_labels[keep].clone()
            retrieval.set_memory(statistics, labels, rescale=False)
            without = model.predict_statistics(x).double().numpy()
        others = {}
        for name in (*SHIPPED_SODNET, FOREST_VARIANT):
            fold = json.loads((member_dirs(name)[0] / "all" / f"fold_{k}.json").read_text())
            others.setdefault(kind(name), []).append(np.asarray(fold["y_pred"]))
        rest = sum(weights[k][q] * np.mean(p, 0) for q, p in others.items())
        truth = data.y[test]
        result["folds"][k] = {
            "near_copies": len(hidden),
            "member": {"as_shipped": mae(truth, as_shipped), "without_near_copies": mae(truth, without)},
            "ensemble": {
                "as_shipped": mae(truth, rest + weights[k]["CompositionTc"] * as_shipped),
                "without_near_copies": mae(truth, rest + weights[k]["CompositionTc"] * without),
            },
            "n": len(test),
        }
        print(f"fold {k}: retrieval member {result['folds'][k]['member']}", flush=True)
    return result


def pooled(result: dict, who: str, how: str) -> float:
    """MAE over every fold's test structures of :func:`retrieval_members`'s ``who`` (``member`` or ``ensemble``),
    scored ``how`` (``as_shipped`` or ``without_near_copies``)."""
    folds = result["folds"].values()
    return sum(f[who][how] * f["n"] for f in folds) / sum(f["n"] for f in folds)


def retrieval_lines(result: dict) -> list[str]:
    """The report's table of :func:`retrieval_members` (MAE over all test structures, pooled over folds)."""
    folds = result["folds"].values()
    return [
        "| shipped model, held out | memory as shipped | near copies of the test compounds taken out |",
        "|---|---|---|",
        *(
            f"| {label} | {pooled(result, who, 'as_shipped'):.4f} | {pooled(result, who, 'without_near_copies'):.4f} |"
            for label, who in (("`CompositionTc` members", "member"), ("whole ensemble", "ensemble"))
        ),
        "",
        f"Memory rows taken out per fold: {min(f['near_copies'] for f in folds)}-"
        f"{max(f['near_copies'] for f in folds)}.",
    ]


def main() -> None:
    args = fold_arguments(__doc__, "runs/formula_scope")
    data = FoldData.load(args.data)
    records, ids, y = data.records, data.ids, data.y
    x, formula_x = data.member_statistics()
    fractions, formula_fractions = data.fractions, data.formula_fractions
    ordered = np.array([r.metadata["order"] == "order" for r in records])
    out = Path(args.out)
    for k, path, train, val, test in unfinished_folds(data, args.folds, out, RESULTS / "formula_scope.json"):
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
    # Cached per ensemble: a rebuilt one (other kind weights) is scored again.
    cached = out / "retrieval_members.json"
    shipped_weights = json.loads((pretrained_dir("SODNet-SuperCon3D") / "calibration.json").read_text())
    if (
        not cached.exists()
        or json.loads(cached.read_text()).get("kind_weights_per_fold") != shipped_weights["kind_weights_per_fold"]
    ):
        write_json_atomic(cached, retrieval_members(data, fractions, args.data))
    retrieval = json.loads(cached.read_text())
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
        "",
        "## The shipped retrieval members and near copies of the test compounds",
        "",
        f"Each fold's shipped `CompositionTc` member ({RETRIEVAL_MEMBER}) reads the formula rows of chemical systems "
        "absent from SuperCon3D, 0.02 or more from every SuperCon3D composition, as neighbours (the members shipped "
        "until 2026-12-06 read near copies too; this report at commit 0dd7d53 measures them). Scored on its fold's "
        "test block with its memory as shipped, and with "
        "the memory rows within 0.02 of a test composition taken out; the whole ensemble blends it with the other "
        "members' committed held-out predictions, each fold with the model card's kind weights.",
        "",
        *retrieval_lines(retrieval),
    ]
    payload = {"meta": meta, "summary": summaries, "nearest": nearest, "retrieval": retrieval, "folds": per_fold}
    write_report(RESULTS / "formula_scope", payload, lines)


if __name__ == "__main__":
    main()

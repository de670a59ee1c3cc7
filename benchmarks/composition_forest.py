"""Trees on composition statistics with the SuperCon formula table: the ``CompositionForestTc`` members.

Usage:
    python benchmarks/composition_forest.py --data ../shared/data [--folds 0 1 2] [--threads 2] [--save-members]

Paper protocol, regime ``all`` (10 folds 8:1:1, ln Tc, MAE in ln K), on the composition statistics of
``CompositionForestTc``'s default descriptor table (pymatgen's elemental properties, valence-electron counts and,
since 2026-12-06, the properties of each element's solid and Magpie's DFT ground-state columns:
``element_properties.py``). Each fold's trees train on its training and validation blocks (trees need no early
stopping; since 2026-12-06, as the ``CompositionForestTc+formulas`` leaderboard cells) plus the formula-only
SuperCon superconductors (one-site virtual crystals, Stanev et al. 2018) of every chemical system outside the
fold's test block (``outside_chemical_systems``; about 10,900 rows: a doping series of a test compound would leak
its label). Rows:

- ``MEMBER_ROW``: :func:`matgl_supercon.training.fit_composition_forest` with its defaults (extra trees, 45 trees
  since 2026-12-07, 30 before; leaves of at least 2 rows, half the statistics tried per split; since the night of
  2026-12-06 the trees' mean averaged with the leaf median, ``CompositionForestTc.leaf_median``): the forests the
  shipped ensemble holds, about 4 MB each as tensors (6 MB before 2026-12-07's 6-byte nodes). With
  ``--save-members`` they are saved (``composition_retrieval.member_runs_dir``) with their test predictions
  (``member_results_dir``) for ``make_pretrained.py``.
- ``MEAN_ROW``: the same trees, their mean alone (the members until then, saved as ``MEAN_MEMBER_VARIANT``).
- ``LARGE_ROW``: 500 fully grown extra trees (about 10 M nodes, 100 MB per fold): what more trees would give.
- ``NO_FORMULAS_ROW``: the members' forest without the formula rows: what the formula table adds.
- ``TRAIN_ONLY_ROW``: the members' forest on the training block alone, with the formula rows outside the
  validation and test blocks (as ``supercon3d_baselines.py --extra-data formulas_new_systems --extra-scope fold``
  does for RF-c): the members' recipe until 2026-12-06.
- ``EARLIER_ROW``: that recipe on the statistics of the table without the solid's and ground-state columns: the
  members shipped until 2026-12-06 (``solid_descriptors=False, ground_state_descriptors=False``; 102 statistics).

``--formula-scope`` picks which formula rows a fold may use against its held-out blocks
(:func:`matgl_supercon.data.held_out_extra_rows`; ``formula_scope.py`` compares them): ``system`` (the default, as
above), ``compound`` (every system, but no row within 0.02 in atom fractions of a held-out composition: the held-out
compounds go, their doping series stay, as the paper's random split keeps such structures) or
``system_and_compound``. Another scope writes its own runs, members (``MEMBER_VARIANT`` + ``_<scope>``) and report.

Each fold's rows go to ``--out/fold_K.json`` as they finish (a rerun skips finished folds); the report is
``benchmarks/results/composition_forest.{json,md}`` (``composition_forest_<scope>`` for another scope).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from _report import header_lines, provenance, write_report
from composition_mlp import supercon3d_statistics
from composition_retrieval import member_results_dir, member_runs_dir, records_statistics

from matgl_supercon.benchmarks import fold_summary, mae, r2
from matgl_supercon.data import (
    EXTRA_SCOPES,
    ExtraScope,
    atom_fractions,
    chemical_system,
    extra_training_records,
    held_out_extra_rows,
    load_supercon3d,
)
from matgl_supercon.models import CompositionForestTc
from matgl_supercon.training import (
    CompositionForestConfig,
    fit_composition_forest,
    save_model_atomic,
    write_json_atomic,
)

RESULTS = Path(__file__).parent / "results"
MEMBER_ROW = f"extra trees, {CompositionForestConfig().n_estimators}, leaves >= 2, mean and leaf median (members)"
MEAN_ROW = "the same trees, their mean alone"
LARGE_ROW = "extra trees, 500, leaves >= 1"
NO_FORMULAS_ROW = "members' forest without the formula rows"
TRAIN_ONLY_ROW = "members' forest on the training block alone"
EARLIER_ROW = "the same, descriptors until 2026-12-06"
EARLIER_DESCRIPTORS = {"solid_descriptors": False, "ground_state_descriptors": False}
#: The saved fold forests' name, as ``make_pretrained.py`` knows them (``composition_forest_formulas``: those of
#: ``EARLIER_ROW``, shipped until 2026-12-06; ``MEAN_MEMBER_VARIANT``: ``MEAN_ROW``'s, shipped until that night).
MEMBER_VARIANT = "composition_forest_formulas_solid_ground_state_median"
MEAN_MEMBER_VARIANT = "composition_forest_formulas_solid_ground_state"


def scoped(name: str, scope: str) -> str:
    """``name`` for the formula-row scope ``scope``: unchanged for ``system``, else with ``_<scope>`` appended."""
    return name if scope == "system" else f"{name}_{scope}"


#: The formula-row scope of the forests the shipped ensemble holds since 2026-12-06 evening (``formula_scope.py``),
#: and their saved name: ``make_pretrained.py`` ships them, ``sodnet_distillation.py`` is taught by them.
SHIPPED_SCOPE: ExtraScope = "compound"
SHIPPED_VARIANT = scoped(MEMBER_VARIANT, SHIPPED_SCOPE)


#: Bytes per tree node as the model stores it (int16 feature or leaf code, float32 threshold or value); runs
#: recorded before 2026-12-07 counted 10 (an int32 right child as well).
NODE_BYTES = 6
#: Bytes per stored leaf target (float16 ln Tc; one per training row and tree when the leaf median is used).
LEAF_TARGET_BYTES = 2


def formula_rows(data: str | None) -> tuple[np.ndarray, np.ndarray, list[frozenset[str]]]:
    """Statistics, ln Tc and chemical systems of every formula-table superconductor (filtered per fold later)."""
    records = extra_training_records("formulas_new_systems", [], data)
    return *records_statistics(records), [chemical_system(r.structure) for r in records]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", nargs="*", type=int, default=list(range(10)))
    parser.add_argument("--out", default=None, help="default runs/composition_forest[_<scope>]")
    parser.add_argument("--formula-scope", choices=EXTRA_SCOPES, default="system")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save-members", action="store_true", help="save the members' forests for make_pretrained.py")
    args = parser.parse_args()
    records = load_supercon3d(args.data)
    ids, y, earlier_x, folds = supercon3d_statistics(args.data, records)
    formulas = extra_training_records("formulas_new_systems", [], args.data)
    earlier_formula_x, formula_y = records_statistics(formulas)
    formula_systems = [chemical_system(r.structure) for r in formulas]
    formula_fractions = atom_fractions(formulas)
    member_variant = scoped(MEMBER_VARIANT, args.formula_scope)
    members = CompositionForestTc()  # the default descriptors, as the members are grown
    x = members.structure_composition_statistics([r.structure for r in records], allow_overlaps=True)
    x = x.numpy().astype(np.float64)
    formula_x = members.structure_composition_statistics([r.structure for r in formulas]).numpy().astype(np.float64)
    out = Path(args.out or scoped("runs/composition_forest", args.formula_scope))
    member_config = CompositionForestConfig(n_jobs=args.threads)
    #: Row: (forest settings, with the formula rows, on the validation block too, model arguments, statistics,
    #: formula-row statistics).
    configs = {
        MEMBER_ROW: (member_config, True, True, {}, x, formula_x),
        MEAN_ROW: (replace(member_config, median_weight=0.0), True, True, {}, x, formula_x),
        LARGE_ROW: (replace(member_config, n_estimators=500, min_samples_leaf=1), True, True, {}, x, formula_x),
        NO_FORMULAS_ROW: (member_config, False, True, {}, x, formula_x),
        TRAIN_ONLY_ROW: (member_config, True, False, {}, x, formula_x),
        EARLIER_ROW: (member_config, True, False, EARLIER_DESCRIPTORS, earlier_x, earlier_formula_x),
    }
    for k in args.folds:
        train, val, test = folds[k]
        path = out / f"fold_{k}.json"
        member = member_runs_dir(member_variant) / "all" / f"fold_{k}" / "model"
        if path.exists() and (not args.save_members or (member / "model.json").exists()):
            continue
        # Formula rows of the scope against the test block, or against the validation and test blocks.
        rows = {
            with_val: held_out_extra_rows(formula_systems, formula_fractions, held_out, args.formula_scope)
            for with_val, held_out in ((True, [records[i] for i in test]), (False, [records[i] for i in (*val, *test)]))
        }
        result = {
            "ids": [ids[i] for i in test],
            "formula_rows": len(rows[True]),
            "formula_rows_train": len(rows[False]),
        }
        for name, (config, with_formulas, with_val, model_kwargs, statistics, formula_statistics) in configs.items():
            started = time.perf_counter()
            chosen = rows[with_val]
            extra = (formula_statistics[chosen], formula_y[chosen]) if with_formulas else None
            blocks = [*train, *val] if with_val else list(train)
            model, fitted = fit_composition_forest(
                (statistics[blocks], y[blocks]), model_kwargs, replace(config, seed=k), extra=extra
            )
            p = model.predict_statistics(statistics[test]).numpy().astype(np.float64)
            result[name] = {
                "mae": mae(y[test], p),
                "r2": r2(y[test], p),
                "y_pred": p.tolist(),
                "nodes": fitted["nodes"],
                "megabytes": (fitted["nodes"] * NODE_BYTES + len(model.leaf_targets) * LEAF_TARGET_BYTES) / 1e6,
                "seconds": time.perf_counter() - started,
            }
            print(f"fold {k} {name}: {result[name]['mae']:.3f} ln K, {fitted['nodes']:,} nodes", flush=True)
            if name == MEMBER_ROW and args.save_members:
                member.parent.mkdir(parents=True, exist_ok=True)
                save_model_atomic(model, member)
                saved = {"ids": result["ids"], "y_true": y[test].tolist(), "y_pred": p.tolist()}
                saved.update(mae=result[name]["mae"], r2=result[name]["r2"], epochs_run=None)  # trees have no epochs
                write_json_atomic(member_results_dir(member_variant) / "all" / f"fold_{k}.json", saved)
        write_json_atomic(path, result)
    per_fold = {
        k: json.loads((out / f"fold_{k}.json").read_text()) for k in range(10) if (out / f"fold_{k}.json").exists()
    }
    metrics = ("mae", "r2", "seconds", "megabytes")

    def counts(key: str) -> str:
        return f"{min(f[key] for f in per_fold.values()):,}-{max(f[key] for f in per_fold.values()):,}"

    summary = {
        name: {"folds": list(per_fold), **fold_summary([{m: f[name][m] for m in metrics} for f in per_fold.values()])}
        for name in configs
    }
    options = " --save-members" if args.save_members else ""
    if args.formula_scope != "system":
        options += f" --formula-scope {args.formula_scope}"
    meta = provenance(f"python benchmarks/composition_forest.py --data ../shared/data{options}", args.threads)
    where = {
        "system": "outside the test block's chemical systems",
        "compound": "every system, none within 0.02 in atom fractions of a test composition",
        "system_and_compound": "outside the test block's chemical systems and 0.02 or more from its compositions",
    }[args.formula_scope]
    lines = [
        *header_lines("Extra trees on composition statistics with the SuperCon formula table (all/all)", meta),
        f"{x.shape[1]} statistics per structure ({earlier_x.shape[1]} in the last row); {len(per_fold)} folds; "
        f"formula rows per fold {counts('formula_rows')} ({where}; the last two rows: "
        f"{counts('formula_rows_train')}, against the validation block too).",
        "",
        "| learner | MAE ln K | R2 | MB per fold (tensors) | s per fold |",
        "|---|---|---|---|---|",
        *(
            f"| {n} | {s['mae_mean']:.3f} ± {s['mae_sd']:.3f} | {s['r2_mean']:.3f} | {s['megabytes_mean']:.1f} | "
            f"{s['seconds_mean']:.1f} |"
            for n, s in summary.items()
        ),
    ]
    report = RESULTS / scoped("composition_forest", args.formula_scope)
    write_report(report, {"meta": meta, "summary": summary, "folds": per_fold}, lines)


if __name__ == "__main__":
    main()

"""How the composition members' intervals hold on chemical systems that no member has seen.

Usage:
    python benchmarks/uncertainty_new_systems.py --data ../shared/data [--folds 0 1 2] [--threads 2]

The shipped ensemble's spread scales (``calibration.json``) were fitted on SuperCon3D structures held out by the
paper's random folds: most held-out structures have a sibling in training (a doping series, a polymorph, a
neighbouring stoichiometry). A user screening a new chemistry asks the members about compositions unlike any they
trained on. This script measures that case for the composition members (``load_model("SODNet-SuperCon3D",
members="composition")``, the forests with 100% of the weight; the SODNet members would need a network trained per
fold and member), against a control that differs only in the split:

- ``new chemical systems``: 10 folds of SuperCon3D grouped by chemical system (``group_folds`` on the sorted
  element set, seed 0): every test structure's element set is absent from its fold's training structures, and the
  formula-table rows of those element sets go too (``outside_chemical_systems``).
- ``random (control)``: 10 random folds of SuperCon3D (``group_folds`` with one group per structure, seed 0), the
  formula-table rows within 0.02 (atom fractions) of a test composition left out, as for the shipped members.

In each fold, 10 members are grown as the shipped ones are (``fit_composition_forest``, its default settings: extra
trees, 45 trees since 2026-12-07, leaves of at least 2 rows, the trees' mean averaged with their leaf median), each
on all but one tenth of the fold's training structures plus the fold's formula rows, as each shipped member misses
one tenth of SuperCon3D. A :class:`~matgl_supercon.models.TcEnsemble` of them, with the shipped composition
subset's spread scales per predicted-Tc band, predicts the test structures: the same code path and the same factors
a user gets.
Reported per split: MAE, the coverage of mean ± 1 sd and ± 2 sd (68% and 95% for a calibrated Gaussian; the
shipped factors give 68% and 89-90% on the paper folds) overall and per band of the predicted Tc, and the median sd.

Each fold goes to ``--out/<split>/fold_K.json`` as it finishes (a rerun skips finished folds); the report is
``benchmarks/results/uncertainty_new_systems.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from _ensemble_calibration import coverage
from _report import header_lines, provenance, write_report

from matgl_supercon.benchmarks import mae
from matgl_supercon.data import (
    atom_fractions,
    chemical_system,
    extra_training_records,
    group_folds,
    held_out_extra_rows,
    load_supercon3d,
)
from matgl_supercon.models import CompositionForestTc, TcEnsemble
from matgl_supercon.pretrained import pretrained_dir
from matgl_supercon.training import CompositionForestConfig, fit_composition_forest, write_json_atomic

RESULTS = Path(__file__).parent / "results"
#: Split name -> (how a test structure's group is named, which formula rows a fold keeps).
SPLITS = {"new chemical systems": ("system", "system"), "random (control)": ("structure", "compound")}
N_MEMBERS = 10
SEED = 0


def composition_scales(name: str = "SODNet-SuperCon3D") -> tuple[list[float], list[float], list[str]]:
    """The shipped composition subset's spread scales, band edges (ln K) and band names."""
    calibration = json.loads((pretrained_dir(name) / "calibration.json").read_text())
    banded = calibration["subsets"]["composition"]["sd_scale_by_predicted_tc"]
    return banded["scales"], banded["edges_ln_k"], banded["bands"]


def member_blocks(n: int, fold: int) -> list[np.ndarray]:
    """``N_MEMBERS`` seeded blocks of ``range(n)``: member j trains on all but block j."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SEED + fold)).numpy()
    return np.array_split(order, N_MEMBERS)


def band_coverage(error: np.ndarray, sd: np.ndarray, rows: np.ndarray | None = None) -> dict[str, float]:
    """Count, MAE, coverage of ±1 and ±2 sd (``_ensemble_calibration.coverage``, as the card's) and median sd of
    ``rows`` (all by default); NaN for no rows."""
    rows = np.arange(len(error)) if rows is None else rows
    if not len(rows):
        return {"n": 0, **dict.fromkeys(("mae", "coverage_1sd", "coverage_2sd", "median_sd"), float("nan"))}
    e, s = error[rows], sd[rows]
    return {"n": len(rows), "mae": float(e.mean()), **coverage(e, s), "median_sd": float(np.median(s))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", nargs="*", type=int, default=list(range(10)))
    parser.add_argument("--out", default="runs/uncertainty_new_systems")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    records = load_supercon3d(args.data)
    y = np.log([r.tc for r in records])
    systems = ["-".join(sorted(chemical_system(r.structure))) for r in records]
    formulas = extra_training_records("formulas_new_systems", [], args.data)
    formula_systems = [chemical_system(r.structure) for r in formulas]
    formula_fractions = atom_fractions(formulas)
    forest = CompositionForestTc()  # the default descriptors, as the shipped members are grown
    x = forest.structure_composition_statistics([r.structure for r in records], allow_overlaps=True).numpy()
    formula_x = forest.structure_composition_statistics([r.structure for r in formulas]).numpy()
    formula_y = np.log([r.tc for r in formulas])
    scales, edges, bands = composition_scales()
    config = CompositionForestConfig(n_jobs=args.threads)
    # What a finished fold was measured with: a rerun after the shipped forests or their factors change must not mix
    # folds of both.
    settings = {
        "scales": scales,
        "edges": edges,
        "forest": {k: v for k, v in asdict(config).items() if k not in ("seed", "n_jobs")},
    }
    out = Path(args.out)
    for split, (group_by, scope) in SPLITS.items():
        groups = systems if group_by == "system" else [r.id for r in records]
        folds = group_folds(groups, n_splits=10, seed=SEED)
        for k in args.folds:
            path = out / split.split(" ")[0] / f"fold_{k}.json"
            if path.exists():
                if json.loads(path.read_text()).get("settings") != settings:
                    raise SystemExit(f"{path}: measured with other forests or spread scales; remove {out} to rerun")
                continue
            started = time.perf_counter()
            train, test = folds[k]
            held_out = [records[i] for i in test]
            rows = held_out_extra_rows(formula_systems, formula_fractions, held_out, scope)
            members = []
            for j, block in enumerate(member_blocks(len(train), k)):
                kept = np.setdiff1d(train, train[block])
                model, _ = fit_composition_forest(
                    (x[kept], y[kept]),
                    config=replace(config, seed=N_MEMBERS * k + j),
                    extra=(formula_x[rows], formula_y[rows]),
                )
                members.append(model)
            ensemble = TcEnsemble(members, sd_scale=scales, sd_scale_edges=edges)
            # SuperCon3D as published: 5 CIFs hold overlapping atoms (load_supercon3d's docstring).
            mean, sd = ensemble.predict_graphs(ensemble.graphs([r.structure for r in held_out], allow_overlaps=True))
            result = {
                "ids": [records[i].id for i in test],
                "systems": sorted({systems[i] for i in test}),
                "y_true": y[test].tolist(),
                "mean": mean.double().tolist(),
                "sd": sd.double().tolist(),
                "formula_rows": len(rows),
                "seconds": time.perf_counter() - started,
                "settings": settings,
            }
            write_json_atomic(path, result)
            print(
                f"{split} fold {k}: MAE {mae(y[test], mean.numpy()):.3f} ln K, {len(rows):,} formula rows", flush=True
            )
    summarise(out, bands, edges, scales, args.threads)


def summarise(out: Path, bands: list[str], edges: list[float], scales: list[float], threads: int) -> None:
    summary = {}
    for split in SPLITS:
        files = sorted((out / split.split(" ")[0]).glob("fold_*.json"), key=lambda f: int(f.stem.split("_")[1]))
        if not files:
            continue
        folds = [json.loads(f.read_text()) for f in files]
        truth = np.concatenate([f["y_true"] for f in folds])
        mean = np.concatenate([f["mean"] for f in folds])
        sd = np.concatenate([f["sd"] for f in folds])
        error = np.abs(truth - mean)
        band = np.searchsorted(edges, mean, side="right")
        summary[split] = {
            "folds": [int(f.stem.split("_")[1]) for f in files],
            "fold_mae": [mae(np.array(f["y_true"]), np.array(f["mean"])) for f in folds],
            "formula_rows": [f["formula_rows"] for f in folds],
            "all": band_coverage(error, sd),
            "by_predicted_tc": {
                name: band_coverage(error, sd, np.flatnonzero(band == b)) for b, name in enumerate(bands)
            },
        }
    meta = provenance("python benchmarks/uncertainty_new_systems.py --data ../shared/data", threads)
    lines = [
        *header_lines("Composition members' intervals on chemical systems no member has seen (SuperCon3D)", meta),
        f"{N_MEMBERS} members per fold, each grown as the shipped `CompositionForestTc` members on all but a tenth of "
        "the fold's training structures and the fold's formula rows; the spread scaled by the shipped composition "
        "subset's factors (" + ", ".join(f"{b}: {s:.2f}" for b, s in zip(bands, scales, strict=True)) + "). "
        "Pooled over the test folds; a calibrated Gaussian covers 68% (±1 sd) and 95% (±2 sd).",
        "",
        "| split | folds | n | MAE ln K (mean over folds) | coverage ±1 sd | coverage ±2 sd | median sd ln K |",
        "|---|---|---|---|---|---|---|",
    ]
    for split, s in summary.items():
        a = s["all"]
        lines.append(
            f"| {split} | {len(s['folds'])} | {a['n']} | {np.mean(s['fold_mae']):.3f} ± {np.std(s['fold_mae']):.3f} | "
            f"{a['coverage_1sd']:.0%} | {a['coverage_2sd']:.0%} | {a['median_sd']:.3f} |"
        )
    lines += [
        "",
        "By the band of the predicted Tc (the band of the spread scale):",
        "",
        "| split | predicted Tc | n | MAE ln K | coverage ±1 sd | coverage ±2 sd | median sd ln K |",
        "|---|---|---|---|---|---|---|",
    ]
    for split, s in summary.items():
        for name, b in s["by_predicted_tc"].items():
            if b["n"]:
                lines.append(
                    f"| {split} | {name} | {b['n']} | {b['mae']:.3f} | {b['coverage_1sd']:.0%} | "
                    f"{b['coverage_2sd']:.0%} | {b['median_sd']:.3f} |"
                )
    write_report(RESULTS / "uncertainty_new_systems", {"meta": meta, "summary": summary}, lines)


if __name__ == "__main__":
    main()

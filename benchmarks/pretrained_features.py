"""Does a pretrained universal potential see what SuperCon3D is too small to teach? CHGNet features against Magpie.

Usage:
    python benchmarks/pretrained_features.py --data ../shared/data

CHGNet (Deng et al., Nat. Mach. Intell. 2023) was trained on 1.5 M DFT relaxation frames of the Materials Project;
its weights ship in the ``chgnet`` wheel (``pip install chgnet``). Each SuperCon3D structure's ordered approximant
(``matgl_supercon.graph.ordered_approximant``: majority element per site, one atom per group of alternative
positions) goes through the frozen model, and ``matgl_supercon.benchmarks.chgnet_features`` keeps its 64 pooled
crystal features, energy per atom and mean |magmom|. Random forests and extra trees then learn ln Tc from Magpie
features (or the composition statistics of ``CompositionForestTc``), from CHGNet's, and from both, with the paper
protocol as ``supercon3d_baselines.py`` runs it for RF-c (10 folds 8:1:1; regimes ``all``, ``O``, and ``all->O``:
the ``all`` models on ordered test structures). Features
are cached in ``runs/features/chgnet_supercon3d.npz`` (about 5 CPU minutes to compute), shared with
``supercon3d_sodnet.py --state chgnet``. Writes ``benchmarks/results/pretrained_features.{json,md}``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _report import header_lines, provenance, write_report
from sklearn.ensemble import ExtraTreesRegressor
from supercon3d_baselines import random_forest, regime_scores
from supercon3d_sodnet import cached_chgnet_features

from matgl_supercon.benchmarks import magpie_features
from matgl_supercon.data import load_supercon3d
from matgl_supercon.graph import classify_disorder
from matgl_supercon.models import CompositionForestTc

RESULTS = Path(__file__).parent / "results"
LEARNERS = {
    "RF": random_forest,
    "ET": lambda seed: ExtraTreesRegressor(500, max_features=0.5, n_jobs=1, random_state=seed),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    records = load_supercon3d(args.data)
    ids = np.array([r.id for r in records])
    y = np.log([r.tc for r in records])
    kind = np.array([classify_disorder(r.structure)[0] for r in records])
    family = np.array([r.metadata["family"] for r in records])
    start = time.perf_counter()
    magpie = magpie_features([r.structure for r in records])
    chgnet = cached_chgnet_features(records)
    feature_seconds = time.perf_counter() - start
    # The composition statistics the shipped CompositionForestTc members read (SuperCon3D's 5 CIFs with
    # overlapping atoms as published: load_supercon3d's docstring).
    ours = CompositionForestTc().structure_composition_statistics([r.structure for r in records], allow_overlaps=True)
    ours = ours.numpy().astype(np.float64)
    features = {
        "Magpie": magpie,
        "CHGNet": chgnet,
        "Magpie + CHGNet": np.hstack([magpie, chgnet]),
        "CompositionForestTc statistics": ours,
        "CompositionForestTc statistics + CHGNet": np.hstack([ours, chgnet]),
    }
    members = {"all": np.arange(len(records)), "O": np.flatnonzero(kind == "ordered")}
    results = {}
    for feat, x in features.items():
        for learner, make in LEARNERS.items():
            for regime in ("all", "O", "all->O"):

                def predict(train, val, test, k, x=x, make=make):
                    # n_jobs changes the speed of a seeded forest, not its trees.
                    return make(k).set_params(n_jobs=-1).fit(x[train], y[train]).predict(x[test])

                key = f"{learner} on {feat}, {regime}"
                results[key] = regime_scores(regime, members, ids, y, kind, family, predict, range(10))
                print(key, f"{results[key]['mae_mean']:.3f} ± {results[key]['mae_sd']:.3f}", flush=True)

    meta = {
        **provenance("python benchmarks/pretrained_features.py --data ../shared/data", "2 cores"),
        "feature_seconds": feature_seconds,
    }
    lines = header_lines("Pretrained CHGNet features against Magpie on SuperCon3D (paper protocol)", meta)
    lines += [
        "",
        "Frozen CHGNet 0.3.0 (its pooled crystal features, energy per atom and mean |magmom| of each structure's",
        "ordered approximant; 66 columns) against Magpie's 132 composition statistics, and both together; since",
        "2026-12-07 also against the composition statistics the shipped `CompositionForestTc` members read (their",
        "default descriptor table), alone and with CHGNet's columns. Every row trains on SuperCon3D's training",
        "block only (no formula table).",
        "Same folds as `supercon3d_baselines.md`; MAE in ln K, mean ± sd over 10 folds.",
        "",
        "| learner | features | all MAE | all R2 | O MAE | O R2 | all->O MAE | all->O R2 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for feat in features:
        for learner in LEARNERS:
            cells = []
            for regime in ("all", "O", "all->O"):
                row = results[f"{learner} on {feat}, {regime}"]
                cells += [f"{row['mae_mean']:.3f} ± {row['mae_sd']:.3f}", f"{row['r2_mean']:.3f}"]
            lines.append(f"| {learner} | {feat} | " + " | ".join(cells) + " |")
    names = sorted({f for row in results.values() for f in row["by_family"]})
    lines += ["", "## all: MAE by family (pooled test folds)", ""]
    lines += ["| learner | features | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for feat in features:
        for learner in LEARNERS:
            by_family = results[f"{learner} on {feat}, all"]["by_family"]
            lines.append(f"| {learner} | {feat} | " + " | ".join(f"{by_family[n]['mae']:.3f}" for n in names) + " |")
    write_report(RESULTS / "pretrained_features", {"meta": meta, "results": results}, lines)


if __name__ == "__main__":
    main()

"""Classical baselines on SuperCon3D with the paper protocol: RF/SVR on Magpie (-c) and Magpie + geometry (-geo).

Usage:
    python benchmarks/supercon3d_baselines.py --data ../shared/data

Writes ``benchmarks/results/supercon3d_baselines.{json,md}``. Folds, regimes and metrics are those of
``supercon3d_sodnet.py`` (10 folds 8:1:1 on sorted ids with seed 0; the validation block is unused
except by the SVR grid search, which picks C and gamma on it).

``--extra-data 3dsc_new_systems [--models RF]`` adds the same extra training structures as
``supercon3d_sodnet.py --extra-data`` (3DSC_MP, Tc > 0, chemical systems absent from SuperCon3D) to every
fold's training set, on the regimes ``all`` and ``all->O``, and writes
``supercon3d_baselines_3dsc_new_systems.{json,md}``: the like-for-like comparison for a model trained with them.
``--extra-data formulas_new_systems`` (or ``3dsc_and_formulas_new_systems``) adds formula-only SuperCon rows as
one-site virtual crystals; their geometry descriptors mean nothing, so only the composition models (-c) run.
``--extra-scope fold`` filters the extra records per fold instead of against all of SuperCon3D: every record whose
chemical system occurs in none of the fold's validation and test structures (``outside_chemical_systems``), as
``supercon3d_sodnet.py --memory-scope fold`` does; it writes ``..._<extra-data>_per_fold.{json,md}``.
``--extra-scope compound`` keeps, per fold, every record of every chemical system that lies 0.02 or more (atom
fractions) from each of the fold's validation and test compounds: their doping series stay, their near copies in
other systems go (``outside_compounds``, ``formula_scope.py``); it writes ``..._<extra-data>_per_compound``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _report import header_lines, provenance, write_report
from sklearn.ensemble import RandomForestRegressor

from matgl_supercon.benchmarks import (
    fold_summary,
    geometry_features,
    grouped_mae,
    mae,
    magpie_features,
    r2,
    tuned_svr,
)
from matgl_supercon.data import (
    EXTRA_TRAINING_SETS,
    atom_fractions,
    chemical_system,
    extra_training_records,
    load_supercon3d,
    outside_chemical_systems,
    outside_compounds,
    paper_folds,
)
from matgl_supercon.graph import classify_disorder

OUT = Path(__file__).parent / "results"
REGIMES = ("all", "O", "O+SD", "all->O")


def feature_sets(structures) -> dict[str, np.ndarray]:
    """``{"c": Magpie, "geo": Magpie + geometry}`` feature rows of the structures."""
    composition = magpie_features(structures)
    return {"c": composition, "geo": np.hstack([composition, geometry_features(structures)])}


def extra_training_arrays(
    name: str, records: list, data: str | None
) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
    """Feature rows (by feature kind), ln Tc and chemical systems of an extra training set.

    ``records`` are the SuperCon3D records whose chemical systems the set leaves out (``[]``: keep every record and
    filter per fold with ``outside_chemical_systems``). Formula-only rows are one-site virtual crystals, whose cell
    and neighbours are not a crystal's: they get composition features ("c") only.
    """
    extra = extra_training_records(name, records, data)
    structures = [r.structure for r in extra]
    if any(r.metadata.get("virtual_crystal") for r in extra):
        features = {"c": magpie_features(structures)}
    else:
        features = feature_sets(structures)
    return features, np.log([r.tc for r in extra]), [chemical_system(s) for s in structures]


def random_forest(seed: int, oob_score: bool = False) -> RandomForestRegressor:
    """The forest of RF-c and RF-geo: 500 fully grown trees, a third of the features tried per split."""
    return RandomForestRegressor(
        n_estimators=500, min_samples_leaf=1, max_features=0.33, oob_score=oob_score, n_jobs=1, random_state=seed
    )


def fit_predict(name: str, x_train, y_train, x_val, y_val, x_test, seed: int):
    if name == "RF":
        return random_forest(seed).fit(x_train, y_train).predict(x_test)
    return tuned_svr(x_train, y_train, x_val, y_val)[0].predict(x_test)


def regime_scores(regime, members, ids, y, kind, family, predict, folds) -> dict:
    """Fold scores of one regime: ``predict(train, val, test, k)`` gives each fold's test predictions.

    ``members`` maps ``"all"``, ``"O"``, ... to structure indices; ``all->O`` trains on ``all`` and scores the
    ordered structures of each test block. Returns ``fold_summary`` plus pooled MAE by family and disorder type.
    """
    source = "all" if regime == "all->O" else regime
    blocks = paper_folds(ids[members[source]].tolist())
    per_fold, pooled_t, pooled_p, pooled_i = [], [], [], []
    for k in folds:
        train, val, test = (members[source][idx] for idx in blocks[k])
        pred = predict(train, val, test, k)
        if regime == "all->O":
            keep = kind[test] == "ordered"
            test, pred = test[keep], pred[keep]
        per_fold.append({"mae": mae(y[test], pred), "r2": r2(y[test], pred)})
        pooled_t += y[test].tolist()
        pooled_p += pred.tolist()
        pooled_i += test.tolist()
    return {
        **fold_summary(per_fold),
        "by_family": grouped_mae(pooled_t, pooled_p, family[pooled_i]),
        "by_disorder": grouped_mae(pooled_t, pooled_p, kind[pooled_i]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--models", nargs="+", choices=("RF", "SVR"), default=["RF", "SVR"])
    parser.add_argument("--extra-data", choices=EXTRA_TRAINING_SETS, default=None)
    parser.add_argument("--extra-scope", choices=("benchmark", "fold", "compound"), default="benchmark")
    args = parser.parse_args()
    if args.extra_scope != "benchmark" and not args.extra_data:
        parser.error(f"--extra-scope {args.extra_scope} filters --extra-data: name the extra data set")
    records = load_supercon3d(args.data)
    structures = [r.structure for r in records]
    y = np.log([r.tc for r in records])
    ids = np.array([r.id for r in records])
    kind = np.array([classify_disorder(s)[0] for s in structures])
    family = np.array([r.metadata["family"] for r in records])
    start = time.perf_counter()
    features = feature_sets(structures)
    extra_x, extra_y = {feat: x[:0] for feat, x in features.items()}, np.zeros(0)
    feature_kinds = ("c", "geo")
    if args.extra_data:
        candidates = records if args.extra_scope == "benchmark" else []
        extra_x, extra_y, extra_systems = extra_training_arrays(args.extra_data, candidates, args.data)
        feature_kinds = tuple(extra_x)  # ("c",) for formula-only rows
        if args.extra_scope == "compound":
            extra_fractions = atom_fractions(extra_training_records(args.extra_data, candidates, args.data))
    feature_seconds = time.perf_counter() - start
    members = {
        "all": np.arange(len(records)),
        "O": np.flatnonzero(kind == "ordered"),
        "O+SD": np.flatnonzero(np.isin(kind, ["ordered", "SD"])),
    }
    results = {}
    for model_name in args.models:
        for feat in feature_kinds:
            x = features[feat]
            for regime in REGIMES if not args.extra_data else ("all", "all->O"):
                started = time.perf_counter()

                def predict(train, val, test, k, x=x, feat=feat, model_name=model_name):
                    rows = slice(None)
                    held_out = [records[i] for i in (*val, *test)]
                    if args.extra_scope == "fold":
                        rows = outside_chemical_systems(extra_systems, held_out)
                    elif args.extra_scope == "compound":
                        rows = outside_compounds(extra_fractions, atom_fractions(held_out))
                    x_train = np.vstack([x[train], extra_x[feat][rows]])
                    y_train = np.concatenate([y[train], extra_y[rows]])
                    return fit_predict(model_name, x_train, y_train, x[val], y[val], x[test], seed=k)

                scores = regime_scores(regime, members, ids, y, kind, family, predict, args.folds)
                key = f"{model_name}-{feat} {regime}"
                results[key] = {**scores, "cpu_seconds": time.perf_counter() - started}
                print(
                    key,
                    f"{results[key]['mae_mean']:.3f} ± {results[key]['mae_sd']:.3f}",
                    f"R2 {results[key]['r2_mean']:.3f}",
                    flush=True,
                )
    options = "".join(
        [
            f" --models {' '.join(args.models)}" if args.models != ["RF", "SVR"] else "",
            f" --extra-data {args.extra_data}" if args.extra_data else "",
            f" --extra-scope {args.extra_scope}" if args.extra_scope != "benchmark" else "",
        ]
    )
    meta = {
        **provenance(f"python benchmarks/supercon3d_baselines.py --data ../shared/data{options}", "2 cores"),
        "feature_seconds": feature_seconds,
        "folds": args.folds,
        "extra_training_structures": len(extra_y),
        "extra_scope": args.extra_scope,
    }
    title = "Classical baselines on SuperCon3D (paper protocol)"
    if args.extra_data:
        where = "chemical systems new to SuperCon3D"
        if args.extra_scope == "fold":
            where = "per fold: systems outside its val+test blocks, of these candidates"
        elif args.extra_scope == "compound":
            where = "per fold: every record 0.02 or more (atom fractions) from its val+test compounds"
        title += f", trained with {len(extra_y)} extra records, {where} ({args.extra_data})"
    lines = [
        *header_lines(title, meta),
        f"Folds: {len(args.folds)} of 10. Feature time: {feature_seconds:.0f} s.",
        "",
        "| model | regime | MAE ln K | R2 | hydrides MAE | heavy-fermion MAE | CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, r in results.items():
        model, regime = key.split(" ")
        fam = r["by_family"]
        lines.append(
            f"| {model} | {regime} | {r['mae_mean']:.3f} ± {r['mae_sd']:.3f} | {r['r2_mean']:.3f} ± {r['r2_sd']:.3f} | "
            f"{fam.get('h_based', {}).get('mae', float('nan')):.3f} | "
            f"{fam.get('heavy-Fermion', {}).get('mae', float('nan')):.3f} | {r['cpu_seconds']:.0f} |"
        )
    stem = "supercon3d_baselines" + (f"_{args.extra_data}" if args.extra_data else "")
    stem += {"benchmark": "", "fold": "_per_fold", "compound": "_per_compound"}[args.extra_scope]
    write_report(OUT / stem, {"meta": meta, "results": results}, lines)


if __name__ == "__main__":
    main()

"""SODNet on SuperCon3D with the paper protocol (10 folds, 8:1:1, target ln Tc, MAE in ln K and R2).

Usage:
    python benchmarks/supercon3d_sodnet.py --data ../shared/data --regimes all O O+SD --folds 0 1 2 \
        [--epochs 150] [--model '{"n_blocks": 2}'] [--runs runs/supercon3d_sodnet]

Regimes (paper Table 1): ``all`` (train and test on all 1,578), ``O`` (ordered only), ``O+SD``
(ordered and substitutionally disordered), and ``all->O`` (the ``all`` models tested on the
ordered structures of their test blocks; it needs no extra training). Each fold checkpoints under
``--runs`` and resumes there; finished folds write their predictions to
``benchmarks/results/supercon3d_sodnet/<regime>/fold_<k>.json``, and the summary (JSON, markdown,
parity plot) is rebuilt from whatever folds are finished, so the script can be run piecemeal.

``--extra-data 3dsc_new_systems`` adds to every fold's training set the 3DSC_MP superconductors (Tc > 0) whose
chemical system occurs nowhere in SuperCon3D (``matgl_supercon.data.extra_training_records``): no SuperCon3D
compound and none of its doping series, so no fold's test label can leak. Validation and test stay SuperCon3D's.
``formulas_new_systems`` adds the formula-only SuperCon table's superconductors in new chemical systems instead,
each as a one-site virtual crystal (``matgl_supercon.graph.virtual_crystal``), and
``3dsc_and_formulas_new_systems`` adds both. ``--virtual-copies`` also adds every training structure's own
virtual crystal with its label, so the model sees the same compounds in both forms (a bridge between the
formula rows and the crystals).

``--extra-scope compound`` filters the extra set per fold instead, as the shipped forests' formula rows are
(``held_out_extra_rows(..., scope="compound")``): every record of every chemical system, SuperCon3D's included,
whose composition lies 0.02 or more (atom-fraction L1) from each compound of the fold's validation and test blocks.
So ``--extra-data 3dsc_new_systems --extra-scope compound`` adds about 3,500 of 3DSC_MP's 3,995 superconductors per
fold, the doping series of SuperCon3D's training compounds among them, and never a held-out compound or its copy.

``--memory-data`` takes the same sets but does not train on them: a retrieval model
(``"retrieval_neighbors": 32``) stores them in its memory beside the training set and reads their ln Tc as
neighbours (``fit_tc_model(memory_set=...)``). With ``--memory-scope fold`` the memory set is filtered per fold
instead: every record whose chemical system occurs in none of the fold's validation and test structures, so the
formula rows of systems that only the fold's training block holds are read too (about 10,400 formulas per fold
instead of 7,138). No validation or test label can leak, and a training structure does not read the memory rows
of its own chemical system, as no test structure can (``fit_tc_model``'s ``memory_set``).

``--state chgnet`` gives every structure a state vector: the pretrained CHGNet universal potential's features of
its ordered approximant (``matgl_supercon.benchmarks.chgnet_features``; needs ``pip install chgnet``), computed
once and cached in ``runs/features/chgnet_supercon3d.npz``. The model arguments must then include ``"state_dim": 66``.
"""

from __future__ import annotations

import argparse
import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from _report import provenance

from matgl_supercon._io import write_bytes_atomic
from matgl_supercon.benchmarks import CHGNET_FEATURES, chgnet_features, fold_summary, grouped_mae, mae, parity_plot, r2
from matgl_supercon.data import (
    EXTRA_TRAINING_SETS,
    atom_fractions,
    chemical_system,
    extra_training_records,
    held_out_extra_rows,
    load_supercon3d,
    outside_chemical_systems,
    paper_folds,
)
from matgl_supercon.graph import DISORDER_TYPES, virtual_crystal
from matgl_supercon.models import SODNet
from matgl_supercon.training import (
    ConcatDataset,
    Subset,
    TrainConfig,
    configuration_differences,
    fit_tc_model,
    graph_dataset,
    logged_epochs,
    predict_dataset,
    records_dataset,
    write_json_atomic,
)

RESULTS = Path(__file__).parent / "results" / "supercon3d_sodnet"
REGIMES = ("all", "O", "O+SD")
#: SODNet arguments left out of a run's recorded configuration: the element list, and the scalings that training
#: sets from each fold's training split.
NOT_CONFIGURATION = ("element_types", "kwargs", "target_mean", "target_std", "state_mean", "state_std")
#: Where ``--state chgnet`` keeps the CHGNet features of SuperCon3D (about 5 CPU minutes to compute).
CHGNET_CACHE = Path("runs/features/chgnet_supercon3d.npz")
PAPER = {  # Chen et al., NeurIPS 2024, Table 1 (quoted): MAE ln K, R2
    "all": (0.505, 0.748),
    "O": (0.622, 0.595),
    "O+SD": (0.518, 0.716),
    "all->O": (0.584, 0.634),
}


def regime_members(regime: str, disorder: list[str]) -> np.ndarray:
    if regime == "all":
        return np.arange(len(disorder))
    if regime == "O":
        return np.array([i for i, d in enumerate(disorder) if d == "ordered"])
    if regime == "O+SD":
        return np.array([i for i, d in enumerate(disorder) if d in ("ordered", "SD")])
    raise ValueError(f"unknown regime {regime!r}; choose from {REGIMES}")


def summarise(records, disorder, results: Path) -> dict:
    families = {r.id: r.metadata["family"] for r in records}
    kind = {r.id: d for r, d in zip(records, disorder, strict=True)}
    summary: dict = {}
    for regime in (*REGIMES, "all->O"):
        source = "all" if regime == "all->O" else regime
        files = sorted((results / source).glob("fold_*.json"))
        if not files:
            continue
        folds, ids, y_true, y_pred = [], [], [], []
        for f in files:
            fold = json.loads(f.read_text())
            sel = [i for i, x in enumerate(fold["ids"]) if regime != "all->O" or kind[x] == "ordered"]
            t = np.array(fold["y_true"])[sel]
            p = np.array(fold["y_pred"])[sel]
            folds.append({"mae": mae(t, p), "r2": r2(t, p)})
            ids += [fold["ids"][i] for i in sel]
            y_true += t.tolist()
            y_pred += p.tolist()
        summary[regime] = {
            **fold_summary(folds),
            "folds": [int(f.stem.split("_")[1]) for f in files],
            "by_family": grouped_mae(y_true, y_pred, [families[i] for i in ids]),
            "by_disorder": grouped_mae(y_true, y_pred, [kind[i] for i in ids]),
            "paper_mae_r2": PAPER[regime],
        }
        if regime == "all":
            parity_plot(
                y_true,
                y_pred,
                results / "parity_all.png",
                f"SODNet (ours), SuperCon3D all/all, {len(files)} test folds",
                groups=[families[i] for i in ids],
                footer="python benchmarks/supercon3d_sodnet.py; see README.md for machine and date",
            )
    return summary


def write_markdown(summary: dict, meta: dict, results: Path) -> None:
    lines = [
        "# SODNet (ours) on SuperCon3D, paper protocol",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}  ",
        f"Date: {meta['date']}  ",
        f"Model: {meta['model']} ({meta['n_parameters']:,} parameters); training: {meta['config']}",
        "",
        "| regime | folds done | MAE ln K (mean ± sd) | R2 (mean ± sd) | paper SODNet MAE / R2 (quoted) |",
        "|---|---|---|---|---|",
    ]
    for regime, s in summary.items():
        pm, pr = s["paper_mae_r2"]
        lines.append(
            f"| {regime} | {s['n_folds']} | {s['mae_mean']:.3f} ± {s['mae_sd']:.3f} | "
            f"{s['r2_mean']:.3f} ± {s['r2_sd']:.3f} | {pm} / {pr} |"
        )
    for regime, s in summary.items():
        lines += ["", f"## {regime}: MAE by family and by disorder type (pooled test folds)", ""]
        lines.append("| group | n | MAE ln K |")
        lines.append("|---|---|---|")
        for key in ("by_family", "by_disorder"):
            for g, v in s[key].items():
                lines.append(f"| {g} | {v['n']} | {v['mae']:.3f} |")
    lines += ["", "Per-fold timing is in `supercon3d_sodnet.json` (`fold_timing`)."]
    (results / "README.md").write_text("\n".join(lines) + "\n")


def check_results_configuration(results: Path, model: dict, config: dict) -> None:
    """Exit when ``results`` holds folds of another model configuration or other settings.

    Finished folds are skipped, so adding folds of another configuration to them would mix two models in one
    table (e.g. after a default changed).
    """
    path = results / "supercon3d_sodnet.json"
    if not path.exists():
        return
    meta = json.loads(path.read_text())["meta"]
    differences = [
        f"{key}: {old!r} there, {new!r} now"
        for side, asked in ((meta["model"], model), (meta["config"], config))
        for key, old, new in configuration_differences(side, asked)
    ]
    if differences:
        raise SystemExit(
            f"{results} holds folds of another configuration ({'; '.join(differences)}); pass --results (and --runs) "
            "of a new folder, or the --model / --train that made those folds"
        )


def cached_chgnet_features(records, path: Path = CHGNET_CACHE) -> np.ndarray:
    """``chgnet_features`` of the records' structures, read from ``path`` when it holds them for these ids.

    A structure too dense for CHGNet (in SuperCon3D only the broken Li1P2H14 CIF) gets the column means of the
    others, and the ids so filled are printed.
    """
    ids = [r.id for r in records]
    features = None
    if path.exists():
        with np.load(path, allow_pickle=False) as cached:
            if cached["ids"].tolist() == ids:
                features = cached["features"]
    if features is None:
        features = chgnet_features([r.structure for r in records], on_dense="nan")
        buffer = io.BytesIO()
        np.savez(buffer, ids=np.array(ids), features=features)
        write_bytes_atomic(path, buffer.getvalue())
    missing = np.flatnonzero(np.isnan(features).any(axis=1))
    if missing.size:
        print(f"CHGNet features filled with column means for {[ids[i] for i in missing]}", flush=True)
        features = np.where(np.isnan(features), np.nanmean(features, axis=0), features)
    return features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--regimes", nargs="+", default=list(REGIMES))
    parser.add_argument("--folds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--epochs", type=int, default=TrainConfig.max_epochs)
    parser.add_argument("--model", default="{}", help="JSON of SODNet arguments")
    parser.add_argument("--train", default="{}", help="JSON of TrainConfig fields")
    parser.add_argument("--runs", default="runs/supercon3d_sodnet")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--accelerator", default="cpu", help="Lightning accelerator for training (cpu, gpu); prediction follows it"
    )
    parser.add_argument(
        "--seeds", type=int, default=1, help="models per fold (seeds 0..N-1), averaged; seed 0 is the single model"
    )
    parser.add_argument(
        "--extra-data", choices=EXTRA_TRAINING_SETS, default=None, help="extra training set (see above)"
    )
    parser.add_argument(
        "--extra-scope",
        choices=("benchmark", "compound"),
        default="benchmark",
        help="filter --extra-data against SuperCon3D's chemical systems (benchmark) or, per fold, against the "
        "compounds of its val+test blocks (compound; see above)",
    )
    parser.add_argument(
        "--memory-data",
        choices=EXTRA_TRAINING_SETS,
        default=None,
        help="extra records for a retrieval model's memory, not trained on (see above)",
    )
    parser.add_argument(
        "--memory-scope",
        choices=("benchmark", "fold"),
        default="benchmark",
        help="filter --memory-data against all of SuperCon3D (benchmark) or each fold's val+test blocks (fold)",
    )
    parser.add_argument(
        "--virtual-copies", action="store_true", help="also train on each training structure's virtual crystal"
    )
    parser.add_argument(
        "--init-runs",
        default=None,
        help="fine-tune: start each fold from INIT_RUNS/<regime>/fold_<k>/model (trained on the same fold's split)",
    )
    parser.add_argument(
        "--state", choices=("chgnet",), default=None, help="per-structure state vectors for a model with state_dim"
    )
    parser.add_argument("--summary-only", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where fold predictions and the summary go")
    args = parser.parse_args()
    if args.extra_scope != "benchmark" and not args.extra_data:
        parser.error(f"--extra-scope {args.extra_scope} filters --extra-data: name the extra data set")
    torch.set_num_threads(args.threads)

    records = load_supercon3d(args.data)
    ids = [r.id for r in records]
    ln_tc = np.log([r.tc for r in records])
    model_kwargs = json.loads(args.model)
    config = TrainConfig(**{"max_epochs": args.epochs, **json.loads(args.train)})
    template = SODNet(**model_kwargs)
    configuration = {k: v for k, v in template._init_args.items() if k not in NOT_CONFIGURATION}
    check_results_configuration(args.results, json.loads(json.dumps(configuration)), config.__dict__)
    state = None
    if args.state and not args.summary_only:
        if args.extra_data or args.virtual_copies:
            raise SystemExit("--state does not combine with --extra-data or --virtual-copies")
        if template.state_dim != CHGNET_FEATURES:
            raise SystemExit(f"--state chgnet needs --model '{{\"state_dim\": {CHGNET_FEATURES}, ...}}'")
        state = cached_chgnet_features(records)
    # SuperCon3D as published: 5 of its CIFs hold overlapping atoms (load_supercon3d's docstring).
    dataset = graph_dataset([r.structure for r in records], ln_tc, template.make_converter(allow_overlaps=True), state)
    disorder = [DISORDER_TYPES[int(dataset[i][0].disorder)] for i in range(len(dataset))]
    extra = copies = memory = extra_systems = extra_fractions = None
    # Formula-table records are one-site virtual crystals without neighbours, which the model's converter rejects.
    extra_converter = template.make_converter(allow_isolated=True)
    if args.virtual_copies and not args.summary_only:
        copies = graph_dataset([virtual_crystal(r.structure.composition) for r in records], ln_tc, extra_converter)
    if args.extra_data and not args.summary_only:
        # Compound scope: every candidate converted once, each fold then takes those far from its val+test compounds.
        reference = records if args.extra_scope == "benchmark" else []
        extra_records = extra_training_records(args.extra_data, reference, args.data)
        extra = records_dataset(extra_records, extra_converter)
        if args.extra_scope == "compound":
            extra_systems = [chemical_system(r.structure) for r in extra_records]
            extra_fractions = atom_fractions(extra_records)
        n_virtual = sum(bool(r.metadata.get("virtual_crystal")) for r in extra_records)
        where = "in chemical systems new to SuperCon3D" if args.extra_scope == "benchmark" else "before the fold filter"
        print(
            f"extra training data ({args.extra_data}): {len(extra) - n_virtual} 3DSC_MP structures and {n_virtual} "
            f"formulas {where}",
            flush=True,
        )

    if args.memory_data and not args.summary_only:
        if template.retrieval is None:
            raise SystemExit("--memory-data needs a retrieval model: --model '{\"retrieval_neighbors\": 32, ...}'")
        # Fold scope: every candidate converted once, each fold then takes those outside its val+test systems.
        reference = records if args.memory_scope == "benchmark" else []
        memory_records = extra_training_records(args.memory_data, reference, args.data)
        memory = records_dataset(memory_records, extra_converter)
        memory_systems = [chemical_system(r.structure) for r in memory_records]
        print(f"retrieval memory ({args.memory_data}, {args.memory_scope} scope): {len(memory)} candidates", flush=True)

    results = args.results
    timing_path = results / "timing.json"
    timing = json.loads(timing_path.read_text()) if timing_path.exists() else {}
    for regime in [] if args.summary_only else args.regimes:
        members = regime_members(regime, disorder)
        folds = paper_folds([ids[i] for i in members])
        for k in args.folds:
            out = results / regime / f"fold_{k}.json"
            if out.exists():
                continue
            train, val, test = (members[idx] for idx in folds[k])
            preds, best_val, seconds, epochs, trained_now = [], [], 0.0, 0, False
            memory_set, extra_set = memory, extra
            held_out = [records[i] for i in (*val, *test)]  # what the fold-scoped extra and memory sets keep away from
            if extra is not None and args.extra_scope == "compound":
                extra_set = Subset(extra, held_out_extra_rows(extra_systems, extra_fractions, held_out, "compound"))
                print(f"{regime} fold {k}: {len(extra_set)} extra records 0.02 or more from its val+test", flush=True)
            if memory is not None and args.memory_scope == "fold":
                memory_set = Subset(memory, outside_chemical_systems(memory_systems, held_out))
                print(f"{regime} fold {k}: {len(memory_set)} memory records outside its val+test systems", flush=True)
            for seed in range(args.seeds):
                # Seed 0 keeps the single model's folder, so an ensemble reuses it.
                run_dir = Path(args.runs) / regime / (f"fold_{k}" if seed == 0 else f"fold_{k}_seed{seed}")
                # A model already trained is only re-predicted; its training time comes from its epoch log.
                trained_now |= not (run_dir / "history.json").exists()
                parts = [Subset(dataset, train.tolist())]
                parts += [] if copies is None else [Subset(copies, train.tolist())]
                parts += [] if extra_set is None else [extra_set]
                start = None
                if args.init_runs:
                    start = SODNet.load(Path(args.init_runs) / regime / f"fold_{k}" / "model")
                model, history = fit_tc_model(
                    parts[0] if len(parts) == 1 else ConcatDataset(parts),
                    Subset(dataset, val.tolist()),
                    run_dir,
                    model_kwargs,
                    replace(config, seed=config.seed + seed),
                    {"accelerator": args.accelerator},
                    init_from=start,
                    memory_set=memory_set,
                )
                seconds += history["train_seconds"]  # logged epoch times, across interruptions
                epochs += len(logged_epochs(run_dir))
                best_val.append(history["best_val_mae"])
                preds.append(predict_dataset(model, Subset(dataset, test.tolist())))
            pred = np.mean(preds, axis=0)
            write_json_atomic(
                out,
                {
                    "ids": [ids[i] for i in test],
                    "y_true": ln_tc[test].tolist(),
                    "y_pred": pred.tolist(),
                    "best_val_mae": float(np.mean(best_val)),  # mean over the seeds
                    "epochs_run": history["epochs_run"],
                    "seeds": args.seeds,
                },
            )
            # Re-read before writing: folds may run in parallel processes that share this file.
            timing = json.loads(timing_path.read_text()) if timing_path.exists() else {}
            if not trained_now and f"{regime}/fold_{k}" in timing:
                continue
            timing[f"{regime}/fold_{k}"] = {
                "train_seconds": seconds,
                "epochs": epochs,
                "seconds_per_epoch": seconds / epochs,
                "accelerator": args.accelerator,
            }
            write_json_atomic(timing_path, timing)
            print(
                f"{regime} fold {k}: test MAE {mae(ln_tc[test], pred):.3f} R2 {r2(ln_tc[test], pred):.3f} "
                f"({seconds / 60:.1f} min)",
                flush=True,
            )

    command = [
        f"--regimes {' '.join(args.regimes)}",
        f"--epochs {args.epochs}",
        *([f"--seeds {args.seeds}"] if args.seeds > 1 else []),
        f"--model '{args.model}'",
        f"--train '{args.train}'",
        *([f"--accelerator {args.accelerator}"] if args.accelerator != "cpu" else []),
        *([f"--extra-data {args.extra_data}"] if args.extra_data else []),
        *([f"--extra-scope {args.extra_scope}"] if args.extra_scope != "benchmark" else []),
        *([f"--memory-data {args.memory_data}"] if args.memory_data else []),
        *([f"--memory-scope {args.memory_scope}"] if args.memory_scope != "benchmark" else []),
        *(["--virtual-copies"] if args.virtual_copies else []),
        *([f"--init-runs {args.init_runs}"] if args.init_runs else []),
        *([f"--state {args.state}"] if args.state else []),
        *([f"--results {args.results}", f"--runs {args.runs}"] if args.results != RESULTS else []),
    ]
    meta = {
        **provenance("python benchmarks/supercon3d_sodnet.py " + " ".join(command), args.threads, args.accelerator),
        "model": configuration,
        "n_parameters": template.num_parameters,
        "config": config.__dict__,
    }
    summary = summarise(records, disorder, results)
    write_json_atomic(results / "supercon3d_sodnet.json", {"meta": meta, "summary": summary, "fold_timing": timing})
    write_markdown(summary, meta, results)
    print((results / "README.md").read_text())


if __name__ == "__main__":
    main()

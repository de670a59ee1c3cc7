"""Learning curves on SuperCon3D (all/all): test MAE against the number of training structures, SODNet and forests.

Usage:
    python benchmarks/learning_curve.py --data ../shared/data [--sodnet-folds 0 1 2 3] [--threads 2]
    python benchmarks/learning_curve.py --data ../shared/data --summary-only

Would more structures close the gap to the target (0.45 ln K)? Each paper fold's training block is cut to nested
random subsets (12.5%, 25%, 50%, 100%; the order is a seeded ``torch.Generator`` permutation per fold), while
validation and test blocks stay whole. Extra trees and the random forest on Magpie features run on all 10 folds;
SODNet (``sodnet_variants.BASE``, the default configuration and recipe until 2026-11-27, 40 epochs at every size)
on ``--sodnet-folds``, its 100% points read from ``results/sodnet_variants/blocks2_composition/all``. Each SODNet
(fraction, fold) writes ``results/learning_curve/sodnet/<fraction>/fold_<k>.json`` and checkpoints under
``runs/learning_curve``, so the script resumes and several processes can share the folds. A saturating power law,
MAE(n) = c + a n^-b, is fitted to each learner's mean MAE; the report gives its asymptote c and, where c is below
the target, the training-set size at which the fit reaches it. Four or five points make that an extrapolation, not
a measurement. Writes ``results/learning_curve.{json,md,png}``."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
from _report import header_lines, provenance, write_report
from pretrained_features import LEARNERS
from scipy.optimize import curve_fit
from sodnet_variants import BASE, TRAIN, results_dir
from supercon3d_sodnet import PAPER

from matgl_supercon.benchmarks import fold_summary, mae, magpie_features, r2
from matgl_supercon.data import load_supercon3d, paper_folds
from matgl_supercon.models import SODNet
from matgl_supercon.training import Subset, TrainConfig, fit_tc_model, graph_dataset, predict_dataset, write_json_atomic

RESULTS = Path(__file__).parent / "results"
CURVES = RESULTS / "learning_curve"
FULL_SODNET = results_dir("blocks2_composition") / "all"
FRACTIONS = (0.125, 0.25, 0.5, 1.0)
TARGET = 0.45  # issue 3's all/all target, ln K


def training_subset(train: np.ndarray, fraction: float, fold: int) -> np.ndarray:
    """The first ``ceil(fraction * len(train))`` of a seeded permutation of ``train``: nested across fractions."""
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(fold)).numpy()
    return train[order[: math.ceil(fraction * len(train))]]


def saturating_power_law(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return c + a * n ** (-b)


def fit_curve(n: list[int], mae_mean: list[float]) -> dict:
    """Least-squares fit of ``c + a n^-b``; the size where it reaches ``TARGET`` (None if c >= TARGET)."""
    (a, b, c), _ = curve_fit(
        saturating_power_law, np.array(n, float), np.array(mae_mean), p0=(5.0, 0.5, 0.4), bounds=(0, [1e4, 3, 2])
    )
    reach = (a / (TARGET - c)) ** (1 / b) if c < TARGET else None
    return {"a": float(a), "b": float(b), "c": float(c), "n_at_target": None if reach is None else float(reach)}


def forest_curves(records, blocks, fractions) -> dict[str, dict[float, list[dict]]]:
    x = magpie_features([r.structure for r in records])
    y = np.log([r.tc for r in records])
    curves: dict[str, dict[float, list[dict]]] = {}
    for name, make in LEARNERS.items():
        curves[name] = {}
        for fraction in fractions:
            scores = []
            for k, (train, _, test) in enumerate(blocks):
                part = training_subset(train, fraction, k)
                # n_jobs changes the speed of a seeded forest, not its trees.
                pred = make(k).set_params(n_jobs=-1).fit(x[part], y[part]).predict(x[test])
                scores.append({"mae": mae(y[test], pred), "r2": r2(y[test], pred), "n_train": len(part)})
            curves[name][fraction] = scores
            print(f"{name} on Magpie, {fraction:.3f} of train: {np.mean([s['mae'] for s in scores]):.3f}", flush=True)
    return curves


def train_sodnet_folds(records, blocks, fractions, folds, threads: int) -> None:
    torch.set_num_threads(threads)
    ln_tc = np.log([r.tc for r in records])
    converter = SODNet(**BASE).make_converter(allow_overlaps=True)  # SuperCon3D as published (load_supercon3d)
    dataset = graph_dataset([r.structure for r in records], ln_tc, converter)
    for k in folds:
        train, val, test = blocks[k]
        for fraction in fractions:
            out = CURVES / "sodnet" / f"{fraction}" / f"fold_{k}.json"
            if fraction == 1.0 or out.exists():
                continue
            part = training_subset(train, fraction, k)
            model, history = fit_tc_model(
                Subset(dataset, part.tolist()),
                Subset(dataset, val.tolist()),
                Path("runs/learning_curve") / f"{fraction}" / f"fold_{k}",
                BASE,
                TrainConfig(**TRAIN),
            )
            pred = predict_dataset(model, Subset(dataset, test.tolist()))
            write_json_atomic(
                out,
                {
                    "ids": [records[i].id for i in test],
                    "y_true": ln_tc[test].tolist(),
                    "y_pred": pred.tolist(),
                    "n_train": len(part),
                    "train_seconds": history["train_seconds"],
                },
            )
            print(f"SODNet {fraction:.3f} of train, fold {k}: test MAE {mae(ln_tc[test], pred):.3f}", flush=True)


def sodnet_curve(records, blocks, fractions) -> dict[float, list[dict]]:
    """Finished SODNet points; the 100% ones are the default's fold files, on the folds the smaller sizes ran."""
    ids = [r.id for r in records]
    curve: dict[float, list[dict]] = {}
    folds_run = sorted({int(f.stem.split("_")[1]) for f in (CURVES / "sodnet").glob("*/fold_*.json")})
    for fraction in fractions:
        scores = []
        for k in folds_run:
            path = (
                FULL_SODNET / f"fold_{k}.json"
                if fraction == 1.0
                else CURVES / "sodnet" / f"{fraction}" / f"fold_{k}.json"
            )
            if not path.exists():
                continue
            fold = json.loads(path.read_text())
            if fold["ids"] != [ids[i] for i in blocks[k][2]]:
                raise ValueError(f"{path}: test ids differ from fold {k}'s test block")
            t, p = np.array(fold["y_true"]), np.array(fold["y_pred"])
            n_train = fold.get("n_train", len(blocks[k][0]))
            scores.append({"mae": mae(t, p), "r2": r2(t, p), "n_train": n_train, "fold": k})
        if scores:
            curve[fraction] = scores
    return curve


def plot(curves: dict[str, dict[float, list[dict]]], fits: dict[str, dict], path: Path, footer: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=120)
    grid = np.geomspace(100, 20000, 200)
    for (name, curve), colour in zip(curves.items(), ("C0", "C1", "C2"), strict=False):
        n = [np.mean([s["n_train"] for s in v]) for v in curve.values()]
        m = [np.mean([s["mae"] for s in v]) for v in curve.values()]
        sd = [np.std([s["mae"] for s in v]) for v in curve.values()]
        ax.errorbar(n, m, yerr=sd, fmt="o", color=colour, label=name, capsize=3)
        if name in fits:
            ax.plot(
                grid, saturating_power_law(grid, fits[name]["a"], fits[name]["b"], fits[name]["c"]), color=colour, lw=1
            )
    ax.axhline(TARGET, color="0.3", ls="--", lw=1, label=f"target {TARGET}")
    ax.axhline(PAPER["all"][0], color="0.6", ls=":", lw=1, label=f"paper SODNet {PAPER['all'][0]} (quoted)")
    ax.set_xscale("log")
    ax.set_xlabel("training structures")
    ax.set_ylabel("test MAE, ln K")
    ax.legend(fontsize=7)
    ax.set_title("SuperCon3D all/all learning curves (mean ± sd over folds; lines: fitted c + a n^-b)", fontsize=8)
    fig.text(0.01, 0.005, footer, fontsize=6, color="0.4")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--fractions", nargs="+", type=float, default=list(FRACTIONS))
    parser.add_argument("--sodnet-folds", nargs="*", type=int, default=[0, 1, 2, 3])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--summary-only", action="store_true", help="tabulate finished SODNet folds, train none")
    parser.add_argument("--no-report", action="store_true", help="train SODNet folds only (parallel workers)")
    args = parser.parse_args()
    records = load_supercon3d(args.data)
    blocks = paper_folds([r.id for r in records])
    if not args.summary_only:
        train_sodnet_folds(records, blocks, args.fractions, args.sodnet_folds, args.threads)
    if args.no_report:
        return
    curves = {"SODNet": sodnet_curve(records, blocks, args.fractions)}
    curves.update({f"{name} on Magpie": c for name, c in forest_curves(records, blocks, args.fractions).items()})
    summaries = {
        name: {str(f): {**fold_summary(v), "n_train": float(np.mean([s["n_train"] for s in v]))} for f, v in c.items()}
        for name, c in curves.items()
    }
    fits = {
        name: fit_curve([s["n_train"] for s in summary.values()], [s["mae_mean"] for s in summary.values()])
        for name, summary in summaries.items()
        if len(summary) >= 4
    }
    meta = provenance("python benchmarks/learning_curve.py --data ../shared/data", args.threads)
    plot(curves, fits, CURVES.with_suffix(".png"), f"{meta['command']}; {meta['machine']}; {meta['date']}")
    sodnet_folds = sorted({s["fold"] for v in curves["SODNet"].values() for s in v})
    full_files = sorted(FULL_SODNET.glob("fold_*.json"))
    full_folds = [json.loads(f.read_text()) for f in full_files]
    all_folds_mae = float(np.mean([mae(np.array(f["y_true"]), np.array(f["y_pred"])) for f in full_folds]))
    sodnet_full = summaries["SODNet"].get("1.0", {}).get("mae_mean", float("nan"))
    lines = header_lines("Learning curves on SuperCon3D (all/all, paper folds)", meta)
    lines += [
        "",
        "Nested random subsets of each fold's training block; validation and test blocks whole. Forests: 10 folds;",
        f"SODNet: folds {', '.join(map(str, sodnet_folds)) or 'none yet'} (40 epochs at every size). MAE in ln K,",
        "mean ± sd over folds. Fit: MAE(n) = c + a n^-b by least squares on the means (an extrapolation).",
        f"SODNet's folds are a subset of the forests' (its full-data MAE is {sodnet_full:.3f} on them, "
        f"{all_folds_mae:.3f} over all {len(full_files)} folds of `sodnet_variants/blocks2_composition/all`).",
        "",
        "| learner | training fraction | mean training structures | MAE | R2 |",
        "|---|---|---|---|---|",
    ]
    for name, summary in summaries.items():
        for f, s in summary.items():
            lines.append(
                f"| {name} | {float(f):.3f} | {s['n_train']:.0f} | {s['mae_mean']:.3f} ± {s['mae_sd']:.3f} "
                f"| {s['r2_mean']:.3f} |"
            )
    lines += [
        "",
        f"| learner | a | b | MAE factor per doubling (2^-b) | asymptote c (ln K) | training structures at {TARGET} |",
        "|---|---|---|---|---|---|",
    ]
    for name, fit in fits.items():
        reach = f"never (c >= {TARGET})" if fit["n_at_target"] is None else f"{fit['n_at_target']:,.0f}"
        # c at its lower bound: the points show no floor, and the fit is a plain power law.
        floor = f"{fit['c']:.3f}" + (" (at its bound: no floor seen)" if fit["c"] < 1e-3 else "")
        lines.append(f"| {name} | {fit['a']:.2f} | {fit['b']:.2f} | {2 ** -fit['b']:.3f} | {floor} | {reach} |")
    lines += ["", "Figure: `learning_curve.png`."]
    write_report(RESULTS / "learning_curve", {"meta": meta, "curves": summaries, "fits": fits}, lines)


if __name__ == "__main__":
    main()

"""Can a network learn ln Tc from composition statistics as well as a random forest? Numerical embeddings.

Usage:
    python benchmarks/composition_mlp.py --data ../shared/data [--folds 0 1 2] [--threads 1]

Paper protocol, regime ``all`` (10 folds 8:1:1, ln Tc, MAE in ln K), on the composition statistics SODNet's
readout sees (``sodnet_vs_forest.sodnet_statistics``, valence descriptors included). ``sodnet_vs_forest.md`` found
that the forest on these statistics (0.631) beats sklearn's MLP on them (0.714): the learner, not the features,
holds SODNet back. This script asks whether the per-feature periodic embeddings of Gorishniy, Rubachev & Babenko
(NeurIPS 2022; ``matgl_supercon.models._embedding.PeriodicEmbedding``, SODNet's ``composition_encoding="periodic"``)
close that gap. Rows:

- ``RF``: ``supercon3d_baselines.random_forest`` on the statistics.
- ``MLP``: two hidden layers of 256 (SiLU, dropout 0.1) on the standardised statistics; L1 loss on standardised
  ln Tc, AdamW (lr 1e-3, weight decay 1e-4), one-cycle schedule, batch 32, ``EPOCHS`` epochs, the epoch with the
  best validation MAE kept.
- ``MLP + periodic``: the same MLP on ``PeriodicEmbedding`` of the statistics (standardised with the training
  block's statistics).
- ``..., 3 seeds``: the mean prediction of three such networks (seeds 0-2), since a single network's test MAE
  varies by a few hundredths of ln K from seed to seed and the forest averages 500 trees.

Each fold's rows are written to ``--out/fold_K.json`` as they finish, so a rerun resumes; results go to
``benchmarks/results/composition_mlp.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _report import header_lines, provenance, write_report
from sodnet_vs_forest import sodnet_statistics
from supercon3d_baselines import random_forest
from torch import nn

from matgl_supercon._io import write_json_atomic
from matgl_supercon.benchmarks import fold_summary, mae, r2
from matgl_supercon.data import load_supercon3d, paper_folds
from matgl_supercon.models import SODNet
from matgl_supercon.models._embedding import PeriodicEmbedding
from matgl_supercon.training import graph_dataset

RESULTS = Path(__file__).parent / "results"
EPOCHS = 150
BATCH = 32
SEEDS = 3
ROWS = ("RF", "MLP", f"MLP, {SEEDS} seeds", "MLP + periodic", f"MLP + periodic, {SEEDS} seeds")


def supercon3d_statistics(
    data: str | None, records: list | None = None
) -> tuple[list[str], np.ndarray, np.ndarray, list[tuple]]:
    """SuperCon3D's ids, ln Tc, SODNet's composition statistics (float64) and the paper's 10 folds.

    ``records``: SuperCon3D as the caller loaded it already (default: loaded from ``data``).
    """
    records = load_supercon3d(data) if records is None else records
    ids = [r.id for r in records]
    y = np.log([r.tc for r in records])
    converter = SODNet().make_converter(allow_overlaps=True)  # SuperCon3D as published (load_supercon3d)
    dataset = graph_dataset([r.structure for r in records], y, converter)
    return ids, y, sodnet_statistics(dataset)[0].astype(np.float64), paper_folds(ids)


def network(n_features: int, periodic: bool, shift: torch.Tensor, scale: torch.Tensor) -> nn.Sequential:
    """The MLP of the module docstring; with ``periodic`` the statistics enter through ``PeriodicEmbedding``."""
    if periodic:
        encoder = PeriodicEmbedding(n_features)
        encoder.set_scaling(shift, scale)
        first: list[nn.Module] = [encoder]
        width = encoder.out_dim
    else:
        first, width = [], n_features
    return nn.Sequential(
        *first,
        nn.Linear(width, 256),
        nn.SiLU(),
        nn.Dropout(0.1),
        nn.Linear(256, 256),
        nn.SiLU(),
        nn.Dropout(0.1),
        nn.Linear(256, 1),
    )


def fit_predict(x: np.ndarray, y: np.ndarray, split: tuple, seed: int, periodic: bool) -> np.ndarray:
    """Train one network on the split's training block (validation picks the epoch); predict its test block."""
    train, val, test = split
    torch.manual_seed(seed)  # the initial weights; batches come from the local generator below
    generator = torch.Generator().manual_seed(seed)
    shift = torch.tensor(x[train].mean(0), dtype=torch.float32)
    scale = torch.tensor(np.maximum(x[train].std(0), 1e-6), dtype=torch.float32)
    features = torch.tensor(x, dtype=torch.float32)
    if not periodic:  # the plain MLP gets the same standardisation and clipping the embedding applies
        features = ((features - shift) / scale).clamp(-5.0, 5.0)
    y_mean, y_std = float(y[train].mean()), float(y[train].std())
    target = torch.tensor((y - y_mean) / y_std, dtype=torch.float32)
    model = network(x.shape[1], periodic, shift, scale)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    steps = EPOCHS * -(-len(train) // BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 1e-3, total_steps=steps)
    train_rows = torch.as_tensor(train)
    best, best_state = float("inf"), None
    for _ in range(EPOCHS):
        model.train()
        order = train_rows[torch.randperm(len(train_rows), generator=generator)]
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            loss = (model(features[rows]).squeeze(-1) - target[rows]).abs().mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        model.eval()
        with torch.no_grad():
            val_mae = float((model(features[val]).squeeze(-1) - target[val]).abs().mean())
        if val_mae < best:
            best, best_state = val_mae, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        return model(features[test]).squeeze(-1).numpy() * y_std + y_mean


def fold_rows(x: np.ndarray, y: np.ndarray, split: tuple, k: int) -> dict[str, dict[str, float]]:
    """Test MAE, R2 and training seconds of every row of ``ROWS`` on fold ``k``."""
    train, _, test = split
    predictions, seconds = {}, {}
    started = time.perf_counter()
    predictions["RF"] = random_forest(k).fit(x[train], y[train]).predict(x[test])
    seconds["RF"] = time.perf_counter() - started
    for name, periodic in (("MLP", False), ("MLP + periodic", True)):
        members = []
        for seed in range(SEEDS):
            started = time.perf_counter()
            members.append(fit_predict(x, y, split, 100 * k + seed, periodic=periodic))
            seconds.setdefault(name, time.perf_counter() - started)
        predictions[name] = members[0]
        predictions[f"{name}, {SEEDS} seeds"] = np.mean(members, axis=0)
        seconds[f"{name}, {SEEDS} seeds"] = SEEDS * seconds[name]
    return {
        name: {"mae": mae(y[test], p), "r2": r2(y[test], p), "seconds": seconds[name]}
        for name, p in predictions.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", nargs="*", type=int, default=list(range(10)))
    parser.add_argument("--out", default="runs/composition_mlp")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    _, y, x, folds = supercon3d_statistics(args.data)
    out = Path(args.out)
    per_fold = {}
    for k in args.folds:
        path = out / f"fold_{k}.json"
        if not path.exists():
            write_json_atomic(path, fold_rows(x, y, folds[k], k))
        per_fold[k] = json.loads(path.read_text())
        print(f"fold {k}", {n: round(r["mae"], 3) for n, r in per_fold[k].items()}, flush=True)
    summary = {name: fold_summary([per_fold[k][name] for k in per_fold]) for name in ROWS}
    folds_opt = f" --folds {' '.join(map(str, args.folds))}" if args.folds != list(range(10)) else ""
    meta = provenance(f"python benchmarks/composition_mlp.py --data ../shared/data{folds_opt}", args.threads)
    lines = [
        *header_lines("Composition statistics: random forest against MLPs with and without periodic embeddings", meta),
        f"Folds: {', '.join(map(str, per_fold))} (all/all, {x.shape[1]} statistics per structure).",
        "",
        "| learner | MAE ln K | R2 |",
        "|---|---|---|",
        *(f"| {n} | {s['mae_mean']:.3f} ± {s['mae_sd']:.3f} | {s['r2_mean']:.3f} |" for n, s in summary.items()),
    ]
    write_report(RESULTS / "composition_mlp", {"meta": meta, "summary": summary, "folds": per_fold}, lines)


if __name__ == "__main__":
    main()

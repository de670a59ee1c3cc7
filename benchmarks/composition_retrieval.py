"""Does a retrieval-augmented network (TabR) learn ln Tc from composition statistics as well as a random forest?

Usage:
    python benchmarks/composition_retrieval.py --data ../shared/data [--folds 0 1 2] [--threads 1] \\
        [--memory-data formulas_new_systems] [--train-data formulas_new_systems]

Paper protocol, regime ``all`` (10 folds 8:1:1, ln Tc, MAE in ln K), on the composition statistics SODNet's readout
sees (``sodnet_vs_forest.sodnet_statistics``, valence descriptors included), like ``composition_mlp.py``, whose
MLPs trail the forest (0.708, or 0.641 for three periodic-embedding MLPs averaged, against 0.629). TabR
(Gorishniy et al., ICLR 2024) lets a network read the labels of the training rows nearest in a learned space; it
is reported to close the gap to gradient-boosted trees on tabular data. Rows:

- ``RF``: ``supercon3d_baselines.random_forest`` on the statistics.
- ``retrieval``: :class:`matgl_supercon.models.CompositionTc` trained by
  :func:`matgl_supercon.training.fit_composition_tc`: SODNet's
  :class:`~matgl_supercon.models._retrieval.LabelRetrieval` (32 neighbours, width 128, the training block as
  memory, each row left out of its own neighbours while training) and a residual feed-forward block to ln Tc; L1
  loss on standardised ln Tc, AdamW (lr 3e-4, weight decay 1e-5), batch 64, up to 200 epochs, stopped 20 epochs
  after the best validation MAE, whose weights are kept (``CompositionTrainConfig``).
- ``retrieval, 3 seeds``: the mean prediction of three such networks (seeds 0-2).

``--memory-data formulas_new_systems`` adds one row, ``retrieval + formula memory``: one network (seed 0) whose
memory also holds the SuperCon formula table's superconductors in chemical systems absent from SuperCon3D
(``matgl_supercon.data.extra_training_records``; 7,138 one-site virtual crystals), read as neighbours but not
trained on, as ``supercon3d_sodnet.py --memory-data`` does for SODNet. Its folds go to ``--out/memory_fold_K.json``.
``--memory-no-near-copies`` makes that row ``retrieval + formula memory, no near copies``: the memory leaves out the
944 formula rows within ``SAME_COMPOUND_DISTANCE`` (0.02 in atom fractions) of a SuperCon3D composition, lightly
doped copies of its compounds from neighbouring systems (``Mg0.997Fe0.003B2`` beside MgB2), which a test structure
would otherwise read as a neighbour with its own Tc (``formula_scope.py``; ``--out/distinct_memory_fold_K.json``).
``--train-data formulas_new_systems`` adds ``retrieval trained with formulas``: the same records join the training
rows as well as the memory (the target scaling stays the SuperCon3D block's; batches of ``TRAINED_BATCH_SIZE``,
formula rows weighted ``TRAINED_EXTRA_WEIGHT`` in the loss; ``--out/trained_fold_K.json``). On folds 0 and 1 it
scored worse than the network that only reads them (0.607 against 0.581 ln K; 0.628 with every row weighted 1),
though the forest gains much from the same rows as training rows (``supercon3d_baselines_formulas_new_systems.md``):
this network uses the formula table best as neighbours to read.
With ``--save-members`` those networks are also saved (``member_runs_dir``) with their test predictions
(``member_results_dir``), for ``make_pretrained.py`` to ship as members; a fold whose row is already finished is
trained again and must predict what the row holds (training is deterministic).

Each fold's rows are written to ``--out/fold_K.json`` as they finish, so a rerun resumes; results go to
``benchmarks/results/composition_retrieval.{json,md}``, which hold every fold's rows too: a run on a machine without
``--out`` (a fresh clone) starts from the committed folds instead of recomputing or dropping them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from _report import header_lines, provenance, write_report
from composition_mlp import supercon3d_statistics
from sodnet_vs_forest import sodnet_statistics
from supercon3d_baselines import random_forest

from matgl_supercon._io import write_json_atomic
from matgl_supercon.benchmarks import fold_summary, mae, r2
from matgl_supercon.data import EXTRA_TRAINING_SETS, SAME_COMPOUND_DISTANCE, extra_training_records, load_supercon3d
from matgl_supercon.models import CompositionTc, SODNet
from matgl_supercon.training import CompositionTrainConfig, fit_composition_tc, records_dataset, save_model_atomic

RESULTS = Path(__file__).parent / "results"
SEEDS = 3
ROWS = ("RF", "retrieval", f"retrieval, {SEEDS} seeds")
MEMORY_ROW = "retrieval + formula memory"
TRAINED_ROW = "retrieval trained with formulas"
DISTINCT_MEMORY_ROW = "retrieval + formula memory, no near copies"
#: Row of each extra-record option, and the prefix of its fold files under ``--out``.
EXTRA_ROWS = {
    "memory": (MEMORY_ROW, "memory"),
    "train": (TRAINED_ROW, "trained"),
    "distinct_memory": (DISTINCT_MEMORY_ROW, "distinct_memory"),
}
#: Names of the saved fold networks of each extra-record option (``--save-members``), as ``make_pretrained.py``
#: knows them: members of the shipped ensemble beside the SODNet configurations of ``sodnet_variants.py``.
MEMBER_VARIANTS = {
    "memory": "composition_tc_formula_memory",
    "train": "composition_tc_formula_trained",
    "distinct_memory": "composition_tc_formula_memory_no_near_copies",
}
#: Batch size of the ``train`` option's networks: 8,401 training rows in batches of 256 take about as many steps
#: per epoch (33) as the SuperCon3D block alone in the default 64 (20), and every step encodes the whole memory,
#: so batches of 64 would make an epoch four times as long (about 130 s on one core, against 35 s).
TRAINED_BATCH_SIZE = 256
#: Loss weight of a formula row against a SuperCon3D row in the ``train`` option: 1,263 / 7,138, so that the two
#: sets weigh the same in total (at weight 1, folds 0 and 1 scored 0.673 and 0.583 ln K against the memory-only
#: network's 0.625 and 0.538).
TRAINED_EXTRA_WEIGHT = 0.18


def member_results_dir(name: str) -> Path:
    """Where a member variant's per-fold test results live (``all/fold_K.json``, as ``sodnet_variants.py`` has)."""
    return RESULTS / "composition_members" / name


def member_runs_dir(name: str) -> Path:
    """Where a member variant's fold networks are saved (``all/fold_K/model``; not committed)."""
    return Path("runs/composition_members") / name


def records_statistics(records: list) -> tuple[np.ndarray, np.ndarray]:
    """Composition statistics (float64) and ln Tc of extra records (formula rows are one-site virtual crystals)."""
    converter = SODNet().make_converter(allow_isolated=True)
    statistics = sodnet_statistics(records_dataset(records, converter))[0].astype(np.float64)
    return statistics, np.log([r.tc for r in records])


def memory_statistics(name: str, data: str | None, min_distance: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Statistics and ln Tc of an extra set's records (:func:`extra_training_records` against SuperCon3D, rows
    nearer than ``min_distance`` to a SuperCon3D composition left out)."""
    return records_statistics(extra_training_records(name, load_supercon3d(data), data, min_distance=min_distance))


def fit_model(
    x: np.ndarray,
    y: np.ndarray,
    split: tuple,
    seed: int,
    memory: tuple[np.ndarray, np.ndarray] | None = None,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[CompositionTc, dict]:
    """Train one network on the split's training block (validation picks the epoch).

    ``memory`` (statistics, ln Tc) of extra records joins the training block in the retrieval memory only;
    ``extra`` records join it in the memory and as training rows (the target scaling stays the block's).
    """
    train, val, _ = split
    config = CompositionTrainConfig(seed=seed)
    if extra is not None:
        config = dataclasses.replace(config, batch_size=TRAINED_BATCH_SIZE, extra_weight=TRAINED_EXTRA_WEIGHT)
    return fit_composition_tc((x[train], y[train]), (x[val], y[val]), config=config, extra=extra, memory=memory)


def predict(model: CompositionTc, statistics: np.ndarray) -> np.ndarray:
    """ln Tc (float64) of rows of statistics."""
    with torch.no_grad():
        return model.predict_statistics(statistics).numpy().astype(np.float64)


def fit_predict(x: np.ndarray, y: np.ndarray, split: tuple, seed: int, **extra_rows) -> np.ndarray:
    """:func:`fit_model`'s network's predictions for the split's test block."""
    return predict(fit_model(x, y, split, seed, **extra_rows)[0], x[split[2]])


def fold_rows(x: np.ndarray, y: np.ndarray, split: tuple, k: int) -> dict[str, dict]:
    """Test MAE, R2, training seconds and test predictions of every row of ``ROWS`` on fold ``k``."""
    train, _, test = split
    started = time.perf_counter()
    predictions = {"RF": random_forest(k).fit(x[train], y[train]).predict(x[test])}
    seconds = {"RF": time.perf_counter() - started}
    members = []
    for seed in range(SEEDS):
        started = time.perf_counter()
        members.append(fit_predict(x, y, split, 100 * k + seed))
        seconds.setdefault("retrieval", time.perf_counter() - started)
    predictions["retrieval"] = members[0]
    predictions[f"retrieval, {SEEDS} seeds"] = np.mean(members, axis=0)
    seconds[f"retrieval, {SEEDS} seeds"] = SEEDS * seconds["retrieval"]
    return {
        name: {"mae": mae(y[test], p), "r2": r2(y[test], p), "seconds": seconds[name], "y_pred": p.tolist()}
        for name, p in predictions.items()
    }


def restore_committed_folds(out: Path) -> None:
    """Write the committed report's fold rows to ``out`` where ``out`` lacks them (see the module docstring)."""
    committed = RESULTS / "composition_retrieval.json"
    if not committed.exists():
        return
    for k, rows in json.loads(committed.read_text())["folds"].items():
        rows = dict(rows)
        extra_rows = {prefix: rows.pop(name, None) for name, prefix in EXTRA_ROWS.values()}
        if not (out / f"fold_{k}.json").exists():
            write_json_atomic(out / f"fold_{k}.json", rows)
        for prefix, row in extra_rows.items():
            if row is not None and not (out / f"{prefix}_fold_{k}.json").exists():
                write_json_atomic(out / f"{prefix}_fold_{k}.json", row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", nargs="*", type=int, default=list(range(10)))
    parser.add_argument("--out", default="runs/composition_retrieval")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory-data", choices=EXTRA_TRAINING_SETS, default=None, help="see the module docstring")
    parser.add_argument("--train-data", choices=EXTRA_TRAINING_SETS, default=None, help="see the module docstring")
    parser.add_argument(
        "--memory-no-near-copies",
        action="store_true",
        help="leave the --memory-data rows within SAME_COMPOUND_DISTANCE of a SuperCon3D composition out",
    )
    parser.add_argument(
        "--save-members",
        action="store_true",
        help="also save the --memory-data / --train-data fold networks as members for make_pretrained.py",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ids, y, x, folds = supercon3d_statistics(args.data)
    memory_role = "distinct_memory" if args.memory_no_near_copies else "memory"
    extra_sets = {memory_role: args.memory_data, "train": args.train_data}
    extra = {
        role: memory_statistics(name, args.data, SAME_COMPOUND_DISTANCE if role == "distinct_memory" else 0.0)
        for role, name in extra_sets.items()
        if name
    }
    out = Path(args.out)
    restore_committed_folds(out)
    for k in args.folds:
        path = out / f"fold_{k}.json"
        if not path.exists():
            write_json_atomic(path, {"ids": [ids[i] for i in folds[k][2]], **fold_rows(x, y, folds[k], k)})
        test = folds[k][2]
        for role, rows in extra.items():
            path = out / f"{EXTRA_ROWS[role][1]}_fold_{k}.json"
            member = member_runs_dir(MEMBER_VARIANTS[role]) / "all" / f"fold_{k}" / "model"
            if path.exists() and (not args.save_members or (member / "model.json").exists()):
                continue
            started = time.perf_counter()
            # Seed 0's network (the ``retrieval`` row's seed).
            model, fitted = fit_model(x, y, folds[k], 100 * k, **{"extra" if role == "train" else "memory": rows})
            p = predict(model, x[test])
            if path.exists():  # a finished (e.g. committed) row: the saved member must be the network it scored
                difference = float(np.abs(np.array(json.loads(path.read_text())["y_pred"]) - p).max())
                if difference > 1e-6:
                    raise SystemExit(f"{path}: retrained fold {k} predicts up to {difference:.2g} ln K differently")
            else:
                row = {"mae": mae(y[test], p), "r2": r2(y[test], p), "y_pred": p.tolist()}
                write_json_atomic(path, {**row, "seconds": time.perf_counter() - started})
            if args.save_members:
                member.parent.mkdir(parents=True, exist_ok=True)
                save_model_atomic(model, member)
                result = {"ids": [ids[i] for i in test], "y_true": y[test].tolist(), "y_pred": p.tolist()}
                result.update(mae=mae(y[test], p), r2=r2(y[test], p), epochs_run=fitted["epochs"])
                write_json_atomic(member_results_dir(MEMBER_VARIANTS[role]) / "all" / f"fold_{k}.json", result)
    # Every finished fold is tabulated (a run of a few folds adds to the table, it does not replace it).
    per_fold = {}
    for k in range(len(folds)):
        if (out / f"fold_{k}.json").exists():
            per_fold[k] = json.loads((out / f"fold_{k}.json").read_text())
        for name, prefix in EXTRA_ROWS.values():
            if k in per_fold and (out / f"{prefix}_fold_{k}.json").exists():
                per_fold[k][name] = json.loads((out / f"{prefix}_fold_{k}.json").read_text())
    metrics = ("mae", "r2", "seconds")
    summary, same_folds = {}, {}
    for name in (*ROWS, *(row for row, _ in EXTRA_ROWS.values())):
        ran = [k for k in per_fold if name in per_fold[k]]
        if ran:
            summary[name] = {"folds": ran, **fold_summary([{m: per_fold[k][name][m] for m in metrics} for k in ran])}
            same_folds[name] = {
                n: float(np.mean([per_fold[k][n]["mae"] for k in ran])) if all(n in per_fold[k] for k in ran) else None
                for n in ("RF", "retrieval", MEMORY_ROW)
            }
    options = f" --memory-data {args.memory_data}" if args.memory_data else ""
    options += " --memory-no-near-copies" if args.memory_no_near_copies else ""
    options += f" --train-data {args.train_data}" if args.train_data else ""
    options += " --save-members" if args.save_members else ""
    meta = provenance(f"python benchmarks/composition_retrieval.py --data ../shared/data{options}", args.threads)
    lines = [
        *header_lines("Composition statistics: random forest against a retrieval-augmented network (TabR)", meta),
        f"All/all, {x.shape[1]} statistics per structure. Rows may cover fewer folds: compare a row with the",
        "forest and the retrieval networks on its own folds (last three columns).",
        "",
        f"| learner | folds | MAE ln K | R2 | RF, same folds | retrieval, same folds | {MEMORY_ROW}, same folds |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {n} | {len(s['folds'])} | {s['mae_mean']:.3f} ± {s['mae_sd']:.3f} | {s['r2_mean']:.3f} | "
            + " | ".join("—" if v is None else f"{v:.3f}" for v in same_folds[n].values())
            + " |"
            for n, s in summary.items()
        ),
    ]
    write_report(RESULTS / "composition_retrieval", {"meta": meta, "summary": summary, "folds": per_fold}, lines)


if __name__ == "__main__":
    main()

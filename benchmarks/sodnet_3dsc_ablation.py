"""Which of the two 2026-11-27 default changes costs SODNet accuracy on 3DSC_MP grouped by mp_id?

Usage:
    python benchmarks/sodnet_3dsc_ablation.py --data ../shared/data

On SuperCon3D, two changes made today's default: elements enter through their projected descriptors only, without
the free per-element vector added to them before (``learned_element_embedding=False``), and the weights are
averaged (``ema_decay=0.995``). On ``3dsc_mp_tc_mpid``
(4,600 training structures per fold, 3.6x SuperCon3D's) the new default was worse than the old one on 4 of 5
folds. This reads four cells of that task, the 2 x 2 of the two changes, and tabulates each fold's test MAE and
R2 (K), so the folds all four share compare the configurations pairwise:

- today's default: ``benchmarks/results/tasks/3dsc_mp_tc_mpid/SODNet`` (``mgl-supercon benchmark``);
- the default until 2026-11-27 (descriptors + free embedding, no weight average): its cell as committed on
  2026-11-26, kept in ``benchmarks/results/ablations/previous_default/3dsc_mp_tc_mpid/SODNet``;
- descriptors + free embedding with the weight average, and descriptors only without it, each run as
  ``mgl-supercon benchmark 3dsc_mp_tc_mpid --model SODNet --threads 1 --folds K --out
  benchmarks/results/ablations/<variant> --runs runs/ablations/<variant>`` plus
  ``--model-args '{"learned_element_embedding": true}'`` (``free_embedding_ema``) or
  ``--train '{"ema_decay": 0.0}'`` (``descriptors_no_ema``);
- today's default and the previous one again with ``--seed 1`` (``default_seed1``, ``previous_default_seed1``):
  the seed-to-seed spread of one fold, against which the configurations' differences are read.

Writes ``benchmarks/results/ablations/sodnet_3dsc_mp_mpid.{json,md}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _report import header_lines, provenance, write_report

from matgl_supercon.benchmarks import load_task, mae, r2
from matgl_supercon.benchmarks._runner import load_fold

RESULTS = Path(__file__).parent / "results"
TASK = "3dsc_mp_tc_mpid"
#: name -> (element input, weight average, cell folder)
CELLS: dict[str, tuple[str, str, Path]] = {
    "previous_default": (
        "descriptors + free embedding",
        "none",
        RESULTS / "ablations/previous_default" / TASK / "SODNet",
    ),
    "free_embedding_ema": (
        "descriptors + free embedding",
        "EMA 0.995",
        RESULTS / "ablations/free_embedding_ema" / TASK / "SODNet",
    ),
    "descriptors_no_ema": ("descriptors only", "none", RESULTS / "ablations/descriptors_no_ema" / TASK / "SODNet"),
    "default": ("descriptors only", "EMA 0.995", RESULTS / "tasks" / TASK / "SODNet"),
}
#: Configurations again with another seed (``--seed 1``), each beside the cell it repeats: how far one
#: configuration's fold MAE moves by chance. name -> (element input, weight average, cell folder, repeated cell).
REPEATS: dict[str, tuple[str, str, Path, str]] = {
    "default_seed1": (
        "descriptors only, seed 1",
        "EMA 0.995",
        RESULTS / "ablations/default_seed1" / TASK / "SODNet",
        "default",
    ),
    "previous_default_seed1": (
        "descriptors + free embedding, seed 1",
        "none",
        RESULTS / "ablations/previous_default_seed1" / TASK / "SODNet",
        "previous_default",
    ),
}


def fold_scores(task, cell: Path) -> dict[int, dict[str, float]]:
    """``{fold: {"mae", "r2"}}`` of every finished fold of a cell."""
    scores = {}
    for k in task.folds:
        path = cell / f"fold_{k}.json"
        if path.exists():
            truth = task.targets[task.train_val_test_positions(k)[2]]
            predictions = load_fold(task, path, k)["predictions"]
            scores[k] = {"mae": mae(truth, predictions), "r2": r2(truth, predictions)}
    return scores


def _mean_over(scores: dict[int, dict[str, float]], folds: list[int], metric: str) -> float | None:
    """Mean of ``metric`` over ``folds``, or None when the cell lacks one of them."""
    return float(np.mean([scores[k][metric] for k in folds])) if all(k in scores for k in folds) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    task = load_task(TASK, args.data)
    configurations = {**CELLS, **{name: repeat[:3] for name, repeat in REPEATS.items()}}
    scores = {name: fold_scores(task, cell) for name, (_, _, cell) in configurations.items()}
    shared = sorted(set.intersection(*(set(scores[name]) for name in CELLS)))
    if not shared:
        raise SystemExit(f"no fold is finished in every one of {', '.join(str(c[2]) for c in CELLS.values())}")
    rows = {}
    for name, (elements, average, cell) in configurations.items():
        if not scores[name]:
            continue  # a repeat not run yet
        rows[name] = {
            "element_input": elements,
            "weight_average": average,
            "cell": str(cell.relative_to(RESULTS.parents[1])),
            "folds": {str(k): v for k, v in scores[name].items()},
            "mae_shared_folds": _mean_over(scores[name], shared, "mae"),
            "r2_shared_folds": _mean_over(scores[name], shared, "r2"),
        }
    meta = provenance("python benchmarks/sodnet_3dsc_ablation.py --data ../shared/data", "1 core")
    lines = [
        *header_lines("SODNet on 3DSC_MP grouped by mp_id: element descriptors x weight average", meta),
        "",
        f"Test MAE in K per fold (R2 in brackets); the mean is over the folds every cell has: {shared}.",
        "The cells' own commands, machines and dates are in their `summary.json`.",
        "",
        "| element input | weight average | "
        + " | ".join(f"fold {k}" for k in task.folds)
        + " | mean (shared) | cell |",
        "|---|---|" + "---|" * len(task.folds) + "---|---|",
    ]
    for row in rows.values():
        cells = [
            f"{row['folds'][str(k)]['mae']:.2f} ({row['folds'][str(k)]['r2']:.2f})" if str(k) in row["folds"] else ""
            for k in task.folds
        ]
        shared_mae, shared_r2 = row["mae_shared_folds"], row["r2_shared_folds"]
        mean = "" if shared_mae is None else f"{shared_mae:.2f} ({shared_r2:.2f})"
        lines.append(
            f"| {row['element_input']} | {row['weight_average']} | {' | '.join(cells)} | {mean} | `{row['cell']}` |"
        )
    spreads = [
        f"fold {k}, `{name}` vs `{base}`: {abs(scores[name][k]['mae'] - scores[base][k]['mae']):.2f} K"
        for name, (*_, base) in REPEATS.items()
        for k in sorted(scores[name])
    ]
    if spreads:
        lines += ["", f"Seed spread (one configuration, seeds 0 and 1): {'; '.join(spreads)}."]
    payload = {"meta": meta, "shared_folds": shared, "rows": rows}
    write_report(RESULTS / "ablations" / "sodnet_3dsc_mp_mpid", payload, lines)


if __name__ == "__main__":
    main()

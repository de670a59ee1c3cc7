"""Which of the two 2026-11-27 default changes costs SODNet accuracy on 3DSC_MP (mp_id-grouped or random folds)?

Usage:
    python benchmarks/sodnet_3dsc_ablation.py --data ../shared/data [--task 3dsc_mp_tc_random]

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

``--task 3dsc_mp_tc_random`` reads the same cells of the random-fold task (same commands with that task name),
where the new default was worse on every fold; cells not run for a task are left out of its table.

Writes ``benchmarks/results/ablations/sodnet_3dsc_mp_{mpid,random}.{json,md}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _report import header_lines, provenance, write_report

from matgl_supercon.benchmarks import load_task, mae, r2
from matgl_supercon.benchmarks._runner import load_fold

RESULTS = Path(__file__).parent / "results"
#: The tasks read: task -> (its folds in words, its report under results/ablations/)
TASKS = {
    "3dsc_mp_tc_mpid": ("grouped by mp_id", "sodnet_3dsc_mp_mpid"),
    "3dsc_mp_tc_random": ("in random folds", "sodnet_3dsc_mp_random"),
}
#: name -> (element input, weight average, folder of its cells under results/; "tasks" for today's default)
CELLS: dict[str, tuple[str, str, str]] = {
    "previous_default": ("descriptors + free embedding", "none", "ablations/previous_default"),
    "free_embedding_ema": ("descriptors + free embedding", "EMA 0.995", "ablations/free_embedding_ema"),
    "descriptors_no_ema": ("descriptors only", "none", "ablations/descriptors_no_ema"),
    "default": ("descriptors only", "EMA 0.995", "tasks"),
}
#: Configurations again with another seed (``--seed 1``), each beside the cell it repeats: how far one
#: configuration's fold MAE moves by chance. name -> (element input, weight average, cells folder, repeated cell).
REPEATS: dict[str, tuple[str, str, str, str]] = {
    "default_seed1": ("descriptors only, seed 1", "EMA 0.995", "ablations/default_seed1", "default"),
    "previous_default_seed1": (
        "descriptors + free embedding, seed 1",
        "none",
        "ablations/previous_default_seed1",
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
    parser.add_argument("--task", choices=sorted(TASKS), default="3dsc_mp_tc_mpid")
    args = parser.parse_args()
    task = load_task(args.task, args.data)
    configurations = {**CELLS, **{name: repeat[:3] for name, repeat in REPEATS.items()}}
    folders = {name: RESULTS / folder / args.task / "SODNet" for name, (_, _, folder) in configurations.items()}
    scores = {name: fold_scores(task, folders[name]) for name in configurations}
    compared = [name for name in CELLS if scores[name]]  # the configurations run on this task
    shared = sorted(set.intersection(*(set(scores[name]) for name in compared))) if compared else []
    if len(compared) < 2 or not shared:
        raise SystemExit(f"{args.task}: no fold is finished in two or more of {', '.join(map(str, folders.values()))}")
    rows = {}
    for name, (elements, average, _) in configurations.items():
        cell = folders[name]
        if not scores[name]:
            continue  # not run for this task (yet)
        rows[name] = {
            "element_input": elements,
            "weight_average": average,
            "cell": str(cell.relative_to(RESULTS.parents[1])),
            "folds": {str(k): v for k, v in scores[name].items()},
            "mae_shared_folds": _mean_over(scores[name], shared, "mae"),
            "r2_shared_folds": _mean_over(scores[name], shared, "r2"),
        }
    command = "python benchmarks/sodnet_3dsc_ablation.py --data ../shared/data"
    meta = provenance(command if args.task == "3dsc_mp_tc_mpid" else f"{command} --task {args.task}", "1 core")
    folds_kind, report = TASKS[args.task]
    lines = [
        *header_lines(f"SODNet on 3DSC_MP {folds_kind}: element descriptors x weight average", meta),
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
        if k in scores[base]
    ]
    if spreads:
        lines += ["", f"Seed spread (one configuration, seeds 0 and 1): {'; '.join(spreads)}."]
    payload = {"meta": meta, "task": args.task, "shared_folds": shared, "rows": rows}
    write_report(RESULTS / "ablations" / report, payload, lines)


if __name__ == "__main__":
    main()

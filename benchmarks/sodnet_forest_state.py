"""SODNet that reads the composition forest's prediction: does the crystal correct what the forest says?

Usage:
    python benchmarks/sodnet_forest_state.py --data ../shared/data [--folds 0 1 2 3] [--threads 2]
        [--state forest_tree_sd] [--residual] [--regime O]

The shipped ensemble blends SODNet and the forests by weights (``make_pretrained.py``), and the lowest held-out MAE
gives SODNet little of it (0.05-0.30). Here the forest is an input instead: every structure's state vector
(``SODNet(state_dim=1)``, MatGL's ``state_attr``) is the ln Tc that a forest which never saw it predicts, so the
network can learn where the structure moves Tc away from what the composition says (stacking inside the model).

Per paper fold ``k`` (SuperCon3D all/all):

* the validation and test structures read a forest (the shipped members' settings, ``CompositionForestConfig()``)
  grown on the training block and the formula rows 0.02 or more (atom-fraction L1) from every validation and test
  compound;
* each training structure reads the forest of its inner split: the training block is cut into ``INNER_SPLITS``
  parts (seeded ``torch.randperm``), and each part is predicted by a forest grown on the other parts and the
  formula rows 0.02 or more from that part's and the validation and test compounds, so a training structure's
  state is as honest as a test structure's;
* SODNet (the package defaults, ``state_dim=1``) trains on the training block, picks its epoch on the validation
  block and predicts the test block.

Measured (2026-12-07, 2 cores, about 10 min per fold), 10 folds: 0.510 ± 0.027 ln K (R2 0.760) against the state
forest's own 0.502 ± 0.021. Its test errors correlate 0.94 with the shipped forest members' (the default SODNet's
0.75): alone, the network repeats its input. But as a second SODNet configuration beside the default in the shipped
ensemble (gates picked on the other folds, as ``make_pretrained.py`` scores it) the held-out MAE is 0.4775 (R2 0.7865)
against 0.4805 (R2 0.7850) without it, lower on 8 of 10 folds; in the default's place 0.4814. So the shipped ensemble
holds it since 2026-12-07 evening: ``TcEnsemble`` gives such a member the mean ln Tc of the ensemble's forests as its
state (those forests grew on their fold's training and validation blocks, so on a new structure the state comes from
forests a little better informed than the fold forest it was trained on). With every fold run, the report also
scores the shipped ensemble with and without each SODNet configuration (``_ensemble_blend.shipped_held_out``).

``--state forest_tree_sd`` also gives the network the spread of the forest's trees (where the forest is unsure,
the crystal might count for more): folds 0-1 (2026-12-07) 0.543 / 0.470 against 0.522 / 0.475, and in the shipped
ensemble in the forest-only reader's place 0.483 / 0.464 against 0.481 / 0.462 (a probe, each fold's gates picked on
the other of the two folds); beside it 0.484 / 0.460. Negative, so folds 2-9 are not run.

``--residual`` trains the network on ln Tc minus the forest's and adds the forest's back: folds 0-4 (2026-12-07)
0.512 ± 0.023 against the forest-only reader's 0.512 on the same folds, and in the shipped ensemble (the same probe
on five folds, each fold's gates picked on the other four) 0.4855 in the reader's place and 0.4860 beside it, against
0.4850. No gain, so folds 5-9 are not run.

The package trains the same network on one fold (``matgl_supercon.training.fit_forest_reading_sodnet``, whose
state is this script's): ``mgl-supercon train --fold 0 --forest-state --extra-data formulas_new_systems
--extra-scope compound --out runs/cli_reader0`` (2026-12-08, 2 cores, 7 min 23 s, 1.8 GB peak) gives fold 0's
test structures the state this script gave them (identical) and predicts them, from its run folder
(``load_model("runs/cli_reader0")``), within 1.2e-7 ln K of ``results/sodnet_forest_state/all/fold_0.json``
(test MAE 0.522, best validation MAE 0.483).

``--regime O`` (or ``O+SD``) trains the same network on that regime's folds (``supercon3d_sodnet.py``'s split of its
structures) and writes only their fold files, which ``regime_ensemble.py`` blends.

Writes ``benchmarks/results/<configuration>/all/fold_<k>.json`` (test ids, truth, the network's and the state
forest's predictions) and ``benchmarks/results/<configuration>.{json,md}`` over the finished folds, beside the
default SODNet's folds (``results/supercon3d_sodnet``); the configuration is ``sodnet_forest_state``, with
``_tree_sd`` and ``_residual`` for those options (``variant_name``). Checkpoints go to
``runs/<configuration>/all/fold_<k>`` and resume there; a finished fold is not rerun.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from _report import header_lines, provenance, write_report
from forest_inputs import FoldData
from sodnet_variants import DEFAULT_VARIANT, fold_predictions

from matgl_supercon._io import write_json_atomic
from matgl_supercon.benchmarks import fold_summary, mae, r2
from matgl_supercon.data import compound_row_filter
from matgl_supercon.models import SODNet
from matgl_supercon.training import (
    INNER_SPLITS,
    CompositionForestConfig,
    Subset,
    TrainConfig,
    fit_tc_model,
    graph_dataset,
    out_of_fold_forest_state,
    predict_dataset,
)

HERE = Path(__file__).parent
#: Its name as a configuration of the shipped ensemble (``_ensemble_members``), and where its per-fold test results
#: and fold models live (``<folder>/all/fold_<k>``, the layout of the other configurations).
VARIANT = "sodnet_forest_state"
RESULTS_DIR = HERE / "results" / VARIANT
RUNS_DIR = Path("runs") / VARIANT
#: Rows of the report's comparison in the shipped ensemble that the model card quotes.
WHOLE, WITHOUT = "the shipped ensemble", "without the SODNet reading the forest"
#: The state columns each ``--state`` gives the network, from the forest's ``[ln Tc, tree sd]`` (the square root of
#: the variance over its trees, what the shipped ensemble's gate reads).
STATE_COLUMNS = {"forest": 1, "forest_tree_sd": 2}


def variant_name(state: str, residual: bool = False) -> str:
    """The configuration a ``--state`` (and ``--residual``) trains: ``VARIANT`` for the forest's ln Tc alone."""
    return f"{VARIANT}{'' if state == 'forest' else '_tree_sd'}{'_residual' if residual else ''}"


def fold_state(
    data: FoldData, x: np.ndarray, formula_x: np.ndarray, k: int, blocks: Sequence[np.ndarray] | None = None
) -> np.ndarray:
    """Every structure's forest ln Tc and tree sd for fold ``k`` (``[n, 2]``, NaN outside its blocks): held out from
    the forest it reads (:func:`~matgl_supercon.training.out_of_fold_forest_state`, the training block cut with seed
    ``k``), each forest beside the formula rows 0.02 or more from the compounds it does not grow on. ``blocks``: the
    fold's (train, val, test) indices, by default ``data.folds[k]`` (regime ``all``)."""
    train, val, test = data.folds[k] if blocks is None else blocks
    state, _ = out_of_fold_forest_state(
        x,
        data.y,
        train,
        np.concatenate([val, test]),
        extra=(formula_x, data.formula_y),
        extra_rows=compound_row_filter(data.formula_fractions, data.records),
        config=CompositionForestConfig(n_jobs=torch.get_num_threads()),
        seed=k,
    )
    return state


def summarise(folds: dict[int, dict]) -> dict:
    """Scores of the network, its state forest and the default SODNet over the finished folds."""
    rows = {}
    # The default SODNet's committed folds, the comparison, on the same folds.
    default = {k: fold for k, fold in fold_predictions(DEFAULT_VARIANT).items() if k in folds}
    for name, key, source in (
        ("SODNet reading the forest", "y_pred", folds),
        ("its state forest alone (grown on the training block)", "forest", folds),
        ("SODNet default", "y_pred", default),
        ("mean of SODNet default and the state forest", None, folds),
    ):
        per_fold = []
        for k, fold in source.items():
            truth = np.asarray(fold["y_true"])
            pred = (np.asarray(default[k]["y_pred"]) + np.asarray(fold["forest"])) / 2 if key is None else fold[key]
            per_fold.append({"mae": mae(truth, pred), "r2": r2(truth, pred)})
        rows[name] = {**fold_summary(per_fold), "per_fold_mae": [f["mae"] for f in per_fold]}
    return rows


def in_shipped_ensemble(data: str | None) -> dict[str, dict]:
    """The shipped ensemble's held-out score with and without each of its SODNet configurations.

    Scored as ``make_pretrained.py`` scores it (each fold's gates picked on the other folds), from every configuration's
    per-fold test results; each row also counts the folds on which the whole ensemble scores lower than it.
    """
    # Here, not at the top: _ensemble_members names this script's configuration, and imports it.
    from _ensemble_blend import ShippedHeldOut, fold_mean_r2
    from sodnet_variants import SHIPPED_SODNET

    shipped = ShippedHeldOut.load(data)  # once: the forests' tree variances take a rerun of every fold forest
    rows, whole = {}, None
    for label, leave_out in (
        (WHOLE, ()),
        (WITHOUT, (VARIANT,)),
        ("without the default SODNet (the SODNet reading the forest alone)", SHIPPED_SODNET),
    ):
        held_out, prediction = shipped.blend(leave_out=leave_out)
        ids = list(held_out)
        truth = np.array([held_out[i][0] for i in ids])
        fold = np.array([held_out[i][1] for i in ids])
        pred = np.array([prediction[i] for i in ids])
        per_fold = [mae(truth[fold == k], pred[fold == k]) for k in sorted(set(fold.tolist()))]
        whole = per_fold if whole is None else whole
        rows[label] = {
            "mae": mae(truth, pred),
            "r2_fold_mean": fold_mean_r2(truth, pred, fold),
            "per_fold_mae": per_fold,
            "folds_where_the_shipped_ensemble_is_lower": sum(a < b for a, b in zip(whole, per_fold, strict=True)),
        }
    return rows


def report_lines(
    summary: dict, meta: dict, folds: list[int], ensemble: dict[str, dict], state: str, residual: bool = False
) -> list[str]:
    """The markdown report."""
    lines = header_lines("SODNet reading the composition forest's prediction (SuperCon3D all/all)", meta)
    lines += [
        f"Folds {', '.join(map(str, folds))} of the paper protocol. Each structure's state is the ln Tc "
        f"{'and the tree sd ' if state == 'forest_tree_sd' else ''}of a forest that never saw it (the test and "
        "validation blocks: grown on the training block; each training structure: "
        f"grown on the other {INNER_SPLITS - 1} parts of the training block), each forest beside the formula rows "
        "0.02 or more from the compounds it predicts and from the validation and test compounds. The default "
        "SODNet's folds are `supercon3d_sodnet`'s."
        + (" The network learns ln Tc minus the forest's, which is added back." if residual else ""),
        "",
        "| model | MAE ln K | R2 | per fold |",
        "|---|---|---|---|",
    ]
    for name, row in summary.items():
        per_fold = " / ".join(f"{m:.3f}" for m in row["per_fold_mae"])
        lines.append(f"| {name} | {row['mae_mean']:.3f} ± {row['mae_sd']:.3f} | {row['r2_mean']:.3f} | {per_fold} |")
    if ensemble:
        lines += [
            "",
            "In the shipped `SODNet-SuperCon3D` ensemble (held out, each fold's gates picked on the other folds, as "
            "`make_pretrained.py` scores it; R2 is the mean over folds):",
            "",
            "| ensemble | MAE ln K | R2 | folds where the shipped ensemble is lower | per fold |",
            "|---|---|---|---|---|",
        ]
        for name, row in ensemble.items():
            per_fold = " / ".join(f"{m:.3f}" for m in row["per_fold_mae"])
            lines.append(
                f"| {name} | {row['mae']:.4f} | {row['r2_fold_mean']:.4f} | "
                f"{row['folds_where_the_shipped_ensemble_is_lower']} | {per_fold} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--state",
        choices=sorted(STATE_COLUMNS),
        default="forest",
        help="the forest's ln Tc (the shipped configuration) or also its tree sd (sodnet_forest_state_tree_sd)",
    )
    parser.add_argument(
        "--residual",
        action="store_true",
        help="train on ln Tc minus the forest's and add the forest's back (sodnet_forest_state_residual): the "
        "network learns the correction, and its regularisation pulls towards none instead of towards the mean Tc",
    )
    parser.add_argument(
        "--regime",
        choices=("all", "O", "O+SD"),
        default="all",
        help="the paper regime whose folds to train (supercon3d_sodnet.py's split); for O and O+SD only the fold "
        "files are written, which regime_ensemble.py blends",
    )
    parser.add_argument("--runs", default=None, help="default: runs/<configuration>/<regime>")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    name = variant_name(args.state, args.residual)
    results_dir, runs = HERE / "results" / name, Path(args.runs or Path("runs") / name / args.regime)
    results = results_dir / args.regime
    results.mkdir(parents=True, exist_ok=True)
    data = FoldData.load(args.data)
    x = formula_x = None
    model_kwargs = {"state_dim": STATE_COLUMNS[args.state]}
    template = SODNet(**model_kwargs)
    converter = template.make_converter(allow_overlaps=True)  # SuperCon3D as published: 5 CIFs overlap
    for k in args.folds:
        out = results / f"fold_{k}.json"
        if out.exists():
            continue
        if x is None:
            x, formula_x = data.member_statistics()
        train, val, test = blocks = data.regime_folds(args.regime)[k]
        state = fold_state(data, x, formula_x, k, blocks)[:, : STATE_COLUMNS[args.state]]
        used = np.concatenate([train, val, test])
        # Only the fold's structures have a state; the graphs of the others are never read.
        offset = state[used, 0] if args.residual else np.zeros(len(used))
        labels = data.y[used] - offset
        dataset = graph_dataset([data.records[i].structure for i in used], labels, converter, state[used])
        n_train, n_val = len(train), len(val)
        model, history = fit_tc_model(
            Subset(dataset, list(range(n_train))),
            Subset(dataset, list(range(n_train, n_train + n_val))),
            runs / f"fold_{k}",
            model_kwargs,
            TrainConfig(),
        )
        pred = predict_dataset(model, Subset(dataset, list(range(n_train + n_val, len(used)))))
        pred = np.asarray(pred, float) + offset[n_train + n_val :]
        write_json_atomic(
            out,
            {
                "ids": [data.ids[i] for i in test],
                "y_true": data.y[test].tolist(),
                "y_pred": pred.tolist(),
                "forest": state[test, 0].tolist(),
                "best_val_mae": history["best_val_mae"],
                "train_seconds": history["train_seconds"],
                "epochs_run": history["epochs_run"],
            },
        )
        print(
            f"fold {k}: SODNet reading the forest {mae(data.y[test], pred):.3f}, the forest alone "
            f"{mae(data.y[test], state[test, 0]):.3f} ln K",
            flush=True,
        )
    if args.regime != "all":
        return  # its folds are read by regime_ensemble.py, whose report carries this script's command
    folds = sorted(int(p.stem.split("_")[1]) for p in results.glob("fold_*.json"))
    command = (
        f"python benchmarks/sodnet_forest_state.py --data ../shared/data --state {args.state}"
        f"{' --residual' if args.residual else ''} --folds " + " ".join(map(str, folds))
    )
    meta = provenance(command, args.threads)
    summary = summarise({k: json.loads((results / f"fold_{k}.json").read_text()) for k in folds})
    # With every fold, what the configuration adds to the shipped ensemble (which holds it since 2026-12-07).
    ensemble = in_shipped_ensemble(args.data) if folds == list(range(10)) and name == VARIANT else {}
    write_report(
        results_dir,
        {"meta": meta, "folds": folds, "summary": summary, "in_shipped_ensemble": ensemble},
        report_lines(summary, meta, folds, ensemble, args.state, args.residual),
    )


if __name__ == "__main__":
    main()

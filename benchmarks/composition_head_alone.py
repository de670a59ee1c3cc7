"""How much of a ``composition_head`` SODNet's SuperCon3D prediction its composition head makes alone.

Usage:
    python benchmarks/composition_head_alone.py --data ../shared/data [--variants NAME ...] [--folds 0 1]

For each all/all test fold of a ``composition_head`` variant of ``sodnet_variants.py``, the fold model under
``runs/sodnet_variants/<variant>/all/fold_<k>/model`` (left there by training) predicts every test structure
twice: as the crystal (the committed prediction) and as its one-site virtual crystal, which the head alone
predicts. If the head had learned what the SuperCon3D compositions say, the head-only MAE would be close to
the full model's and the structure part (full minus head) would be a small correction. Writes
``benchmarks/results/composition_head_alone.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matgl
import numpy as np
import torch
from _report import header_lines, provenance, write_report
from sodnet_variants import VARIANTS, fold_predictions

from matgl_supercon.data import load_supercon3d
from matgl_supercon.graph import virtual_crystal

OUT = Path(__file__).parent / "results" / "composition_head_alone"
HEAD_VARIANTS = tuple(name for name, (kwargs, _) in VARIANTS.items() if kwargs.get("composition_head"))


def head_alone(variant: str, fold: int, records: dict, predictions: dict) -> dict:
    """MAE of the full prediction and of the head alone on one test fold, and the structure part's mean size."""
    model_dir = Path("runs/sodnet_variants") / variant / "all" / f"fold_{fold}" / "model"
    if not model_dir.is_dir():
        raise FileNotFoundError(f"{model_dir}: no trained fold model; train it with sodnet_variants.py first")
    model = matgl.load_model(model_dir).eval()
    converter = model.make_converter(allow_isolated=True)
    graphs = [converter.get_graph(virtual_crystal(records[i].structure.composition))[:2] for i in predictions["ids"]]
    head = model.predict_graphs(graphs).numpy()
    y_true, full = np.array(predictions["y_true"]), np.array(predictions["y_pred"])
    return {
        "full_mae": float(np.abs(full - y_true).mean()),
        "head_alone_mae": float(np.abs(head - y_true).mean()),
        "structure_part_mean_abs": float(np.abs(full - head).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--variants", nargs="+", default=list(HEAD_VARIANTS), choices=HEAD_VARIANTS)
    parser.add_argument("--folds", nargs="+", type=int, default=None, help="default: every finished fold")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    records = {r.id: r for r in load_supercon3d(args.data)}
    rows = {}
    for variant in args.variants:
        finished = fold_predictions(variant)
        for fold in sorted(finished) if args.folds is None else args.folds:
            if fold not in finished:
                raise SystemExit(f"{variant}: fold {fold} has no committed predictions")
            rows[f"{variant} fold {fold}"] = {
                "variant": variant,
                "fold": fold,
                **head_alone(variant, fold, records, finished[fold]),
            }
    meta = provenance("python benchmarks/composition_head_alone.py " + " ".join(sys.argv[1:]), args.threads)
    lines = header_lines("SODNet's composition head alone on SuperCon3D test folds (all/all, MAE ln K)", meta)
    lines += [
        "",
        "| variant | fold | full model | head alone | mean abs(full - head) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['variant']} | {r['fold']} | {r['full_mae']:.3f} | {r['head_alone_mae']:.3f} "
        f"| {r['structure_part_mean_abs']:.3f} |"
        for r in rows.values()
    ]
    write_report(OUT, {"meta": meta, "rows": rows}, lines)


if __name__ == "__main__":
    main()

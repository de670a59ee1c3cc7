"""Check the DiffCSP core on Perov-5 crystal structure prediction: match rate and RMSE over training time.

Usage:
    python benchmarks/perov5_csp.py --data ../shared/data --epochs 200 --eval-every 20 --n-test 200

Trains DiffCSPSC in CSP mode on the Perov-5 train split (checkpoint after every epoch under ``--runs``;
rerunning resumes), and every ``--eval-every`` epochs samples one structure per test composition for
the first ``--n-test`` test crystals and scores them with ``StructureMatcher(stol=0.5, angle_tol=10,
ltol=0.3)`` (DiffCSP's protocol; reference: 52.02% / 0.0760 with one sample). Writes the curve to
``benchmarks/results/perov5_csp.json`` and ``perov5_csp.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _report import provenance

from matgl_supercon.data import load_perov5
from matgl_supercon.generate import CrystalBatch, DiffCSPSC, fit_generator, match_rate_and_rmse, sample
from matgl_supercon.training import write_json_atomic

OUT = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--eval-every", type=int, default=20)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--model", default='{"dim": 128, "n_layers": 4}', help="JSON of DiffCSPSC arguments")
    parser.add_argument("--runs", default="runs/perov5_csp")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    train = load_perov5("train", args.data)
    test = load_perov5("test", args.data)[: args.n_test]
    elements = sorted({el.symbol for r in train + test for el in r.structure.composition})
    crystals = CrystalBatch.from_structures([r.structure for r in train], elements, names=[r.id for r in train])
    targets = CrystalBatch.from_structures([r.structure for r in test], elements, names=[r.id for r in test])
    counts = np.bincount(crystals.n_atoms.numpy()).tolist()
    torch.manual_seed(0)
    model = DiffCSPSC(elements, mode="csp", n_atoms_counts=counts, **json.loads(args.model))
    curve_path = OUT / "perov5_csp.json"
    curve = json.loads(curve_path.read_text())["curve"] if curve_path.exists() else []
    done = {row["epoch"] for row in curve}
    train_seconds = sum(row.get("train_seconds", 0.0) for row in curve)
    for stop in range(args.eval_every, args.epochs + 1, args.eval_every):
        started = time.perf_counter()
        fit_generator(model, crystals, args.runs, epochs=stop, batch_size=args.batch_size, lr=args.lr)
        train_seconds += time.perf_counter() - started
        if stop in done:
            continue
        generated = sample(model, targets.n_atoms, types=targets.types, generator=torch.Generator().manual_seed(stop))
        rate, rmse = match_rate_and_rmse(generated.to_structures(elements), [r.structure for r in test])
        curve.append({"epoch": stop, "match_rate": rate, "rmse": rmse, "train_seconds": train_seconds})
        meta = {
            **provenance(
                f"python benchmarks/perov5_csp.py --epochs {args.epochs} --eval-every {args.eval_every} "
                f"--n-test {args.n_test} --model '{args.model}'",
                args.threads,
            ),
            "reference": "DiffCSP (Jiao et al. 2023), Perov-5, 1 sample: 52.02% / 0.0760",
        }
        write_json_atomic(curve_path, {"meta": meta, "curve": curve})
        lines = [
            "# DiffCSP core on Perov-5 CSP",
            "",
            f"Command: `{meta['command']}`  ",
            f"Machine: {meta['machine']}  ",
            f"Date: {meta['date']}  ",
            f"Reference: {meta['reference']}",
            "",
            "| epoch | training time (min) | match rate | RMSE |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['epoch']} | {r['train_seconds'] / 60:.1f} | {100 * r['match_rate']:.1f}% | {r['rmse']:.4f} |"
            for r in curve
        ]
        (OUT / "perov5_csp.md").write_text("\n".join(lines) + "\n")
        print(lines[-1], flush=True)


if __name__ == "__main__":
    main()

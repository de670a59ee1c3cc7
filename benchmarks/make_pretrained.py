"""Package the SuperCon3D fold models of ``supercon3d_sodnet.py`` as the shipped ``SODNet-SuperCon3D`` ensemble.

Usage:
    python benchmarks/make_pretrained.py [--runs runs/supercon3d_sodnet/all]

Copies each finished fold model (MatGL format: model.json, model.pt, state.pt) into
``matgl_supercon/pretrained/SODNet-SuperCon3D/fold_<k>/`` and writes the model card from the
benchmark's per-fold test results. Each member was trained on 80% of SuperCon3D (its fold's train
block), selected on 10% and tested on the remaining 10%; the ensemble's spread is the uncertainty.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from matgl_supercon.benchmarks import mae, r2
from matgl_supercon.pretrained import pretrained_dir

RESULTS = Path(__file__).parent / "results" / "supercon3d_sodnet" / "all"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/supercon3d_sodnet/all")
    parser.add_argument("--name", default="SODNet-SuperCon3D")
    args = parser.parse_args()
    out = pretrained_dir(args.name)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rows = []
    for run in sorted(Path(args.runs).glob("fold_*")):
        result_file = RESULTS / f"{run.name}.json"
        if not (run / "model" / "model.json").exists() or not result_file.exists():
            continue
        shutil.copytree(run / "model", out / run.name)
        result = json.loads(result_file.read_text())
        rows.append(
            (
                run.name,
                mae(result["y_true"], result["y_pred"]),
                r2(result["y_true"], result["y_pred"]),
                result["epochs_run"],
            )
        )
    if not rows:
        raise SystemExit(f"no finished fold models under {args.runs}")
    model_json = json.loads((out / rows[0][0] / "model.json").read_text())
    size_mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
    maes = np.array([r[1] for r in rows])
    lines = [
        f"# {args.name}",
        "",
        "SODNet (matgl-supercon's equivariant graph-attention transformer) predicting ln(Tc / K) from ordered",
        "and disordered crystal structures. An ensemble of the cross-validation fold models: the prediction",
        "is the mean ln Tc over members and the reported uncertainty is their standard deviation.",
        "",
        "## Data and split",
        "SuperCon3D (Chen et al., NeurIPS 2024): 1,578 ICSD structures (1,016 ordered, 562 disordered) with",
        "experimental Tc from SuperCon. Paper protocol: ids sorted, permuted with seed 0, 10 blocks; fold k",
        "trains on 8 blocks, selects the best epoch on block k and tests on block k-1.",
        "",
        "## Members and their held-out test scores (ln K)",
        "",
        "| member | test MAE | test R2 | epochs |",
        "|---|---|---|---|",
        *[f"| {name} | {m:.3f} | {r:.3f} | {e} |" for name, m, r, e in rows],
        "",
        f"Mean test MAE over members: {maes.mean():.3f} ln K. Total size {size_mb:.1f} MB.",
        "",
        "## Architecture",
        "",
        f"`{json.dumps({k: v for k, v in model_json['kwargs'].items() if k != 'element_types'})}`",
        "",
        "## Known limits",
        "- Pressure is not an input: high-pressure hydride Tc values are learned as if ambient.",
        "- The data are skewed towards cuprates and other Cu/O compounds; heavy fermions and hydrides carry",
        "  the largest errors (see benchmarks/results/supercon3d_sodnet/README.md).",
        "- Non-superconductors are absent from SuperCon3D: every prediction is a positive Tc.",
        "- Each member saw 80% of the data; a structure from SuperCon3D was in the training set of most members.",
        "",
        f"Built by `python benchmarks/make_pretrained.py` on {datetime.now(timezone.utc).date()}.",
    ]
    (out / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

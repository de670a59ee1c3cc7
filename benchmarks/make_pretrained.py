"""Package the SuperCon3D fold models of ``supercon3d_sodnet.py`` as the shipped ``SODNet-SuperCon3D`` ensemble.

Usage:
    python benchmarks/make_pretrained.py [--runs runs/supercon3d_sodnet/all]

Copies each finished fold model (MatGL format: model.json, model.pt, state.pt) into
``matgl_supercon/pretrained/SODNet-SuperCon3D/fold_<k>/`` and writes the model card from the
benchmark's per-fold test results. Each member was trained on 80% of SuperCon3D (its fold's train
block), selected on 10% and tested on the remaining 10%; the ensemble's spread is the uncertainty.

Calibration (``calibration.json``, applied by ``load_model``): every SuperCon3D structure has one held-out
prediction, from the member that tested on it. The ensemble's raw spread on the same structure is
compared with that held-out error; ``sd_scale`` is the 68.3% quantile of |error| / spread, so that
mean ± sd_scale × spread covers 68% of held-out errors. Members saw most structures in training, so the
raw spread is small on them; on new structures it is larger, and the scaled interval errs on the wide side.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from matgl_supercon.benchmarks import mae, r2
from matgl_supercon.data import load_supercon3d
from matgl_supercon.pretrained import load_model, pretrained_dir
from matgl_supercon.training import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "supercon3d_sodnet" / "all"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/supercon3d_sodnet/all")
    parser.add_argument("--name", default="SODNet-SuperCon3D")
    parser.add_argument("--data", default=None)
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
    calibration = calibrate(out, args.data, [r[0] for r in rows])
    write_json_atomic(out / "calibration.json", calibration)
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
        "## Uncertainty",
        "",
        "The reported sd is the members' spread times `sd_scale` = "
        f"{calibration['sd_scale']:.2f} (`calibration.json`), the factor that makes mean ± sd cover 68% of the",
        f"held-out errors of the {calibration['n']} SuperCon3D structures (each scored by the member that did not "
        "train on it).",
        f"After scaling, ±1 sd covers {calibration['coverage_1sd']:.0%} and ±2 sd {calibration['coverage_2sd']:.0%} "
        f"of held-out errors; Spearman correlation of spread with |error|: {calibration['spearman']:.2f}.",
        "Members saw most SuperCon3D structures, so the spread on them is small and the factor large; on new",
        "structures the spread grows, and the scaled interval errs on the wide side.",
        "",
        "| family | n | held-out MAE ln K | median scaled sd | coverage ±1 sd |",
        "|---|---|---|---|---|",
        *[
            f"| {f} | {v['n']} | {v['mae']:.3f} | {v['median_sd']:.3f} | {v['coverage_1sd']:.0%} |"
            for f, v in calibration["by_family"].items()
        ],
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


def calibrate(folder: Path, data: str | None, members: list[str]) -> dict:
    """Spread scale and coverage of the ensemble against held-out errors (see the module docstring)."""
    records = {r.id: r for r in load_supercon3d(data)}
    ids, truth, held_out = [], [], []
    for name in members:
        result = json.loads((RESULTS / f"{name}.json").read_text())
        ids += result["ids"]
        truth += result["y_true"]
        held_out += result["y_pred"]
    ensemble = load_model(folder)
    ensemble.sd_scale = 1.0
    _, spread = ensemble.predict_ln_tc([records[i].structure for i in ids])
    spread = spread.numpy()
    error = np.abs(np.array(truth) - np.array(held_out))
    scale = float(np.quantile(error / np.maximum(spread, 1e-6), 0.6827))
    sd = spread * scale
    families = np.array([records[i].metadata["family"] for i in ids])
    return {
        "sd_scale": scale,
        "n": len(ids),
        "coverage_1sd": float(np.mean(error <= sd)),
        "coverage_2sd": float(np.mean(error <= 2 * sd)),
        "spearman": float(spearmanr(spread, error).statistic),
        "by_family": {
            f: {
                "n": int((families == f).sum()),
                "mae": float(error[families == f].mean()),
                "median_sd": float(np.median(sd[families == f])),
                "coverage_1sd": float(np.mean(error[families == f] <= sd[families == f])),
            }
            for f in sorted(set(families.tolist()))
        },
        "method": "held-out error of the member that tested on each structure vs the raw spread of all members",
    }


if __name__ == "__main__":
    main()

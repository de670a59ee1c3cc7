"""Does an element-attention network on the formula table beat the trees? (Roost / CrabNet-style, SuperCon3D all/all)

Usage:
    python benchmarks/composition_attention.py --data ../shared/data [--folds 0 1] [--epochs 60] [--threads 1]

The forests gain most from the SuperCon formula table (``composition_forest.md``): about 10,000 more rows than
SuperCon3D's 1,262 training structures. Networks over composition statistics did not beat them
(``composition_mlp.md``, ``composition_retrieval.md``), but on compositions alone the usual deep learners read the
formula as a set of elements and let the elements attend to each other (Roost: Goodall & Lee, Nat. Commun. 2020;
CrabNet: Wang et al., npj Comput. Mater. 2021). With ten times the rows, such a network might catch up, or err
differently enough to help in a blend. The network here:

- one token per element of the (occupancy-weighted) composition, largest fraction first: a linear map of the
  element's row of ``element_descriptors`` (valence, solid and ground-state columns, as the shipped forests read)
  plus a learned element embedding plus an MLP of Fourier features of its fraction and log fraction;
- 3 pre-norm transformer encoder layers (width 128, 4 heads, feed-forward 256, dropout 0.1);
- attention pooling whose logits add the log fraction, then an MLP to standardised ln Tc;
- L1 loss, AdamW (lr 2e-3, weight decay 0.01, one-cycle schedule), batch 256, ``--epochs`` epochs, an exponential
  moving average of the weights (0.995) scored on the validation block after each epoch, the best one kept.

Each fold trains on its training block plus the formula-table superconductors 0.02 or more (atom fractions) from
every validation and test composition (``held_out_extra_rows`` scope ``compound``, as the shipped forests' rows;
the validation block picks the epoch, so it is held out too) and tests on the test block. The report sets it beside
the shipped forest members on the same test blocks (``composition_members/<SHIPPED_VARIANT>``; they also grew on
the validation block): MAE, the correlation of the two models' errors, and blends of the two predictions.

Each fold goes to ``--out/fold_K.json`` (default ``runs/composition_attention/epochs_<epochs>``) as it finishes (a
rerun skips finished folds); the report is ``benchmarks/results/composition_attention.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from _report import header_lines, provenance, write_report
from composition_forest import SHIPPED_VARIANT
from composition_retrieval import member_results_dir
from pymatgen.core import Element
from torch import nn

from matgl_supercon.benchmarks import fold_summary, mae, r2
from matgl_supercon.data import (
    atom_fractions,
    chemical_system,
    extra_training_records,
    held_out_extra_rows,
    load_supercon3d,
    paper_folds,
)
from matgl_supercon.models._embedding import element_descriptors
from matgl_supercon.training import write_json_atomic

RESULTS = Path(__file__).parent / "results"
#: Elements with a descriptor row (pymatgen has no data past Lr); every dataset element is among them.
LAST_Z = 103
BLEND_WEIGHTS = (0.1, 0.2, 0.3, 0.5)


def element_tokens(structures: list) -> tuple[np.ndarray, np.ndarray]:
    """``[n, m]`` atomic numbers and atom fractions of each composition, largest fraction first, 0-padded."""
    compositions = [s.composition.fractional_composition for s in structures]
    width = max(len(c) for c in compositions)
    z = np.zeros((len(compositions), width), np.int64)
    fraction = np.zeros((len(compositions), width), np.float32)
    for row, composition in enumerate(compositions):
        for column, (element, x) in enumerate(sorted(composition.items(), key=lambda item: -item[1])):
            if element.Z > LAST_Z:
                raise ValueError(f"row {row}: element {element} has no descriptor row (Z > {LAST_Z})")
            z[row, column], fraction[row, column] = element.Z, x
    return z, fraction


def descriptor_table() -> torch.Tensor:
    """``[LAST_Z + 1, d]`` element descriptors by atomic number (row 0, the padding, zeros)."""
    symbols = tuple(Element.from_Z(z).symbol for z in range(1, LAST_Z + 1))
    rows = element_descriptors(symbols, valence=True, solid=True, ground_state=True)
    return torch.cat([torch.zeros(1, rows.shape[1]), rows])


class ElementAttentionTc(nn.Module):
    """Standardised ln Tc of a composition given as element tokens (the module docstring's network)."""

    def __init__(self, table: torch.Tensor, width: int = 128, layers: int = 3, heads: int = 4, dropout: float = 0.1):
        super().__init__()
        self.register_buffer("table", table)
        self.descriptors = nn.Linear(table.shape[1], width)
        self.element = nn.Embedding(len(table), width)
        nn.init.normal_(self.element.weight, std=0.02)
        # Fixed random frequencies (Fourier features) of the fraction and its logarithm.
        frequencies = torch.randn(16, generator=torch.Generator().manual_seed(0)) * 3.0
        self.register_buffer("frequencies", frequencies)
        self.fraction = nn.Sequential(nn.Linear(4 * len(frequencies), width), nn.SiLU(), nn.Linear(width, width))
        layer = nn.TransformerEncoderLayer(
            width, heads, 2 * width, dropout, batch_first=True, norm_first=True, activation="gelu"
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.pool = nn.Linear(width, 1)
        self.head = nn.Sequential(
            nn.LayerNorm(width), nn.Linear(width, width), nn.SiLU(), nn.Dropout(dropout), nn.Linear(width, 1)
        )

    def forward(self, z: torch.Tensor, fraction: torch.Tensor) -> torch.Tensor:
        padding = fraction <= 0
        log_fraction = torch.log(fraction.clamp_min(1e-4))
        angle = torch.cat(
            [fraction[..., None] * self.frequencies * 2 * math.pi, log_fraction[..., None] * self.frequencies], -1
        )
        h = self.descriptors(self.table[z]) + self.element(z) + self.fraction(torch.cat([angle.sin(), angle.cos()], -1))
        h = self.encoder(h, src_key_padding_mask=padding)
        logits = (self.pool(h).squeeze(-1) + torch.log(fraction.clamp_min(1e-6))).masked_fill(padding, -1e9)
        return self.head((logits.softmax(-1)[..., None] * h).sum(1)).squeeze(-1)


def train_and_test(
    train: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor, np.ndarray],
    test: tuple[torch.Tensor, torch.Tensor],
    epochs: int,
    seed: int,
) -> tuple[np.ndarray, dict]:
    """Train on ``(z, fraction, ln Tc)``, keep the weight average with the best validation MAE, predict ``test``."""
    z, fraction, target = train
    shift, scale = target.mean(), target.std()
    torch.manual_seed(seed)  # initial weights and dropout
    order = torch.Generator().manual_seed(seed)
    model = ElementAttentionTc(descriptor_table())
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    batch = 256
    steps = epochs * math.ceil(len(target) / batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 2e-3, total_steps=steps, pct_start=0.05)
    average = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.995))
    best, best_state, best_epoch, curve = math.inf, None, -1, []
    for epoch in range(epochs):
        model.train()
        permutation = torch.randperm(len(target), generator=order)
        for start in range(0, len(target), batch):
            rows = permutation[start : start + batch]
            loss = (model(z[rows], fraction[rows]) - (target[rows] - shift) / scale).abs().mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            average.update_parameters(model)
        average.eval()
        with torch.no_grad():
            score = mae(val[2], (average(val[0], val[1]) * scale + shift).numpy())
        curve.append(score)
        if score < best:
            best, best_epoch = score, epoch
            best_state = {k: v.clone() for k, v in average.module.state_dict().items()}
    average.module.load_state_dict(best_state)
    average.module.eval()
    with torch.no_grad():
        prediction = (average.module(*test) * scale + shift).double().numpy()
    return prediction, {"best_val_mae": best, "best_epoch": best_epoch, "val_curve": curve}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--folds", nargs="*", type=int, default=[0, 1])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--out", default=None, help="default runs/composition_attention/epochs_<epochs>")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    records = load_supercon3d(args.data)
    ids = [r.id for r in records]
    y = np.log([r.tc for r in records])
    folds = paper_folds(ids)
    formulas = extra_training_records("formulas_new_systems", [], args.data)
    formula_systems = [chemical_system(r.structure) for r in formulas]
    formula_fractions = atom_fractions(formulas)
    formula_y = np.log([r.tc for r in formulas])
    z, fraction = element_tokens([r.structure for r in records])
    formula_z, formula_fraction = element_tokens([r.structure for r in formulas])
    width = max(z.shape[1], formula_z.shape[1])
    z, fraction, formula_z, formula_fraction = (
        np.pad(a, ((0, 0), (0, width - a.shape[1]))) for a in (z, fraction, formula_z, formula_fraction)
    )
    out = Path(args.out or f"runs/composition_attention/epochs_{args.epochs}")  # no mixing of schedules on a rerun
    for k in args.folds:
        path = out / f"fold_{k}.json"
        if path.exists():
            continue
        started = time.perf_counter()
        train, val, test = (np.asarray(part) for part in folds[k])
        rows = held_out_extra_rows(formula_systems, formula_fractions, [records[i] for i in (*val, *test)], "compound")
        training = tuple(
            torch.as_tensor(np.concatenate([a[train], b[rows]]))
            for a, b in (
                (z, formula_z),
                (fraction, formula_fraction),
                (y.astype(np.float32), formula_y.astype(np.float32)),
            )
        )
        prediction, curve = train_and_test(
            training,
            (torch.as_tensor(z[val]), torch.as_tensor(fraction[val]), y[val]),
            (torch.as_tensor(z[test]), torch.as_tensor(fraction[test])),
            args.epochs,
            seed=k,
        )
        result = {
            "ids": [ids[i] for i in test],
            "y_true": y[test].tolist(),
            "y_pred": prediction.tolist(),
            "mae": mae(y[test], prediction),
            "r2": r2(y[test], prediction),
            "formula_rows": len(rows),
            "seconds": time.perf_counter() - started,
            **curve,
        }
        write_json_atomic(path, result)
        print(f"fold {k}: {result['mae']:.3f} ln K (best epoch {curve['best_epoch']})", flush=True)
    summarise(out, args)


def summarise(out: Path, args: argparse.Namespace) -> None:
    forests = member_results_dir(SHIPPED_VARIANT) / "all"
    per_fold = {}
    for path in sorted(out.glob("fold_*.json"), key=lambda p: int(p.stem.split("_")[1])):
        network = json.loads(path.read_text())
        forest = json.loads((forests / path.name).read_text())
        if forest["ids"] != network["ids"]:
            raise ValueError(f"{path}: test ids differ from {forests / path.name}")
        truth, p_net, p_forest = (np.array(x) for x in (network["y_true"], network["y_pred"], forest["y_pred"]))
        row = {
            "network": {"mae": network["mae"], "r2": network["r2"]},
            "forest": {"mae": mae(truth, p_forest), "r2": r2(truth, p_forest)},
            "error_correlation": float(np.corrcoef(p_net - truth, p_forest - truth)[0, 1]),
            "formula_rows": network["formula_rows"],
            "best_epoch": network["best_epoch"],
            "seconds": network["seconds"],
        }
        for w in BLEND_WEIGHTS:
            blend = (1 - w) * p_forest + w * p_net
            row[f"blend {w}"] = {"mae": mae(truth, blend), "r2": r2(truth, blend)}
        per_fold[int(path.stem.split("_")[1])] = row
    names = ["network", "forest", *(f"blend {w}" for w in BLEND_WEIGHTS)]
    summary = {name: fold_summary([f[name] for f in per_fold.values()]) for name in names}
    folds = " ".join(map(str, per_fold))
    meta = provenance(
        f"python benchmarks/composition_attention.py --data ../shared/data --folds {folds} --epochs {args.epochs}",
        args.threads,
    )
    labels = {
        "network": "element-attention network",
        "forest": "shipped forest member (extra trees)",
        **{f"blend {w}": f"{1 - w:.1f} forest + {w:.1f} network" for w in BLEND_WEIGHTS},
    }

    def listed(values) -> str:
        return ", ".join(values)

    rows = listed(f"{f['formula_rows']:,}" for f in per_fold.values())
    epochs = listed(str(f["best_epoch"]) for f in per_fold.values())
    minutes = np.mean([f["seconds"] for f in per_fold.values()]) / 60
    correlations = listed(f"{f['error_correlation']:.2f}" for f in per_fold.values())
    lines = [
        *header_lines("An element-attention network on the formula table against the trees (all/all)", meta),
        f"Folds {listed(map(str, per_fold))} of the paper's 10; {args.epochs} epochs; formula rows per fold {rows}; "
        f"best epochs {epochs}; {minutes:.1f} min per fold. Correlation of the two models' test errors: "
        f"{correlations}.",
        "",
        "| model | MAE ln K | R2 | per fold |",
        "|---|---|---|---|",
    ]
    for name, s in summary.items():
        maes = listed(f"{f[name]['mae']:.3f}" for f in per_fold.values())
        lines.append(f"| {labels[name]} | {s['mae_mean']:.3f} | {s['r2_mean']:.3f} | {maes} |")
    write_report(RESULTS / "composition_attention", {"meta": meta, "summary": summary, "folds": per_fold}, lines)


if __name__ == "__main__":
    main()

"""Package the SuperCon3D fold models of ``supercon3d_sodnet.py`` as the shipped ``SODNet-SuperCon3D`` ensemble.

Usage:
    python benchmarks/make_pretrained.py [--variants blocks2_composition valence_ema0.995 ...] [--data ../shared/data]
    python benchmarks/make_pretrained.py --members-from-shipped   # rebuild card and calibration, same members

Without ``--variants``, the configurations are those of ``sodnet_variants.SHIPPED_ENSEMBLE``. With
``--members-from-shipped`` the member models of every configuration the shipped ensemble holds are taken from it
instead of the training runs (which are not committed), so the card and the calibration can be rebuilt on any
machine, and a new configuration (from its runs) added to the shipped ones.

Copies each finished all/all fold model (MatGL format: model.json, model.pt, state.pt) of each configuration of
``sodnet_variants.py`` (trained under ``sodnet_variants.runs_dir``) into
``matgl_supercon/pretrained/SODNet-SuperCon3D/<variant>_fold_<k>/`` (``fold_<k>/`` for ``blocks2_composition``,
the package default when the ensemble was built), then writes the model card from the benchmark's per-fold
test results. Each member was trained on 80% of SuperCon3D (its fold's train block), selected on 10% and
tested on the remaining 10%; the ensemble's spread is the uncertainty. Configurations are mixed because their
errors correlate less than those of one configuration trained twice
(``benchmarks/results/sodnet_variants/README.md``).

Held-out score and calibration (``calibration.json``, applied by ``load_model``): every SuperCon3D structure is
in the test block of one fold; the mean prediction of that fold's members (one per configuration) is its
held-out prediction, and the card reports its MAE. The ensemble's raw spread on the same structure is compared
with that held-out error; ``sd_scale`` is the 68.3% quantile of |error| / spread, so that mean ± sd_scale ×
spread covers 68% of held-out errors. Members saw most structures in training, so the raw spread is small on
them; on new structures it is larger, and the scaled interval errs on the wide side.
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from sodnet_variants import ENSEMBLES, MEMORY_DATA, SHIPPED_ENSEMBLE, results_dir, runs_dir

from matgl_supercon._io import replace_folder
from matgl_supercon.benchmarks import mae, r2
from matgl_supercon.data import load_supercon3d
from matgl_supercon.models import read_state, share_retrieval_memory
from matgl_supercon.models._shared_memory import SHARED_MEMORY_JSON
from matgl_supercon.pretrained import load_model, pretrained_dir
from matgl_supercon.training import write_json_atomic

HERE = Path(__file__).parent


#: Member folder prefixes that differ from ``<variant>_``: the shipped ensemble's first configuration was the
#: package default when it was built and its members are ``fold_<k>``.
MEMBER_PREFIX = {"blocks2_composition": ""}


@dataclass(frozen=True)
class Configuration:
    """Where one configuration's fold models and per-fold test results are, and its members' folder prefix."""

    results: Path
    prefix: str
    models: Path
    shipped: bool  # models are a shipped ensemble's <prefix>fold_<k>/, not training runs' fold_<k>/model/

    def model(self, fold: str) -> Path:
        """The MatGL model folder of one fold (``fold`` is ``"fold_<k>"``)."""
        return self.models / f"{self.prefix}{fold}" if self.shipped else self.models / fold / "model"


def configurations(variants: list[str], shipped: Path | None = None) -> dict[str, Configuration]:
    """Each configuration, in the given order.

    Its models come from the ensemble folder ``shipped`` when given and that folder holds members of it, else from
    its training runs (so a configuration can be added to a shipped ensemble whose other runs are gone).
    """
    found = {}
    for name in variants:
        results = results_dir(name) / "all"
        if not results.is_dir():
            raise SystemExit(f"variant {name!r}: no results under {results}; run benchmarks/sodnet_variants.py first")
        prefix = MEMBER_PREFIX.get(name, f"{name}_")
        if shipped is not None and any(shipped.glob(f"{prefix}fold_*/model.json")):
            found[name] = Configuration(results, prefix, shipped, True)
        else:
            found[name] = Configuration(results, prefix, runs_dir(name) / "all", False)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variants",
        nargs="*",
        default=list(ENSEMBLES[SHIPPED_ENSEMBLE]),
        help="sodnet_variants.py configurations (default: those of SHIPPED_ENSEMBLE)",
    )
    parser.add_argument("--name", default="SODNet-SuperCon3D")
    parser.add_argument("--data", default=None)
    parser.add_argument(
        "--members-from-shipped",
        action="store_true",
        help="take each configuration's members from the shipped ensemble where it has them, from the training "
        "runs otherwise (rebuilds the card and calibration, or adds a configuration, without the other runs)",
    )
    args = parser.parse_args()
    shipped = pretrained_dir(args.name)
    configs = configurations(args.variants, shipped if args.members_from_shipped else None)
    # Only folds that every configuration finished, so each held-out structure has one member per configuration.
    folds = sorted(
        set.intersection(
            *(
                {f.stem for f in c.results.glob("fold_*.json") if (c.model(f.stem) / "model.json").exists()}
                for c in configs.values()
            )
        ),
        key=lambda name: int(name.split("_")[1]),
    )
    if not folds:
        where = ", ".join(sorted({str(c.models) for c in configs.values()}))
        raise SystemExit(f"no fold finished by every configuration of {list(configs)} (fold models under {where})")
    # Built beside the shipped folder and swapped in at the end, so a failed build leaves the old ensemble intact.
    out = shipped.with_name(f".{shipped.name}.building")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rows, held_out = [], {}
    for name, config in configs.items():
        for fold in folds:
            copy_member(config.model(fold), out / f"{config.prefix}{fold}")
            result = json.loads((config.results / f"{fold}.json").read_text())
            t, p = result["y_true"], result["y_pred"]
            rows.append((f"{config.prefix}{fold}", name, mae(t, p), r2(t, p), result["epochs_run"]))
            for i, truth, pred in zip(result["ids"], t, p, strict=True):
                held_out.setdefault(i, (truth, []))[1].append(pred)
    # Members given the same memory set end their retrieval memories with the same rows (the formula table):
    # stored once for all of them instead of once per member.
    with_memory = [out / f"{c.prefix}{fold}" for name, c in configs.items() if name in MEMORY_DATA for fold in folds]
    shared_rows = share_retrieval_memory(with_memory, out / "shared_memory.pt") if len(with_memory) > 1 else 0
    calibration = calibrate(out, args.data, held_out)
    write_json_atomic(out / "calibration.json", calibration)
    size_mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
    memory_names = [name for name in configs if MEMORY_DATA.get(name) == "formulas_new_systems"]
    maes = np.array([r[2] for r in rows])
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
        "| member | configuration | test MAE | test R2 | epochs |",
        "|---|---|---|---|---|",
        *[f"| {name} | {c} | {m:.3f} | {r:.3f} | {e} |" for name, c, m, r, e in rows],
        "",
        f"Mean test MAE over members: {maes.mean():.3f} ln K. Held-out MAE of the mean of each fold's "
        f"{len(configs)} member(s) (one per configuration), over all {calibration['n']} structures: "
        f"{calibration['held_out_mae']:.3f} ln K. Total size {size_mb:.1f} MB.",
        "",
        "## Uncertainty",
        "",
        "The reported sd is the members' spread times `sd_scale` = "
        f"{calibration['sd_scale']:.2f} (`calibration.json`), the factor that makes mean ± sd cover 68% of the",
        f"held-out errors of the {calibration['n']} SuperCon3D structures (each scored by the members that did not "
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
        *[
            f"- {name}: `{json.dumps(architecture(out / f'{config.prefix}{folds[0]}'))}`"
            for name, config in configs.items()
        ],
        "",
        "## Known limits",
        "- Pressure is not an input: high-pressure hydride Tc values are learned as if ambient.",
        "- The data are skewed towards cuprates and other Cu/O compounds; heavy fermions and hydrides carry",
        "  the largest errors (see benchmarks/results/supercon3d_sodnet/README.md).",
        "- Non-superconductors are absent from SuperCon3D: every prediction is a positive Tc.",
        "- Each member saw 80% of the data; a structure from SuperCon3D was in the training set of most members.",
        "- Members with `retrieval_neighbors` keep their training structures' composition statistics and ln Tc",
        "  (the retrieval memory): on a structure of their training set they read its own label, so their",
        "  prediction there is close to the recorded Tc and tells nothing about accuracy.",
        *(
            [
                f"- Members of {', '.join(f'`{n}`' for n in memory_names)} also hold in their memory the",
                "  superconductors of the SuperCon formula table (Stanev et al. 2018) in chemical systems absent from",
                "  SuperCon3D, as one-site virtual crystals: for such a compound they read its recorded Tc too.",
            ]
            if memory_names
            else []
        ),
        *(
            [
                f"- The last {shared_rows:,} memory rows, common to those members, are stored once in",
                "  `shared_memory.pt`: a member folder loads (`matgl.load_model`) only beside that file.",
            ]
            if shared_rows
            else []
        ),
        "",
        f"Built by `python benchmarks/make_pretrained.py --variants {' '.join(args.variants)}"
        f"{' --members-from-shipped' if args.members_from_shipped else ''}` on "
        f"{datetime.now(timezone.utc).date()}.",
    ]
    (out / "README.md").write_text("\n".join(lines) + "\n")
    replace_folder(out, shipped)
    print("\n".join(lines))


def copy_member(source: Path, target: Path) -> None:
    """Copy a model folder; a shipped member whose memory rows are in a shared file gets them back in its state.

    The shared rows are worked out again for the new set of members (``share_retrieval_memory``).
    """
    shutil.copytree(source, target)
    if (target / SHARED_MEMORY_JSON).exists():
        torch.save(read_state(source), target / "state.pt")
        (target / SHARED_MEMORY_JSON).unlink()


def architecture(member: Path) -> dict:
    """A member's SODNet arguments as saved in its model.json, without the element list."""
    kwargs = json.loads((member / "model.json").read_text())["kwargs"]
    return {k: v for k, v in kwargs.items() if k != "element_types"}


def calibrate(folder: Path, data: str | None, held_out: dict[str, tuple[float, list[float]]]) -> dict:
    """Spread scale and coverage of the ensemble against held-out errors (see the module docstring).

    Args:
        folder: The packaged ensemble.
        data: SuperCon3D root (default ``$MATGL_SUPERCON_DATA``).
        held_out: Structure id -> (its ln Tc, the predictions of the members that tested on it).
    """
    records = {r.id: r for r in load_supercon3d(data)}
    ids = list(held_out)
    truth = np.array([held_out[i][0] for i in ids])
    prediction = np.array([np.mean(held_out[i][1]) for i in ids])
    ensemble = load_model(folder)
    ensemble.sd_scale = 1.0
    _, spread = ensemble.predict_ln_tc([records[i].structure for i in ids])
    spread = spread.numpy()
    error = np.abs(truth - prediction)
    scale = float(np.quantile(error / np.maximum(spread, 1e-6), 0.6827))
    sd = spread * scale
    families = np.array([records[i].metadata["family"] for i in ids])
    return {
        "sd_scale": scale,
        "n": len(ids),
        "held_out_mae": float(error.mean()),
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
        "method": "held-out error of the mean of the members that tested on each structure vs the raw spread of all "
        "members",
    }


if __name__ == "__main__":
    main()

"""Package the SuperCon3D fold models of ``supercon3d_sodnet.py`` as the shipped ``SODNet-SuperCon3D`` ensemble.

Usage:
    python benchmarks/make_pretrained.py [--variants blocks2_composition valence_ema0.995 ...] [--data ../shared/data]
    python benchmarks/make_pretrained.py --members-from-shipped   # rebuild card and calibration, same members
    python benchmarks/make_pretrained.py --members-from-shipped --from-runs VARIANT   # VARIANT retrained since

Without ``--variants``, the configurations are ``_ensemble_members.SHIPPED_CONFIGURATIONS``:
``sodnet_variants.SHIPPED_SODNET``, since 2026-12-07 the SODNet of ``sodnet_forest_state.py`` (which reads the
forests' mean ln Tc as its state, ``TcEnsemble``), and ``SHIPPED_COMPOSITION_MEMBERS``.
With ``--members-from-shipped`` the member models of every configuration the shipped ensemble holds are taken from it
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

``_ensemble_members.SHIPPED_COMPOSITION_MEMBERS`` adds composition members: the ``CompositionForestTc`` fold forests
that ``composition_forest.py --save-members --formula-scope compound`` saved (their per-fold results under
``results/composition_members``; ``CompositionTc`` fold networks from ``composition_retrieval.py --save-members``
can be added with ``--variants``). The means of the kinds of members are blended with the weights that give the
lowest held-out MAE (``_ensemble_blend.blend``; SODNet weighs at least ``SODNET_WEIGHT_FLOOR``), written to
``ensemble.json`` as per-member weights; the held-out score on the card blends each fold with the weights picked on
the other folds. Since 2026-12-06 the weights also change with the forests' tree spread
(``_ensemble_blend.gated_blend``: one set of kind weights per band of it, ``GATE_BANDS`` bands, written to
``ensemble.json`` as its ``gate``), picked and scored the same way.

Held-out score and calibration (``calibration.json``, applied by ``load_model``): every SuperCon3D structure is in
the test block of one fold; the mean prediction of that fold's members (one per configuration) is its held-out
prediction, and the card reports its MAE. The spread of those same members (none trained on the structure, as none
trained on a new one), as ``TcEnsemble`` computes it (their weighted variance plus, since 2026-12-06, each forest
member's variance over its trees, recomputed here by running the fold's forest on its test structures:
``_ensemble_members.held_out_tree_variance``), is compared with that held-out error; ``sd_scale`` is the 68.3%
quantile of |error| / spread, so that mean ± sd_scale × spread covers 68% of held-out errors, since 2026-12-07 one
factor per band of the predicted Tc (``TC_BANDS_K``; ``_ensemble_calibration.banded_sd_scale``,
``calibration.json``'s ``sd_scale_by_predicted_tc``), with the coverage of factors fitted on the other folds
reported beside it. On a new structure the spread over all members also holds each configuration's fold-to-fold
variation, which widens the interval. (Until 2026-12-05 the whole ensemble's spread on each SuperCon3D structure was
used: most members trained on it, and with forest members that spread mostly measures the one untrained member's
error, which inflated the reported coverage and spread-error correlation.) The card also breaks the held-out error
down by recorded Tc (``TC_BANDS_K``), with the bias that lifts the sub-kelvin tail.

This script copies the members and writes the files; the parts live beside it: which members and their held-out
predictions in ``_ensemble_members.py``, their weights in ``_ensemble_blend.py``, the spread's calibration in
``_ensemble_calibration.py`` and the model card's text in ``_model_card.py``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import matgl
import numpy as np
import torch
from _ensemble_blend import SODNET_WEIGHT_FLOOR, against_baseline, blend, gated_blend, low_tc_blend
from _ensemble_calibration import calibrate, composition_subset, held_out_spread, mae_by_spread_fifth
from _ensemble_members import (
    SHIPPED_CONFIGURATIONS,
    SHIPPED_LOW_TC_MEMBERS,
    LowTcGroup,
    configurations,
    held_out_results,
    held_out_tree_sd,
    held_out_tree_variance,
    is_composition,
    kind,
    records_by_id,
)
from _model_card import CardFacts, card_lines
from composition_forest import SHIPPED_SCOPE
from scipy.stats import spearmanr
from sodnet_variants import MEMORY_DATA

from matgl_supercon._io import replace_folder
from matgl_supercon.benchmarks import mae, r2
from matgl_supercon.data import SuperconRecord, extra_training_records
from matgl_supercon.graph import ALL_ELEMENTS
from matgl_supercon.models import share_retrieval_memory
from matgl_supercon.models._shared_memory import SHARED_MEMORY_JSON
from matgl_supercon.pretrained import pretrained_dir
from matgl_supercon.pretrained.io import COMPOSITION_MEMBERS, ENSEMBLE_JSON
from matgl_supercon.training import write_json_atomic

#: What ``ensemble.json`` keeps of a member subset (``load_model(members=...)`` reads them).
SUBSET_FIELDS = ("member_weights", "sd_scale", "sd_scale_by_predicted_tc", "low_tc_gate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variants",
        nargs="*",
        default=list(SHIPPED_CONFIGURATIONS),
        help="sodnet_variants.py configurations, sodnet_forest_state, and composition_retrieval.py and "
        "composition_forest.py member variants (default: _ensemble_members.SHIPPED_CONFIGURATIONS)",
    )
    parser.add_argument("--name", default="SODNet-SuperCon3D")
    parser.add_argument("--data", default=None)
    parser.add_argument(
        "--members-from-shipped",
        action="store_true",
        help="take each configuration's members from the shipped ensemble where it has them, from the training "
        "runs otherwise (rebuilds the card and calibration, or adds a configuration, without the other runs)",
    )
    parser.add_argument(
        "--from-runs",
        nargs="*",
        default=[],
        help="with --members-from-shipped: configurations retrained since, taken from their runs all the same",
    )
    parser.add_argument(
        "--low-tc-members",
        nargs="*",
        default=list(SHIPPED_LOW_TC_MEMBERS),
        help="forest configurations that form the LowTcGate's group (default: SHIPPED_LOW_TC_MEMBERS; none: no gate)",
    )
    args = parser.parse_args()
    if unknown := sorted(set(args.from_runs) - set(args.variants) - set(args.low_tc_members)):
        raise SystemExit(f"--from-runs {' '.join(unknown)}: not among the --variants or --low-tc-members")
    shipped = pretrained_dir(args.name)
    source = shipped if args.members_from_shipped else None
    configs = configurations(args.variants, source, args.from_runs)
    low_configs = configurations(args.low_tc_members, source, args.from_runs)
    if len(configs) < 2:
        raise SystemExit("the spread is calibrated on the held-out members' disagreement: give two configurations")
    # Only folds that every configuration finished, so each held-out structure has one member per configuration.
    folds = sorted(
        set.intersection(
            *(
                {f.stem for f in c.results.glob("fold_*.json") if (c.model(f.stem) / "model.json").exists()}
                for c in {**configs, **low_configs}.values()
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
    rows = []
    for name, config in {**configs, **low_configs}.items():
        for fold in folds:
            copy_member(config.model(fold), out / f"{config.prefix}{fold}")
            result = json.loads((config.results / f"{fold}.json").read_text())
            t, p = result["y_true"], result["y_pred"]
            rows.append((f"{config.prefix}{fold}", name, mae(t, p), r2(t, p), result["epochs_run"]))
    held_out = held_out_results(configs, folds)
    sodnet_names = [name for name in configs if kind(name) == "SODNet"]
    networks = [name for name in configs if kind(name) == "CompositionTc"]  # forests have no retrieval memory
    weights, blended, fold_weights = blend(held_out, SODNET_WEIGHT_FLOOR)

    def config_weights(kind_weights: dict[str, float]) -> dict[str, float]:
        """What each fold member of a configuration weighs: its kind's weight, shared by the kind's configurations."""
        return {n: kind_weights[kind(n)] / sum(kind(m) == kind(n) for m in configs) for n in configs}

    config_weight = config_weights(weights)
    records = records_by_id(args.data)  # read once: the forests' tree variances, calibration, training elements
    tree_variance = held_out_tree_variance(configs, folds, held_out, records)
    # Each structure's blend and spread: the ungated weights, or the gate's for its band where there are forests
    # beside other kinds.
    structure_blend, gate = {i: (blended[i], config_weight) for i in held_out}, None
    if tree_variance and len(weights) > 1:
        gate, gated, gated_weights, gate_per_fold = gated_blend(
            held_out, held_out_tree_sd(tree_variance), SODNET_WEIGHT_FLOOR
        )
        structure_blend = {i: (gated[i], config_weights(gated_weights[i])) for i in held_out}
    spread_gated = {i: prediction for i, (prediction, _) in structure_blend.items()}  # before any low-Tc gate
    low_tc, own_variance, predictions = None, dict(tree_variance), {i: p for i, (_, _, p) in held_out.items()}
    group = None
    if low_configs:
        group = LowTcGroup.load(low_configs, folds, records)
        low_tc, structure_blend = low_tc_blend(group.held_out, held_out, structure_blend)
        predictions, own_variance = group.joined(predictions, own_variance)
    subsets = {}
    composition = [n for n in configs if is_composition(n)]
    if composition and len(composition) < len(configs):
        subsets[COMPOSITION_MEMBERS] = composition_subset(
            {n: configs[n] for n in composition}, folds, held_out, tree_variance, group
        )
    elements = training_elements(args.data, list(records.values()))
    absent = [e for e in ALL_ELEMENTS if e not in elements]
    low_members = [f"{c.prefix}{fold}" for c in low_configs.values() for fold in folds]
    readers = [
        f"{c.prefix}{fold}" for c in configs.values() for fold in folds if architecture(c.model(fold)).get("state_dim")
    ]
    if len(weights) > 1:
        member_weights = {f"{c.prefix}{fold}": config_weight[name] for name, c in configs.items() for fold in folds}
        member_weights.update(dict.fromkeys(low_members, 0.0))  # the low-Tc group weighs only where it reads cold
        described = {
            "member_weights": member_weights,
            **(
                {
                    "gate": {
                        "edges": gate["edges"],
                        "member_weights": [
                            {
                                **{
                                    f"{c.prefix}{fold}": config_weights(w)[name]
                                    for name, c in configs.items()
                                    for fold in folds
                                },
                                **dict.fromkeys(low_members, 0.0),
                            }
                            for w in gate["kind_weights"]
                        ],
                    }
                }
                if gate
                else {}
            ),
            "subsets": {k: {n: v[n] for n in SUBSET_FIELDS if n in v} for k, v in subsets.items()},
            "training_elements": elements,
            # The members that read the forests' mean ln Tc as their state (sodnet_forest_state.py's SODNet).
            **({"state_from_forests": readers} if readers else {}),
            **(
                {"low_tc_gate": {"members": low_members, "threshold": low_tc["threshold"], "weight": low_tc["weight"]}}
                if low_tc
                else {}
            ),
        }
        write_json_atomic(out / ENSEMBLE_JSON, described)
    # Members given the same memory set end their retrieval memories with the same rows (the formula table):
    # stored once for all of them instead of once per member (per model kind: their statistics differ in width).
    shared_rows, shared_files = 0, []
    for names, file in ((sodnet_names, "shared_memory.pt"), (networks, "shared_memory_composition.pt")):
        with_memory = [
            out / f"{configs[n].prefix}{fold}" for n in names if n in MEMORY_DATA or n in networks for fold in folds
        ]
        if len(with_memory) > 1:
            shared_rows = max(shared_rows, share_retrieval_memory(with_memory, out / file))
            shared_files.append(file)
    calibration = calibrate(
        out,
        records,
        {
            i: (t, structure_blend[i][0], held_out_spread(predictions[i], structure_blend[i][1], own_variance.get(i)))
            for i, (t, _, _) in held_out.items()
        },
        {i: k for i, (_, k, _) in held_out.items()},
    )
    between = np.array([held_out_spread(predictions[i], structure_blend[i][1]) for i in held_out])
    error = np.array([abs(t - structure_blend[i][0]) for i, (t, _, _) in held_out.items()])
    calibration["spearman_between_members"] = float(spearmanr(between, error).statistic)
    calibration["mae_by_spread_fifth_between_members"] = mae_by_spread_fifth(error, between)
    calibration["kind_weights"] = weights
    if gate:
        truth = np.array([t for t, _, _ in held_out.values()])
        gated_prediction = np.array([spread_gated[i] for i in held_out])
        folds_of = np.array([k for _, k, _ in held_out.values()])
        against = against_baseline(truth, gated_prediction, np.array([blended[i] for i in held_out]), folds_of)
        calibration["gate"] = {
            **gate,
            "per_fold": gate_per_fold,
            "held_out_mae": mae(truth, gated_prediction),
            "held_out_r2_fold_mean": against["r2_fold_mean"],
            "ungated_held_out_mae": against["baseline_mae"],
            "better_folds": against["better_folds"],
            "ungated_held_out_r2_fold_mean": against["baseline_r2_fold_mean"],
        }
    if low_tc:
        calibration["low_tc_gate"] = low_tc
    calibration["kind_weights_per_fold"] = fold_weights
    calibration["subsets"] = {
        k: {n: v for n, v in s.items() if n not in ("member_weights", "low_tc_gate")} for k, s in subsets.items()
    }
    write_json_atomic(out / "calibration.json", calibration)
    command = (
        f"python benchmarks/make_pretrained.py --variants {' '.join(args.variants)}"
        f" --low-tc-members {' '.join(args.low_tc_members)}"
        f"{' --members-from-shipped' if args.members_from_shipped else ''}"
        f"{''.join(f' --from-runs {name}' for name in args.from_runs)}"
    )
    facts = CardFacts(
        name=args.name,
        command=command,
        members=rows,
        architectures={
            name: architecture(out / f"{c.prefix}{folds[0]}") for name, c in {**configs, **low_configs}.items()
        },
        weights=weights,
        fold_weights=fold_weights,
        size_mb=sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6,
        absent_elements=absent,
        memory_names=[n for n in configs if MEMORY_DATA.get(n) == "formulas_new_systems" or n in networks],
        shared_rows=shared_rows,
        shared_files=shared_files,
    )
    lines = card_lines(facts, calibration)
    (out / "README.md").write_text("\n".join(lines) + "\n")
    replace_folder(out, shipped)
    print("\n".join(lines))


def copy_member(source: Path, target: Path) -> None:
    """Copy a model folder, its weights written as this version of the package stores them.

    A shipped member whose memory rows are in a shared file gets them back in its state (the shared rows are worked
    out again for the new set of members, ``share_retrieval_memory``); a forest saved with 10-byte nodes (before
    2026-12-07) is written with 6-byte ones.
    """
    shutil.copytree(source, target)
    model = matgl.load_model(source)  # weights_only=True; the model's loader converts older layouts
    torch.save(model.state_dict(), target / "state.pt")
    (target / SHARED_MEMORY_JSON).unlink(missing_ok=True)


def architecture(member: Path) -> dict:
    """A member's constructor arguments as saved in its model.json, without the element list.

    A forest's node count per tree becomes its tree and node totals.
    """
    kwargs = json.loads((member / "model.json").read_text())["kwargs"]
    out = {k: v for k, v in kwargs.items() if k not in ("element_types", "tree_sizes")}
    if "tree_sizes" in kwargs:
        out.update(trees=len(kwargs["tree_sizes"]), nodes=sum(kwargs["tree_sizes"]))
    return out


def training_elements(data: str | None, records: list[SuperconRecord]) -> list[str]:
    """The elements of the members' training data, for ``ensemble.json``'s ``training_elements``.

    That is SuperCon3D, and the formula table that the retrieval members read (``MEMORY_DATA``) and the forests grew
    on (``composition_forest.py``; with ``SHIPPED_SCOPE`` ``compound``, rows of every chemical system).

    Args:
        data: The data root (default ``$MATGL_SUPERCON_DATA``), for the formula table.
        records: SuperCon3D's records, already read.
    """
    reference = records if SHIPPED_SCOPE == "system" else []  # no reference: every formula row
    extra = [
        *(r for name in sorted(set(MEMORY_DATA.values())) for r in extra_training_records(name, records, data)),
        *extra_training_records("formulas_new_systems", reference, data),
    ]
    return sorted({el.symbol for r in [*records, *extra] for el in r.structure.composition.elements})


if __name__ == "__main__":
    main()

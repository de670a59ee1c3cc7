"""The shipped ``SODNet-SuperCon3D`` ensemble's model card (its ``README.md``), written by ``make_pretrained.py``.

Every number on the card comes from ``calibration.json`` (``_ensemble_calibration.calibrate``), the blend's weights
(``_ensemble_blend``) or the committed results of other scripts (``COST``, ``BASELINE_RESULTS``,
``NEW_SYSTEMS_RESULTS``), so the card is rebuilt with the ensemble.
"""

from __future__ import annotations

import itertools
import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _ensemble_blend import SODNET_WEIGHT_FLOOR
from _ensemble_calibration import TC_BANDS_K
from composition_retrieval import MEMBER_VARIANTS
from sodnet_forest_state import WHOLE, WITHOUT

from matgl_supercon.pretrained.io import COMPOSITION_MEMBERS, ENSEMBLE_JSON

HERE = Path(__file__).parent
#: ``sodnet_cost.py``'s timings, quoted on the model card.
COST = HERE / "results" / "sodnet_cost.json"
#: ``formula_input.py``'s scores of the composition members on formulas, quoted on the model card.
FORMULA_INPUT = HERE / "results" / "formula_input.json"
#: ``supercon3d_baselines.py --models RF --extra-data formulas_new_systems --extra-scope compound``'s results.
BASELINE_RESULTS = HERE / "results" / "supercon3d_baselines_formulas_new_systems_per_compound.json"
#: ``uncertainty_new_systems.py``'s results: the composition members' coverage on chemical systems none of them saw.
NEW_SYSTEMS_RESULTS = HERE / "results" / "uncertainty_new_systems.json"
#: ``sodnet_forest_state.py``'s results: what its SODNet, which reads the forests' ln Tc, adds to the ensemble.
FOREST_STATE_RESULTS = HERE / "results" / "sodnet_forest_state.json"
#: What the model card says of each kind of composition member.
COMPOSITION_KINDS = {
    "CompositionTc": "`CompositionTc` networks (its statistics and the ln Tc of the nearest known compositions)",
    "CompositionForestTc": "`CompositionForestTc` extra trees on composition statistics, grown on SuperCon3D and "
    "the formula-only SuperCon table (Stanev et al. 2018; each fold's forest on every row 0.02 or more, in atom "
    "fractions, from its test compounds)",
}


@dataclass(frozen=True)
class CardFacts:
    """What the card reports beside the calibration."""

    name: str  # the ensemble's name
    command: str  # the make_pretrained.py command line that built it
    members: list[tuple[str, str, float, float, int | None]]  # folder, configuration, test MAE, test R2, epochs
    architectures: dict[str, dict]  # configuration -> its first member's constructor arguments
    weights: dict[str, float]  # kind -> weight over all folds
    fold_weights: list[dict[str, float]]  # the kind weights picked for each fold on the others
    size_mb: float
    absent_elements: list[str]  # elements no training structure holds
    memory_names: list[str]  # configurations whose retrieval memory holds the formula table
    shared_rows: int  # memory rows stored once for all members
    shared_files: list[str]  # the files that hold them


def card_lines(facts: CardFacts, calibration: dict) -> list[str]:
    """The model card, line by line."""
    weights, fold_weights = facts.weights, facts.fold_weights
    memory_names, shared_rows, shared_files = facts.memory_names, facts.shared_rows, facts.shared_files
    retrieval = any(a.get("retrieval_neighbors", 0) > 0 for a in facts.architectures.values())
    maes = np.array([m[2] for m in facts.members])
    one_factor = list(calibration["one_factor_coverage_1sd_by_predicted_tc"].values())  # coldest band first
    return [
        f"# {facts.name}",
        "",
        "Tc of ordered and disordered crystal structures, as ln(Tc / K), from an ensemble of the cross-validation",
        "fold models of SODNet (matgl-supercon's equivariant graph-attention transformer) and of the composition",
        "models beside it: the prediction is the (weighted) mean ln Tc over members and the reported uncertainty",
        "is their (weighted) standard deviation.",
        *(["", *textwrap.wrap(blend_paragraph(weights, fold_weights), 110)] if len(weights) > 1 else []),
        *(
            ["", *textwrap.wrap(state_reader_paragraph(readers), 110, break_on_hyphens=False)]
            if (readers := [n for n, a in facts.architectures.items() if a.get("state_dim", 0)])
            else []
        ),
        *(
            ["", *textwrap.wrap(gate_paragraph(calibration), 110, break_on_hyphens=False)]
            if "gate" in calibration
            else []
        ),
        *(
            ["", *textwrap.wrap(low_tc_paragraph(calibration), 110, break_on_hyphens=False)]
            if "low_tc_gate" in calibration
            else []
        ),
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
        *[f"| {name} | {c} | {m:.3f} | {r:.3f} | {'—' if e is None else e} |" for name, c, m, r, e in facts.members],
        "",
        f"Mean test MAE over members: {maes.mean():.3f} ln K. Held-out MAE of the "
        f"{'blended ' if len(weights) > 1 else ''}mean of each fold's {len(facts.architectures)} member(s) (one per "
        f"configuration{', weighted with the weights picked on the other folds' if len(weights) > 1 else ''}"
        f"), over all {calibration['n']} structures: {calibration['held_out_mae']:.3f} ln K "
        f"(R2 {calibration['held_out_r2_fold_mean']:.3f}, the mean over folds). "
        f"Total size {facts.size_mb:.1f} MB.",
        "",
        "## Uncertainty",
        "",
        *textwrap.wrap(
            "The reported sd is the members' spread times the `sd_scale` of the band its predicted Tc falls in "
            f"({scales_text(calibration)}; `calibration.json`), the factor that makes mean ± sd cover 68% of the "
            f"held-out errors predicted in that band, of the {calibration['n']} SuperCon3D structures (each scored by "
            "the members that did not train on it; one factor for all bands would be "
            f"{calibration['sd_scale']:.2f}, which covers {one_factor[0]:.0%} of the errors of the coldest "
            f"predictions and {one_factor[-1]:.0%} of the hottest). Scaled by the factors fitted on the other "
            "folds, ±1 sd covers "
            f"{calibration['cross_fitted']['coverage_1sd']:.0%} and ±2 sd "
            f"{calibration['cross_fitted']['coverage_2sd']:.0%} of each fold's held-out errors. The "
            "spread is that of a mixture of the members: the variance between their predictions plus the (weighted) "
            "mean of each member's own variance, which for a `CompositionForestTc` member is the variance of its "
            "trees' predictions (a network's is 0). After scaling, in sample, ±1 sd covers "
            f"{calibration['coverage_1sd']:.0%} and ±2 sd {calibration['coverage_2sd']:.0%} of held-out errors; "
            f"Spearman correlation of spread with |error|: {calibration['spearman']:.2f} "
            f"({calibration['spearman_between_members']:.2f} for the spread between members alone, the ensemble's "
            "spread until 2026-12-06). Held-out MAE (ln K) of each fifth of the structures, from the narrowest "
            f"interval to the widest: {', '.join(f'{v:.3f}' for v in calibration['mae_by_spread_fifth'])} (by the "
            "spread between members alone: "
            f"{', '.join(f'{v:.3f}' for v in calibration['mae_by_spread_fifth_between_members'])}).",
            110,
            break_on_hyphens=False,
        ),
        *textwrap.wrap(
            "The factors are fitted on the spread of the members that did not train on each structure (one per "
            "configuration, weighted as in the ensemble), the kind of spread the members show on a new structure. "
            "On a new structure the spread over all members also holds each configuration's fold-to-fold variation, "
            "which widens the interval. " + new_systems_sentence(),
            110,
            break_on_hyphens=False,
        ),
        "",
        "| family, or ordered / disordered (ordered: the paper's all->O regime) | n | held-out MAE ln K | "
        "median scaled sd | coverage ±1 sd |",
        "|---|---|---|---|---|",
        *[
            f"| {f} | {v['n']} | {v['mae']:.3f} | {v['median_sd']:.3f} | {v['coverage_1sd']:.0%} |"
            for f, v in (calibration["by_family"] | calibration["by_order"]).items()
        ],
        "",
        "Error along the Tc scale (bias: mean predicted minus recorded ln Tc; share: of the summed held-out error).",
        "The ensemble lifts the sub-kelvin tail towards the middle of the scale, and its interval is too narrow",
        "there. Conditional on the prediction there is no such offset: the median line of the recorded against the",
        f"predicted ln Tc has slope {calibration['median_line_slope']:.2f}, so no stretch of the predictions would "
        "lower the error.",
        "",
        "| recorded Tc | n | held-out MAE ln K | bias ln K | share of the error | coverage ±1 sd |",
        "|---|---|---|---|---|---|",
        *[
            f"| {b} | {v['n']} | {v['mae']:.3f} | {v['bias']:+.3f} | {v['error_share']:.0%} | {v['coverage_1sd']:.0%} |"
            for b, v in calibration["by_recorded_tc"].items()
        ],
        "",
        "The same by predicted Tc, the band a user sees (and the band of the spread scale): the spread widens where",
        "the predictions are cold. The last column scales each fold by the factors fitted on the other folds.",
        "",
        "| predicted Tc | n | held-out MAE ln K | sd_scale | median scaled sd | coverage ±1 sd | coverage ±2 sd | "
        "coverage ±1 sd, cross-fitted |",
        "|---|---|---|---|---|---|---|---|",
        *[
            f"| {b} | {v['n']} | {v['mae']:.3f} | {band_scale(calibration, b):.2f} | {v['median_sd']:.3f} | "
            f"{v['coverage_1sd']:.0%} | {v['coverage_2sd']:.0%} | "
            f"{calibration['cross_fitted']['coverage_1sd_by_predicted_tc'][b]:.0%} |"
            for b, v in calibration["by_predicted_tc"].items()
        ],
        "",
        *subset_lines(calibration.get("subsets", {}), calibration),
        "## Architecture",
        "",
        *[f"- {name}: `{json.dumps(arguments)}`" for name, arguments in facts.architectures.items()],
        "",
        "## Known limits",
        *baseline_lines(calibration),
        "- Pressure is not an input. SuperCon3D's high-pressure hydrides come with their compressed cells, which the",
        "  SODNet members see; the composition members, most of the weight, see no cell. Trees that also read cell",
        "  descriptors cut the held-out hydride error by 0.05 ln K (benchmarks/results/forest_inputs.md).",
        "- The data are skewed towards cuprates and other Cu/O compounds; heavy fermions and hydrides carry",
        "  the largest errors (see benchmarks/results/supercon3d_sodnet/README.md).",
        "- Non-superconductors are absent from SuperCon3D: every prediction is a positive Tc.",
        "- The members trained on SuperCon3D as published, with its faults: HfH10's and ZrH10's CIFs list each metal",
        "  three times (the members saw Hf3H10 and Zr3H10), and 8 CIFs hold a composition 10% of the atoms or more",
        "  away from the compound their Tc belongs to (benchmarks/results/supercon3d_audit.md).",
        f"- No training structure holds {', '.join(facts.absent_elements)}:",
        "  a prediction for one is an extrapolation, however narrow its range; its `unseen_elements` names them.",
        *(
            [
                f"- Below {TC_BANDS_K[0]:g} K the error is largest (the recorded-Tc table above): a sub-kelvin",
                f"  superconductor is predicted {np.exp(tail['bias']):.1f} times too warm in the (geometric) mean.",
            ]
            if (tail := calibration["by_recorded_tc"].get(f"Tc < {TC_BANDS_K[0]:g} K"))
            else []
        ),
        "- Each member trained on 80% of the data (the forests on 90%: their fold's training and validation",
        "  blocks); a structure from SuperCon3D was in the training set of most members.",
        *(
            [
                "- Members with `retrieval_neighbors` keep their training structures' composition statistics and ln Tc",
                "  (the retrieval memory): on a structure of their training set they read its own label, so their",
                "  prediction there is close to the recorded Tc and tells nothing about accuracy.",
            ]
            if retrieval
            else []
        ),
        *(
            [
                f"- Composition members ({', '.join(f'`{k}`' for k in weights if k != 'SODNet')}) do not see the "
                "structure: polymorphs",
                "  of one composition get one value from them, and only the SODNet members tell them apart.",
            ]
            if len(weights) > 1
            else []
        ),
        *(
            [
                "- `CompositionForestTc` members' leaves hold a few training rows each (SuperCon3D structures and",
                "  formula rows): on a composition they trained on they return close to its recorded Tc, and their",
                "  trees agree, so its interval is narrow: it tells nothing about accuracy.",
            ]
            if "CompositionForestTc" in weights
            else []
        ),
        *(
            [
                f"- Members of {', '.join(f'`{n}`' for n in memory_names)} also hold in their memory the",
                "  superconductors of the SuperCon formula table (Stanev et al. 2018) in chemical systems absent from",
                "  SuperCon3D, as one-site virtual crystals: for such a compound they read its recorded Tc too.",
                *near_copy_lines(memory_names),
            ]
            if memory_names
            else []
        ),
        *(
            [
                f"- The last {shared_rows:,} memory rows, common to those members, are stored once (per model kind,",
                f"  whose statistics differ in width) in {' and '.join(f'`{f}`' for f in shared_files)}: a member",
                "  folder loads (`matgl.load_model`) only beside that file.",
            ]
            if shared_rows
            else []
        ),
        "",
        f"Built by `{facts.command}` on {datetime.now(timezone.utc).date()}.",
    ]


def band_scale(calibration: dict, band: str) -> float:
    """The spread scale of one predicted-Tc band (named as :func:`tc_band_names` names it)."""
    banded = calibration["sd_scale_by_predicted_tc"]
    return banded["scales"][banded["bands"].index(band)]


def scales_text(calibration: dict) -> str:
    """The spread scale of each predicted-Tc band, for the model card."""
    banded = calibration["sd_scale_by_predicted_tc"]
    return ", ".join(f"{b}: {v:.2f}" for b, v in zip(banded["bands"], banded["scales"], strict=True))


def subset_lines(subsets: dict[str, dict], calibration: dict) -> list[str]:
    """The model card's section on the composition members alone (empty when the ensemble has no such subset)."""
    if COMPOSITION_MEMBERS not in subsets:
        return []
    s = subsets[COMPOSITION_MEMBERS]
    weights = ", ".join(f"{k} {w:.2f}" for k, w in s["kind_weights"].items() if w > 0)
    if "low_tc" in s:  # the low-Tc group is a composition member too
        low = s["low_tc"]
        weights += (
            f"; with the low-Tc gate, below ln Tc {low['threshold']:.1f} weighing {low['weight']:.2f}, which takes it "
            f"from {low['without_held_out_mae']:.3f} to {s['held_out_mae']:.3f}"
        )
    speed = "faster than the whole ensemble"
    cost = json.loads(COST.read_text()) if COST.exists() else {}
    if {"shipped_ensemble", "shipped_composition_members"} <= set(cost):
        fast, whole = (cost[k]["structures_per_s"] for k in ("shipped_composition_members", "shipped_ensemble"))
        speed = (
            f"{fast:.0f} structures/s against the whole ensemble's {whole:.1f} on 2 CPU cores "
            f"(`benchmarks/results/sodnet_cost.json`, {cost['meta']['date'][:10]})"
        )
    text = (
        f'`load_model("SODNet-SuperCon3D", members="{COMPOSITION_MEMBERS}")` (command line: `--members '
        f"{COMPOSITION_MEMBERS}`) keeps the {s['n_members']} composition members ({weights}, picked as above): "
        f"{speed}, and blind to the structure: polymorphs of one composition get one value. Held-out MAE "
        f"{s['held_out_mae']:.3f} ln K (R2 {s['held_out_folds']['all']['r2_mean']:.3f}, "
        f"the mean over folds; the whole ensemble {calibration['held_out_mae']:.3f} / "
        f"{calibration['held_out_r2_fold_mean']:.3f}); its own spread scales ({scales_text(s)}), after which "
        f"±1 sd covers {s['coverage_1sd']:.0%} and ±2 sd {s['coverage_2sd']:.0%} of held-out errors "
        f"({s['cross_fitted']['coverage_1sd']:.0%} and {s['cross_fitted']['coverage_2sd']:.0%} cross-fitted)."
    )
    formulas = json.loads(FORMULA_INPUT.read_text())["rows"] if FORMULA_INPUT.exists() else {}
    if {"structure", "the listed formula"} <= set(formulas):
        listed, cifs = formulas["the listed formula"], formulas["structure"]
        text += (
            f" They also read bare formulas (`predict_formula_tc`, `mgl-supercon predict --formula`, `screen "
            f"--formula`), each a one-site virtual crystal as the formula-table rows were: held out on SuperCon3D's "
            f"listed formulas {listed['mae_mean']:.3f} ln K (R2 {listed['r2_fold_mean']:.3f}) against "
            f"{cifs['mae_mean']:.3f} on the CIFs, the same members with the subset's weights "
            f"(`benchmarks/results/formula_input.md`)."
        )
    return ["## Composition members alone", "", *textwrap.wrap(text, 110), ""]


def blend_paragraph(weights: dict[str, float], fold_weights: list[dict[str, float]]) -> str:
    """The model card's account of the composition members and of the weights of each kind."""
    ranges = {k: sorted({f"{f[k]:.2f}" for f in fold_weights}) for k in weights}
    picked = ", ".join(f"{k} {'-'.join(dict.fromkeys([r[0], r[-1]]))}" for k, r in ranges.items())
    return (
        "Beside the SODNet members, the ensemble holds composition members, which read the composition alone: "
        + "; ".join(COMPOSITION_KINDS[k] for k in weights if k in COMPOSITION_KINDS)
        + ". Their errors differ from SODNet's, so the prediction is a weighted mean in which each kind of member "
        + "together weighs "
        + ", ".join(f"{k} {w:.2f}" for k, w in weights.items())
        + f" (`{ENSEMBLE_JSON}`; the weights with the lowest held-out MAE over all folds, SODNet weighing at least "
        + f"{SODNET_WEIGHT_FLOOR:.2f} so that polymorphs of one composition still differ; picked on the other "
        + f"{len(fold_weights) - 1} folds, each fold's weights were {picked})."
    )


def state_reader_paragraph(readers: list[str]) -> str:
    """The model card's account of the SODNet configurations that read the forests' ln Tc as their state."""
    text = (
        f"SODNet configuration{'s' if len(readers) > 1 else ''} {', '.join(f'`{n}`' for n in readers)} read"
        f"{'' if len(readers) > 1 else 's'}, as a state vector (`state_from_forests` in `{ENSEMBLE_JSON}`), the "
        "mean ln Tc of the `CompositionForestTc` members "
        f"(the low-Tc group below left out) and predict{'' if len(readers) > 1 else 's'} after them: trained on the "
        "ln Tc of forests that never saw "
        "each structure (`benchmarks/sodnet_forest_state.py`), such a member corrects the composition's prediction "
        "with what the crystal shows. The SODNet configurations share the SODNet weight equally."
    )
    ensemble = json.loads(FOREST_STATE_RESULTS.read_text()).get("in_shipped_ensemble", {})
    if ensemble:
        whole, without = ensemble[WHOLE], ensemble[WITHOUT]
        text += (
            f" Held out, the ensemble scores {whole['mae']:.4f} ln K with it against {without['mae']:.4f} without it, "
            f"lower on {without['folds_where_the_shipped_ensemble_is_lower']} of {len(without['per_fold_mae'])} "
            "folds (`benchmarks/results/sodnet_forest_state.md`)."
        )
    return text


def gate_paragraph(calibration: dict) -> str:
    """The model card's account of the gate (``calibration["gate"]``): the kind weights per band of tree spread."""
    gate = calibration["gate"]
    edges = gate["edges"]
    bands = [f"below {edges[0]:.2f}"]
    bands += [f"{lo:.2f}-{hi:.2f}" for lo, hi in itertools.pairwise(edges)]
    bands += [f"{edges[-1]:.2f} and above"]
    weights = "; ".join(
        f"{band}: " + ", ".join(f"{k} {w:.2f}" for k, w in kind_weights.items())
        for band, kind_weights in zip(bands, gate["kind_weights"], strict=True)
    )
    return (
        "The weights change with how far the forest members' trees disagree on a structure (`gate` in "
        f"`{ENSEMBLE_JSON}`: the square root of the forests' mean variance over their trees, in ln K, in "
        f"{len(bands)} bands of equal counts of held-out structures): {weights}. Where the trees disagree, the "
        "forests err most, and the networks take weight. With, for each fold, the bands and weights picked on the "
        f"other folds, the members score {gate.get('held_out_mae', calibration['held_out_mae']):.3f} ln K held out (R2 "
        f"{gate.get('held_out_r2_fold_mean', calibration['held_out_r2_fold_mean']):.3f}) against "
        f"{gate['ungated_held_out_mae']:.3f} (R2 "
        f"{gate['ungated_held_out_r2_fold_mean']:.3f}) with one weighting for every structure, lower on "
        f"{gate['better_folds']} of {len(gate['per_fold'])} folds."
    )


def baseline_lines(calibration: dict) -> list[str]:
    """The card's comparison with a random forest on Magpie features given the same formula rows
    (``supercon3d_baselines.py --extra-scope compound``; none before that result exists)."""
    if not BASELINE_RESULTS.exists():
        return []
    forest = json.loads(BASELINE_RESULTS.read_text())["results"]["RF-c all"]
    return [
        "- The accuracy comes from the data more than from the learners: a random forest on Magpie composition",
        "  features, given the same formula-table rows (every row 0.02 or more from a fold's held-out compounds),",
        f"  scores {forest['mae_mean']:.3f} ln K (R2 {forest['r2_mean']:.3f}) on the same test blocks, against the "
        f"ensemble's {calibration['held_out_mae']:.3f}",
        "  (benchmarks/results/supercon3d_baselines_formulas_new_systems_per_compound.md).",
    ]


def new_systems_sentence() -> str:
    """The card's sentence on the coverage of compositions new to every member (``uncertainty_new_systems.py``)."""
    if not NEW_SYSTEMS_RESULTS.exists():
        return "Its coverage on compositions new to every member has not been measured."
    summary = json.loads(NEW_SYSTEMS_RESULTS.read_text())["summary"]
    new, control = (summary[split]["all"] for split in ("new chemical systems", "random (control)"))
    return (
        "Measured for the composition members on chemical systems that none of them saw "
        "(benchmarks/results/uncertainty_new_systems.md: SuperCon3D in 10 folds grouped by chemical system, 10 "
        "members per fold grown as the shipped ones, the composition subset's factors), ±1 sd covers "
        f"{new['coverage_1sd']:.0%} and ±2 sd {new['coverage_2sd']:.0%} of the errors (pooled MAE "
        f"{new['mae']:.3f} ln K, median sd {new['median_sd']:.2f}), against {control['coverage_1sd']:.0%} and "
        f"{control['coverage_2sd']:.0%} "
        f"(MAE {control['mae']:.3f}, median sd {control['median_sd']:.2f}) on random folds built the same way: "
        "on a new chemistry the interval widens with the error, and errs on the wide side."
    )


def near_copy_lines(memory_names: Sequence[str]) -> list[str]:
    """The card's account of near copies of SuperCon3D compounds in the retrieval members' memory."""
    if MEMBER_VARIANTS["distinct_memory"] not in memory_names:
        return []
    return [
        f"  `{MEMBER_VARIANTS['distinct_memory']}` leaves out the rows within 0.02 (atom fractions) of a SuperCon3D",
        "  composition, lightly doped copies such as Mg0.997Fe0.003B2 beside MgB2: no held-out structure reads its",
        "  own compound's Tc from the formula table (benchmarks/results/formula_scope.md).",
    ]


def low_tc_paragraph(calibration: dict) -> str:
    """The model card's account of the low-Tc gate (``calibration["low_tc_gate"]``)."""
    low = calibration["low_tc_gate"]
    rules = sorted({tuple(rule) for rule in low["per_fold"]})
    return (
        "Below 1 K the members above read too warm. Beside them the ensemble holds forests that also grew on the "
        "formula table's non-superconductors at a floor Tc of 0.5 K (`LowTcGate`, `low_tc_gate` in "
        f"`{ENSEMBLE_JSON}`): alone they score worse, but where their mean reads ln Tc below {low['threshold']:.1f} "
        f"(Tc below {np.exp(low['threshold']):.2f} K; {low['cold_share']:.0%} of the held-out structures) they take "
        f"{low['weight']:.2f} of the weight, and none elsewhere. With each fold's rule picked on the other folds ("
        + ", ".join(f"below {t:.1f} with {w:.2f}" for t, w in rules)
        + f"), the held-out score below is {calibration['held_out_mae']:.3f} ln K (R2 "
        f"{calibration['held_out_r2_fold_mean']:.3f}) against {low['without_held_out_mae']:.3f} (R2 "
        f"{low['without_held_out_r2_fold_mean']:.3f}) without them, lower on {low['better_folds']} of "
        f"{len(low['per_fold'])} folds (benchmarks/results/low_tc_gate.md)."
    )

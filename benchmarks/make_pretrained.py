"""Package the SuperCon3D fold models of ``supercon3d_sodnet.py`` as the shipped ``SODNet-SuperCon3D`` ensemble.

Usage:
    python benchmarks/make_pretrained.py [--variants blocks2_composition valence_ema0.995 ...] [--data ../shared/data]
    python benchmarks/make_pretrained.py --members-from-shipped   # rebuild card and calibration, same members
    python benchmarks/make_pretrained.py --members-from-shipped --from-runs VARIANT   # VARIANT retrained since

Without ``--variants``, the configurations are ``sodnet_variants.SHIPPED_SODNET`` and ``SHIPPED_COMPOSITION_MEMBERS``.
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

``SHIPPED_COMPOSITION_MEMBERS`` adds composition members: the ``CompositionForestTc`` fold forests that
``composition_forest.py --save-members --formula-scope compound`` saved (their per-fold results under
``results/composition_members``; ``CompositionTc`` fold networks from ``composition_retrieval.py --save-members`` can
be added with ``--variants``). The means of the kinds of members are blended with the weights that give the
lowest held-out MAE (``blend``; SODNet weighs at least ``SODNET_WEIGHT_FLOOR``), written to ``ensemble.json`` as
per-member weights; the held-out score on the card blends each fold with the weights picked on the other folds.
Since 2026-12-06 the weights also change with the forests' tree spread (``gated_blend``: one set of kind weights per
band of it, ``GATE_BANDS`` bands, written to ``ensemble.json`` as its ``gate``), picked and scored the same way.

Held-out score and calibration (``calibration.json``, applied by ``load_model``): every SuperCon3D structure is
in the test block of one fold; the mean prediction of that fold's members (one per configuration) is its
held-out prediction, and the card reports its MAE. The spread of those same members (none trained on the
structure, as none trained on a new one), as ``TcEnsemble`` computes it (their weighted variance plus, since
2026-12-06, each forest member's variance over its trees, recomputed here by running the fold's forest on its test
structures: ``held_out_tree_variance``), is compared with that held-out error; ``sd_scale`` is the 68.3% quantile
of |error| / spread, so that mean ± sd_scale × spread covers 68% of held-out errors, since 2026-12-07 one factor per
band of the predicted Tc (``TC_BANDS_K``; ``banded_sd_scale``, ``calibration.json``'s ``sd_scale_by_predicted_tc``),
with the coverage of factors fitted on the other folds reported beside it. On a new structure the spread
over all members also holds each configuration's fold-to-fold variation, which widens the interval. (Until
2026-12-05 the whole ensemble's spread on each SuperCon3D structure was used: most members trained on it, and with
forest members that spread mostly measures the one untrained member's error, which inflated the reported coverage
and spread-error correlation.) The card also breaks the held-out error down by recorded Tc (``TC_BANDS_K``), with
the bias that lifts the sub-kelvin tail.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import matgl
import numpy as np
import torch
from composition_forest import SHIPPED_SCOPE
from composition_forest import SHIPPED_VARIANT as FOREST_VARIANT
from composition_retrieval import MEMBER_VARIANTS, member_results_dir, member_runs_dir
from scipy.stats import spearmanr
from sklearn.linear_model import QuantileRegressor
from sodnet_variants import MEMORY_DATA, SHIPPED_SODNET, results_dir, runs_dir

from matgl_supercon._io import replace_folder
from matgl_supercon.benchmarks import fold_summary, grouped_mae, mae, r2
from matgl_supercon.data import extra_training_records, load_supercon3d
from matgl_supercon.graph import ALL_ELEMENTS
from matgl_supercon.models import share_retrieval_memory
from matgl_supercon.models._shared_memory import SHARED_MEMORY_JSON
from matgl_supercon.pretrained import load_model, pretrained_dir
from matgl_supercon.pretrained.io import COMPOSITION_MEMBERS, ENSEMBLE_JSON
from matgl_supercon.training import write_json_atomic

HERE = Path(__file__).parent
#: ``sodnet_cost.py``'s timings, quoted on the model card.
COST = HERE / "results" / "sodnet_cost.json"
#: ``supercon3d_baselines.py --models RF --extra-data formulas_new_systems --extra-scope compound``'s results.
BASELINE_RESULTS = HERE / "results" / "supercon3d_baselines_formulas_new_systems_per_compound.json"
#: ``uncertainty_new_systems.py``'s results: the composition members' coverage on chemical systems none of them saw.
NEW_SYSTEMS_RESULTS = HERE / "results" / "uncertainty_new_systems.json"


#: Member folder prefixes that differ from ``<variant>_``: the shipped ensemble's first configuration was the
#: package default when it was built and its members are ``fold_<k>``.
MEMBER_PREFIX = {"blocks2_composition": ""}
#: Composition members shipped beside the SODNet configurations: the ``CompositionForestTc`` fold forests that
#: ``composition_forest.py --save-members`` saved (their per-fold results under ``results/composition_members``). Their
#: errors differ from SODNet's, and the kinds blended predict better than either. Until 2026-12-07 the ``CompositionTc``
#: fold networks of ``composition_retrieval.py --save-members`` (``MEMBER_VARIANTS["distinct_memory"]``, 23 MB) were
#: shipped too; their weight had fallen to 0 except for 0.10 where the trees disagree most, and without them the
#: held-out score is 0.496 ln K against 0.497 (R2 0.768 both) at 45 MB instead of 68 (the size then went to forests of
#: 45 trees instead of 30: 0.491 at 45.4 MB with 6 bytes per tree node). The forests' own spread (the variance over
#: their trees) calibrates their subset without a second composition configuration.
SHIPPED_COMPOSITION_MEMBERS = (FOREST_VARIANT,)
#: Member kinds, in the order of their weights in ``calibration.json``.
KINDS = ("SODNet", "CompositionTc", "CompositionForestTc")
#: What the model card says of each kind of composition member.
COMPOSITION_KINDS = {
    "CompositionTc": "`CompositionTc` networks (its statistics and the ln Tc of the nearest known compositions)",
    "CompositionForestTc": "`CompositionForestTc` extra trees on composition statistics, grown on SuperCon3D and "
    "the formula-only SuperCon table (Stanev et al. 2018; each fold's forest on every row 0.02 or more, in atom "
    "fractions, from its test compounds)",
}
#: Edges (K) of the recorded-Tc bands whose held-out error the card reports.
TC_BANDS_K = (1.0, 10.0, 30.0)
#: Step of the grid of kind weights (non-negative, summing to 1) tried on held-out predictions.
WEIGHT_STEP = 0.05
#: Smallest weight the shipped ensemble gives its SODNet members. Since the forests grew on the formula rows of
#: every chemical system (2026-12-06 evening), the lowest held-out MAE gives SODNet 0, and the ensemble would give
#: every polymorph of a composition one value; 0.05 costs less than 0.001 ln K held out (the model card).
SODNET_WEIGHT_FLOOR = 0.05
#: Bands of the forests' tree spread in which the kind weights are picked apart (``gated_blend``): on the shipped
#: members' held-out predictions 2, 3 and 5 bands gave 0.507, 0.503 and 0.506 ln K against 0.511 for one weighting
#: (picked on the other folds; 2026-12-06); 3 was kept.
GATE_BANDS = 3


def kind(name: str) -> str:
    """The model kind of a configuration: one of ``KINDS``."""
    if name.startswith("composition_forest"):  # FOREST_VARIANT, and the forests shipped before it
        return "CompositionForestTc"
    return "CompositionTc" if name in MEMBER_VARIANTS.values() else "SODNet"


def is_composition(name: str) -> bool:
    """Whether a configuration is a composition member (``composition_retrieval.py``, ``composition_forest.py``)."""
    return kind(name) != "SODNet"


def weight_grid(n_kinds: int) -> np.ndarray:
    """``[n_points, n_kinds]``: every weight vector on the ``WEIGHT_STEP`` grid of the simplex."""
    steps = round(1 / WEIGHT_STEP)
    heads = [c for c in itertools.product(range(steps + 1), repeat=n_kinds - 1) if sum(c) <= steps]
    return np.array([[*c, steps - sum(c)] for c in heads], dtype=float) / steps


def member_dirs(name: str) -> tuple[Path, Path]:
    """Where a configuration's per-fold test results and its trained fold models live."""
    if is_composition(name):
        return member_results_dir(name), member_runs_dir(name)
    return results_dir(name), runs_dir(name)


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


def configurations(
    variants: list[str], shipped: Path | None = None, from_runs: Sequence[str] = ()
) -> dict[str, Configuration]:
    """Each configuration, in the given order.

    Its models come from the ensemble folder ``shipped`` when given and that folder holds members of it, else from
    its training runs (so a configuration can be added to a shipped ensemble whose other runs are gone). The
    configurations in ``from_runs`` always come from their runs: retrained, their shipped members are out of date.
    """
    found = {}
    for name in variants:
        results, runs = (folder / "all" for folder in member_dirs(name))
        if not results.is_dir():
            script = {"SODNet": "sodnet_variants.py", "CompositionTc": "composition_retrieval.py --save-members"}.get(
                kind(name), "composition_forest.py --save-members"
            )
            raise SystemExit(f"variant {name!r}: no results under {results}; run benchmarks/{script} first")
        prefix = MEMBER_PREFIX.get(name, f"{name}_")
        if shipped is not None and name not in from_runs and any(shipped.glob(f"{prefix}fold_*/model.json")):
            found[name] = Configuration(results, prefix, shipped, True)
        else:
            found[name] = Configuration(results, prefix, runs, False)
    return found


def blend(
    held_out: dict[str, tuple[float, int, dict[str, float]]], min_sodnet: float = 0.0
) -> tuple[dict[str, float], dict[str, float], list[dict[str, float]]]:
    """Weights of each model kind's mean (SODNet, CompositionTc, CompositionForestTc members), and held-out predictions.

    Args:
        held_out: Structure id -> (its ln Tc, the fold that tested it, each configuration's prediction).
        min_sodnet: Smallest SODNet weight tried when SODNet members are present (``SODNET_WEIGHT_FLOOR`` for the
            shipped ensemble).

    Returns:
        Each kind's weight, the point of the ``WEIGHT_STEP`` grid with the lowest held-out MAE over all folds (what
        the ensemble ships); each structure's cross-validated prediction, blended with the weights picked on the
        other folds' structures, so that the reported held-out score does not use its own fold to pick them; and
        the weights picked per fold. With one kind: weight 1, and the plain mean of its configurations.
    """
    ids = list(held_out)
    truth = np.array([held_out[i][0] for i in ids])
    fold = np.array([held_out[i][1] for i in ids])
    present = [k for k in KINDS if any(kind(n) == k for i in ids for n in held_out[i][2])]
    means = [kind_means(held_out[i][2]) for i in ids]
    parts = np.array([[m[k] for m in means] for k in present])
    grid = weight_grid(len(present))
    if "SODNet" in present and len(present) > 1:
        grid = grid[grid[:, present.index("SODNet")] >= min_sodnet - 1e-9]
    error = np.abs(grid @ parts - truth)  # [grid point, structure]
    best = grid[int(np.argmin(error.mean(1)))]
    prediction, chosen = np.zeros(len(ids)), []
    for k in sorted(set(fold.tolist())):
        w = grid[int(np.argmin(error[:, fold != k].mean(1)))]
        chosen.append(dict(zip(present, w.tolist(), strict=True)))
        prediction[fold == k] = (w @ parts)[fold == k]
    return dict(zip(present, best.tolist(), strict=True)), dict(zip(ids, prediction.tolist(), strict=True)), chosen


def held_out_results(
    configs: dict[str, Configuration], folds: Sequence[str]
) -> dict[str, tuple[float, int, dict[str, float]]]:
    """Structure id -> (its ln Tc, the fold that tested it, each configuration's prediction), from the
    configurations' per-fold results files (``fold_<k>.json``); the ``held_out`` of :func:`blend`."""
    held_out: dict[str, tuple[float, int, dict[str, float]]] = {}
    for name, config in configs.items():
        for fold in folds:
            result = json.loads((config.results / f"{fold}.json").read_text())
            for i, truth, pred in zip(result["ids"], result["y_true"], result["y_pred"], strict=True):
                held_out.setdefault(i, (truth, int(fold.split("_")[1]), {}))[2][name] = pred
    return held_out


def kind_means(predictions: dict[str, float]) -> dict[str, float]:
    """The mean prediction of each kind's configurations."""
    kinds = dict.fromkeys(kind(n) for n in predictions)
    return {k: float(np.mean([p for n, p in predictions.items() if kind(n) == k])) for k in kinds}


def gated_blend(
    held_out: dict[str, tuple[float, int, dict[str, float]]],
    tree_sd: dict[str, float],
    min_sodnet: float = 0.0,
    bands: int = GATE_BANDS,
) -> tuple[dict, dict[str, float], dict[str, dict[str, float]], list[dict]]:
    """Kind weights per band of the forests' tree spread (:class:`~matgl_supercon.models.ForestSpreadGate`).

    The band edges are quantiles of ``tree_sd`` (equal counts), and each band's weights are :func:`blend`'s on its
    structures.

    Args:
        held_out: As for :func:`blend`.
        tree_sd: Structure id -> the square root of its forest members' mean variance over their trees.
        min_sodnet: As for :func:`blend`.
        bands: Number of bands.

    Returns:
        The gate picked on all folds (``{"edges": [...], "kind_weights": [one dict per band]}``); each structure's
        cross-validated prediction and its kind weights, from the gate picked on the other folds (so the reported
        score does not pick the gate on its own fold); and the gate picked per fold.
    """
    ids = list(held_out)
    sd = np.array([tree_sd[i] for i in ids])
    fold = np.array([held_out[i][1] for i in ids])

    def fit(chosen: np.ndarray) -> dict:
        edges = np.quantile(sd[chosen], np.linspace(0, 1, bands + 1)[1:-1])
        band = np.digitize(sd, edges)
        kind_weights = [
            blend({ids[j]: held_out[ids[j]] for j in np.flatnonzero(chosen & (band == b))}, min_sodnet)[0]
            for b in range(bands)
        ]
        return {"edges": edges.tolist(), "kind_weights": kind_weights}

    prediction, structure_weights, per_fold = {}, {}, []
    for k in sorted(set(fold.tolist())):
        gate = fit(fold != k)
        per_fold.append(gate)
        band = np.digitize(sd, gate["edges"])
        for j in np.flatnonzero(fold == k):
            w = structure_weights[ids[j]] = gate["kind_weights"][band[j]]
            means = kind_means(held_out[ids[j]][2])
            prediction[ids[j]] = sum(w[name] * means[name] for name in w)
    return fit(np.ones(len(ids), bool)), prediction, structure_weights, per_fold


def held_out_spread(
    predictions: dict[str, float], member_weight: dict[str, float], own_variance: dict[str, float] | None = None
) -> float:
    """Weighted spread of one structure's held-out predictions (one per configuration), as ``TcEnsemble`` weighs:
    the square root of their weighted variance plus the weighted mean of each member's own variance
    (``own_variance``, by configuration: a forest's variance over its trees; 0 where not given).

    None of these members trained on the structure, as none of the ensemble's members trained on a new one. The
    whole ensemble's spread on a SuperCon3D structure would mostly measure how far its one untrained member sits
    from the others, which trained on it (a forest returns close to the recorded Tc), not the spread a new
    structure gets.
    """
    w = np.array([member_weight[n] for n in predictions])
    w = w / w.sum()
    p = np.array(list(predictions.values()))
    mean = float(w @ p)
    own = np.array([(own_variance or {}).get(n, 0.0) for n in predictions])
    spread = 1 - (w**2).sum()  # 0 when one member holds all the weight: no spread between members
    between = (w * (p - mean) ** 2).sum() / spread if spread > 1e-9 else 0.0
    return float(np.sqrt(between + w @ own))


def held_out_tree_variance(
    configs: dict[str, Configuration],
    folds: list[str],
    held_out: dict[str, tuple[float, int, dict[str, float]]],
    data: str | None,
) -> dict[str, dict[str, float]]:
    """Structure id -> {forest configuration: the variance over its trees of the fold member that tested on it}.

    Each ``CompositionForestTc`` fold member predicts its test block again; its mean must be the prediction its
    results file holds (the member is the one that was scored), or this stops.
    """
    records = {r.id: r for r in load_supercon3d(data)}
    variance: dict[str, dict[str, float]] = {}
    for name, config in configs.items():
        if kind(name) != "CompositionForestTc":
            continue
        for fold in folds:
            ids = [i for i, (_, k, _) in held_out.items() if k == int(fold.split("_")[1])]
            member = load_model(config.model(fold))
            # SuperCon3D as published: 5 CIFs hold overlapping atoms (load_supercon3d's docstring).
            graphs = member.graphs([records[i].structure for i in ids], allow_overlaps=True)
            mean, own = next(member.members()).predict_graphs_and_variance(graphs)
            recorded = np.array([held_out[i][2][name] for i in ids])
            if not np.allclose(mean.numpy(), recorded, atol=1e-4):
                raise SystemExit(f"{config.model(fold)}: its test predictions differ from its results file's")
            for i, v in zip(ids, own.tolist(), strict=True):
                variance.setdefault(i, {})[name] = v
    return variance


def held_out_tree_sd(tree_variance: dict[str, dict[str, float]]) -> dict[str, float]:
    """Structure id -> what the gate reads (:class:`~matgl_supercon.models.ForestSpreadGate`): the square root of
    its forest members' mean variance over their trees, from :func:`held_out_tree_variance`."""
    return {i: float(np.sqrt(np.mean(list(v.values())))) for i, v in tree_variance.items()}


def mae_by_spread_fifth(error: np.ndarray, spread: np.ndarray) -> list[float]:
    """Mean |error| of each fifth of the structures, ordered from the narrowest spread to the widest."""
    return [float(error[part].mean()) for part in np.array_split(np.argsort(spread, kind="stable"), 5)]


def fit_sd_scale(error: np.ndarray, spread: np.ndarray) -> float:
    """The factor that makes mean ± factor × spread cover 68.3% of the held-out errors."""
    return float(np.quantile(error / np.maximum(spread, 1e-6), 0.6827))


def coverage(error: np.ndarray, sd: np.ndarray) -> dict[str, float]:
    """The share of held-out errors within ±1 and ±2 sd."""
    return {"coverage_1sd": float(np.mean(error <= sd)), "coverage_2sd": float(np.mean(error <= 2 * sd))}


def banded_sd_scale(
    error: np.ndarray, spread: np.ndarray, prediction: np.ndarray, fold: np.ndarray
) -> tuple[dict, np.ndarray, np.ndarray]:
    """One :func:`fit_sd_scale` per band of the predicted Tc (``TC_BANDS_K``), as ``TcEnsemble`` applies them.

    One factor for all leaves the coldest predictions' intervals too narrow and the hottest' too wide; a factor per
    band holds the coverage in each band a user reads. Each band's factor is fitted on all held-out structures
    predicted in it, so its coverage there is 68% by construction; the honest figure is the cross-fitted one: each
    fold's structures scaled by the factors fitted on the other folds.

    Args:
        error: Held-out |error| (ln K).
        spread: The members' (unscaled) spread.
        prediction: Held-out predicted ln Tc.
        fold: The fold whose test block holds each structure.

    Returns:
        ``calibration.json``'s ``sd_scale_by_predicted_tc``, the scaled sd of each structure, and its cross-fitted
        scaled sd.
    """
    edges = np.log(TC_BANDS_K)
    band = np.digitize(prediction, edges)

    def fitted(rows: np.ndarray) -> np.ndarray:
        if missing := sorted(set(range(len(edges) + 1)) - set(band[rows].tolist())):
            raise ValueError(f"no held-out prediction in the predicted-Tc band(s) {missing}: cannot fit their scale")
        chosen = [rows & (band == b) for b in range(len(edges) + 1)]
        return np.array([fit_sd_scale(error[c], spread[c]) for c in chosen])

    scales = fitted(np.ones(len(error), bool))
    sd = spread * scales[band]
    crossed = np.empty(len(error))
    for k in set(fold.tolist()):
        crossed[fold == k] = (spread * fitted(fold != k)[band])[fold == k]
    return {"edges_ln_k": edges.tolist(), "scales": scales.tolist(), "bands": tc_band_names()}, sd, crossed


def composition_subset(
    configs: dict[str, Configuration],
    folds: list[str],
    held_out: dict[str, tuple[float, int, dict[str, float]]],
    own_variance: dict[str, dict[str, float]],
) -> dict:
    """Weights, spread scale and held-out score of the composition members alone (``load_model(members=...)``).

    Blended and calibrated as the whole ensemble is (:func:`blend`, :func:`held_out_spread`), on the same
    held-out predictions without the SODNet members'. Members of a kind the blend weighs 0 are not in the subset.
    """
    own = {i: (t, k, {n: p[n] for n in configs}) for i, (t, k, p) in held_out.items()}
    weights, blended, fold_weights = blend(own)
    config_weight = {n: weights[kind(n)] / sum(kind(m) == kind(n) for m in configs) for n in configs}
    ids = list(own)
    truth, prediction = np.array([own[i][0] for i in ids]), np.array([blended[i] for i in ids])
    spread = np.array([held_out_spread(own[i][2], config_weight, own_variance.get(i)) for i in ids])
    error, fold = np.abs(truth - prediction), np.array([own[i][1] for i in ids])
    banded, sd, crossed = banded_sd_scale(error, spread, prediction, fold)
    per_fold = [
        {"mae": mae(truth[fold == k], prediction[fold == k]), "r2": r2(truth[fold == k], prediction[fold == k])}
        for k in sorted(set(fold.tolist()))
    ]
    # A kind the blend drops (weight 0) is left out of the subset: loading it would cost time for nothing.
    kept = {n: c for n, c in configs.items() if config_weight[n] > 0}
    return {
        "member_weights": {f"{c.prefix}{f}": config_weight[n] for n, c in kept.items() for f in folds},
        "sd_scale": fit_sd_scale(error, spread),  # one factor for all, for comparison
        "sd_scale_by_predicted_tc": banded,
        "n_members": len(kept) * len(folds),
        "kind_weights": weights,
        "kind_weights_per_fold": fold_weights,
        "held_out_mae": float(error.mean()),
        "held_out_folds": {"all": fold_summary(per_fold)},
        **coverage(error, sd),
        "cross_fitted": coverage(error, crossed),
    }


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
        "forests err most, and the networks take weight. The held-out score below uses, for each fold, the bands "
        f"and weights picked on the other folds: {calibration['held_out_mae']:.3f} ln K (R2 "
        f"{calibration['held_out_r2_fold_mean']:.3f}) against {gate['ungated_held_out_mae']:.3f} (R2 "
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


def training_elements(data: str | None) -> list[str]:
    """The elements of the members' training data, for ``ensemble.json``'s ``training_elements``.

    That is SuperCon3D, and the formula table that the retrieval members read (``MEMORY_DATA``) and the forests grew
    on (``composition_forest.py``; with ``SHIPPED_SCOPE`` ``compound``, rows of every chemical system).
    """
    records = load_supercon3d(data)
    reference = records if SHIPPED_SCOPE == "system" else []  # no reference: every formula row
    extra = [
        *(r for name in sorted(set(MEMORY_DATA.values())) for r in extra_training_records(name, records, data)),
        *extra_training_records("formulas_new_systems", reference, data),
    ]
    return sorted({el.symbol for r in [*records, *extra] for el in r.structure.composition.elements})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variants",
        nargs="*",
        default=[*SHIPPED_SODNET, *SHIPPED_COMPOSITION_MEMBERS],
        help="sodnet_variants.py configurations and composition_retrieval.py member variants (default: those of "
        "SHIPPED_SODNET and SHIPPED_COMPOSITION_MEMBERS)",
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
    args = parser.parse_args()
    if unknown := sorted(set(args.from_runs) - set(args.variants)):
        raise SystemExit(f"--from-runs {' '.join(unknown)}: not among the --variants")
    shipped = pretrained_dir(args.name)
    configs = configurations(args.variants, shipped if args.members_from_shipped else None, args.from_runs)
    if len(configs) < 2:
        raise SystemExit("the spread is calibrated on the held-out members' disagreement: give two configurations")
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
    rows = []
    for name, config in configs.items():
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
    tree_variance = held_out_tree_variance(configs, folds, held_out, args.data)
    # Each structure's blend and spread: the ungated weights, or the gate's for its band where there are forests
    # beside other kinds.
    structure_blend, gate = {i: (blended[i], config_weight) for i in held_out}, None
    if tree_variance and len(weights) > 1:
        gate, gated, gated_weights, gate_per_fold = gated_blend(
            held_out, held_out_tree_sd(tree_variance), SODNET_WEIGHT_FLOOR
        )
        structure_blend = {i: (gated[i], config_weights(gated_weights[i])) for i in held_out}
    subsets = {}
    composition = [n for n in configs if is_composition(n)]
    if composition and len(composition) < len(configs):
        subsets[COMPOSITION_MEMBERS] = composition_subset(
            {n: configs[n] for n in composition}, folds, held_out, tree_variance
        )
    elements = training_elements(args.data)
    absent = [e for e in ALL_ELEMENTS if e not in elements]
    if len(weights) > 1:
        member_weights = {f"{c.prefix}{fold}": config_weight[name] for name, c in configs.items() for fold in folds}
        described = {
            "member_weights": member_weights,
            **(
                {
                    "gate": {
                        "edges": gate["edges"],
                        "member_weights": [
                            {
                                f"{c.prefix}{fold}": config_weights(w)[name]
                                for name, c in configs.items()
                                for fold in folds
                            }
                            for w in gate["kind_weights"]
                        ],
                    }
                }
                if gate
                else {}
            ),
            "subsets": {k: {n: v[n] for n in ("member_weights", "sd_scale")} for k, v in subsets.items()},
            "training_elements": elements,
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
        args.data,
        {
            i: (t, structure_blend[i][0], held_out_spread(p, structure_blend[i][1], tree_variance.get(i)))
            for i, (t, _, p) in held_out.items()
        },
        {i: k for i, (_, k, _) in held_out.items()},
    )
    between = np.array([held_out_spread(p, structure_blend[i][1]) for i, (_, _, p) in held_out.items()])
    error = np.array([abs(t - structure_blend[i][0]) for i, (t, _, _) in held_out.items()])
    calibration["spearman_between_members"] = float(spearmanr(between, error).statistic)
    calibration["mae_by_spread_fifth_between_members"] = mae_by_spread_fifth(error, between)
    calibration["kind_weights"] = weights
    if gate:
        ungated_truth = np.array([t for t, _, _ in held_out.values()])
        ungated_prediction = np.array([blended[i] for i in held_out])
        folds_of = np.array([k for _, k, _ in held_out.values()])
        calibration["gate"] = {
            **gate,
            "per_fold": gate_per_fold,
            "ungated_held_out_mae": mae(ungated_truth, ungated_prediction),
            "better_folds": sum(
                error[folds_of == k].mean() < np.abs(ungated_truth - ungated_prediction)[folds_of == k].mean()
                for k in set(folds_of.tolist())
            ),
            "ungated_held_out_r2_fold_mean": float(
                np.mean(
                    [
                        r2(ungated_truth[folds_of == k], ungated_prediction[folds_of == k])
                        for k in set(folds_of.tolist())
                    ]
                )
            ),
        }
    calibration["kind_weights_per_fold"] = fold_weights
    calibration["subsets"] = {k: {n: v for n, v in s.items() if n != "member_weights"} for k, s in subsets.items()}
    write_json_atomic(out / "calibration.json", calibration)
    size_mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6
    memory_names = [name for name in configs if MEMORY_DATA.get(name) == "formulas_new_systems" or name in networks]
    retrieval = any(
        architecture(out / f"{c.prefix}{folds[0]}").get("retrieval_neighbors", 0) > 0 for c in configs.values()
    )
    maes = np.array([r[2] for r in rows])
    one_factor = list(calibration["one_factor_coverage_1sd_by_predicted_tc"].values())  # coldest band first
    lines = [
        f"# {args.name}",
        "",
        "Tc of ordered and disordered crystal structures, as ln(Tc / K), from an ensemble of the cross-validation",
        "fold models of SODNet (matgl-supercon's equivariant graph-attention transformer) and of the composition",
        "models beside it: the prediction is the (weighted) mean ln Tc over members and the reported uncertainty",
        "is their (weighted) standard deviation.",
        *(["", *textwrap.wrap(blend_paragraph(weights, fold_weights), 110)] if len(weights) > 1 else []),
        *(
            ["", *textwrap.wrap(gate_paragraph(calibration), 110, break_on_hyphens=False)]
            if "gate" in calibration
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
        *[f"| {name} | {c} | {m:.3f} | {r:.3f} | {'—' if e is None else e} |" for name, c, m, r, e in rows],
        "",
        f"Mean test MAE over members: {maes.mean():.3f} ln K. Held-out MAE of the "
        f"{'blended ' if len(weights) > 1 else ''}mean of each fold's {len(configs)} member(s) (one per "
        f"configuration{', weighted with the weights picked on the other folds' if len(weights) > 1 else ''}"
        f"), over all {calibration['n']} structures: {calibration['held_out_mae']:.3f} ln K "
        f"(R2 {calibration['held_out_r2_fold_mean']:.3f}, the mean over folds). "
        f"Total size {size_mb:.1f} MB.",
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
        *[
            f"- {name}: `{json.dumps(architecture(out / f'{config.prefix}{folds[0]}'))}`"
            for name, config in configs.items()
        ],
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
        f"- No training structure holds {', '.join(absent)}:",
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
        f"Built by `python benchmarks/make_pretrained.py --variants {' '.join(args.variants)}"
        f"{' --members-from-shipped' if args.members_from_shipped else ''}"
        f"{''.join(f' --from-runs {name}' for name in args.from_runs)}` on "
        f"{datetime.now(timezone.utc).date()}.",
    ]
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


def tc_band_names() -> list[str]:
    """Names of the recorded-Tc bands cut at ``TC_BANDS_K``, from the coldest."""
    inner = [f"{lo:g}-{hi:g} K" for lo, hi in itertools.pairwise(TC_BANDS_K)]
    return [f"Tc < {TC_BANDS_K[0]:g} K", *inner, f"Tc >= {TC_BANDS_K[-1]:g} K"]


def tc_bands(ln_tc: np.ndarray) -> np.ndarray:
    """The band name of each ln(Tc / K): a band holds its lower edge."""
    return np.array(tc_band_names())[np.digitize(ln_tc, np.log(TC_BANDS_K))]


def calibrate(
    folder: Path, data: str | None, held_out: dict[str, tuple[float, float, float]], fold_of: dict[str, int]
) -> dict:
    """Spread scale and coverage of the ensemble against held-out errors (see the module docstring).

    Args:
        folder: The packaged ensemble (loaded once, as a check that it loads).
        data: SuperCon3D root (default ``$MATGL_SUPERCON_DATA``).
        held_out: Structure id -> (its ln Tc, its held-out prediction and the weighted spread of the members that
            tested on it, see :func:`held_out_spread`).
        fold_of: Structure id -> the fold whose test block holds it (for the per-fold scores).
    """
    records = {r.id: r for r in load_supercon3d(data)}
    ids = list(held_out)
    truth, prediction, spread = (np.array([held_out[i][j] for i in ids]) for j in range(3))
    load_model(folder)
    error = np.abs(truth - prediction)
    folds = np.array([fold_of[i] for i in ids])
    banded, sd, crossed = banded_sd_scale(error, spread, prediction, folds)

    def by_group(labels: np.ndarray) -> dict[str, dict]:
        """``grouped_mae`` per group, with the group's median scaled sd, ±1 sd coverage, bias and error share."""
        groups = grouped_mae(truth, prediction, labels)
        for g, row in groups.items():
            row["median_sd"] = float(np.median(sd[labels == g]))
            row["coverage_1sd"] = float(np.mean(error[labels == g] <= sd[labels == g]))
            row["coverage_2sd"] = float(np.mean(error[labels == g] <= 2 * sd[labels == g]))
            row["bias"] = float(np.mean(prediction[labels == g] - truth[labels == g]))
            row["error_share"] = float(error[labels == g].sum() / error.sum())
        return groups

    # Where the error sits along the Tc scale (the sub-kelvin tail is lifted towards the middle).
    band_names = tc_band_names()
    bands, predicted_bands = by_group(tc_bands(truth)), by_group(tc_bands(prediction))
    # Conditional on the prediction instead: the slope of the held-out truth's median line (1: no stretch helps).
    median_line = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(prediction[:, None], truth)

    order = {"order": "ordered", "disorder": "disordered"}
    # Scores per fold, as the leaderboard reports models: all structures, and the ordered ones (the paper's all->O).
    ordered = np.array([records[i].metadata["order"] == "order" for i in ids])
    by_fold = {
        regime: fold_summary(
            [
                {"mae": mae(truth[m], prediction[m]), "r2": r2(truth[m], prediction[m])}
                for m in ((folds == k) & keep for k in sorted(set(folds.tolist())))
            ]
        )
        for regime, keep in (("all", np.ones(len(ids), bool)), ("all->O", ordered))
    }
    band_of = tc_bands(prediction)

    def within_by_band(sd_of: np.ndarray) -> dict[str, float]:
        """The share of each predicted band's held-out errors within ±1 ``sd_of``, coldest band first."""
        return {
            n: float(np.mean(error[band_of == n] <= sd_of[band_of == n]))
            for n in tc_band_names()
            if (band_of == n).any()
        }

    one_factor = fit_sd_scale(error, spread)
    return {
        "sd_scale": one_factor,  # one factor for all, for comparison; load_model reads the bands
        "sd_scale_by_predicted_tc": banded,
        # Each fold scaled by the factors fitted on the other folds (see banded_sd_scale).
        "cross_fitted": {**coverage(error, crossed), "coverage_1sd_by_predicted_tc": within_by_band(crossed)},
        "one_factor_coverage_1sd_by_predicted_tc": within_by_band(spread * one_factor),
        "n": len(ids),
        "held_out_mae": float(error.mean()),
        **coverage(error, sd),
        "spearman": float(spearmanr(spread, error).statistic),
        "by_family": by_group(np.array([records[i].metadata["family"] for i in ids])),
        # The ordered structures' row is the paper's all->O regime (models trained on all, tested on ordered).
        "by_order": by_group(np.array([order[records[i].metadata["order"]] for i in ids])),
        "held_out_folds": by_fold,
        "held_out_r2_fold_mean": by_fold["all"]["r2_mean"],
        "by_recorded_tc": {name: bands[name] for name in band_names if name in bands},
        # What a user can check: the error and coverage among structures given a Tc in a band.
        "by_predicted_tc": {name: predicted_bands[name] for name in band_names if name in predicted_bands},
        "median_line_slope": float(median_line.coef_[0]),
        # Held-out MAE of each fifth of the structures, ordered by spread: what a narrow interval is worth.
        "mae_by_spread_fifth": mae_by_spread_fifth(error, spread),
        "method": "held-out error of the (blended) mean of the members that tested on each structure vs the "
        "weighted spread of those members (one per configuration), with each forest member's variance over its "
        "trees added to their variance",
    }


if __name__ == "__main__":
    main()

"""Weights of the shipped ensemble's kinds of members, picked on their held-out predictions.

The means of the kinds of members (SODNet, ``CompositionTc``, ``CompositionForestTc``) are blended with the weights
that give the lowest held-out MAE (:func:`blend`; SODNet weighs at least ``SODNET_WEIGHT_FLOOR``), and since
2026-12-06 with one set of weights per band of the forests' tree spread (:func:`gated_blend`). Each reported score
blends a fold with the weights picked on the other folds.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from _ensemble_members import (
    KINDS,
    SHIPPED_CONFIGURATIONS,
    SHIPPED_LOW_TC_MEMBERS,
    configurations,
    held_out_results,
    held_out_tree_sd,
    held_out_tree_variance,
    kind,
    records_by_id,
)

from matgl_supercon.benchmarks import mae, r2
from matgl_supercon.pretrained import pretrained_dir

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
#: The low-Tc rule's grid (:func:`low_tc_rule`): thresholds on the low-Tc forests' ln Tc, and their weight below it.
LOW_TC_THRESHOLDS = tuple(np.round(np.arange(-2.0, 3.01, 0.2), 1).tolist())
LOW_TC_WEIGHTS = (0.25, 0.5, 0.75, 1.0)


def weight_grid(n_kinds: int) -> np.ndarray:
    """``[n_points, n_kinds]``: every weight vector on the ``WEIGHT_STEP`` grid of the simplex."""
    steps = round(1 / WEIGHT_STEP)
    heads = [c for c in itertools.product(range(steps + 1), repeat=n_kinds - 1) if sum(c) <= steps]
    return np.array([[*c, steps - sum(c)] for c in heads], dtype=float) / steps


def kind_means(predictions: dict[str, float]) -> dict[str, float]:
    """The mean prediction of each kind's configurations."""
    kinds = dict.fromkeys(kind(n) for n in predictions)
    return {k: float(np.mean([p for n, p in predictions.items() if kind(n) == k])) for k in kinds}


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


@dataclass(frozen=True)
class ShippedHeldOut:
    """What the shipped ensemble's held-out score is blended from, read once for any number of blends.

    Attributes:
        held_out: Structure id -> (its ln Tc, the fold that tested it, each shipped configuration's prediction).
        tree_variance: Structure id -> {forest configuration: the variance over its trees} (its fold forest rerun).
        group: The low-Tc group's ``held_out`` (``SHIPPED_LOW_TC_MEMBERS``).
    """

    held_out: dict[str, tuple[float, int, dict[str, float]]]
    tree_variance: dict[str, dict[str, float]]
    group: dict[str, tuple[float, int, dict[str, float]]]

    @classmethod
    def load(cls, data: str | None) -> ShippedHeldOut:
        """Every shipped configuration's results files, and its forests' tree variances (``data``: SuperCon3D root)."""
        shipped = pretrained_dir("SODNet-SuperCon3D")
        configs = configurations(list(SHIPPED_CONFIGURATIONS), shipped)
        folds = [f"fold_{k}" for k in range(10)]
        held_out = held_out_results(configs, folds)
        tree_variance = held_out_tree_variance(configs, folds, held_out, records_by_id(data))
        group = held_out_results(configurations(list(SHIPPED_LOW_TC_MEMBERS), shipped), folds)
        return cls(held_out, tree_variance, group)

    def blend(
        self, low_tc: bool = True, leave_out: Sequence[str] = ()
    ) -> tuple[dict[str, tuple[float, int, dict[str, float]]], dict[str, float]]:
        """As :func:`shipped_held_out`, from what :meth:`load` read."""
        held_out = {
            i: (t, k, {n: p for n, p in predictions.items() if n not in leave_out})
            for i, (t, k, predictions) in self.held_out.items()
        }
        variance = {i: {n: v for n, v in own.items() if n not in leave_out} for i, own in self.tree_variance.items()}
        tree_sd = held_out_tree_sd(variance)
        if low_tc:
            return held_out, blend_as_shipped(held_out, tree_sd, self.group)[1]
        return held_out, gated_blend(held_out, tree_sd, SODNET_WEIGHT_FLOOR)[1]


def blend_as_shipped(
    held_out: dict[str, tuple[float, int, dict[str, float]]],
    tree_sd: dict[str, float],
    group: dict[str, tuple[float, int, dict[str, float]]],
) -> tuple[dict[str, float], dict[str, float]]:
    """Held-out predictions blended as ``make_pretrained.py`` blends the shipped members' (each fold's gate and rule
    picked on the other folds).

    Args:
        held_out: As for :func:`blend`.
        tree_sd: As for :func:`gated_blend`.
        group: The low-Tc group's held-out predictions (as :func:`low_tc_blend` reads them).

    Returns:
        Each structure's :func:`gated_blend` prediction, and that prediction under the low-Tc rule
        (:func:`low_tc_blend`).
    """
    gated = gated_blend(held_out, tree_sd, SODNET_WEIGHT_FLOOR)[1]
    _, blended = low_tc_blend(group, held_out, {i: (p, {}) for i, p in gated.items()})
    return gated, {i: p for i, (p, _) in blended.items()}


def shipped_held_out(
    data: str | None, low_tc: bool = True, leave_out: Sequence[str] = ()
) -> tuple[dict[str, tuple[float, int, dict[str, float]]], dict[str, float]]:
    """The shipped ``SODNet-SuperCon3D`` ensemble's held-out predictions, rebuilt as ``make_pretrained.py`` scores it.

    Several blends of one ensemble (``leave_out``) read its files once through :class:`ShippedHeldOut`.

    Args:
        data: SuperCon3D root (default ``$MATGL_SUPERCON_DATA``).
        low_tc: With the low-Tc gate (:func:`low_tc_blend`, its ``SHIPPED_LOW_TC_MEMBERS``), as shipped; without
            it, the blend the gate works on.
        leave_out: Configurations of ``SHIPPED_CONFIGURATIONS`` to score the ensemble without (what each adds).

    Returns:
        Structure id -> (its ln Tc, the fold that tested it, each configuration's prediction) (:func:`blend`'s
        ``held_out``, the low-Tc group left out), and each structure's cross-validated prediction: its fold's members
        blended by the gates picked on the other folds (:func:`gated_blend`, then :func:`low_tc_blend`).
    """
    return ShippedHeldOut.load(data).blend(low_tc, leave_out)


def low_tc_gated(ensemble: np.ndarray, forest: np.ndarray, threshold: float, weight: float) -> np.ndarray:
    """The rule: ``(1 - weight) * ensemble + weight * forest`` where ``forest < threshold``, else ``ensemble``."""
    return np.where(forest < threshold, (1.0 - weight) * ensemble + weight * forest, ensemble)


def low_tc_rule(truth: np.ndarray, ensemble: np.ndarray, forest: np.ndarray) -> tuple[float, float]:
    """The ``(threshold, weight)`` of the grid with the lowest MAE on these structures (the first of ties)."""
    grid = [(t, w) for t in LOW_TC_THRESHOLDS for w in LOW_TC_WEIGHTS]
    errors = [mae(truth, low_tc_gated(ensemble, forest, t, w)) for t, w in grid]
    return grid[int(np.argmin(errors))]


def low_tc_cross_fitted(
    truth: np.ndarray, ensemble: np.ndarray, forest: np.ndarray, fold: np.ndarray
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Each fold's structures gated by the rule picked on the other folds, and the rule each fold took."""
    prediction, picks = np.empty(len(truth)), []
    for k in sorted(set(fold.tolist())):
        rule = low_tc_rule(truth[fold != k], ensemble[fold != k], forest[fold != k])
        picks.append(rule)
        prediction[fold == k] = low_tc_gated(ensemble[fold == k], forest[fold == k], *rule)
    return prediction, picks


def low_tc_blend(
    group_held_out: dict[str, tuple[float, int, dict[str, float]]],
    held_out: dict[str, tuple[float, int, dict[str, float]]],
    structure_blend: dict[str, tuple[float, dict[str, float]]],
) -> tuple[dict, dict[str, tuple[float, dict[str, float]]]]:
    """The ``LowTcGate`` on top of the blend: its rule, and each structure's prediction and configuration weights.

    Args:
        group_held_out: The group's held-out predictions (:func:`held_out_results` of its configurations: forests
            that also grew on non-superconductors).
        held_out: The other configurations' held-out predictions (:func:`blend`'s).
        structure_blend: Structure id -> (its held-out prediction, each other configuration's weight in it).

    Returns:
        The rule picked on all folds with its held-out record (``calibration.json``'s ``low_tc_gate``), and each
        structure's cross-validated prediction and weights, the group's included: where the group's mean reads below
        the threshold picked on the other folds, the group shares ``weight`` equally; elsewhere it weighs 0.
    """
    group = list(next(iter(group_held_out.values()))[2])
    ids = list(held_out)
    truth = np.array([held_out[i][0] for i in ids])
    fold = np.array([held_out[i][1] for i in ids])
    base = np.array([structure_blend[i][0] for i in ids])
    group_mean = np.array([np.mean([group_held_out[i][2][n] for n in group]) for i in ids])
    prediction, picks = low_tc_cross_fitted(truth, base, group_mean, fold)
    rule_of = dict(zip(sorted(set(fold.tolist())), picks, strict=True))
    blended = {}
    for j, i in enumerate(ids):
        threshold, share = rule_of[int(fold[j])]
        weights = structure_blend[i][1]
        if group_mean[j] < threshold:
            group_weights = dict.fromkeys(group, share / len(group))
            weights = {n: (1.0 - share) * w for n, w in weights.items()} | group_weights
        else:
            weights = weights | dict.fromkeys(group, 0.0)
        blended[i] = (float(prediction[j]), weights)
    threshold, share = low_tc_rule(truth, base, group_mean)
    against = against_baseline(truth, prediction, base, fold)
    record = {
        "threshold": threshold,
        "weight": share,
        "per_fold": [list(rule_of[k]) for k in sorted(rule_of)],
        "cold_share": float(np.mean(group_mean < threshold)),
        "without_held_out_mae": against["baseline_mae"],
        "without_held_out_r2_fold_mean": against["baseline_r2_fold_mean"],
        "better_folds": against["better_folds"],
    }
    return record, blended


def fold_mean_r2(truth: np.ndarray, prediction: np.ndarray, fold: np.ndarray) -> float:
    """R2 of each fold's structures, averaged over the folds (the paper protocol's R2)."""
    return float(np.mean([r2(truth[fold == k], prediction[fold == k]) for k in sorted(set(fold.tolist()))]))


def against_baseline(truth: np.ndarray, prediction: np.ndarray, baseline: np.ndarray, fold: np.ndarray) -> dict:
    """A held-out prediction against the one it refines (a gate against no gate): the prediction's fold-mean R2,
    the baseline's MAE and fold-mean R2, and the folds on which the prediction's MAE is the lower."""
    folds = sorted(set(fold.tolist()))
    return {
        "r2_fold_mean": fold_mean_r2(truth, prediction, fold),
        "baseline_mae": mae(truth, baseline),
        "baseline_r2_fold_mean": fold_mean_r2(truth, baseline, fold),
        "better_folds": sum(
            bool(mae(truth[fold == k], prediction[fold == k]) < mae(truth[fold == k], baseline[fold == k]))
            for k in folds
        ),
    }

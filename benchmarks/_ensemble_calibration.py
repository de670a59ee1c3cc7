"""The shipped ensemble's spread against its held-out errors: ``calibration.json``.

The spread of the members that did not train on a structure (one per configuration, :func:`held_out_spread`) is
compared with their blended prediction's held-out error; ``sd_scale`` is the 68.3% quantile of |error| / spread, one
factor per band of the predicted Tc (``TC_BANDS_K``, :func:`banded_sd_scale`), with the coverage of factors fitted on
the other folds reported beside it. :func:`calibrate` also breaks the held-out error down by family, order and
recorded Tc for the model card.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from _ensemble_blend import blend, low_tc_blend
from _ensemble_members import Configuration, LowTcGroup, kind
from scipy.stats import spearmanr
from sklearn.linear_model import QuantileRegressor

from matgl_supercon.benchmarks import fold_summary, grouped_mae, mae, r2
from matgl_supercon.data import SuperconRecord
from matgl_supercon.pretrained import load_model

#: Edges (K) of the recorded-Tc bands whose held-out error the card reports.
TC_BANDS_K = (1.0, 10.0, 30.0)


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


def mae_by_spread_fifth(error: np.ndarray, spread: np.ndarray) -> list[float]:
    """Mean |error| of each fifth of the structures, ordered from the narrowest spread to the widest."""
    return [float(error[part].mean()) for part in np.array_split(np.argsort(spread, kind="stable"), 5)]


def fit_sd_scale(error: np.ndarray, spread: np.ndarray) -> float:
    """The factor that makes mean ± factor × spread cover 68.3% of the held-out errors."""
    return float(np.quantile(error / np.maximum(spread, 1e-6), 0.6827))


def coverage(error: np.ndarray, sd: np.ndarray) -> dict[str, float]:
    """The share of held-out errors within ±1 and ±2 sd."""
    return {"coverage_1sd": float(np.mean(error <= sd)), "coverage_2sd": float(np.mean(error <= 2 * sd))}


def tc_band_names() -> list[str]:
    """Names of the recorded-Tc bands cut at ``TC_BANDS_K``, from the coldest."""
    inner = [f"{lo:g}-{hi:g} K" for lo, hi in itertools.pairwise(TC_BANDS_K)]
    return [f"Tc < {TC_BANDS_K[0]:g} K", *inner, f"Tc >= {TC_BANDS_K[-1]:g} K"]


def tc_bands(ln_tc: np.ndarray) -> np.ndarray:
    """The band name of each ln(Tc / K): a band holds its lower edge."""
    return np.array(tc_band_names())[np.digitize(ln_tc, np.log(TC_BANDS_K))]


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
    group: LowTcGroup | None = None,
) -> dict:
    """Weights, spread scale and held-out score of the composition members alone (``load_model(members=...)``).

    Blended and calibrated as the whole ensemble is (:func:`blend`, :func:`held_out_spread`, and with a ``group``
    the low-Tc gate, :func:`low_tc_blend`), on the same held-out predictions without the SODNet members'. Members
    of a kind the blend weighs 0 are not in the subset; the group's are, weighing 0 outside its gate.
    """
    own = {i: (t, k, {n: p[n] for n in configs}) for i, (t, k, p) in held_out.items()}
    weights, blended, fold_weights = blend(own)
    config_weight = {n: weights[kind(n)] / sum(kind(m) == kind(n) for m in configs) for n in configs}
    ids = list(own)
    structure = {i: (blended[i], config_weight) for i in ids}
    predictions, variance, low = {i: own[i][2] for i in ids}, own_variance, None
    if group is not None:
        low, structure = low_tc_blend(group.held_out, own, structure)
        predictions, variance = group.joined(predictions, own_variance)
    truth, prediction = np.array([own[i][0] for i in ids]), np.array([structure[i][0] for i in ids])
    spread = np.array([held_out_spread(predictions[i], structure[i][1], variance.get(i)) for i in ids])
    error, fold = np.abs(truth - prediction), np.array([own[i][1] for i in ids])
    banded, sd, crossed = banded_sd_scale(error, spread, prediction, fold)
    per_fold = [
        {"mae": mae(truth[fold == k], prediction[fold == k]), "r2": r2(truth[fold == k], prediction[fold == k])}
        for k in sorted(set(fold.tolist()))
    ]
    # A kind the blend drops (weight 0) is left out of the subset: loading it would cost time for nothing.
    kept = {n: c for n, c in configs.items() if config_weight[n] > 0}
    group_members = [f"{c.prefix}{f}" for c in (group.configs.values() if group else ()) for f in folds]
    return {
        "member_weights": {f"{c.prefix}{f}": config_weight[n] for n, c in kept.items() for f in folds}
        | dict.fromkeys(group_members, 0.0),
        **(
            {
                "low_tc_gate": {"members": group_members, "threshold": low["threshold"], "weight": low["weight"]},
                "low_tc": low,
            }
            if low
            else {}
        ),
        "sd_scale": fit_sd_scale(error, spread),  # one factor for all, for comparison
        "sd_scale_by_predicted_tc": banded,
        "n_members": len(kept) * len(folds) + len(group_members),
        "kind_weights": weights,
        "kind_weights_per_fold": fold_weights,
        "held_out_mae": float(error.mean()),
        "held_out_folds": {"all": fold_summary(per_fold)},
        **coverage(error, sd),
        "cross_fitted": coverage(error, crossed),
    }


def calibrate(
    folder: Path,
    records: Mapping[str, SuperconRecord],
    held_out: dict[str, tuple[float, float, float]],
    fold_of: dict[str, int],
) -> dict:
    """Spread scale and coverage of the ensemble against held-out errors (see the module docstring).

    Args:
        folder: The packaged ensemble (loaded once, as a check that it loads).
        records: SuperCon3D's records by id (``_ensemble_members.records_by_id``).
        held_out: Structure id -> (its ln Tc, its held-out prediction and the weighted spread of the members that
            tested on it, see :func:`held_out_spread`).
        fold_of: Structure id -> the fold whose test block holds it (for the per-fold scores).
    """
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

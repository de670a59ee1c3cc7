"""Regression metrics and fold summaries used by every benchmark."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mae(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(y_pred, float) - np.asarray(y_true, float))))


def r2(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Coefficient of determination (1 - SS_res / SS_tot)."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    total = np.sum((y_true - y_true.mean()) ** 2)
    return float(1.0 - np.sum((y_true - y_pred) ** 2) / total) if total > 0 else float("nan")


def fold_summary(per_fold: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean and (sample) standard deviation over folds of every metric in ``per_fold``."""
    keys = per_fold[0].keys() if per_fold else []
    out: dict[str, float] = {"n_folds": len(per_fold)}
    for key in keys:
        values = np.array([f[key] for f in per_fold], float)
        out[f"{key}_mean"] = float(values.mean())
        out[f"{key}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    return out


def grouped_mae(y_true: Sequence[float], y_pred: Sequence[float], groups: Sequence[str]) -> dict[str, dict]:
    """MAE and count per group (family, disorder type, ...)."""
    y_true, y_pred, groups = np.asarray(y_true, float), np.asarray(y_pred, float), np.asarray(groups, str)
    return {
        str(g): {"n": int((groups == g).sum()), "mae": mae(y_true[groups == g], y_pred[groups == g])}
        for g in sorted(set(groups.tolist()))
    }

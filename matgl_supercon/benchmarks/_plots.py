"""Figures: parity plots and error-by-group bars (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def _finish(fig, ax, path: str | Path, title: str, footer: str) -> None:
    """Title, optional provenance footer, save, close."""
    ax.set_title(title, fontsize=9)
    if footer:
        fig.text(0.01, 0.005, footer, fontsize=6, color="0.4")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def parity_plot(
    y_true: Sequence[float],
    y_pred: Sequence[float],
    path: str | Path,
    title: str,
    groups: Sequence[str] | None = None,
    label: str = "ln(Tc / K)",
    footer: str = "",
) -> None:
    """Scatter of predicted vs true values with the identity line, coloured by group."""
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    fig, ax = plt.subplots(figsize=(5.2, 5.2), dpi=120)
    if groups is None:
        ax.scatter(y_true, y_pred, s=8, alpha=0.6)
    else:
        groups = np.asarray(groups, str)
        for g in sorted(set(groups.tolist())):
            sel = groups == g
            ax.scatter(y_true[sel], y_pred[sel], s=8, alpha=0.6, label=f"{g} ({sel.sum()})")
        ax.legend(fontsize=7, loc="upper left")
    lo, hi = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel(f"true {label}")
    ax.set_ylabel(f"predicted {label}")
    _finish(fig, ax, path, title, footer)


def group_bar(errors: Mapping[str, Mapping[str, float]], path: str | Path, title: str, footer: str = "") -> None:
    """Bar chart of MAE per group; ``errors`` maps a group to ``{"mae": ..., "n": ...}``."""
    names = list(errors)
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=120)
    ax.bar(range(len(names)), [errors[n]["mae"] for n in names], color="tab:blue")
    ax.set_xticks(range(len(names)), [f"{n}\n(n={errors[n]['n']})" for n in names], fontsize=7)
    ax.set_ylabel("MAE")
    _finish(fig, ax, path, title, footer)


def site_share_bar(labels: Sequence[str], shares: Sequence[float], path: str | Path, title: str) -> None:
    """Bar chart of each site's share of ln Tc (``explain``), one bar per site, labelled ``index:species``."""
    width = min(max(6.0, 0.35 * len(labels)), 30.0)  # wider with the sites (0.35 in each), at most 30 in
    fig, ax = plt.subplots(figsize=(width, 3.4), dpi=120)
    ax.bar(range(len(labels)), shares, color="tab:blue")
    ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=90 if len(labels) > 16 else 0)
    ax.axhline(0.0, color="0.3", lw=0.8)
    ax.set_ylabel("share of ln(Tc / K)")
    _finish(fig, ax, path, title, "")

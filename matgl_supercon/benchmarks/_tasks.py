"""Tc benchmark tasks with Matbench's interface: folds, train/val and test data, ``record`` and ``scores``.

A :class:`TcTask` holds the structures, targets and fixed folds of one task; models are scored per fold
with Matbench's regression metrics (MAE, RMSE, MAPE, max error), and the recorded task serialises to
the dictionary layout of ``matbench.MatbenchTask.as_dict`` (see :mod:`._matbench` for the results file).

Tasks (``TASKS``):

* ``supercon3d_tc``: SuperCon3D, the paper protocol (10 folds 8:1:1, target ln Tc); ``supercon3d_tc_O`` the
  same on the ordered structures only, ``supercon3d_tc_OSD`` on the ordered and substitutionally disordered ones
  (the paper's O+SD regime); ``supercon3d_tc_5fold``: Matbench's 5-fold KFold on all.
* ``3dsc_mp_tc_formula`` / ``3dsc_mp_tc_mpid``: 3DSC_MP, Tc in K, 5-fold GroupKFold by ``formula_sc`` /
  by ``mp_id``; ``3dsc_mp_tc_random``: plain KFold, to show how much it overstates accuracy.
* ``jarvis_tc_leaderboard``: the JARVIS-Leaderboard split (556 train, 30 val, 30 test), Tc in K;
  ``jarvis_tc_5fold``: Matbench 5-fold CV over all 1,056 structures (the number to rank models by).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from scipy import stats
from sklearn import metrics

from matgl_supercon.benchmarks._names import TaskName
from matgl_supercon.data import (
    group_folds,
    load_3dsc_mp,
    load_jarvis_tc,
    load_supercon3d,
    matbench_folds,
    paper_folds,
)
from matgl_supercon.graph import classify_disorder

if TYPE_CHECKING:
    from pathlib import Path

    from pymatgen.core import Structure

    from matgl_supercon.data import SuperconRecord

#: Matbench's per-fold regression metrics, in its order.
REGRESSION_METRICS = ("mae", "rmse", "mape", "max_error")
#: Matbench's statistics of a metric over folds.
FOLD_STATISTICS = ("mean", "max", "min", "std")


@dataclass(frozen=True)
class TaskSpec:
    """How a task is built from a dataset."""

    dataset: Literal["supercon3d", "3dsc_mp", "jarvis"]
    target: Literal["ln_tc", "tc"]
    split: Literal["paper", "kfold", "group_formula_sc", "group_mp_id", "leaderboard"]
    subset: Literal["all", "ordered", "ordered_sd"] = "all"
    description: str = ""


TASKS: dict[str, TaskSpec] = {
    "supercon3d_tc": TaskSpec("supercon3d", "ln_tc", "paper", "all", "SuperCon3D, paper protocol, ln Tc"),
    "supercon3d_tc_O": TaskSpec("supercon3d", "ln_tc", "paper", "ordered", "SuperCon3D ordered only, paper protocol"),
    "supercon3d_tc_OSD": TaskSpec(
        "supercon3d", "ln_tc", "paper", "ordered_sd", "SuperCon3D ordered + substitutional disorder, paper protocol"
    ),
    "supercon3d_tc_5fold": TaskSpec("supercon3d", "ln_tc", "kfold", "all", "SuperCon3D, Matbench 5-fold, ln Tc"),
    "3dsc_mp_tc_formula": TaskSpec("3dsc_mp", "tc", "group_formula_sc", "all", "3DSC_MP, GroupKFold by formula_sc"),
    "3dsc_mp_tc_mpid": TaskSpec("3dsc_mp", "tc", "group_mp_id", "all", "3DSC_MP, GroupKFold by mp_id"),
    "3dsc_mp_tc_random": TaskSpec("3dsc_mp", "tc", "kfold", "all", "3DSC_MP, random KFold (optimistic)"),
    "jarvis_tc_leaderboard": TaskSpec("jarvis", "tc", "leaderboard", "all", "JARVIS-Leaderboard split, 30 test"),
    "jarvis_tc_5fold": TaskSpec("jarvis", "tc", "kfold", "all", "JARVIS-DFT Tc, Matbench 5-fold CV"),
}


def regression_scores(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, float]:
    """Matbench's per-fold regression scores (the same sklearn functions ``matbench.data_ops`` uses)."""
    return {
        "mae": float(metrics.mean_absolute_error(y_true, y_pred)),
        "rmse": float(np.sqrt(metrics.mean_squared_error(y_true, y_pred))),
        "mape": float(metrics.mean_absolute_percentage_error(y_true, y_pred)),
        "max_error": float(metrics.max_error(y_true, y_pred)),
    }


class TcTask:
    """One Tc benchmark task, with the interface of ``matbench.MatbenchTask``.

    Attributes:
        dataset_name: Task name (the key under which results are stored).
        folds: Fold numbers, ``[0, 1, ...]``.
        metadata: Matbench-style metadata (``input_type``, ``target``, ``task_type``, ``unit``, ``n_samples``,
            ``mad``).
        results: Recorded folds in Matbench's layout (``fold_k`` -> ``data``, ``scores``, ``parameters``,
            ``uncertainty``).
    """

    def __init__(
        self,
        name: str,
        ids: Sequence[str],
        structures: Sequence[Structure],
        targets: Sequence[float],
        splits: Sequence[tuple[np.ndarray, np.ndarray | None, np.ndarray]],
        target_name: str,
        unit: str,
        groups: dict[str, Sequence[str]] | None = None,
        description: str = "",
    ) -> None:
        """Build a task from data and fixed splits.

        Args:
            name: Task name.
            ids: Unique id per structure.
            structures: The inputs.
            targets: One target per structure.
            splits: Per fold ``(train, val, test)`` positions; ``val`` is ``None`` when the protocol has no
                fixed validation block (models then hold out part of ``train`` themselves).
            target_name: Name of the target column (``ln_tc`` or ``tc``).
            unit: Unit of the target (``ln K`` or ``K``).
            groups: Optional labels per structure for error breakdowns, e.g. ``{"disorder": [...]}``.
            description: One line on the task.

        Raises:
            ValueError: If ids are not unique, lengths differ, or a fold's parts overlap.
        """
        if len(set(ids)) != len(ids):
            raise ValueError(f"task {name}: ids must be unique")
        if not len(ids) == len(structures) == len(targets):
            raise ValueError(f"task {name}: {len(ids)} ids, {len(structures)} structures, {len(targets)} targets")
        for k, (train, val, test) in enumerate(splits):
            parts = [set(np.asarray(p).tolist()) for p in (train, val, test) if p is not None]
            if sum(len(p) for p in parts) != len(set().union(*parts)):
                raise ValueError(f"task {name}: fold {k} has overlapping train/val/test positions")
        self.dataset_name = name
        self.ids = list(ids)
        self.structures = list(structures)
        self.targets = np.asarray(targets, dtype=float)
        self.splits = [(np.asarray(t), None if v is None else np.asarray(v), np.asarray(s)) for t, v, s in splits]
        self.folds = list(range(len(self.splits)))
        self.groups = {key: list(values) for key, values in (groups or {}).items()}
        self.description = description
        self.metadata = {
            "input_type": "structure",
            "target": target_name,
            "task_type": "regression",
            "unit": unit,
            "n_samples": len(self.ids),
            "mad": float(np.mean(np.abs(self.targets - self.targets.mean()))),
        }
        self.results: dict[str, dict] = {}

    def __repr__(self) -> str:
        return f"TcTask({self.dataset_name!r}, n_samples={len(self.ids)}, folds={len(self.folds)})"

    def _rows(self, positions: np.ndarray, as_type: Literal["tuple", "df"], include_target: bool = True):
        ids = [self.ids[i] for i in positions]
        inputs = [self.structures[i] for i in positions]
        targets = self.targets[positions]
        if as_type == "df":
            import pandas as pd

            frame = pd.DataFrame({"structure": inputs}, index=ids)
            if include_target:
                frame[self.metadata["target"]] = targets
            return frame
        if as_type != "tuple":
            raise ValueError(f"as_type must be 'tuple' or 'df', got {as_type!r}")
        return (inputs, targets) if include_target else inputs

    def _check_fold(self, fold_number: int) -> None:
        if fold_number not in self.folds:
            raise ValueError(f"task {self.dataset_name}: no fold {fold_number}; folds are {self.folds}")

    def train_val_test_positions(self, fold_number: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Positions of the fold's training, fixed validation (or ``None``) and test structures."""
        self._check_fold(fold_number)
        return self.splits[fold_number]

    def train_and_val_positions(self, fold_number: int) -> np.ndarray:
        """Positions of everything a model may train or tune on in this fold (Matbench's train + val)."""
        train, val, _ = self.train_val_test_positions(fold_number)
        return np.sort(np.concatenate([train, val])) if val is not None else train

    def get_train_and_val_data(self, fold_number: int, as_type: Literal["tuple", "df"] = "tuple"):
        """Training + validation inputs and targets (Matbench API)."""
        return self._rows(self.train_and_val_positions(fold_number), as_type)

    def get_test_data(self, fold_number: int, as_type: Literal["tuple", "df"] = "tuple", include_target: bool = False):
        """Test inputs (and targets if ``include_target``) in the order ``record`` expects (Matbench API)."""
        return self._rows(self.train_val_test_positions(fold_number)[2], as_type, include_target)

    def test_ids(self, fold_number: int) -> list[str]:
        """Ids of the fold's test structures, in the order of :meth:`get_test_data`."""
        return [self.ids[i] for i in self.train_val_test_positions(fold_number)[2]]

    def record(
        self,
        fold_number: int,
        predictions: Sequence[float],
        std: Sequence[float] | None = None,
        params: dict | None = None,
    ) -> None:
        """Record and score one fold's test predictions (Matbench API).

        Args:
            fold_number: The fold.
            predictions: One prediction per test structure, in :meth:`get_test_data` order.
            std: Optional predictive standard deviations; stored with 95% intervals as Matbench does.
            params: Free-form JSON-able information about the model on this fold.

        Raises:
            ValueError: If the fold is already recorded, or lengths do not match, or a value is not finite.
        """
        key = f"fold_{fold_number}"
        if key in self.results:
            raise ValueError(f"task {self.dataset_name}: fold {fold_number} is already recorded")
        test = self.train_val_test_positions(fold_number)[2]
        pred = np.asarray(predictions, dtype=float)
        if pred.shape != (len(test),):
            raise ValueError(f"task {self.dataset_name} fold {fold_number}: {pred.shape} predictions for {len(test)}")
        if not np.isfinite(pred).all():
            bad = self.ids[test[int(np.flatnonzero(~np.isfinite(pred))[0])]]
            raise ValueError(f"task {self.dataset_name} fold {fold_number}: non-finite prediction for {bad}")
        ids = [self.ids[i] for i in test]
        uncertainty = None
        if std is not None:
            sd = np.asarray(std, dtype=float)
            if sd.shape != pred.shape:
                raise ValueError(f"task {self.dataset_name} fold {fold_number}: std has shape {sd.shape}")
            low = stats.norm.ppf(0.025, loc=pred, scale=sd)
            high = stats.norm.ppf(0.975, loc=pred, scale=sd)
            uncertainty = {
                i: {"ci_lower": float(lo), "ci_upper": float(hi), "std": float(s)}
                for i, lo, hi, s in zip(ids, low, high, sd, strict=True)
            }
        self.results[key] = {
            "data": {i: float(p) for i, p in zip(ids, pred, strict=True)},
            "uncertainty": uncertainty,
            "parameters": dict(params or {}),
            "scores": regression_scores(self.targets[test], pred),
        }

    @property
    def is_recorded(self) -> dict[int, bool]:
        """Fold number -> recorded (Matbench API)."""
        return {k: f"fold_{k}" in self.results for k in self.folds}

    @property
    def all_folds_recorded(self) -> bool:
        """Whether every fold is recorded (Matbench API)."""
        return all(self.is_recorded.values())

    @property
    def scores(self) -> dict[str, dict[str, float]]:
        """Mean, max, min and std over folds of every metric (Matbench API; needs all folds)."""
        if not self.all_folds_recorded:
            missing = [k for k, done in self.is_recorded.items() if not done]
            raise ValueError(f"task {self.dataset_name}: cannot score, folds {missing} not recorded")
        out = {}
        for metric in REGRESSION_METRICS:
            values = np.array([self.results[f"fold_{k}"]["scores"][metric] for k in self.folds])
            out[metric] = {stat: float(getattr(np, stat)(values)) for stat in FOLD_STATISTICS}
        return out

    def predictions(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Pooled ``(ids, y_true, y_pred)`` over the recorded folds."""
        index = {i: n for n, i in enumerate(self.ids)}
        recorded = [self.results[f"fold_{k}"]["data"] for k in self.folds if f"fold_{k}" in self.results]
        ids = [i for data in recorded for i in data]
        pred = [p for data in recorded for p in data.values()]
        return ids, self.targets[[index[i] for i in ids]], np.asarray(pred, dtype=float)

    def matbench_splits(self) -> dict[str, dict[str, list[str]]]:
        """The folds as Matbench's validation file stores them (``fold_k`` -> ``train``/``test`` ids)."""
        return {
            f"fold_{k}": {
                "train": [self.ids[i] for i in self.train_and_val_positions(k)],
                "test": self.test_ids(k),
            }
            for k in self.folds
        }

    def as_dict(self) -> dict:
        """The recorded task in ``matbench.MatbenchTask.as_dict`` layout."""
        return {
            "@module": "matbench.task",
            "@class": "MatbenchTask",
            "benchmark_name": MATBENCH_BENCHMARK,
            "dataset_name": self.dataset_name,
            "results": self.results,
        }


#: matbench 0.6 accepts only this benchmark name; our tasks are registered under it when results are read.
MATBENCH_BENCHMARK = "matbench_v0.1"


def _seeded_holdout(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    n_val = max(1, round(fraction * n))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def inner_validation_split(
    task: TcTask, fold_number: int, fraction: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, val)`` positions for a fold: the protocol's fixed block if it has one, else a seeded hold-out."""
    train, val, _ = task.train_val_test_positions(fold_number)
    if val is not None:
        return train, val
    keep, hold = _seeded_holdout(len(train), fraction, seed + fold_number)
    return train[keep], train[hold]


def _records(spec: TaskSpec, data_dir: str | Path | None) -> list[SuperconRecord]:
    loader = {"supercon3d": load_supercon3d, "3dsc_mp": load_3dsc_mp, "jarvis": load_jarvis_tc}[spec.dataset]
    return loader(data_dir)


def load_task(name: TaskName, data_dir: str | Path | None = None) -> TcTask:
    """Build a task from the datasets under ``data_dir`` (or ``$MATGL_SUPERCON_DATA``).

    Args:
        name: One of :data:`TASKS`.
        data_dir: Data root.

    Returns:
        The task, with ``groups["disorder"]`` (and ``groups["family"]`` for SuperCon3D) for breakdowns.
    """
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from {sorted(TASKS)}")
    spec = TASKS[name]
    records = _records(spec, data_dir)
    disorder = [classify_disorder(r.structure)[0] for r in records]
    if spec.subset != "all":
        kept = ("ordered",) if spec.subset == "ordered" else ("ordered", "SD")
        keep = [i for i, d in enumerate(disorder) if d in kept]
        records, disorder = [records[i] for i in keep], [disorder[i] for i in keep]
    if spec.split == "leaderboard":
        keep = [i for i, r in enumerate(records) if r.metadata.get("leaderboard_split") in ("train", "val", "test")]
        records, disorder = [records[i] for i in keep], [disorder[i] for i in keep]
        targets = [float(r.metadata["leaderboard_tc"]) for r in records]
        role = np.array([r.metadata["leaderboard_split"] for r in records])
        splits = [tuple(np.flatnonzero(role == part) for part in ("train", "val", "test"))]
    else:
        targets = [float(np.log(r.tc)) if spec.target == "ln_tc" else float(r.tc) for r in records]
        if spec.split == "paper":
            splits = paper_folds([r.id for r in records])
        elif spec.split == "kfold":
            splits = [(train, None, test) for train, test in matbench_folds(len(records))]
        else:
            key = "formula_sc" if spec.split == "group_formula_sc" else "mp_id"
            splits = [(train, None, test) for train, test in group_folds([r.metadata[key] for r in records])]
    groups = {"disorder": disorder}
    if spec.dataset == "supercon3d":
        groups["family"] = [r.metadata["family"] for r in records]
    return TcTask(
        name,
        [r.id for r in records],
        [r.structure for r in records],
        targets,
        splits,
        spec.target,
        "ln K" if spec.target == "ln_tc" else "K",
        groups,
        spec.description,
    )


def breakdown(task: TcTask, key: str) -> dict[str, dict]:
    """MAE and count per group (``"disorder"``, ``"family"``) over the recorded folds."""
    from matgl_supercon.benchmarks._metrics import grouped_mae

    ids, y_true, y_pred = task.predictions()
    index = {i: n for n, i in enumerate(task.ids)}
    return grouped_mae(y_true, y_pred, [task.groups[key][index[i]] for i in ids])

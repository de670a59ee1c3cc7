"""Training of the structure-blind members: ``CompositionTc`` (a network) and ``CompositionForestTc`` (trees)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from matgl_supercon.models.composition import CompositionTc
from matgl_supercon.models.forest import CompositionForestTc


@dataclass
class CompositionTrainConfig:
    """Optimisation settings of :func:`fit_composition_tc` (those of ``benchmarks/composition_retrieval.py``)."""

    max_epochs: int = 200
    #: Epochs without a better validation MAE before training stops (the best epoch's weights are kept).
    patience: int = 20
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 1e-5
    seed: int = 0
    #: Loss weight of each ``extra`` training row relative to a training row (below 1, e.g. formula-table records
    #: that outnumber the structures, so that they do not dominate what the network fits).
    extra_weight: float = 1.0


def fit_composition_tc(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    model_kwargs: dict | None = None,
    config: CompositionTrainConfig | None = None,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    memory: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[CompositionTc, dict]:
    """Train a :class:`CompositionTc` on composition statistics; validation MAE picks the epoch.

    Statistics are ``CompositionTc(**model_kwargs).graph_composition_statistics(graphs)`` of the structures'
    graphs, computed once, so training never converts a structure again. Every step encodes the whole memory, so
    a step costs more as the memory grows: about 1 s on one CPU core with an 8,401-row memory (SuperCon3D's
    1,263 training rows and the formula table) at batch 64 or 256. With those 8,401 rows also as training rows
    (``extra``) in batches of 256, an epoch took about 34 s and a fold 15-19 minutes (two folds at once on 2 cores).

    Args:
        train: ``([n, n_statistics] statistics, [n] ln Tc)`` of the training structures; they set the target
            scaling and form the retrieval memory.
        val: The same for the validation structures.
        model_kwargs: Arguments of :class:`CompositionTc`.
        config: Optimisation settings.
        extra: Further training rows (e.g. formula-table records as virtual crystals) that join the training rows
            and the memory but not the target scaling; ``config.extra_weight`` weighs them in the loss.
        memory: Rows that join the memory only: read as neighbours, never trained on.

    Returns:
        The model with the best validation epoch's weights (eval mode) and a summary
        (``best_val_mae`` in ln K, ``epochs``, ``seconds``).
    """
    config = config or CompositionTrainConfig()
    if not (math.isfinite(config.extra_weight) and config.extra_weight > 0):
        raise ValueError(f"extra_weight must be a positive number, got {config.extra_weight}")
    started = time.perf_counter()
    x, y = (np.asarray(a, dtype=np.float64) for a in train)
    mean, std = float(y.mean()), float(y.std())
    if not std > 0:
        raise ValueError("the training ln Tc values are all equal: nothing to standardise or learn")
    row_weight = torch.ones(len(y))
    if extra is not None:
        x, y = np.vstack([x, extra[0]]), np.concatenate([y, extra[1]])
        row_weight = torch.cat([row_weight, torch.full((len(extra[1]),), float(config.extra_weight))])
    x_memory, y_memory = x, y
    if memory is not None:
        x_memory, y_memory = np.vstack([x, memory[0]]), np.concatenate([y, memory[1]])
    torch.manual_seed(config.seed)  # the initial weights; batches come from the local generator below
    generator = torch.Generator().manual_seed(config.seed)
    model = CompositionTc(**(model_kwargs or {}), target_mean=mean, target_std=std)
    model.set_retrieval_memory(x_memory, y_memory)
    features = torch.tensor(x, dtype=torch.float32)
    target = torch.tensor((y - mean) / std, dtype=torch.float32)
    val_features = torch.tensor(np.asarray(val[0]), dtype=torch.float32)
    val_target = torch.tensor((np.asarray(val[1]) - mean) / std, dtype=torch.float32)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    best, best_state, since_best, epoch = math.inf, None, 0, 0
    for epoch in range(1, config.max_epochs + 1):  # noqa: B007 (the last epoch run is reported)
        model.train()
        order = torch.randperm(len(features), generator=generator)
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size]
            error = (model.standardised(features[rows]) - target[rows]).abs()
            if config.extra_weight == 1.0:  # the plain mean: runs without weights reproduce bit for bit
                loss = error.mean()
            else:
                loss = (row_weight[rows] * error).sum() / row_weight[rows].sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            val_mae = float((model.standardised(val_features) - val_target).abs().mean())
        if val_mae < best:
            best, best_state, since_best = val_mae, {k: v.clone() for k, v in model.state_dict().items()}, 0
        else:
            since_best += 1
            if since_best > config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    summary = {"best_val_mae": best * std, "epochs": epoch, "seconds": time.perf_counter() - started}
    return model, summary


@dataclass
class CompositionForestConfig:
    """Settings of :func:`fit_composition_forest` (scikit-learn's meanings).

    The defaults are the shipped members' (``benchmarks/composition_forest.py``): extra trees whose leaves hold at
    least two rows, about 500,000 nodes (3 MB at 6 bytes a node) per forest of 45 trees on SuperCon3D plus the formula
    table, and the training targets in their leaves (about 1.2 MB more) for the leaf median.
    """

    kind: Literal["extra_trees", "random_forest"] = "extra_trees"
    #: What a split lowers: the rows' squared error about their mean (leaves predict their mean), or their absolute
    #: error about their median (leaves predict their median; about ten times slower to grow). On SuperCon3D all/all
    #: absolute-error splits scored 0.495 ln K against 0.491, both with the leaf median (200 trees, 10 folds; better
    #: on 5), so the members keep squared-error splits (``benchmarks/results/forest_variants.md``).
    criterion: Literal["squared_error", "absolute_error"] = "squared_error"
    #: 45 since 2026-12-07 (30 before): on SuperCon3D all/all the members' forests scored 0.495 ln K against 0.501
    #: (60 trees: 0.494), the size the shipped ensemble freed when its ``CompositionTc`` members left it.
    n_estimators: int = 45
    min_samples_leaf: int = 2
    #: Fraction of the statistics tried at each split.
    max_features: float = 0.5
    #: Weight of the leaf median (:meth:`CompositionForestTc.leaf_median`) against the trees' mean. On SuperCon3D
    #: all/all their average scored 0.501 ln K where the mean alone scored 0.510 (30 trees, 10 folds; better on 9),
    #: for 2 bytes per training row and tree (``benchmarks/results/forest_variants.md``). 0 stores no targets.
    median_weight: float = 0.5
    seed: int = 0
    #: Processes that grow trees (the fitted trees do not depend on it).
    n_jobs: int = 1


def fit_composition_forest(
    train: tuple[np.ndarray, np.ndarray],
    model_kwargs: dict | None = None,
    config: CompositionForestConfig | None = None,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    extra_weights: np.ndarray | None = None,
) -> tuple[CompositionForestTc, dict]:
    """Fit a tree ensemble on composition statistics and copy it into a :class:`CompositionForestTc`.

    Statistics are ``CompositionForestTc(**model_kwargs).graph_composition_statistics(graphs)`` of the
    structures' graphs. Trees need no validation split: they are grown fully (down to ``min_samples_leaf``).

    Args:
        train: ``([n, n_statistics] statistics, [n] ln Tc)`` of the training structures.
        model_kwargs: Arguments of :class:`CompositionForestTc` (element list, descriptors, converter settings).
        config: Forest settings.
        extra: Further training rows (e.g. formula-table records as virtual crystals), weighted like the others:
            unlike the networks, trees gain from them (``benchmarks/results/composition_forest.md``).
        extra_weights: ``[n_extra]`` sample weights of the ``extra`` rows (the ``train`` rows weigh 1), e.g. to let
            floor-Tc rows of non-superconductors shift the leaves they share less. Only with
            ``config.median_weight`` 0: the leaf median counts every row once.

    Returns:
        The model (eval mode) and a summary (``nodes``, ``training_rows``, ``seconds``).
    """
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

    config = config or CompositionForestConfig()
    forests = {"extra_trees": ExtraTreesRegressor, "random_forest": RandomForestRegressor}
    if config.kind not in forests:
        raise ValueError(f"kind must be one of {sorted(forests)}, got {config.kind!r}")
    if config.criterion not in ("squared_error", "absolute_error"):
        raise ValueError(f"criterion must be 'squared_error' or 'absolute_error', got {config.criterion!r}")
    if extra_weights is not None:
        if extra is None:
            raise ValueError("extra_weights weigh the extra rows; give them as extra")
        if config.median_weight > 0:
            raise ValueError("extra_weights need median_weight 0: the leaf median counts every row once")
        extra_weights = np.asarray(extra_weights, dtype=np.float64)
        if extra_weights.shape != (len(extra[1]),) or not (np.isfinite(extra_weights) & (extra_weights > 0)).all():
            raise ValueError(
                f"extra_weights: need {len(extra[1])} finite weights above 0 (one per extra row), got shape "
                f"{extra_weights.shape}"
            )
    started = time.perf_counter()
    parts = {"train": train, **({"extra": extra} if extra is not None else {})}
    arrays = {
        name: (np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)) for name, (x, y) in parts.items()
    }
    for name, (x, y) in arrays.items():
        if x.ndim != 2 or y.shape != (len(x),):
            raise ValueError(f"{name}: need [n, n_statistics] statistics and [n] ln Tc, got {x.shape} and {y.shape}")
        bad = np.flatnonzero(~(np.isfinite(x).all(1) & np.isfinite(y)))
        if len(bad):
            raise ValueError(f"{name}: rows {bad[:10].tolist()} hold non-finite statistics or ln Tc")
    x = np.vstack([x for x, _ in arrays.values()])
    y = np.concatenate([y for _, y in arrays.values()])
    forest = forests[config.kind](
        n_estimators=config.n_estimators,
        criterion=config.criterion,
        min_samples_leaf=config.min_samples_leaf,
        max_features=config.max_features,
        random_state=config.seed,
        n_jobs=config.n_jobs,
    ).fit(
        x, y, sample_weight=None if extra_weights is None else np.concatenate([np.ones(len(train[1])), extra_weights])
    )
    model = CompositionForestTc.from_estimator(
        forest,
        training_rows=(x, y) if config.median_weight > 0 else None,
        median_weight=config.median_weight,
        **(model_kwargs or {}),
    )
    summary = {"nodes": len(model.feature), "training_rows": len(y), "seconds": time.perf_counter() - started}
    return model, summary

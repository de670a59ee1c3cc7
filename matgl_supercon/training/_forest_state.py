"""The state a forest-reading SODNet trains on: each structure's ln Tc from a forest that never saw it.

A SODNet with ``state_dim=1`` whose state is a :class:`~matgl_supercon.models.CompositionForestTc`'s ln Tc learns
where the crystal moves Tc away from what the composition says (stacking inside the model; on SuperCon3D all/all it
scores 0.510 ln K alone against the default SODNet's 0.661, ``benchmarks/results/sodnet_forest_state.md``). Its
training structures must read a forest as honest as the one a new structure reads, so no structure's state comes
from a forest grown on it: the held-out structures (validation and test) read a forest grown on the whole training
block, and the training block is cut into ``inner_splits`` parts, each read by a forest grown on the other parts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Subset

from matgl_supercon._io import make_folder, write_json_atomic
from matgl_supercon.models.ensemble import TcEnsemble
from matgl_supercon.models.forest import CompositionForestTc
from matgl_supercon.models.sodnet import SODNet
from matgl_supercon.pretrained.io import ENSEMBLE_JSON
from matgl_supercon.training._composition import CompositionForestConfig, fit_composition_forest
from matgl_supercon.training._datasets import graph_dataset, predict_dataset
from matgl_supercon.training._fit import fit_tc_model
from matgl_supercon.training._lightning import TrainConfig, save_model_atomic
from matgl_supercon.training._run_folder import data_differences

if TYPE_CHECKING:
    from pymatgen.core import Structure

#: Parts of a training block, each predicted by a forest grown on the others (what the shipped SODNet used).
INNER_SPLITS = 5
#: What :func:`fit_forest_reading_sodnet` writes in its run folder beside ``ensemble.json``: the state forest's folder,
#: the SODNet's (where ``fit_tc_model`` saves it) and each structure's state.
FOREST_FOLDER, SODNET_FOLDER, STATE_FILE = "forest", "model", "forest_state.json"


def out_of_fold_forest_state(
    statistics: np.ndarray,
    ln_tc: np.ndarray,
    train: Sequence[int] | np.ndarray,
    held_out: Sequence[int] | np.ndarray,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    extra_rows: Callable[[np.ndarray], Sequence[int]] | None = None,
    model_kwargs: dict | None = None,
    config: CompositionForestConfig | None = None,
    inner_splits: int = INNER_SPLITS,
    seed: int = 0,
) -> tuple[np.ndarray, CompositionForestTc]:
    """Each structure's ln Tc and tree sd from a forest that was not grown on it, and the held-out rows' forest.

    Args:
        statistics: ``[n, n_statistics]`` composition statistics of the structures (as the forest reads them:
            ``CompositionForestTc(**model_kwargs).structure_composition_statistics``).
        ln_tc: ``[n]`` their ln(Tc / K).
        train: Indices of the training block (read by forests grown on its other parts).
        held_out: Indices of the validation and test structures (read by the forest grown on all of ``train``).
        extra: ``([m, n_statistics], [m])`` further rows every forest grows on beside its structures (e.g. the
            formula table as virtual crystals).
        extra_rows: Which ``extra`` rows may grow beside a forest whose unseen structures are the given indices
            (e.g. those of other compounds: :func:`~matgl_supercon.data.held_out_extra_rows`); all when None.
            A forest's unseen structures are the part it predicts and ``held_out``.
        model_kwargs: Arguments of the :class:`~matgl_supercon.models.CompositionForestTc`.
        config: Forest settings (default: the shipped members').
        inner_splits: Parts of the training block (at least 2).
        seed: Seeds the cut of the training block into parts (``torch.Generator``).

    Returns:
        ``[n, 2]`` ln Tc and tree sd (the square root of the variance over the trees) per structure, NaN outside
        ``train`` and ``held_out``; and the forest grown on all of ``train``, the one a new structure reads beside
        the SODNet trained on this state.

    Raises:
        ValueError: For blocks that overlap, hold an index out of range or leave a part empty, or for fewer than
            2 ``inner_splits``.
    """
    statistics = np.asarray(statistics, dtype=np.float64)
    ln_tc = np.asarray(ln_tc, dtype=np.float64)
    train, held_out = np.asarray(train, dtype=np.int64), np.asarray(held_out, dtype=np.int64)
    n = len(statistics)
    if ln_tc.shape != (n,):
        raise ValueError(f"out_of_fold_forest_state: {n} statistics rows but ln_tc of shape {ln_tc.shape}")
    for name, block in (("train", train), ("held_out", held_out)):
        if (
            block.ndim != 1
            or len(np.unique(block)) != len(block)
            or (len(block) and not 0 <= block.min() <= block.max() < n)
        ):
            raise ValueError(f"{name}: need distinct indices in [0, {n}), got {block.tolist()[:10]} (first 10)")
    if shared := sorted(set(train.tolist()) & set(held_out.tolist())):
        raise ValueError(f"train and held_out share structures {shared[:10]}: a state would come from its own forest")
    if inner_splits < 2 or len(train) < inner_splits:
        raise ValueError(f"inner_splits: need 2 to len(train) ({len(train)}) parts, got {inner_splits}")
    config = config or CompositionForestConfig()

    def grown_on(rows: np.ndarray, unseen: np.ndarray) -> CompositionForestTc:
        beside = None
        if extra is not None:
            kept = np.arange(len(extra[1])) if extra_rows is None else np.asarray(extra_rows(unseen), dtype=np.int64)
            beside = (np.asarray(extra[0])[kept], np.asarray(extra[1])[kept])
        model, _ = fit_composition_forest((statistics[rows], ln_tc[rows]), model_kwargs, config, extra=beside)
        return model

    def read(model: CompositionForestTc, rows: np.ndarray) -> np.ndarray:
        mean, trees = model.predict_statistics_and_trees(torch.as_tensor(statistics[rows]))
        return np.stack([mean.numpy().astype(np.float64), trees.var(-1).sqrt().numpy()], axis=1)

    state = np.full((n, 2), np.nan)
    forest = grown_on(train, held_out)
    state[held_out] = read(forest, held_out)
    order = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed)).numpy()]
    for part in np.array_split(order, inner_splits):
        state[part] = read(grown_on(np.setdiff1d(train, part), np.concatenate([part, held_out])), part)
    return state, forest


def fit_forest_reading_sodnet(
    structures: Sequence[Structure],
    ln_tc: np.ndarray,
    train: Sequence[int] | np.ndarray,
    val: Sequence[int] | np.ndarray,
    out_dir: str | Path,
    test: Sequence[int] | np.ndarray = (),
    model_kwargs: dict | None = None,
    config: TrainConfig | None = None,
    forest_kwargs: dict | None = None,
    forest_config: CompositionForestConfig | None = None,
    extra: tuple[Sequence[Structure], Sequence[float]] | None = None,
    extra_rows: Callable[[np.ndarray], Sequence[int]] | None = None,
    trainer_kwargs: dict | None = None,
    allow_overlaps: bool = False,
    state_seed: int | None = None,
) -> tuple[TcEnsemble, dict]:
    """Train a SODNet that reads a forest's ln Tc as its state, and save the pair as a folder ``load_model`` reads.

    The state of every structure comes from :func:`out_of_fold_forest_state`; the SODNet (``state_dim=1``) trains
    as :func:`~matgl_supercon.training.fit_tc_model` trains, resuming after an interruption. ``out_dir`` then holds
    ``forest/`` (the forest grown on the training block and ``extra``, which the validation and test structures
    read), ``model/`` (the SODNet) and ``ensemble.json``, which weighs the forest 0 and names the SODNet as reading
    it: ``matgl_supercon.pretrained.load_model(out_dir)`` (or ``mgl-supercon predict --model out_dir``) predicts a
    new structure as the test structures were predicted. ``forest_state.json`` keeps each structure's state, so
    that a resumed run does not regrow the forests.

    Args:
        structures: Crystals, ordered or disordered.
        ln_tc: ``[len(structures)]`` their ln(Tc / K).
        train: Indices of the training block.
        val: Indices of the validation block (picks the best epoch).
        out_dir: Run folder.
        test: Indices of test structures (read by the training block's forest, scored in the summary).
        model_kwargs: SODNet arguments (``state_dim`` is 1).
        config: Optimisation settings of the SODNet.
        forest_kwargs: :class:`~matgl_supercon.models.CompositionForestTc` descriptor options; its graph settings
            are the SODNet's.
        forest_config: Forest settings (default: the shipped members').
        extra: Crystals (e.g. formula-table rows as :func:`~matgl_supercon.graph.virtual_crystal`) and their
            ln(Tc / K) that every forest grows on beside its structures; the SODNet does not train on them.
        extra_rows: Which ``extra`` rows may grow beside a forest, given the indices of the structures it does not
            grow on (as :func:`out_of_fold_forest_state`); all when None.
        trainer_kwargs: Passed to ``lightning.Trainer`` (accelerator, devices, strategy, ...).
        allow_overlaps: Accept crystals with overlapping atoms (a published dataset's, taken as they are).
        state_seed: Seed of the cut of the training block into parts (default ``config.seed``;
            ``benchmarks/sodnet_forest_state.py`` cuts fold ``k`` with seed ``k``).

    Returns:
        The saved pair as a :class:`~matgl_supercon.models.TcEnsemble` and a summary: the fit's, with
        ``test_mae`` (ln K, when ``test`` is given) and the state forest's own ``forest_test_mae``.

    Raises:
        ValueError: For a ``state_dim`` other than 1 in ``model_kwargs``, graph settings in ``forest_kwargs``, or a
            run folder whose ``forest_state.json`` was written for other data or settings.
    """
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    model_kwargs = dict(model_kwargs or {})
    if model_kwargs.setdefault("state_dim", 1) != 1:
        raise ValueError(f"model_kwargs: a forest-reading SODNet reads one state column, got {model_kwargs}")
    config, forest_config = config or TrainConfig(), forest_config or CompositionForestConfig()
    template = SODNet(**model_kwargs)
    graph_settings = {"element_types": template.element_types, "cutoff": template.cutoff}
    graph_settings["max_neighbors"] = template.max_neighbors
    if given := sorted(set(forest_kwargs or {}) & set(graph_settings)):
        raise ValueError(f"forest_kwargs: {given} are the SODNet's graph settings (give them in model_kwargs)")
    forest_kwargs = {**(forest_kwargs or {}), **graph_settings}
    ln_tc = np.asarray(ln_tc, dtype=np.float64)
    train, val, test = (np.asarray(b, dtype=np.int64) for b in (train, val, test))
    held_out = np.concatenate([val, test])
    rows = np.concatenate([train, held_out])  # the dataset's order: training, validation, test
    out = Path(out_dir)
    data = {
        "forest_state": {
            "forest_kwargs": {k: v for k, v in forest_kwargs.items() if k != "element_types"},
            "forest_config": {k: v for k, v in asdict(forest_config).items() if k != "n_jobs"},
            "extra_rows": 0 if extra is None else len(extra[1]),
            "inner_splits": INNER_SPLITS,
            "state_seed": config.seed if state_seed is None else state_seed,
            "blocks": [len(train), len(val), len(test)],
            # Which structures, with which labels: another fold of the same sizes must not reuse this state.
            "digest": hashlib.sha256(b"".join(a.tobytes() for a in (train, val, test, ln_tc))).hexdigest()[:16],
        }
    }
    state_file = out / STATE_FILE
    if state_file.exists():
        stored = json.loads(state_file.read_text())
        if differences := data_differences(stored.get("data", {}), data):
            raise ValueError(f"{state_file} holds another run's state ({'; '.join(differences)}); use another folder")
        state = np.full((len(structures), 2), np.nan)
        state[stored["rows"]] = stored["state"]
    else:
        forest_template = CompositionForestTc(**forest_kwargs)
        statistics = forest_template.structure_composition_statistics(structures, allow_overlaps).numpy()
        if extra is not None:
            extra_statistics = forest_template.structure_composition_statistics(list(extra[0])).numpy()
            extra = (extra_statistics, np.asarray(extra[1], dtype=np.float64))
        state, forest = out_of_fold_forest_state(
            statistics,
            ln_tc,
            train,
            held_out,
            extra,
            extra_rows,
            forest_kwargs,
            forest_config,
            seed=data["forest_state"]["state_seed"],
        )
        if rank_zero_only.rank == 0:  # under DDP every process works the state out; one writes it
            make_folder(out)
            save_model_atomic(forest, out / FOREST_FOLDER)
            write_json_atomic(state_file, {"data": data, "rows": rows.tolist(), "state": state[rows].tolist()})
    converter = template.make_converter(allow_overlaps=allow_overlaps)
    dataset = graph_dataset([structures[i] for i in rows], ln_tc[rows], converter, state[rows, :1])
    n_train, n_val = len(train), len(val)
    model, summary = fit_tc_model(
        Subset(dataset, list(range(n_train))),
        Subset(dataset, list(range(n_train, n_train + n_val))),
        out,
        model_kwargs,
        config,
        trainer_kwargs,
        data=data,
    )
    if rank_zero_only.rank == 0:
        weights = {FOREST_FOLDER: 0.0, SODNET_FOLDER: 1.0}
        write_json_atomic(out / ENSEMBLE_JSON, {"member_weights": weights, "state_from_forests": [SODNET_FOLDER]})
    if len(test):
        predicted = predict_dataset(model, Subset(dataset, list(range(n_train + n_val, len(rows)))))
        summary["test_mae"] = float(np.abs(predicted - ln_tc[test]).mean())
        summary["forest_test_mae"] = float(np.abs(state[test, 0] - ln_tc[test]).mean())
    forest = CompositionForestTc.load(out / FOREST_FOLDER)
    ensemble = TcEnsemble([forest, model], name=out.name, member_weights=[0.0, 1.0], state_from_forests=[False, True])
    return ensemble, summary

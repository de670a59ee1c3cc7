"""Run one leaderboard cell (a model on a task), fold by fold, resumable, into Matbench results files.

Each finished fold is written atomically to ``<out>/<task>/<model>/fold_<k>.json`` (predictions, CPU
seconds, parameters); a rerun skips finished folds. When every fold is done the cell also gets
``results.json.gz`` (Matbench format), ``summary.json`` (scores, MAE per disorder type and family, CPU
minutes, command, machine, date) and two figures (parity, MAE by group).
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from matgl_supercon._io import record_or_check_settings, write_json_atomic
from matgl_supercon.benchmarks._features import geometry_features, magpie_features
from matgl_supercon.benchmarks._matbench import write_matbench_results
from matgl_supercon.benchmarks._metrics import fold_summary, mae, r2
from matgl_supercon.benchmarks._names import FOREST_MODELS, FOREST_READER_MODEL, GNN_MODELS, MODELS, ModelName
from matgl_supercon.benchmarks._plots import group_bar, parity_plot
from matgl_supercon.benchmarks._tasks import TASKS, TcTask, breakdown, inner_validation_split

#: How each model sees a disordered structure.
MODEL_INPUTS: dict[str, str] = {
    "median": "nothing: predicts the median training target",
    "RF-c": "Magpie statistics of the occupancy-weighted composition (Mg0.9Al0.1B2 = 0.9 Mg + 0.1 Al + 2 B)",
    "SVR-c": "as RF-c, standardised; C and gamma picked on the validation block",
    "RF-geo": "RF-c features plus occupancy-weighted density, neighbour distances, coordination, cell shape, "
    "fractions of vacant and mixed sites",
    "SVR-geo": "RF-geo features, standardised; C and gamma picked on the validation block",
    "CompositionForestTc": "extra trees on the composition statistics of the site occupancies (mean, spread and "
    "extremes of elemental descriptors, vacancy fraction), the shipped forests' settings",
    "CompositionForestTc+formulas": "as CompositionForestTc, also grown on the SuperCon formula table's "
    "superconductors (virtual crystals), all but those within 0.02 (atom fractions) of a test compound",
    "MEGNet": "MatGL MEGNet on our graphs: each site is its majority species (occupancies, vacancies and "
    "alternative positions invisible), the 16 nearest neighbours within 6 Å (SODNet's graph)",
    "SODNet": "occupancy vectors per site, occupancy-weighted edges, PD groups (the full occupancy-aware graph)",
    "SODNet+forest+formulas": "as SODNet, reading as its state the ln Tc of a CompositionForestTc+formulas forest "
    "that never saw the structure (each training structure: the forest of the other 4 of 5 parts of the training "
    "block; formula rows 0.02 or more from every structure a forest does not grow on)",
}


class _Inputs:
    """Features and graph datasets of a task, computed once per run."""

    def __init__(self, task: TcTask, data_dir: str | Path | None = None) -> None:
        self.task = task
        self.data_dir = data_dir
        self._features: dict[str, np.ndarray] = {}
        self._graphs: dict[str, object] = {}
        # Keyed by the model's descriptor table, the one setting the statistics depend on.
        self._statistics: dict[bytes, np.ndarray] = {}
        self._formula_rows: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._formula_records: list | None = None

    def features(self, kind: Literal["c", "geo"]) -> np.ndarray:
        if "c" not in self._features:
            self._features["c"] = magpie_features(self.task.structures)
        if kind == "geo" and "geo" not in self._features:
            self._features["geo"] = np.hstack([self._features["c"], geometry_features(self.task.structures)])
        return self._features[kind]

    def composition_statistics(self, model) -> np.ndarray:
        """``[n, n_statistics]`` composition statistics (float64) of the task's structures, as ``model`` reads them."""
        key = model.descriptors.numpy().tobytes()
        if key not in self._statistics:
            self._statistics[key] = statistics_array(model, self.task.structures)
        return self._statistics[key]

    def formula_records(self) -> list:
        """The formula table's superconductors, every row (each fold filters them)."""
        from matgl_supercon.data import extra_training_records

        if self._formula_records is None:
            self._formula_records = extra_training_records("formulas_new_systems", [], self.data_dir)
        return self._formula_records

    def formula_rows(self, model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Statistics, ln Tc and atom fractions of the formula table's superconductors (filtered per fold)."""
        from matgl_supercon.data import atom_fractions

        key = model.descriptors.numpy().tobytes()
        if key not in self._formula_rows:
            records = self.formula_records()
            x = statistics_array(model, [r.structure for r in records])
            self._formula_rows[key] = (x, np.log([r.tc for r in records]), atom_fractions(records))
        return self._formula_rows[key]

    def graphs(self, model_name: str, converter):
        from matgl_supercon.training import graph_dataset

        if model_name not in self._graphs:
            self._graphs[model_name] = graph_dataset(self.task.structures, self.task.targets, converter)
        return self._graphs[model_name]


def tuned_svr(x_train, y_train, x_val, y_val):
    """``(model, params)``: the standardised RBF SVR whose (C, gamma) has the lowest validation MAE on a small grid."""
    best, best_mae, best_params = None, np.inf, {}
    for c in (3.0, 10.0, 30.0):
        for gamma in ("scale", 0.003):
            model = make_pipeline(StandardScaler(), SVR(C=c, gamma=gamma, epsilon=0.05)).fit(x_train, y_train)
            score = mae(y_val, model.predict(x_val))
            if score < best_mae:
                best, best_mae, best_params = model, score, {"C": c, "gamma": gamma}
    return best, best_params


def runs_on(model_name: str, task_name: str) -> bool:
    """Whether a leaderboard model applies to a task: ``+formulas`` cells only to the SuperCon3D tasks.

    The formula table's experimental Tc > 0 is their target (as ln Tc); 3DSC_MP's target keeps its Tc = 0
    non-superconductors and JARVIS's Tc is computed.
    """
    spec = TASKS.get(task_name)
    return not model_name.endswith("+formulas") or (spec is not None and spec.dataset == "supercon3d")


def statistics_array(model, structures) -> np.ndarray:
    """Composition statistics of ``structures`` as ``model`` reads them, float64 for scikit-learn."""
    # The tasks' datasets as published: 5 SuperCon3D CIFs hold overlapping atoms (load_supercon3d's docstring).
    return model.structure_composition_statistics(structures, allow_overlaps=True).numpy().astype(np.float64)


def fit_forest(
    task: TcTask, fold: int, model_name: str, inputs: _Inputs, seed: int, model_kwargs: dict, train_config: dict
) -> tuple[np.ndarray, np.ndarray, dict]:
    """A :class:`~matgl_supercon.models.CompositionForestTc` grown on the fold's training and validation part.

    ``CompositionForestTc+formulas`` also grows it on the formula table's superconductors, all but those within
    ``SAME_COMPOUND_DISTANCE`` (0.02 in atom fractions) of a test compound: the table is where SuperCon3D's labels
    come from, so a row that close is the test compound's own Tc, however written (``benchmarks/results/
    formula_scope.md``); the rest of its doping series stays, as the random split keeps such structures. Until
    2026-12-06 the rows outside the test block's chemical systems (the ``system`` scope). Only for the SuperCon3D
    tasks: the table holds experimental Tc > 0, their target as ln Tc.

    Returns:
        ``(mean, sd over trees, parameters)`` for the fold's test structures.
    """
    from matgl_supercon.data import atom_fractions, outside_compounds
    from matgl_supercon.models import CompositionForestTc
    from matgl_supercon.training import CompositionForestConfig, fit_composition_forest

    with_formulas = model_name.endswith("+formulas")
    if not runs_on(model_name, task.dataset_name):
        spec = TASKS.get(task.dataset_name)
        source = "not a known task" if spec is None else f"on {spec.dataset} ({task.metadata['target']})"
        raise ValueError(
            f"{model_name} adds the SuperCon formula table's ln Tc to SuperCon3D tasks; {task.dataset_name} is "
            f"{source}: use CompositionForestTc"
        )
    template = CompositionForestTc(**model_kwargs)
    x, y = inputs.composition_statistics(template), task.targets
    test = task.train_val_test_positions(fold)[2]
    everything = task.train_and_val_positions(fold)
    extra, params = None, {}
    if with_formulas:
        formula_x, formula_y, fractions = inputs.formula_rows(template)
        rows = outside_compounds(fractions, atom_fractions([task.structures[i] for i in test]))
        extra, params = (formula_x[rows], formula_y[rows]), {"formula_rows": len(rows)}
    config = CompositionForestConfig(**{"seed": seed + fold, **train_config})
    model, fitted = fit_composition_forest((x[everything], y[everything]), model_kwargs, config, extra=extra)
    prediction, per_tree = model.predict_statistics_and_trees(torch.as_tensor(x[test]))
    params.update(config.__dict__, nodes=fitted["nodes"], training_rows=fitted["training_rows"])
    return prediction.double().numpy(), per_tree.numpy().std(1), params


def fit_forest_reader(
    task: TcTask,
    fold: int,
    inputs: _Inputs,
    run_dir: Path,
    train: np.ndarray,
    val: np.ndarray,
    seed: int,
    model_kwargs: dict,
    train_config: dict,
) -> tuple[np.ndarray, None, dict]:
    """A SODNet reading a ``CompositionForestTc+formulas`` forest that never saw the structure, on one fold.

    :func:`~matgl_supercon.training.fit_forest_reading_sodnet` with the formula table's superconductors beside
    every forest, all but those within ``SAME_COMPOUND_DISTANCE`` of a structure the forest does not grow on; the
    training block of fold ``k`` is cut with seed ``seed + k``, as ``benchmarks/sodnet_forest_state.py`` cuts it,
    so a fold of this cell repeats that script's fold. The fold's run folder is a model folder ``load_model``
    reads (the network beside its forest).

    Returns:
        ``(predictions, None, parameters)`` for the fold's test structures.
    """
    from matgl_supercon.data import atom_fractions, compound_row_filter
    from matgl_supercon.models import SODNet
    from matgl_supercon.training import (
        CompositionForestConfig,
        TrainConfig,
        fit_forest_reading_sodnet,
        run_configuration,
    )

    if not runs_on(FOREST_READER_MODEL, task.dataset_name):
        raise ValueError(f"{FOREST_READER_MODEL} adds the SuperCon formula table's ln Tc to SuperCon3D tasks only")
    formulas = inputs.formula_records()
    test = task.train_val_test_positions(fold)[2]
    config = TrainConfig(**{"seed": seed, **train_config})
    ensemble, history = fit_forest_reading_sodnet(
        task.structures,
        task.targets,
        train,
        val,
        run_dir / f"fold_{fold}",
        test,
        model_kwargs,
        config,
        forest_config=CompositionForestConfig(n_jobs=torch.get_num_threads()),  # the fitted trees do not depend on it
        extra=([r.structure for r in formulas], np.log([r.tc for r in formulas])),
        extra_rows=compound_row_filter(atom_fractions(formulas), task.structures),
        allow_overlaps=True,  # the published datasets, overlapping atoms and all (see statistics_array)
        state_seed=seed + fold,
    )
    prediction = ensemble.predict_ln_tc([task.structures[i] for i in test], allow_overlaps=True)[0]
    resolved = run_configuration(SODNet, {**model_kwargs, "state_dim": 1}, config)["model"]
    resolved.pop("element_types", None)
    params = {"model_kwargs": resolved, "epochs_run": history["epochs_run"], **config.__dict__}
    params["forest_test_mae"] = history["forest_test_mae"]
    return prediction.double().numpy(), None, {**params, "train_seconds": history["train_seconds"]}


def fit_predict(
    task: TcTask,
    fold: int,
    model_name: ModelName,
    inputs: _Inputs,
    run_dir: Path,
    seed: int = 0,
    model_kwargs: dict | None = None,
    train_config: dict | None = None,
) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Train ``model_name`` on one fold and predict its test structures.

    Models with a validation need (SVR grid, early stopping of the GNNs) use the protocol's validation
    block or, where the protocol has none, a seeded 10% hold-out of the training part.

    Returns:
        ``(predictions, std or None, parameters)`` for the fold's test structures.
    """
    y = task.targets
    train, val = inner_validation_split(task, fold, seed=seed)
    test = task.train_val_test_positions(fold)[2]
    everything = task.train_and_val_positions(fold)
    if model_name == "median":
        return np.full(len(test), np.median(y[everything])), None, {}
    if model_name in ("RF-c", "RF-geo"):
        x = inputs.features(model_name.split("-")[1])
        # Trained on train + val: a forest needs no early stopping, and Matbench allows both.
        forest = RandomForestRegressor(n_estimators=500, max_features=0.33, n_jobs=1, random_state=seed + fold)
        forest.fit(x[everything], y[everything])
        per_tree = np.stack([tree.predict(x[test]) for tree in forest.estimators_])
        return per_tree.mean(0), per_tree.std(0), {"n_estimators": 500, "max_features": 0.33}
    if model_name in ("SVR-c", "SVR-geo"):
        x = inputs.features(model_name.split("-")[1])
        model, params = tuned_svr(x[train], y[train], x[val], y[val])
        return model.predict(x[test]), None, params
    if model_name in FOREST_MODELS:
        return fit_forest(task, fold, model_name, inputs, seed, model_kwargs or {}, train_config or {})
    if model_name == FOREST_READER_MODEL:
        return fit_forest_reader(task, fold, inputs, run_dir, train, val, seed, model_kwargs or {}, train_config or {})
    if model_name in GNN_MODELS:
        from matgl_supercon.models import MEGNetTc, SODNet
        from matgl_supercon.training import Subset, TrainConfig, fit_tc_model, predict_dataset, run_configuration

        model_class = SODNet if model_name == "SODNet" else MEGNetTc
        kwargs = dict(model_kwargs or {})
        config = TrainConfig(**{"seed": seed, **(train_config or {})})
        # The published datasets, overlapping atoms and all (see statistics_array).
        dataset = inputs.graphs(model_name, model_class(**kwargs).make_converter(allow_overlaps=True))
        model, history = fit_tc_model(
            Subset(dataset, train.tolist()),
            Subset(dataset, val.tolist()),
            run_dir / f"fold_{fold}",
            kwargs,
            config,
            model_class=model_class,
        )
        pred = predict_dataset(model, Subset(dataset, test.tolist()))
        # Defaults filled in, so the record still says what ran after a default changes.
        resolved = run_configuration(model_class, kwargs, config)["model"]
        resolved.pop("element_types", None)
        params = {"model_kwargs": resolved, "epochs_run": history["epochs_run"], **config.__dict__}
        return pred, None, {**params, "train_seconds": history["train_seconds"]}
    raise ValueError(f"unknown model {model_name!r}; choose from {MODELS}")


def run_cell(
    task: TcTask,
    model_name: ModelName,
    out_dir: str | Path,
    folds: list[int] | None = None,
    seed: int = 0,
    model_kwargs: dict | None = None,
    train_config: dict | None = None,
    runs_dir: str | Path = "runs/benchmarks",
    command: str | None = None,
    data_dir: str | Path | None = None,
) -> dict:
    """Run the missing folds of one cell and, once all folds exist, write its results files.

    Args:
        task: The task.
        model_name: One of :data:`MODELS`.
        out_dir: Results root; the cell lives in ``out_dir/<task>/<model>``.
        folds: Folds to run now (default all); finished ones are skipped. The first fold run records ``seed``,
            ``model_kwargs`` and ``train_config`` in the cell's ``settings.json``; calling again with other
            settings raises ``ValueError`` naming them (also when no fold is left to run: the cell holds other
            results than the ones asked for).
        seed: Seed of models and hold-outs.
        model_kwargs: Arguments of the model (SODNet, MEGNet, CompositionForestTc).
        train_config: :class:`~matgl_supercon.training.TrainConfig` fields for the GNNs,
            :class:`~matgl_supercon.training.CompositionForestConfig` fields for the forests.
        runs_dir: Where GNN checkpoints go (resumable mid-fold).
        command: The command line to record (default: this process's argv).
        data_dir: Data root of the formula table (``CompositionForestTc+formulas``); default
            ``$MATGL_SUPERCON_DATA``.

    Returns:
        The cell summary (``complete`` False while folds are missing).
    """
    if model_name not in MODELS:
        raise ValueError(f"unknown model {model_name!r}; choose from {MODELS}")
    cell = Path(out_dir) / task.dataset_name / model_name
    cell.mkdir(parents=True, exist_ok=True)
    run_dir = Path(runs_dir) / task.dataset_name / model_name
    inputs = _Inputs(task, data_dir)
    todo = [k for k in (task.folds if folds is None else folds) if not (cell / f"fold_{k}.json").exists()]
    record = cell / "settings.json"
    if todo or record.exists():  # a cell's folds come from one configuration, or its mean compares nothing
        settings = {"seed": seed, "model_kwargs": model_kwargs or {}, "train_config": train_config or {}}
        if model_name in FOREST_MODELS:
            # Defaults filled in: a forest default that changes between versions (the leaf median, 2026-12-06)
            # must not let a resumed cell mix folds grown both ways.
            from matgl_supercon.training import CompositionForestConfig

            resolved = CompositionForestConfig(**settings["train_config"]).__dict__
            settings["train_config"] = {k: v for k, v in resolved.items() if k not in ("seed", "n_jobs")}
        started = any((cell / f"fold_{k}.json").exists() for k in task.folds)
        record_or_check_settings(record, settings, resuming=started)
    ran = False
    for k in todo:
        path = cell / f"fold_{k}.json"
        ran = True
        cpu, wall = time.process_time(), time.perf_counter()
        pred, std, params = fit_predict(task, k, model_name, inputs, run_dir, seed, model_kwargs, train_config)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        # A GNN fold may reuse a model trained earlier (a resumed or shared run): count its logged epochs, not 0.
        trained_earlier = max(0.0, params.pop("train_seconds", 0.0) - wall)
        fold_record = {
            "ids": task.test_ids(k),
            "predictions": np.asarray(pred, float).tolist(),
            "std": None if std is None else np.asarray(std, float).tolist(),
            "parameters": params,
            "cpu_seconds": cpu + trained_earlier,
            "wall_seconds": wall + trained_earlier,
        }
        write_json_atomic(path, fold_record)
        test = task.train_val_test_positions(k)[2]
        print(f"{task.dataset_name} | {model_name} | fold {k}: MAE {mae(task.targets[test], pred):.3f}", flush=True)
    summary_path = cell / "summary.json"
    if not ran and summary_path.exists():
        summary = json.loads(summary_path.read_text())
        finished = [k for k in task.folds if (cell / f"fold_{k}.json").exists()]
        if summary["folds_done"] == finished:
            # Nothing new: keep the summary, plots and results file (and their date and machine) as they are.
            return summary
    return summarise_cell(task, model_name, cell, command)


def summarise_cell(task: TcTask, model_name: str, cell: Path, command: str | None = None) -> dict:
    """Record the finished folds into ``task`` and write the cell's summary (and results file when complete)."""
    cpu_seconds, per_fold = 0.0, []
    for k in task.folds:
        path = cell / f"fold_{k}.json"
        if not path.exists():
            continue
        fold = load_fold(task, path, k)
        if f"fold_{k}" not in task.results:
            task.record(k, fold["predictions"], std=fold["std"], params=fold["parameters"])
        truth = task.targets[task.train_val_test_positions(k)[2]]
        per_fold.append({"mae": mae(truth, fold["predictions"]), "r2": r2(truth, fold["predictions"])})
        cpu_seconds += fold["cpu_seconds"]
    summary = {
        "task": task.dataset_name,
        "model": model_name,
        "unit": task.metadata["unit"],
        "complete": task.all_folds_recorded,
        "folds_done": [k for k, done in task.is_recorded.items() if done],
        **fold_summary(per_fold),
        "cpu_minutes": cpu_seconds / 60,
        "disordered_input": MODEL_INPUTS[model_name],
        "by_group": {key: breakdown(task, key) for key in task.groups} if per_fold else {},
        "command": command or shlex.join(["mgl-supercon", *sys.argv[1:]]),  # quoted: JSON arguments paste back
        "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads ({platform.system()})",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if per_fold and not task.all_folds_recorded:
        # A partial cell's mean is over other folds than the complete rows' means; give the fair comparison.
        summary["same_folds"] = same_fold_maes(task, cell.parent, summary["folds_done"], exclude=model_name)
    if task.all_folds_recorded:
        summary["matbench_scores"] = task.scores
        write_matbench_results(cell / "results.json.gz", [task], {"model": model_name, "command": summary["command"]})
        ids, y_true, y_pred = task.predictions()
        index = {i: n for n, i in enumerate(task.ids)}
        key = "family" if "family" in task.groups else "disorder"
        footer = f"{summary['command']} | {summary['machine']} | {summary['date']}"
        title = f"{model_name} on {task.dataset_name}: MAE {summary['mae_mean']:.3f} {task.metadata['unit']}"
        parity_plot(
            y_true,
            y_pred,
            cell / "parity.png",
            title,
            groups=[task.groups[key][index[i]] for i in ids],
            label=f"{task.metadata['target']} ({task.metadata['unit']})",
            footer=footer,
        )
        bars = {f"{g} [{key}]": v for key in task.groups for g, v in summary["by_group"][key].items()}
        group_bar(bars, cell / "mae_by_group.png", f"{model_name} on {task.dataset_name}: MAE by group", footer)
    write_json_atomic(cell / "summary.json", summary)
    return summary


def load_fold(task: TcTask, path: Path, k: int) -> dict:
    """A cell's ``fold_<k>.json``, checked against the task's test ids for fold ``k``."""
    fold = json.loads(path.read_text())
    if fold["ids"] != task.test_ids(k):
        raise ValueError(f"{path}: its test ids differ from task {task.dataset_name} fold {k}; delete it")
    return fold


def same_fold_maes(task: TcTask, task_dir: Path, folds: list[int], exclude: str) -> dict[str, float]:
    """Mean test MAE of the task's other cells over ``folds`` only (cells missing one of them are left out).

    Args:
        task: The task (for its targets and test ids).
        task_dir: The folder holding one subfolder per model of this task.
        folds: The folds to score.
        exclude: The model whose cell asks (not compared with itself).

    Returns:
        Model name -> mean MAE over ``folds``, for every other cell that has all of them.
    """
    out: dict[str, float] = {}
    for other in sorted(p for p in task_dir.iterdir() if p.is_dir() and p.name != exclude):
        paths = [other / f"fold_{k}.json" for k in folds]
        if not all(path.exists() for path in paths):
            continue
        maes = []
        for k, path in zip(folds, paths, strict=True):
            predictions = load_fold(task, path, k)["predictions"]
            maes.append(mae(task.targets[task.train_val_test_positions(k)[2]], predictions))
        out[other.name] = float(np.mean(maes))
    return out

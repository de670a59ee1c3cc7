from __future__ import annotations

import gzip
import json
import shlex
import sys

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from matgl_supercon.benchmarks import (
    TcTask,
    inner_validation_split,
    load_task,
    read_matbench_results,
    regression_scores,
    run_cell,
    runs_on,
    write_matbench_results,
)
from matgl_supercon.data import paper_folds
from matgl_supercon.graph import DISORDER_TYPES, virtual_crystal
from matgl_supercon.models import SODNet
from tests.models.test_sodnet import TINY


@pytest.fixture
def toy_task() -> TcTask:
    return make_toy_task()


def make_toy_task() -> TcTask:
    """Twelve one-atom cells whose target grows with the lattice constant; three folds of four."""
    structures = [Structure(Lattice.cubic(3.0 + 0.1 * i), ["Nb" if i % 2 else "V"], [[0, 0, 0]]) for i in range(12)]
    positions = np.arange(12)
    splits = [(np.setdiff1d(positions, positions[k::3]), None, positions[k::3]) for k in range(3)]
    groups = {"disorder": ["ordered"] * 12}
    return TcTask("toy_tc", [f"toy-{i}" for i in range(12)], structures, np.arange(12.0), splits, "tc", "K", groups)


def test_task_api_and_scores(toy_task):
    structures, targets = toy_task.get_train_and_val_data(0)
    assert len(structures) == len(targets) == 8
    frame = toy_task.get_test_data(1, as_type="df", include_target=True)
    assert list(frame.index) == toy_task.test_ids(1) and list(frame.columns) == ["structure", "tc"]
    with pytest.raises(ValueError, match="folds \\[0, 1, 2\\] not recorded"):
        _ = toy_task.scores
    for k in toy_task.folds:
        truth = toy_task.get_test_data(k, include_target=True)[1]
        toy_task.record(k, truth + (k + 1), params={"note": "offset"})
    assert toy_task.scores["mae"]["mean"] == pytest.approx(2.0)
    assert toy_task.scores["max_error"]["max"] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="already recorded"):
        toy_task.record(0, np.zeros(4))


def test_record_rejects_bad_predictions(toy_task):
    with pytest.raises(ValueError, match="4"):
        toy_task.record(0, np.zeros(3))
    with pytest.raises(ValueError, match="non-finite prediction for toy-3"):
        toy_task.record(0, [0.0, np.nan, 0.0, 0.0])
    with pytest.raises(ValueError, match="no fold 7"):
        toy_task.get_test_data(7)


def test_regression_scores_match_matbench():
    score_array = pytest.importorskip("matbench.data_ops").score_array
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=20) + 3, rng.normal(size=20) + 3
    assert regression_scores(y, p) == pytest.approx(score_array(y, p, "regression"))


def test_matbench_reads_our_results(toy_task, tmp_path):
    pytest.importorskip("matbench")
    for k in toy_task.folds:
        truth = toy_task.get_test_data(k, include_target=True)[1]
        toy_task.record(k, truth + 0.5, std=np.full(len(truth), 0.2))
    path = write_matbench_results(tmp_path / "results.json.gz", [toy_task], {"model": "offset"})
    benchmark = read_matbench_results(path, [toy_task])
    task = benchmark.tasks_map["toy_tc"]
    assert float(task.scores["mae"]["mean"]) == pytest.approx(0.5)
    assert task.results["fold_0"]["uncertainty"]["toy-0"]["std"] == pytest.approx(0.2)
    assert benchmark.user_metadata == {"model": "offset"}

    # matbench's own hash check catches an edited file.
    with gzip.open(path, "rt") as f:
        d = json.load(f)
    d["tasks"]["toy_tc"]["results"]["fold_0"]["data"]["toy-0"] = 99.0
    with gzip.open(path, "wt") as f:
        json.dump(d, f)
    with pytest.raises(ValueError, match="Hash"):
        read_matbench_results(path, [toy_task])


def test_run_cell_is_resumable(toy_task, tmp_path):
    summary = run_cell(toy_task, "RF-c", tmp_path, folds=[0], command="test")
    assert not summary["complete"] and summary["folds_done"] == [0]
    first = (tmp_path / "toy_tc" / "RF-c" / "fold_0.json").stat().st_mtime_ns
    summary = run_cell(toy_task, "RF-c", tmp_path, command="test")
    assert summary["complete"] and summary["folds_done"] == [0, 1, 2]
    assert (tmp_path / "toy_tc" / "RF-c" / "fold_0.json").stat().st_mtime_ns == first  # not recomputed
    cell = tmp_path / "toy_tc" / "RF-c"
    for name in ("results.json.gz", "summary.json", "parity.png", "mae_by_group.png"):
        assert (cell / name).stat().st_size > 0
    assert summary["by_group"]["disorder"]["ordered"]["n"] == 12
    assert "occupancy-weighted" in summary["disordered_input"]
    # Rerunning a finished cell changes nothing: not its summary (date, machine) and not its results file.
    stamps = {name: (cell / name).stat().st_mtime_ns for name in ("summary.json", "results.json.gz")}
    assert run_cell(toy_task, "RF-c", tmp_path, command="again")["command"] == "test"
    assert {name: (cell / name).stat().st_mtime_ns for name in stamps} == stamps
    assert "same_folds" not in summary
    # A finished cell asked for with other settings holds other results than those asked for.
    with pytest.raises(ValueError, match=r"RF-c/settings\.json: .*other settings \(seed: 0 there, 1 now\)"):
        run_cell(toy_task, "RF-c", tmp_path, seed=1, command="other seed")
    # More folds into a started cell with other settings would mix two configurations in one mean.
    (cell / "fold_2.json").unlink()
    with pytest.raises(ValueError, match=r"RF-c/settings\.json: .*other settings \(seed: 0 there, 1 now\)"):
        run_cell(toy_task, "RF-c", tmp_path, seed=1, command="other seed")
    assert not (cell / "fold_2.json").exists()
    assert run_cell(toy_task, "RF-c", tmp_path, command="same")["complete"]


def test_forest_cell_predicts_the_mean_and_median_of_its_composition(toy_task, tmp_path):
    # The statistics see V or Nb, not the lattice: every tree splits the two apart, so a test structure's leaves
    # hold the training structures of its element: the trees' mean is their mean target, the leaf median their
    # (lower) median, and the trees agree (sd 0).
    summary = run_cell(toy_task, "CompositionForestTc", tmp_path, train_config={"n_estimators": 4}, command="test")
    assert summary["complete"]
    y = toy_task.targets
    for k in toy_task.folds:
        fold = json.loads((tmp_path / "toy_tc" / "CompositionForestTc" / f"fold_{k}.json").read_text())
        train, _, test = toy_task.train_val_test_positions(k)
        element = np.array([s.species[0].symbol for s in toy_task.structures])
        same = [np.sort(np.float16(y[train][element[train] == element[i]])) for i in test]
        expected = [0.5 * t.astype(np.float64).mean() + 0.5 * t[(len(t) - 1) // 2] for t in same]
        np.testing.assert_allclose(fold["predictions"], expected, rtol=1e-3)
        np.testing.assert_allclose(fold["std"], 0.0, atol=1e-6)
        assert fold["parameters"]["n_estimators"] == 4 and fold["parameters"]["seed"] == k
    # The cell records the forest settings with their defaults, so a changed default cannot mix folds.
    settings = json.loads((tmp_path / "toy_tc" / "CompositionForestTc" / "settings.json").read_text())
    assert settings["train_config"]["median_weight"] == 0.5 and settings["train_config"]["n_estimators"] == 4
    assert run_cell(toy_task, "CompositionForestTc", tmp_path, train_config={"n_estimators": 4, "median_weight": 0.5})
    with pytest.raises(ValueError, match="other settings"):
        run_cell(toy_task, "CompositionForestTc", tmp_path, train_config={"n_estimators": 4, "median_weight": 0.0})
    with pytest.raises(ValueError, match="toy_tc is not a known task: use CompositionForestTc"):
        run_cell(toy_task, "CompositionForestTc+formulas", tmp_path, command="test")
    assert not runs_on("CompositionForestTc+formulas", "3dsc_mp_tc_formula")
    assert runs_on("CompositionForestTc+formulas", "supercon3d_tc_O") and runs_on("RF-c", "3dsc_mp_tc_formula")


@pytest.mark.slow
def test_forest_cell_with_formulas_leaves_out_the_test_compounds(data_root, tmp_path):
    # A toy SuperCon3D-like task (same name, so the formula table's ln Tc is its target): its test compounds are
    # elemental V and Nb. Formula rows within 0.02 (atom-fraction L1) of them must stay out of the trees: for an
    # element that is every row holding more than 99% of it (the distance is twice the rest); V0.9Ti0.1 stays.
    from matgl_supercon.data import extra_training_records

    toy = make_toy_task()
    task = TcTask("supercon3d_tc", toy.ids, toy.structures, np.log(1 + toy.targets), toy.splits, "ln_tc", "ln K")
    run_cell(
        task,
        "CompositionForestTc+formulas",
        tmp_path,
        folds=[0],
        train_config={"n_estimators": 2},
        command="test",
        data_dir=data_root,
    )
    fold = json.loads((tmp_path / "supercon3d_tc" / "CompositionForestTc+formulas" / "fold_0.json").read_text())
    compositions = [r.structure.composition for r in extra_training_records("formulas_new_systems", [], data_root)]
    same = sum(max(c.get_atomic_fraction("V"), c.get_atomic_fraction("Nb")) > 0.99 for c in compositions)
    doped = sum(0.5 < c.get_atomic_fraction("V") <= 0.99 for c in compositions)
    assert same > 0 and doped > 0 and fold["parameters"]["formula_rows"] == len(compositions) - same
    assert fold["parameters"]["training_rows"] == fold["parameters"]["formula_rows"] + 8


def test_partial_cell_compares_on_its_own_folds(toy_task, tmp_path):
    complete = run_cell(toy_task, "RF-c", tmp_path, command="test")
    partial = run_cell(make_toy_task(), "median", tmp_path, folds=[1], command="test")
    assert not partial["complete"] and partial["folds_done"] == [1]
    rf_fold_1 = json.loads((tmp_path / "toy_tc" / "RF-c" / "fold_1.json").read_text())["predictions"]
    truth = toy_task.targets[toy_task.train_val_test_positions(1)[2]]
    assert partial["same_folds"] == {"RF-c": pytest.approx(float(np.mean(np.abs(np.array(rf_fold_1) - truth))))}
    assert partial["same_folds"]["RF-c"] != pytest.approx(complete["mae_mean"])  # fold 1 alone differs from all


def test_real_task_splits(data_root, supercon3d):
    board = load_task("jarvis_tc_leaderboard", data_root)
    train, val, test = board.train_val_test_positions(0)
    assert (len(train), len(val), len(test)) == (556, 30, 30)
    task = load_task("supercon3d_tc", data_root)
    expected = paper_folds([r.id for r in supercon3d])
    assert len(task.folds) == 10
    for k in (0, 9):
        assert task.test_ids(k) == [supercon3d[i].id for i in expected[k][2]]
    assert set(task.groups["disorder"]) == {"ordered", "SD", "PD", "SPD", "vacancy"}


def test_sodnet_cells_and_paper_script_share_folds(data_root, supercon3d, benchmark_script):
    # run_tasks.sh lets the supercon3d_tc(_O, _OSD) SODNet cells reuse the models of benchmarks/supercon3d_sodnet.py;
    # that is only sound while both see the same training, validation and test ids in every fold.
    script = benchmark_script("supercon3d_sodnet")
    converter = SODNet().make_converter(allow_overlaps=True)  # SuperCon3D as published
    disorder = [DISORDER_TYPES[int(converter.get_graph(r.structure)[0].disorder)] for r in supercon3d]
    ids = [r.id for r in supercon3d]
    for task_name, regime in (("supercon3d_tc", "all"), ("supercon3d_tc_O", "O"), ("supercon3d_tc_OSD", "O+SD")):
        task = load_task(task_name, data_root)
        members = script.regime_members(regime, disorder)
        folds = paper_folds([ids[i] for i in members])
        for k in task.folds:
            train, val = inner_validation_split(task, k)
            test = task.train_val_test_positions(k)[2]
            for ours, theirs in zip((train, val, test), folds[k], strict=True):
                assert sorted(task.ids[i] for i in ours) == sorted(ids[members[i]] for i in theirs)


def test_cell_records_a_command_that_pastes_back_into_a_shell(tmp_path, monkeypatch):
    argv = ["mgl-supercon", "benchmark", "toy_tc", "--model", "median", "--train", '{"ema_decay": 0.0}']
    monkeypatch.setattr(sys, "argv", argv)
    summary = run_cell(make_toy_task(), "median", tmp_path, folds=[0])
    assert shlex.split(summary["command"]) == argv


def test_forest_reader_cell_reads_a_forest_beside_other_compounds_and_saves_a_loadable_fold(tmp_path, monkeypatch):
    # A toy SuperCon3D-like task (its test compounds are elemental V and Nb) and a small formula table: rows within
    # 0.02 of V or Nb stay away from every forest that does not grow on those structures (here: all of them).
    from matgl_supercon.benchmarks import _runner
    from matgl_supercon.data import SuperconRecord
    from matgl_supercon.models import CompositionForestTc
    from matgl_supercon.pretrained import load_model

    table = {"V": 5.4, "Nb0.995Zr0.005": 9.0, "V0.9Ti0.1": 6.0, "Nb3Sn": 18.0, "MgB2": 39.0, "NbTi": 9.5}
    rows = [SuperconRecord(f, virtual_crystal(f), tc, {}) for f, tc in table.items()]
    monkeypatch.setattr(_runner._Inputs, "formula_records", lambda self: rows)
    toy = make_toy_task()
    task = TcTask("supercon3d_tc", toy.ids, toy.structures, np.log(1 + toy.targets), toy.splits, "ln_tc", "ln K")
    tiny = {k: v for k, v in TINY.items() if k != "element_types"} | {"cutoff": 5.0}  # cells up to 4.1 A wide
    settings = {"model_kwargs": tiny, "train_config": {"max_epochs": 1, "batch_size": 4}, "command": "test"}
    run_cell(task, "SODNet+forest+formulas", tmp_path / "out", folds=[1], runs_dir=tmp_path / "runs", **settings)
    fold = json.loads((tmp_path / "out" / "supercon3d_tc" / "SODNet+forest+formulas" / "fold_1.json").read_text())
    run = tmp_path / "runs" / "supercon3d_tc" / "SODNet+forest+formulas" / "fold_1"
    train, _ = inner_validation_split(task, 1)
    forest = CompositionForestTc.load(run / "forest")
    assert len(forest.leaf_targets) == forest.n_trees * (len(train) + 4)  # V and Nb0.995Zr0.005 left out
    assert json.loads((run / "forest_state.json").read_text())["data"]["forest_state"]["state_seed"] == 1
    test = [task.structures[i] for i in task.train_val_test_positions(1)[2]]
    assert load_model(run).predict_ln_tc(test)[0].tolist() == pytest.approx(fold["predictions"], abs=1e-6)
    assert fold["parameters"]["model_kwargs"]["state_dim"] == 1 and "forest_test_mae" in fold["parameters"]
    with pytest.raises(ValueError, match="SuperCon3D tasks only"):
        run_cell(make_toy_task(), "SODNet+forest+formulas", tmp_path / "other", folds=[0], **settings)

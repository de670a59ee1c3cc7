from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from matgl_supercon.graph import virtual_crystal
from matgl_supercon.models import CompositionForestTc, SODNet
from matgl_supercon.models._tc_model import composition_statistics_width
from matgl_supercon.training import (
    INNER_SPLITS,
    CompositionForestConfig,
    Subset,
    TcLightningModule,
    TrainConfig,
    fit_forest_reading_sodnet,
    fit_tc_model,
    graph_dataset,
    out_of_fold_forest_state,
    predict_dataset,
    records_dataset,
    warmup_cosine,
)
from tests.models.test_sodnet import TINY


def eight_and_four(supercon3d, **model_kwargs):
    """A tiny SODNet's arguments, ln Tc, and 8 training / 4 validation graphs of small SuperCon3D structures."""
    records = [r for r in supercon3d if len(r.structure) <= 10][:12]
    elements = tuple(sorted({el.symbol for r in records for el in r.structure.composition}))
    kwargs = dict(TINY, element_types=elements, **model_kwargs)
    ln_tc = np.log([r.tc for r in records])
    dataset = graph_dataset([r.structure for r in records], ln_tc, SODNet(**kwargs).make_converter())
    return kwargs, ln_tc, Subset(dataset, list(range(8))), Subset(dataset, list(range(8, 12)))


def test_warmup_cosine():
    assert warmup_cosine(0, 5, 100, 0.01) == pytest.approx(0.2)
    assert warmup_cosine(4, 5, 100, 0.01) == pytest.approx(1.0)
    assert warmup_cosine(100, 5, 100, 0.01) == pytest.approx(0.01)
    assert warmup_cosine(52, 5, 100, 0.0) == pytest.approx(0.5, abs=0.02)


def test_a_dataset_names_the_structure_it_cannot_convert(supercon3d, mgb2):
    # MatGL's dataset converts in a loop that does not say which structure failed; ours does.
    listed_twice = mgb2.copy()
    listed_twice.append("Mg", [0, 0, 0])  # Mg2B2, named by its reduced formula
    model = SODNet(**dict(TINY, element_types=("B", "H", "Hf", "Mg")))
    converter = model.make_converter()
    with pytest.raises(ValueError, match=r"^structure 1 \(MgB\): site 0 \(Mg at .*\) and site 3 .*listed twice"):
        graph_dataset([mgb2, listed_twice], [1.0, 2.0], converter)
    hafnium = next(r for r in supercon3d if r.id == "Hf1H10")  # one of load_supercon3d's five such CIFs
    with pytest.raises(ValueError, match=r"^record Hf1H10: site 0 \(Hf at .*0\.005 A apart"):
        records_dataset([hafnium], converter)
    assert len(records_dataset([hafnium], model.make_converter(allow_overlaps=True))) == 1
    with pytest.raises(ValueError, match="1 names for 2 structures"):
        graph_dataset([mgb2, mgb2], [1.0, 2.0], converter, names=["MgB2"])


def test_fit_resumes_after_interruption(supercon3d, tmp_path):
    kwargs, ln_tc, train, val = eight_and_four(supercon3d)
    config = TrainConfig(max_epochs=2, batch_size=4, warmup_epochs=1, seed=3)
    with warnings.catch_warnings():
        # Our own run.json in the run folder is no reason for Lightning's "folder is not empty" warning.
        warnings.filterwarnings("error", message="Checkpoint directory")
        model, summary = fit_tc_model(train, val, tmp_path, kwargs, config)
    assert (tmp_path / "last.ckpt").exists() and (tmp_path / "model" / "model.json").exists()
    rows = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [0, 1]
    assert {row["device"] for row in rows} == {"cpu"}  # where each epoch ran, for the timing tables
    assert all(p.device.type == "cpu" for p in model.parameters())  # returned on the CPU
    # A finished run is not repeated.
    again, _ = fit_tc_model(train, val, tmp_path, kwargs, config)
    assert np.allclose(predict_dataset(again, val), predict_dataset(model, val))
    # Simulate a run stopped after epoch 1 of 4: the final model is absent, the checkpoints remain.
    shutil.rmtree(tmp_path / "model")
    (tmp_path / "history.json").unlink()
    # The interrupted run's folder is moved before it is resumed: the best score so far must come along.
    moved = tmp_path.parent / f"{tmp_path.name}_moved"
    tmp_path.rename(moved)
    longer = TrainConfig(max_epochs=4, batch_size=4, warmup_epochs=1, seed=3)
    _, summary = fit_tc_model(train, val, moved, kwargs, longer)
    rows = [json.loads(line) for line in (moved / "progress.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [0, 1, 2, 3]
    assert summary["best_val_mae"] == pytest.approx(min(row["val_mae"] for row in rows), rel=1e-6)
    assert sorted(path.name for path in moved.glob("*.ckpt")) == ["best.ckpt", "last.ckpt"]


def test_fit_creates_a_run_folder_behind_a_link(supercon3d, tmp_path):
    kwargs, ln_tc, train, val = eight_and_four(supercon3d)
    (tmp_path / "runs").symlink_to(tmp_path / "scratch" / "runs")  # its target is not made yet
    fit_tc_model(train, val, tmp_path / "runs" / "fold_0", kwargs, TrainConfig(max_epochs=1, batch_size=4))
    assert (tmp_path / "scratch" / "runs" / "fold_0" / "model" / "model.json").exists()


def test_weight_average_is_validated_and_returned(supercon3d, tmp_path):
    kwargs, ln_tc, train, val = eight_and_four(supercon3d, readout_dropout=0.1)
    config = TrainConfig(max_epochs=2, batch_size=4, warmup_epochs=1, seed=3, ema_decay=0.5)
    model, summary = fit_tc_model(train, val, tmp_path, kwargs, config)
    pred = predict_dataset(model, val)
    # The logged best validation MAE is that of the returned (averaged) weights.
    assert np.mean(np.abs(pred - ln_tc[8:])) == pytest.approx(summary["best_val_mae"], rel=1e-4)
    # The raw weights in the checkpoint differ from the average.
    state = torch.load(tmp_path / "best.ckpt", weights_only=True)["state_dict"]
    raw = {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
    assert any(not torch.equal(v, model.state_dict()[k]) for k, v in raw.items() if v.is_floating_point())
    assert type(SODNet.load(tmp_path / "model")) is SODNet
    with pytest.raises(ValueError, match="ema_decay"):
        fit_tc_model(train, val, tmp_path / "bad", kwargs, TrainConfig(ema_decay=1.0))


def test_position_noise_is_seeded_and_survives_a_resume(supercon3d, tmp_path):
    kwargs, ln_tc, train, val = eight_and_four(supercon3d)
    clean = TrainConfig(max_epochs=2, batch_size=4, warmup_epochs=1, seed=3, ema_decay=0.0)
    noisy = replace(clean, position_noise=0.05)
    predictions = {
        name: predict_dataset(fit_tc_model(train, val, tmp_path / name, kwargs, config)[0], val)
        for name, config in [("clean", clean), ("noisy", noisy), ("noisy_again", noisy)]
    }
    assert not np.allclose(predictions["noisy"], predictions["clean"], atol=1e-5)
    np.testing.assert_array_equal(predictions["noisy"], predictions["noisy_again"])
    # The generator's state travels in the checkpoint, so a resumed run continues the noise sequence.
    checkpoint = torch.load(tmp_path / "noisy" / "last.ckpt", weights_only=True)
    module = TcLightningModule(SODNet(**kwargs), noisy)
    fresh = torch.randn(3, generator=module.noise_generator)
    module.on_load_checkpoint(checkpoint)
    resumed = torch.randn(3, generator=module.noise_generator)
    assert not torch.equal(resumed, fresh)  # 2 epochs of draws moved it on
    module.on_load_checkpoint(checkpoint)
    assert torch.equal(torch.randn(3, generator=module.noise_generator), resumed)
    with pytest.raises(ValueError, match="position_noise"):
        TcLightningModule(SODNet(**kwargs), replace(clean, position_noise=-0.1))


def test_fine_tuning_starts_from_the_given_model(supercon3d, tmp_path):
    kwargs, ln_tc, train, val = eight_and_four(supercon3d)
    torch.manual_seed(7)
    start = SODNet(**kwargs)
    start.set_target_scaling(5.0, 2.0)  # a pre-training set's scaling, far from these 8 structures'
    # With a vanishing learning rate the fine-tuned model is its starting point, scaling included.
    still = TrainConfig(max_epochs=1, batch_size=4, warmup_epochs=1, lr=1e-12, min_lr=1.0)
    model, _ = fit_tc_model(train, val, tmp_path / "still", kwargs, still, init_from=start)
    assert float(model.target_mean) == 5.0 and float(model.target_std) == 2.0
    assert np.allclose(predict_dataset(model, val), predict_dataset(start, val), atol=1e-5)
    moved, _ = fit_tc_model(
        train,
        val,
        tmp_path / "moved",
        kwargs,
        TrainConfig(max_epochs=2, batch_size=4, warmup_epochs=1),
        init_from=start,
    )
    assert not np.allclose(predict_dataset(moved, val), predict_dataset(start, val), atol=1e-3)
    with pytest.raises(ValueError, match="init_from does not fit SODNet"):
        fit_tc_model(train, val, tmp_path / "bad", dict(kwargs, n_blocks=1), still, init_from=start)


def test_states_reach_the_model_and_set_its_scaling(supercon3d, tmp_path):
    records = [r for r in supercon3d if len(r.structure) <= 10][:12]
    kwargs, ln_tc, _, _ = eight_and_four(supercon3d, state_dim=2)
    state = np.column_stack([np.arange(12.0), np.log([r.tc for r in records])])  # the second column is the label
    dataset = graph_dataset([r.structure for r in records], ln_tc, SODNet(**kwargs).make_converter(), state)
    train, val = Subset(dataset, list(range(8))), Subset(dataset, list(range(8, 12)))
    # No weight average: 60 steps would leave a 0.995 average mostly at the initial weights.
    config = TrainConfig(max_epochs=30, batch_size=4, warmup_epochs=1, lr=0.01, seed=0, ema_decay=0.0)
    model, summary = fit_tc_model(train, val, tmp_path, kwargs, config)
    assert model.state_mean.tolist() == pytest.approx(state[:8].mean(axis=0).tolist(), rel=1e-5)
    assert model.state_std.tolist() == pytest.approx(state[:8].std(axis=0).tolist(), rel=1e-5)
    pred = predict_dataset(model, val)
    structures = [r.structure for r in records[8:]]
    assert model.predict_ln_tc(structures, state_attr=state[8:]).numpy() == pytest.approx(pred, abs=1e-5)
    # Told the answer through its state, the model fits the training set far better than the spread of ln Tc.
    assert np.abs(predict_dataset(model, train) - ln_tc[:8]).mean() < 0.5 * ln_tc[:8].std()
    broken = state.copy()
    broken[3, 1] = np.inf
    converter = SODNet(**kwargs).make_converter()
    with pytest.raises(ValueError, match="row 3 has non-finite"):
        graph_dataset([r.structure for r in records], ln_tc, converter, broken)
    with pytest.raises(ValueError, match="a row per structure"):
        graph_dataset([r.structure for r in records], ln_tc, converter, state[:5])


def test_trainer_standardises_the_periodic_composition_encoding(supercon3d, tmp_path):
    kwargs, ln_tc, train, val = eight_and_four(supercon3d, composition_encoding="periodic")
    config = TrainConfig(max_epochs=1, batch_size=4, warmup_epochs=1, seed=3)
    model, _ = fit_tc_model(train, val, tmp_path, kwargs, config)
    stats = model.graph_composition_statistics([train[i][0] for i in range(len(train))])
    assert torch.allclose(model.composition_encoder.shift, stats.mean(0), atol=1e-6)


def test_trainer_stores_the_training_set_as_the_retrieval_memory(supercon3d, tmp_path):
    kwargs, ln_tc, train, val = eight_and_four(supercon3d, retrieval_neighbors=4)
    config = TrainConfig(max_epochs=1, batch_size=4, warmup_epochs=1, seed=3)
    model, _ = fit_tc_model(train, val, tmp_path, kwargs, config)
    memory = model.retrieval
    assert memory.memory_statistics.shape[0] == 8
    assert torch.allclose(memory.memory_labels * model.target_std + model.target_mean, torch.tensor(ln_tc[:8]).float())
    # The saved best model holds the memory; a second call reuses the finished run.
    again, _ = fit_tc_model(train, val, tmp_path, kwargs, config)
    assert torch.equal(again.retrieval.memory_statistics, memory.memory_statistics)
    # Fine-tuning on 4 other structures: they become the memory, the encoding keeps its scaling.
    tuned, _ = fit_tc_model(val, train, tmp_path / "tuned", kwargs, config, init_from=model)
    assert tuned.retrieval.memory_statistics.shape[0] == 4
    assert torch.equal(tuned.retrieval.periodic.shift, memory.periodic.shift)


def test_trainer_adds_a_memory_set_to_the_retrieval_memory_without_training_on_it(supercon3d, tmp_path):
    kwargs, ln_tc, train, val = eight_and_four(supercon3d, retrieval_neighbors=4)
    config = TrainConfig(max_epochs=1, batch_size=4, warmup_epochs=1, seed=3)
    # Formula-only records as one-site virtual crystals, as the benchmark's --memory-data reads them.
    formulas = [r.structure.composition for r in supercon3d if len(r.structure) <= 10][:12][8:]
    extra_ln_tc = np.array([1.0, 2.0, 3.0, 4.0])
    converter = SODNet(**kwargs).make_converter(allow_isolated=True)
    memory_set = graph_dataset([virtual_crystal(c) for c in formulas], extra_ln_tc, converter)
    model, history = fit_tc_model(train, val, tmp_path, kwargs, config, memory_set=memory_set)
    memory = model.retrieval
    assert memory.memory_statistics.shape[0] == 12
    labels = memory.memory_labels * model.target_std + model.target_mean
    assert torch.allclose(labels, torch.tensor(np.concatenate([ln_tc[:8], extra_ln_tc])).float(), atol=1e-5)
    # The memory-set rows are hidden from training structures of their own chemical system; the training rows not.
    assert memory.memory_cross_system_only.tolist() == [False] * 8 + [True] * 4
    # The target scaling and the batches are the training set's alone.
    assert model.target_mean.item() == pytest.approx(float(ln_tc[:8].mean()), rel=1e-5)
    assert history["epochs_run"] == 1
    with pytest.raises(ValueError, match="memory_set and memory_rows need a retrieval model"):
        fit_tc_model(train, val, tmp_path / "plain", dict(kwargs, retrieval_neighbors=0), config, memory_set=memory_set)


def test_trainer_keeps_training_rows_out_of_the_memory_when_told(supercon3d, tmp_path):
    # E.g. teacher-labelled doped copies: trained on, never read as neighbours.
    kwargs, ln_tc, train, val = eight_and_four(supercon3d, retrieval_neighbors=4)
    config = TrainConfig(max_epochs=1, batch_size=4, warmup_epochs=1, seed=3)
    model, _ = fit_tc_model(train, val, tmp_path, kwargs, config, memory_rows=[0, 2, 3, 5, 7])
    memory = model.retrieval
    labels = memory.memory_labels * model.target_std + model.target_mean
    assert torch.allclose(labels, torch.tensor(ln_tc[[0, 2, 3, 5, 7]]).float(), atol=1e-5)
    # The target scaling is still the whole training set's.
    assert model.target_mean.item() == pytest.approx(float(ln_tc[:8].mean()), rel=1e-5)
    assert json.loads((tmp_path / "run.json").read_text())["data"] == {"memory_rows": 5}
    # The same folder is not reused for another memory.
    with pytest.raises(ValueError, match=r"data\.memory_rows: the folder has 5, this run asks for None"):
        fit_tc_model(train, val, tmp_path, kwargs, config)
    with pytest.raises(ValueError, match=r"memory_rows must be positions in the training set \(0\.\.7\)"):
        fit_tc_model(train, val, tmp_path / "bad", kwargs, config, memory_rows=[0, 8])
    # With a memory set (the distillation benchmark's formula-memory student): the kept rows, then the set's.
    extra = Subset(val.dataset, [9, 10])
    model, _ = fit_tc_model(train, val, tmp_path / "both", kwargs, config, memory_set=extra, memory_rows=[1, 4])
    labels = model.retrieval.memory_labels * model.target_std + model.target_mean
    assert torch.allclose(labels, torch.tensor(ln_tc[[1, 4, 9, 10]]).float(), atol=1e-5)
    assert model.retrieval.memory_cross_system_only.tolist() == [False, False, True, True]


def test_a_run_folder_keeps_one_configuration(supercon3d, tmp_path):
    kwargs, ln_tc, train, val = eight_and_four(supercon3d)
    config = TrainConfig(max_epochs=1, batch_size=4, warmup_epochs=1, seed=3)
    fit_tc_model(train, val, tmp_path, kwargs, config)
    recorded = json.loads((tmp_path / "run.json").read_text())
    assert recorded["model"]["n_blocks"] == TINY["n_blocks"] and recorded["training"]["max_epochs"] == 1
    # Another architecture, or other settings, in the same folder would reuse (or resume) the wrong model.
    with pytest.raises(ValueError, match=r"model\.n_blocks: the folder has 2, this run asks for 1"):
        fit_tc_model(train, val, tmp_path, dict(kwargs, n_blocks=1), config)
    with pytest.raises(ValueError, match=r"training\.ema_decay"):
        fit_tc_model(train, val, tmp_path, kwargs, replace(config, ema_decay=0.9))
    with pytest.raises(ValueError, match=r"training\.max_epochs"):  # a finished run is not stretched silently
        fit_tc_model(train, val, tmp_path, kwargs, replace(config, max_epochs=3))
    # Nor is it reused for other training data (recorded as data: here none beyond the sets).
    assert recorded["data"] == {}
    with pytest.raises(ValueError, match=r"data\.teacher: the folder has None, this run asks for 'forest'"):
        fit_tc_model(train, val, tmp_path, kwargs, config, data={"teacher": "forest"})
    # A folder written before run.json existed is checked against its saved model and history.
    (tmp_path / "run.json").unlink()
    with pytest.raises(ValueError, match=r"model\.n_blocks"):
        fit_tc_model(train, val, tmp_path, dict(kwargs, n_blocks=1), config)


@pytest.mark.parametrize("strategy", ["ddp", "ddp_spawn"])
def test_two_process_ddp_run_logs_and_writes_once(supercon3d, tmp_path, strategy):
    """Lightning's DDP strategies on two CPU processes (gloo): one run folder, every process the same model."""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))}
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    records = [r for r in supercon3d if len(r.structure) <= 10][:24]
    records_json = tmp_path / "records.json"
    records_json.write_text(json.dumps([{"structure": r.structure.as_dict(), "tc": r.tc} for r in records]))
    out, results_dir = tmp_path / "run", tmp_path / "results"
    results_dir.mkdir()
    script = repo / "tests/models/ddp_fit.py"
    done = subprocess.run(
        [sys.executable, str(script), str(records_json), str(out), strategy, str(results_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(path.read_text()) for path in sorted(results_dir.glob("rank*.json"))]
    # ddp: each process returns from the training call; ddp_spawn: the launching process alone does.
    assert sorted(r["rank"] for r in results) == ([0, 1] if strategy == "ddp" else [0])
    rows = [json.loads(line) for line in (out / "progress.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [0, 1, 2]  # one row per epoch, not one per process
    history = json.loads((out / "history.json").read_text())
    assert history["epochs_run"] == 3
    # The validation MAE is the whole validation set's (synced), so the processes agree on the best epoch.
    assert history["best_val_mae"] == pytest.approx(min(row["val_mae"] for row in rows), rel=1e-6)
    for result in results:
        assert result["best_val_mae"] == pytest.approx(history["best_val_mae"], rel=1e-6)
        assert result["epochs_run"] == 3
    assert np.allclose(results[0]["val_predictions"], results[-1]["val_predictions"], atol=1e-6)
    assert sorted(path.name for path in out.iterdir()) == [
        "best.ckpt",
        "history.json",
        "last.ckpt",
        "model",
        "progress.jsonl",
        "run.json",
    ]
    # The saved model is the one returned.
    saved = SODNet.load(out / "model")
    val = graph_dataset([r.structure for r in records[16:]], np.zeros(8), saved.make_converter())
    assert np.allclose(predict_dataset(saved, val), results[0]["val_predictions"], atol=1e-6)


def test_forest_state_comes_from_forests_that_never_saw_the_structure(monkeypatch):
    from matgl_supercon.training import _forest_state

    generator = torch.Generator().manual_seed(0)
    width = composition_statistics_width(CompositionForestTc().descriptors.shape[1])
    statistics = torch.rand(50, width, generator=generator, dtype=torch.float64).numpy()
    statistics[:, 0] = np.arange(50)  # each row names itself, so a forest's training rows can be read back
    extra = np.column_stack([100 + np.arange(6), np.zeros((6, width - 1))]), np.zeros(6)
    grown, asked = [], []
    fit = _forest_state.fit_composition_forest

    def recording_fit(train, model_kwargs, config, extra):
        grown.append((set(train[0][:, 0].astype(int).tolist()), set(extra[0][:, 0].astype(int).tolist())))
        return fit(train, model_kwargs, config, extra=extra)

    def extra_rows(unseen):
        asked.append(set(np.asarray(unseen).tolist()))
        return [len(asked) % 6]  # one row each, which the forest must then grow beside

    monkeypatch.setattr(_forest_state, "fit_composition_forest", recording_fit)
    train, held_out = np.arange(5, 45), np.arange(45, 50)
    config = CompositionForestConfig(n_estimators=3)
    state, forest = out_of_fold_forest_state(
        statistics, statistics[:, 1], train, held_out, extra, extra_rows, None, config
    )
    assert len(grown) == len(asked) == 1 + INNER_SPLITS
    assert grown[0][0] == set(train.tolist()) and asked[0] == set(held_out.tolist())
    predicted_by_parts = []
    for (rows, _), unseen in zip(grown[1:], asked[1:], strict=True):
        part = unseen - set(held_out.tolist())
        assert not rows & part and rows | part == set(train.tolist())  # a part is read by the forest of the others
        assert set(held_out.tolist()) <= unseen  # its extra rows keep away from the held-out structures too
        predicted_by_parts += sorted(part)
    assert sorted(predicted_by_parts) == train.tolist()  # each training structure once
    assert [beside for _, beside in grown] == [{100 + (i + 1) % 6} for i in range(len(grown))]
    assert np.isnan(state[:5]).all() and np.isfinite(state[5:]).all() and (state[5:, 1] >= 0).all()
    ln_tc, sd = forest.predict_statistics_and_trees(torch.as_tensor(statistics[held_out]))
    assert state[held_out, 0].tolist() == pytest.approx(ln_tc.tolist())  # the training block's forest
    assert state[held_out, 1].tolist() == pytest.approx(sd.var(-1).sqrt().tolist())
    again, _ = out_of_fold_forest_state(statistics, statistics[:, 1], train, held_out, extra, extra_rows, None, config)
    assert np.array_equal(state, again, equal_nan=True)  # the cut into parts is seeded
    with pytest.raises(ValueError, match=r"share structures \[45\]"):
        out_of_fold_forest_state(statistics, statistics[:, 1], np.arange(46), held_out)
    with pytest.raises(ValueError, match=r"held_out: need distinct indices in \[0, 50\)"):
        out_of_fold_forest_state(statistics, statistics[:, 1], train, [49, 50])
    with pytest.raises(ValueError, match="inner_splits: need 2 to len"):
        out_of_fold_forest_state(statistics, statistics[:, 1], train[:3], held_out)


def test_forest_reading_sodnet_is_saved_with_its_forest_and_resumes_without_regrowing(
    supercon3d, tmp_path, monkeypatch
):
    from matgl_supercon.pretrained import load_model
    from matgl_supercon.training import _forest_state

    records = [r for r in supercon3d if len(r.structure) <= 10][:14]
    kwargs = dict(TINY, element_types=tuple(sorted({el.symbol for r in records for el in r.structure.composition})))
    structures, ln_tc = [r.structure for r in records], np.log([r.tc for r in records])
    config = TrainConfig(max_epochs=2, batch_size=4, warmup_epochs=1, seed=0)
    settings = {"model_kwargs": kwargs, "config": config, "forest_config": CompositionForestConfig(n_estimators=3)}
    blocks = (range(8), [8, 9], tmp_path / "run", [10, 11, 12, 13])
    ensemble, summary = fit_forest_reading_sodnet(structures, ln_tc, *blocks, **settings)
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if (p / "model.json").exists()) == ["forest", "model"]
    test = structures[10:]
    mean, sd = ensemble.predict_ln_tc(test)
    assert np.abs(mean.numpy() - ln_tc[10:]).mean() == pytest.approx(summary["test_mae"], abs=1e-5)
    assert sd.tolist() == [0.0] * 4  # one network: no spread
    loaded = load_model(tmp_path / "run")  # as `mgl-supercon predict --model run` reads it
    assert loaded.predict_ln_tc(test)[0].tolist() == pytest.approx(mean.tolist(), abs=1e-6)
    # What the network reads is the saved forest's prediction.
    forest_ln_tc = ensemble.members().__next__().predict_ln_tc(test)
    network = SODNet.load(tmp_path / "run" / "model")
    assert network.predict_ln_tc(test, state_attr=forest_ln_tc[:, None].numpy()).tolist() == pytest.approx(
        mean.tolist(), abs=1e-5
    )
    # A second call reads the kept state instead of growing the forests again, and returns the same model.
    monkeypatch.setattr(_forest_state, "out_of_fold_forest_state", lambda *a, **k: pytest.fail("forests regrown"))
    again, _ = fit_forest_reading_sodnet(structures, ln_tc, *blocks, **settings)
    assert again.predict_ln_tc(test)[0].tolist() == pytest.approx(mean.tolist(), abs=1e-6)
    other = {**settings, "forest_config": CompositionForestConfig(n_estimators=4)}
    with pytest.raises(ValueError, match=r"forest_state\.json holds another run's state \(data\.forest_state"):
        fit_forest_reading_sodnet(structures, ln_tc, *blocks, **other)
    with pytest.raises(ValueError, match="holds another run's state"):  # another split of the same sizes
        fit_forest_reading_sodnet(structures, ln_tc, [*range(7), 8], [7, 9], *blocks[2:], **settings)
    with pytest.raises(ValueError, match="reads one state column"):
        fit_forest_reading_sodnet(
            structures, ln_tc, *blocks, **{**settings, "model_kwargs": {**kwargs, "state_dim": 2}}
        )
    with pytest.raises(ValueError, match=r"\['cutoff'\] are the SODNet's graph settings"):
        fit_forest_reading_sodnet(structures, ln_tc, *blocks, **settings, forest_kwargs={"cutoff": 5.0})

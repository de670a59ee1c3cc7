"""``fit_tc_model``: a resumable, seeded Lightning fit of SODNet or MEGNet into a run folder."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import lightning as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping

from matgl_supercon._io import make_folder, write_json_atomic
from matgl_supercon.models.megnet import MEGNetTc
from matgl_supercon.models.sodnet import SODNet
from matgl_supercon.training._datasets import LABEL, make_loader
from matgl_supercon.training._lightning import (
    EpochLog,
    FolderCheckpoint,
    TcLightningModule,
    TrainConfig,
    save_model_atomic,
    training_seconds,
)
from matgl_supercon.training._run_folder import check_run_folder, run_configuration


def fit_tc_model(
    train_set,
    val_set,
    out_dir: str | Path,
    model_kwargs: dict | None = None,
    config: TrainConfig | None = None,
    trainer_kwargs: dict | None = None,
    model_class: type[SODNet] | type[MEGNetTc] = SODNet,
    init_from: SODNet | MEGNetTc | None = None,
    memory_set=None,
    data: dict | None = None,
    memory_rows: Sequence[int] | None = None,
) -> tuple[SODNet | MEGNetTc, dict]:
    """Train a Tc model (SODNet by default), resuming from ``out_dir/last.ckpt`` after an interruption.

    Args:
        train_set: Dataset (e.g. a ``Subset`` of :func:`graph_dataset`) with the ``ln_tc`` label.
        val_set: Validation dataset; its MAE picks the best checkpoint and drives early stopping.
        out_dir: Folder for checkpoints, ``model/`` (the best model in MatGL format) and ``history.json``.
        model_kwargs: Arguments of ``model_class``.
        config: Optimisation settings.
        trainer_kwargs: Passed to ``lightning.Trainer`` (``accelerator``, ``devices``, ``strategy``,
            ``num_nodes``, ...), so the same call trains with DDP on several GPUs or nodes (``out_dir`` then on a
            filesystem all of them share). Each process returns the model; only global rank 0 writes files.
            Under DDP, Lightning's distributed sampler shards and orders the batches (its own seed, not
            ``config.seed``) and repeats up to ``devices - 1`` validation structures to even out the shards.
        model_class: :class:`SODNet` or the :class:`MEGNetTc` baseline (anything with ``set_target_scaling``).
        init_from: A trained model of the same architecture to fine-tune: training starts from its weights and
            keeps its target scaling (the network's outputs are calibrated to it) instead of the training set's.
        memory_set: Labelled structures (a dataset like ``train_set``) stored in a retrieval model's memory after
            the training set and not trained on: e.g. formula-only records of chemical systems absent from the
            test structures, which the model then reads as neighbours. Needs ``retrieval_neighbors > 0``. A training
            structure does not read the memory-set rows of its own chemical system, as a test structure (whose
            systems the memory set leaves out) cannot: otherwise it learns to copy its doping series' labels.
        data: What the training set holds that the model and settings do not say, as JSON (e.g. the teacher and
            number of doped copies of ``mgl-supercon train --teacher``): recorded in ``run.json`` beside them, so
            that a run is not resumed on other data.
        memory_rows: Positions in ``train_set`` of the structures a retrieval model stores in its memory (default:
            all of them). Training rows left out are trained on but never read as neighbours: e.g. the doped copies
            of ``mgl-supercon train --teacher``, whose teacher labels a training structure would otherwise read off
            its own copies, which no test structure has. How many rows the memory keeps is recorded in ``run.json``.

    Returns:
        The best-validation model (eval mode) and a summary dict.

    Raises:
        ValueError: If ``out_dir`` holds a run (finished or not) of another model configuration or other settings.
    """
    config = config or TrainConfig()
    if memory_rows is not None:
        memory_rows = [int(i) for i in memory_rows]
        if not memory_rows or min(memory_rows) < 0 or max(memory_rows) >= len(train_set):
            raise ValueError(f"memory_rows must be positions in the training set (0..{len(train_set) - 1})")
        data = {**(data or {}), "memory_rows": len(memory_rows)}
    out_dir = make_folder(out_dir)
    final = out_dir / "model"
    requested = {**run_configuration(model_class, model_kwargs, config), "data": json.loads(json.dumps(data or {}))}
    check_run_folder(out_dir, requested)
    if final.exists() and (out_dir / "history.json").exists():
        history = json.loads((out_dir / "history.json").read_text())
        return model_class.load(final).eval(), {**history, "train_seconds": training_seconds(out_dir)}

    # One pass over the training set: its labels, states and graphs all come from these items.
    samples = [train_set[i] for i in range(len(train_set))]
    labels = np.array([sample[-1][LABEL] for sample in samples])
    graphs = [sample[0] for sample in samples]
    memory_graphs, memory_labels, read_only = graphs, labels, None
    if memory_rows is not None:
        memory_graphs, memory_labels = [graphs[i] for i in memory_rows], labels[memory_rows]
    if memory_set is not None:
        extra = [memory_set[i] for i in range(len(memory_set))]
        read_only = [False] * len(memory_graphs) + [True] * len(extra)
        memory_graphs = memory_graphs + [sample[0] for sample in extra]
        memory_labels = np.concatenate([memory_labels, [sample[-1][LABEL] for sample in extra]])
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        model = model_class(**(model_kwargs or {}))
        if (memory_set is not None or memory_rows is not None) and getattr(model, "retrieval", None) is None:
            raise ValueError("memory_set and memory_rows need a retrieval model (model_kwargs retrieval_neighbors > 0)")
        if init_from is None:
            model.set_target_scaling(float(labels.mean()), float(labels.std()))
            if getattr(model, "state_dim", 0):
                states = np.stack([np.asarray(sample[2], dtype=float) for sample in samples])
                if states.ndim != 2 or states.shape[1] != model.state_dim:
                    raise ValueError(
                        f"the model reads states of width {model.state_dim}; the training set's have shape "
                        f"{states.shape[1:]} (build it with graph_dataset(..., state_attr=...))"
                    )
                model.set_state_scaling(states.mean(axis=0), np.maximum(states.std(axis=0), 1e-6))
            if getattr(model, "composition_encoder", None) is not None:
                model.set_composition_scaling(graphs)
            if getattr(model, "retrieval", None) is not None:
                model.set_retrieval_memory(memory_graphs, memory_labels, cross_system_only=read_only)
        else:
            retrieval = getattr(model, "retrieval", None)
            try:
                if retrieval is not None and getattr(init_from, "retrieval", None) is not None:
                    # The memory buffers take the starting model's size so that its state loads.
                    retrieval.set_memory(init_from.retrieval.memory_statistics, init_from.retrieval.memory_labels)
                model.load_state_dict(init_from.state_dict())
            except RuntimeError as error:
                raise ValueError(f"init_from does not fit {model_class.__name__}(**{model_kwargs}): {error}") from None
            if retrieval is not None:
                # The fine-tuning set becomes the memory; the encoding keeps the scaling the network learnt with.
                model.set_retrieval_memory(memory_graphs, memory_labels, rescale=False, cross_system_only=read_only)
        module = TcLightningModule(model, config)
        checkpoint = FolderCheckpoint(dirpath=out_dir, filename="best", monitor="val_mae", mode="min", save_top_k=1)
        # A second checkpoint rewritten after every epoch, so an interrupted run loses at most one epoch.
        latest = FolderCheckpoint(
            dirpath=out_dir, filename="last", monitor=None, save_top_k=1, enable_version_counter=False
        )
        stopper = EarlyStopping(monitor="val_mae", mode="min", patience=config.patience)
        kwargs = {
            "max_epochs": config.max_epochs,
            "accelerator": "cpu",
            "devices": 1,
            "logger": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "callbacks": [checkpoint, latest, stopper, EpochLog(out_dir / "progress.jsonl")],
            "deterministic": True,
        }
        kwargs.update(trainer_kwargs or {})
        if kwargs["deterministic"] and kwargs["accelerator"] not in ("cpu", None):
            # Deterministic cuBLAS needs a fixed workspace, set before its first use.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        trainer = pl.Trainer(**kwargs)
        last = out_dir / "last.ckpt"
        with warnings.catch_warnings():
            # The run folder holds run.json and progress.jsonl beside the checkpoints by design; Lightning's
            # warning about a non-empty checkpoint folder would otherwise open every training log.
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
            trainer.fit(
                module,
                make_loader(train_set, config.batch_size, shuffle=True, seed=config.seed),
                make_loader(val_set, config.batch_size, shuffle=False),
                ckpt_path=str(last) if last.exists() else None,
                weights_only=True,
            )
    state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
    module.load_state_dict(state)
    model = module.evaluated_model.cpu().eval()  # saved and returned on the CPU, wherever it trained
    # The best score and the epoch count come from the last checkpoint, not the trainer: a spawning strategy
    # (ddp_spawn, ddp_notebook) trains in child processes and hands neither back to this one.
    latest_state = torch.load(last, map_location="cpu", weights_only=True)
    summary = {
        "best_val_mae": float(latest_state["callbacks"][checkpoint.state_key]["best_model_score"]),
        "epochs_run": int(latest_state["epoch"]) + 1,
        "config": asdict(config),
        "model_kwargs": model_kwargs or {},
        "train_seconds": training_seconds(out_dir),
    }
    if trainer.is_global_zero:  # every DDP process returns the model; one writes it
        save_model_atomic(model, final, metadata=summary)
        write_json_atomic(out_dir / "history.json", summary)
    return model, summary

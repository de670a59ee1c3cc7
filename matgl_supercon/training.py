"""Lightning glue shared by the Tc models: datasets of graphs, the training module, and a resumable fit."""

from __future__ import annotations

import inspect
import json
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import lightning as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from matgl.graph.data import MGLDataset, collate_fn_graph
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import ConcatDataset, DataLoader, Subset

from matgl_supercon._io import default_permissions, make_folder, replace_folder, write_json_atomic
from matgl_supercon.graph import describe_structure
from matgl_supercon.models.composition import CompositionTc
from matgl_supercon.models.forest import CompositionForestTc
from matgl_supercon.models.megnet import MEGNetTc
from matgl_supercon.models.sodnet import SODNet, attach_positions

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from matgl_supercon.graph import OccupancyStructure2Graph

LABEL = "ln_tc"


class _NamingConverter:
    """Converts as ``converter`` does, and names the structure in a conversion error (MatGL's dataset does not)."""

    def __init__(
        self, converter: OccupancyStructure2Graph, structures: list[Structure], names: Sequence[str] | None
    ) -> None:
        self.converter = converter
        self.position = {id(s): i for i, s in enumerate(structures)}
        self.names = names

    def get_graph(self, structure: Structure):
        try:
            return self.converter.get_graph(structure)
        except ValueError as error:
            i = self.position[id(structure)]
            name = self.names[i] if self.names else describe_structure(structure, i)
            raise ValueError(f"{name}: {error}") from error


def graph_dataset(
    structures: Sequence[Structure],
    ln_tc: Sequence[float],
    converter: OccupancyStructure2Graph,
    state_attr: np.ndarray | None = None,
    names: Sequence[str] | None = None,
) -> MGLDataset:
    """Convert structures once into a MatGL dataset with the ``ln_tc`` label (no disk cache).

    Args:
        structures: Crystals, ordered or disordered.
        ln_tc: ln(Tc / K) of each.
        converter: Graph converter (``SODNet.make_converter()``).
        state_attr: ``[n, d]`` state vectors for a model with ``state_dim=d`` (e.g. ``chgnet_features``); they
            replace the converter's placeholder state and reach the model as MatGL's ``state_attr``.
        names: How a conversion error names each structure (default ``structure <position> (<formula>)``).

    Raises:
        ValueError: Naming the structure, for one the converter refuses; if ``state_attr`` has the wrong number of
            rows or a non-finite row (named).
    """
    structures = list(structures)
    if names is not None and len(names) != len(structures):
        raise ValueError(f"{len(names)} names for {len(structures)} structures")
    dataset = MGLDataset(
        structures=structures,
        converter=_NamingConverter(converter, structures, names),
        labels={LABEL: [float(v) for v in ln_tc]},
        save_cache=False,
        root=tempfile.gettempdir(),
    )
    if state_attr is not None:
        state = np.asarray(state_attr, dtype=np.float32)
        if state.ndim != 2 or len(state) != len(dataset):
            raise ValueError(f"state_attr has shape {state.shape}; expected ({len(dataset)}, d), a row per structure")
        bad = np.flatnonzero(~np.isfinite(state).all(axis=1))
        if bad.size:
            raise ValueError(f"state_attr row {int(bad[0])} has non-finite values")
        dataset.state_attr = torch.from_numpy(state)
    return dataset


def model_inputs(model: SODNet | MEGNetTc, state_attr: torch.Tensor) -> dict[str, torch.Tensor]:
    """The batch's ``state_attr`` as a keyword for a model that reads a state vector, else nothing."""
    return {"state_attr": state_attr} if getattr(model, "state_dim", 0) else {}


def make_loader(dataset, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
    """A DataLoader of MatGL graph batches; shuffling uses its own seeded generator."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=collate_fn_graph,
        generator=torch.Generator().manual_seed(seed) if shuffle else None,
        num_workers=0,
    )


@dataclass
class TrainConfig:
    """Optimisation settings. Defaults are the recipe of ``benchmarks/results/supercon3d_sodnet/README.md``.

    Alternatives measured on SuperCon3D are in ``benchmarks/results/sodnet_variants/README.md``. The weight average
    (``ema_decay=0.995``) is on by default since 2026-11-27, with SODNet's element descriptors in place of free
    element embeddings: together 0.661 ln K on all/all against 0.684 (10 folds). Stronger regularisation
    (``weight_decay=0.05`` with SODNet's ``readout_dropout=0.2``) reached 0.663 on all/all but not on ordered-only
    structures (0.790 against 0.784); ``batch_size=8, lr=1e-3`` gains a little (0.672) for twice the epoch time.
    """

    max_epochs: int = 40
    batch_size: int = 32
    lr: float = 2e-3
    min_lr: float = 1e-5
    weight_decay: float = 0.01
    warmup_epochs: int = 5
    patience: int = 40
    seed: int = 0
    #: Decay of an exponential moving average of the weights, updated after every optimiser step and used for
    #: validation, checkpoint selection and the returned model; 0 turns it off. It averages over roughly the last
    #: 1 / (1 - decay) steps (200 at 0.995), so a run of only a few hundred steps should turn it off.
    ema_decay: float = 0.995
    #: Standard deviation (Å) of Gaussian noise added to every Cartesian position in each training batch (a fresh
    #: draw per step; neighbour lists stay those of the clean crystal, validation and prediction see clean
    #: positions). A regulariser in the spirit of Noisy Nodes (Godwin et al., ICLR 2022): a crystal's Tc does not
    #: hang on a few hundredths of an Ångström. 0 turns it off: on SuperCon3D it did not help SODNet (0.1 Å, folds
    #: 0-1: 0.644 ln K against 0.646; ``benchmarks/results/sodnet_variants/README.md``).
    position_noise: float = 0.0


def warmup_cosine(epoch: int, warmup: int, total: int, floor: float) -> float:
    """Learning-rate factor: linear warm-up over ``warmup`` epochs, then cosine decay to ``floor``."""
    if epoch < warmup:
        return (epoch + 1) / warmup
    progress = min(1.0, (epoch - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class ExponentialAverage:
    """``AveragedModel``'s ``multi_avg_fn`` for a weight EMA: torch's ``get_ema_multi_avg_fn`` as a picklable class.

    Spawning DDP strategies (``ddp_spawn``, ``ddp_notebook``) pickle the Lightning module into their workers, and
    torch's version is a closure, which does not pickle.
    """

    def __init__(self, decay: float) -> None:
        self.decay = decay

    @torch.no_grad()
    def __call__(self, averaged: list[torch.Tensor], current: list[torch.Tensor], _n_averaged: torch.Tensor) -> None:
        # AveragedModel passes tensors grouped by device and dtype; the fused lerp takes floating point only.
        if torch.is_floating_point(averaged[0]) or torch.is_complex(averaged[0]):
            torch._foreach_lerp_(averaged, current, 1 - self.decay)
        else:
            for ema, value in zip(averaged, current, strict=True):
                ema.copy_(ema * self.decay + value * (1 - self.decay))


class TcLightningModule(pl.LightningModule):
    """L1 loss on standardised ln Tc, AdamW, warm-up + cosine schedule; logs ``val_mae`` in ln K."""

    def __init__(self, model: SODNet | MEGNetTc, config: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.config = config
        if not 0.0 <= config.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {config.ema_decay}")
        if not 0.0 <= config.position_noise < 1.0:
            raise ValueError(f"position_noise must be in [0, 1) Å, got {config.position_noise}")
        # Its own generator: the noise is a function of the seed, whatever else draws from torch's global one.
        self.noise_generator = torch.Generator().manual_seed(config.seed)
        # The average lives in the state dict, so checkpoints (and resumed runs) carry it.
        self.ema = (
            AveragedModel(model, multi_avg_fn=ExponentialAverage(config.ema_decay), use_buffers=True)
            if config.ema_decay > 0
            else None
        )
        if self.ema is not None:
            self.ema.requires_grad_(False)  # never in the loss; DDP would reject unused trainable parameters

    @property
    def evaluated_model(self) -> SODNet | MEGNetTc:
        """The weights that are validated and returned: the moving average when there is one."""
        return self.model if self.ema is None else self.ema.module

    def forward(self, g, lat, state_attr=None):
        """Ln Tc of a batch."""
        return self.model(g, lat=lat, **model_inputs(self.model, state_attr))

    def _step(self, batch, stage: str) -> torch.Tensor:
        g, lat, state_attr, labels = batch
        if lat.dim() == 2:
            lat = lat.unsqueeze(0)
        if stage == "train":
            if self.config.position_noise > 0:
                attach_positions(g, lat)
                noise = torch.randn(g.pos.shape, generator=self.noise_generator, dtype=g.pos.dtype)
                g.pos = g.pos + self.config.position_noise * noise.to(g.pos.device)
                lat = None  # the noisy positions are set: the model must not recompute them from the lattice
            pred = self(g, lat, state_attr)
        else:
            pred = self.evaluated_model(g, lat=lat, **model_inputs(self.evaluated_model, state_attr))
        mae = (pred - labels).abs().mean()
        # sync_dist: under DDP each process sees a shard, and the best checkpoint and early stopping must follow the
        # MAE of the whole validation set, the same in every process (no cost in a single process).
        self.log(
            f"{stage}_mae",
            mae,
            batch_size=labels.numel(),
            prog_bar=stage == "val",
            on_epoch=True,
            on_step=False,
            sync_dist=True,
        )
        return mae / self.model.target_std

    def training_step(self, batch, batch_idx):
        """L1 on standardised ln Tc."""
        return self._step(batch, "train")

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        """Update the moving average after each optimiser step."""
        if self.ema is not None:
            self.ema.update_parameters(self.model)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Keep the noise generator's state, so a resumed run draws the noise an uninterrupted one would."""
        checkpoint["position_noise_generator"] = self.noise_generator.get_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Restore the noise generator (checkpoints written before it existed have none)."""
        if "position_noise_generator" in checkpoint:
            self.noise_generator.set_state(checkpoint["position_noise_generator"])

    def validation_step(self, batch, batch_idx):
        """Validation MAE in ln K."""
        self._step(batch, "val")

    def configure_optimizers(self):
        """AdamW with per-epoch warm-up + cosine."""
        cfg = self.config
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        floor = cfg.min_lr / cfg.lr
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda e: warmup_cosine(e, cfg.warmup_epochs, cfg.max_epochs, floor)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "epoch"}}


def save_model_atomic(model: SODNet | MEGNetTc, path: str | Path, metadata: dict | None = None) -> None:
    """``model.save(path)`` through a temporary folder renamed into place, so a crash leaves no half model."""
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    tmp.chmod(default_permissions(0o777))
    try:
        model.save(tmp, metadata=metadata)
        replace_folder(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


class FolderCheckpoint(ModelCheckpoint):
    """A ``ModelCheckpoint`` whose best-so-far bookkeeping survives moving or renaming its run folder.

    Lightning restores the best score only when the checkpoint's recorded folder equals the current one; after a
    move it would forget it, save the next (possibly worse) epoch as ``best-v1.ckpt`` and return that model. The
    recorded paths of files in the old folder are mapped to the same names in the new one instead.
    """

    def load_state_dict(self, state_dict: dict) -> None:
        recorded = state_dict.get("dirpath")
        if recorded and self.dirpath and Path(recorded) != Path(self.dirpath):

            def moved(path: str | None) -> str | None:
                if not path or Path(path).parent != Path(recorded):
                    return path
                return str(Path(self.dirpath) / Path(path).name)

            state_dict = {
                **state_dict,
                "dirpath": self.dirpath,
                "best_model_path": moved(state_dict.get("best_model_path")),
                "kth_best_model_path": moved(state_dict.get("kth_best_model_path")),
                "last_model_path": moved(state_dict.get("last_model_path")),
                "best_k_models": {moved(k): v for k, v in (state_dict.get("best_k_models") or {}).items()},
            }
        super().load_state_dict(state_dict)


class EpochLog(pl.Callback):
    """Append ``{"epoch", "train_mae", "val_mae", "seconds", "device"}`` to ``progress.jsonl`` after every epoch.

    Only the global-rank-0 process writes, so a multi-process (DDP) run logs each epoch once.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._start = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        # Lightning runs validation before this hook, so both MAEs are this epoch's.
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        row = {
            "epoch": trainer.current_epoch,
            "train_mae": metrics.get("train_mae"),
            "val_mae": metrics.get("val_mae"),
            "seconds": time.perf_counter() - self._start,
            "device": pl_module.device.type,
        }
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")


def logged_epochs(out_dir: str | Path) -> list[dict]:
    """The rows of ``out_dir/progress.jsonl`` (one per epoch, across resumed runs), or none.

    Both trainers write it: :class:`EpochLog` here and :func:`matgl_supercon.generate.fit_generator`.
    """
    path = Path(out_dir) / "progress.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def training_seconds(out_dir: str | Path) -> float:
    """Wall seconds of all training epochs logged in ``out_dir/progress.jsonl``, across interruptions."""
    return float(sum(row["seconds"] for row in logged_epochs(out_dir)))


#: Constructor arguments that the trainer sets from the training data: not part of what a run was asked to train.
FITTED_ARGUMENTS = (
    "target_mean",
    "target_std",
    "state_mean",
    "state_std",
    "retrieval_memory_size",
    "tree_sizes",
    "max_depth",
    "kwargs",
)


def run_configuration(
    model_class: type[SODNet] | type[MEGNetTc], model_kwargs: dict | None, config: TrainConfig
) -> dict:
    """What a run trains, as JSON: the model's constructor arguments with its defaults filled in, and the settings.

    Defaults are resolved here, so a run recorded before a default changed still says what it trained.
    """
    parameters = inspect.signature(model_class.__init__).parameters
    model = {
        name: p.default
        for name, p in parameters.items()
        if p.default is not inspect.Parameter.empty and name not in FITTED_ARGUMENTS
    }
    model.update({k: v for k, v in (model_kwargs or {}).items() if k not in FITTED_ARGUMENTS})
    return json.loads(json.dumps({"model": model, "training": asdict(config)}))


def configuration_differences(
    stored: dict, requested: dict, ignore: Sequence[str] = ()
) -> list[tuple[str, object, object]]:
    """``(key, stored value, requested value)`` for every key, not in ``ignore``, that both set to different values.

    Only shared keys count: a configuration recorded before an argument existed says nothing about it.
    """
    return [
        (key, stored[key], requested[key])
        for key in sorted(set(stored) & set(requested))
        if key not in ignore and stored[key] != requested[key]
    ]


def data_differences(stored: dict, requested: dict) -> list[str]:
    """How a run's recorded training data differs from a request, key for key, as ``data.key: ...`` lines.

    A key on one side only is a difference (a run with a teacher is not a run without one).
    """
    return [
        f"data.{key}: the folder has {stored.get(key)!r}, this run asks for {requested.get(key)!r}"
        for key in sorted(set(stored) | set(requested))
        if stored.get(key) != requested.get(key)
    ]


def check_run_folder(out_dir: Path, requested: dict) -> None:
    """Refuse to resume or reuse a run folder that holds another configuration; record the configuration otherwise.

    A folder is checked against its ``run.json`` or, for runs recorded before that file existed, against the
    saved model's arguments and ``history.json``'s settings (keys present on both sides). An unfinished run may
    be resumed with another ``max_epochs`` or ``patience`` (to train on, or stop later); a finished one is reused
    only for exactly its settings. Where the folder recorded its ``data`` (:func:`fit_tc_model`), that must match
    too, key for key.

    Raises:
        ValueError: Naming the folder and every setting that differs.
    """
    record = out_dir / "run.json"
    if record.exists():
        stored = json.loads(record.read_text())
    else:
        stored = {"model": {}, "training": {}}
        if (out_dir / "model" / "model.json").exists():
            stored["model"] = json.loads((out_dir / "model" / "model.json").read_text()).get("kwargs", {})
        if (out_dir / "history.json").exists():
            stored["training"] = json.loads((out_dir / "history.json").read_text()).get("config", {})
    finished = (out_dir / "model").exists() and (out_dir / "history.json").exists()
    free = FITTED_ARGUMENTS if finished else (*FITTED_ARGUMENTS, "max_epochs", "patience")
    differences = [
        f"{section}.{key}: the folder has {old!r}, this run asks for {new!r}"
        for section in ("model", "training")
        for key, old, new in configuration_differences(stored.get(section, {}), requested[section], free)
    ]
    if "data" in stored:  # recorded since data existed
        differences += data_differences(stored["data"], requested.get("data", {}))
    if differences:
        raise ValueError(
            f"{out_dir} holds a run of another configuration ({'; '.join(differences)}); "
            "train into another folder or delete this one"
        )
    if not record.exists() and rank_zero_only.rank == 0:  # one writer when DDP runs this in every process
        write_json_atomic(record, requested)


def records_dataset(records: Sequence, converter: OccupancyStructure2Graph) -> MGLDataset:
    """:func:`graph_dataset` of records with ``structure`` and ``tc``, ln Tc labelled; an error names the record."""
    names = [f"record {r.id}" for r in records]
    return graph_dataset([r.structure for r in records], np.log([r.tc for r in records]), converter, names=names)


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
    least two rows, about 300,000 nodes (3 MB) per forest of 30 trees on SuperCon3D plus the formula table.
    """

    kind: Literal["extra_trees", "random_forest"] = "extra_trees"
    n_estimators: int = 30
    min_samples_leaf: int = 2
    #: Fraction of the statistics tried at each split.
    max_features: float = 0.5
    seed: int = 0
    #: Processes that grow trees (the fitted trees do not depend on it).
    n_jobs: int = 1


def fit_composition_forest(
    train: tuple[np.ndarray, np.ndarray],
    model_kwargs: dict | None = None,
    config: CompositionForestConfig | None = None,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
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

    Returns:
        The model (eval mode) and a summary (``nodes``, ``training_rows``, ``seconds``).
    """
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

    config = config or CompositionForestConfig()
    forests = {"extra_trees": ExtraTreesRegressor, "random_forest": RandomForestRegressor}
    if config.kind not in forests:
        raise ValueError(f"kind must be one of {sorted(forests)}, got {config.kind!r}")
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
        min_samples_leaf=config.min_samples_leaf,
        max_features=config.max_features,
        random_state=config.seed,
        n_jobs=config.n_jobs,
    ).fit(x, y)
    model = CompositionForestTc.from_estimator(forest, **(model_kwargs or {}))
    summary = {"nodes": len(model.feature), "training_rows": len(y), "seconds": time.perf_counter() - started}
    return model, summary


@torch.no_grad()
def predict_dataset(model: SODNet | MEGNetTc, dataset, batch_size: int = 64) -> np.ndarray:
    """Predictions of the model's target (ln Tc for SODNet) for a graph dataset, in order."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for g, lat, state_attr, _ in make_loader(dataset, batch_size, shuffle=False):
        if lat.dim() == 2:
            lat = lat.unsqueeze(0)
        out.append(model(g.to(device), lat=lat.to(device), **model_inputs(model, state_attr.to(device))).cpu())
    return torch.cat(out).numpy()


__all__ = [
    "LABEL",
    "CompositionForestConfig",
    "CompositionTrainConfig",
    "ConcatDataset",
    "Subset",
    "TcLightningModule",
    "TrainConfig",
    "fit_composition_forest",
    "fit_composition_tc",
    "fit_tc_model",
    "graph_dataset",
    "make_loader",
    "model_inputs",
    "predict_dataset",
    "records_dataset",
    "save_model_atomic",
    "warmup_cosine",
    "write_json_atomic",
]

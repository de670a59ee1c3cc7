"""The Lightning side of training a Tc network: settings, schedule, weight average, module, checkpoints, logs."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import lightning as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.optim.swa_utils import AveragedModel

from matgl_supercon._io import default_permissions, replace_folder
from matgl_supercon.models.megnet import MEGNetTc
from matgl_supercon.models.sodnet import SODNet, attach_positions
from matgl_supercon.training._datasets import model_inputs


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

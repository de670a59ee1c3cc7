"""Train DiffCSP-SC with a plain, resumable loop (one process; a checkpoint after every epoch)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import torch

from matgl_supercon._io import make_folder, write_bytes_atomic
from matgl_supercon.generate.crystal import CrystalBatch
from matgl_supercon.generate.diffcsp_sc import DiffCSPSC


def _save_checkpoint(path: Path, model: DiffCSPSC, optimizer, epoch: int, generator: torch.Generator) -> None:
    buffer = io.BytesIO()
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epoch": epoch,
            "generator": generator.get_state(),
        },
        buffer,
    )
    write_bytes_atomic(path, buffer.getvalue())


def fit_generator(
    model: DiffCSPSC,
    crystals: CrystalBatch,
    out_dir: str | Path,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    log_every: int = 1,
) -> list[dict]:
    """Train on ``crystals``; resumes from ``out_dir/last.pt`` (loaded with ``weights_only=True``).

    Args:
        model: The generator (its normalisation buffers already set).
        crystals: All training crystals.
        out_dir: Checkpoint and ``progress.jsonl`` folder.
        epochs: Total epochs (a resumed run continues up to this number).
        batch_size: Crystals per step.
        lr: Adam learning rate.
        seed: Seed of shuffling, times and noise.
        log_every: Epochs between lines in ``progress.jsonl``.

    Returns:
        The progress rows of this call.
    """
    out_dir = make_folder(out_dir)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    start_epoch = 0
    last = out_dir / "last.pt"
    if last.exists():
        state = torch.load(last, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        start_epoch = int(state["epoch"]) + 1
    rows = []
    model.train()
    for epoch in range(start_epoch, epochs):
        started = time.perf_counter()
        order = torch.randperm(crystals.num_crystals, generator=generator)
        totals: dict[str, float] = {}
        n_batches = 0
        for i in range(0, len(order), batch_size):
            losses = model.loss(crystals.subset(order[i : i + batch_size].tolist()), generator)
            optimizer.zero_grad()
            losses["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            for k, v in losses.items():
                totals[k] = totals.get(k, 0.0) + float(v.detach())
            n_batches += 1
        _save_checkpoint(last, model, optimizer, epoch, generator)
        if (epoch + 1) % log_every == 0 or epoch + 1 == epochs:
            row = {
                "epoch": epoch,
                "seconds": time.perf_counter() - started,
                **{k: v / n_batches for k, v in totals.items()},
            }
            rows.append(row)
            with (out_dir / "progress.jsonl").open("a") as handle:
                handle.write(json.dumps(row) + "\n")
    model.eval()
    return rows

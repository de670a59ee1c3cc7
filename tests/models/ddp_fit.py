"""Train a tiny SODNet with a two-process CPU strategy; run by ``test_training.py`` (DDP re-executes this file).

Usage: ``python tests/models/ddp_fit.py RECORDS_JSON OUT_DIR STRATEGY RESULTS_DIR``, where the JSON holds 24 records
as ``{"structure": Structure.as_dict(), "tc": K}`` (16 train, 8 validation). Each process that returns from training
writes ``RESULTS_DIR/rank{N}.json``: a file per process, because two processes printing to one pipe can interleave
their lines.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from pymatgen.core import Structure

from matgl_supercon.models import SODNet
from matgl_supercon.training import (
    Subset,
    TrainConfig,
    fit_tc_model,
    graph_dataset,
    predict_dataset,
    write_json_atomic,
)
from tests.models.test_sodnet import TINY


def main() -> None:
    records_json, out_dir, strategy, results_dir = sys.argv[1:5]
    # Spawned workers receive the dataset's tensors through shared memory; file-backed sharing works in containers
    # whose /dev/shm file descriptors cannot be resized.
    torch.multiprocessing.set_sharing_strategy("file_system")
    records = json.loads(Path(records_json).read_text())
    structures = [Structure.from_dict(r["structure"]) for r in records]
    elements = tuple(sorted({el.symbol for s in structures for el in s.composition}))
    kwargs = dict(TINY, element_types=elements)
    ln_tc = np.log([r["tc"] for r in records])
    dataset = graph_dataset(structures, ln_tc, SODNet(**kwargs).make_converter())
    train, val = Subset(dataset, list(range(16))), Subset(dataset, list(range(16, 24)))
    config = TrainConfig(max_epochs=3, batch_size=4, warmup_epochs=1, ema_decay=0.9)
    model, summary = fit_tc_model(
        train, val, out_dir, kwargs, config, {"accelerator": "cpu", "devices": 2, "strategy": strategy}
    )
    result = {
        "rank": int(os.environ.get("LOCAL_RANK", 0)),
        "best_val_mae": summary["best_val_mae"],
        "epochs_run": summary["epochs_run"],
        "val_predictions": predict_dataset(model, val).tolist(),
    }
    write_json_atomic(Path(results_dir) / f"rank{result['rank']}.json", result)


if __name__ == "__main__":  # spawning strategies import this file in their workers
    main()

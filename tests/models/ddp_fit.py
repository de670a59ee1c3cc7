"""Train a tiny SODNet with a two-process CPU strategy; run by ``test_training.py`` (DDP re-executes this file).

Usage: ``python tests/models/ddp_fit.py DATA_ROOT OUT_DIR STRATEGY``. Prints one ``RESULT {json}`` line per process.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch

from matgl_supercon.data import load_supercon3d
from matgl_supercon.models import SODNet
from matgl_supercon.training import Subset, TrainConfig, fit_tc_model, graph_dataset, predict_dataset
from tests.models.test_sodnet import TINY


def main() -> None:
    data_root, out_dir, strategy = sys.argv[1:4]
    # Spawned workers receive the dataset's tensors through shared memory; file-backed sharing works in containers
    # whose /dev/shm file descriptors cannot be resized.
    torch.multiprocessing.set_sharing_strategy("file_system")
    records = [r for r in load_supercon3d(data_root) if len(r.structure) <= 10][:24]
    elements = tuple(sorted({el.symbol for r in records for el in r.structure.composition}))
    kwargs = dict(TINY, element_types=elements)
    ln_tc = np.log([r.tc for r in records])
    dataset = graph_dataset([r.structure for r in records], ln_tc, SODNet(**kwargs).make_converter())
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
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":  # spawning strategies import this file in their workers
    main()

"""Train a small SODNet on one SuperCon3D fold for a few epochs (about a minute on 2 CPU cores).

Run from the repository root:  MATGL_SUPERCON_DATA=../shared/data python examples/train.py
For the full recipe use `mgl-supercon train --fold 0 --out runs/fold0` or benchmarks/supercon3d_sodnet.py.
"""

from __future__ import annotations

import numpy as np

from matgl_supercon.data import load_supercon3d, paper_folds
from matgl_supercon.models import SODNet
from matgl_supercon.training import Subset, TrainConfig, fit_tc_model, graph_dataset, predict_dataset

records = load_supercon3d()
ln_tc = np.log([r.tc for r in records])
model_kwargs = {"irreps_node": "16x0e+4x1o+4x2e", "irreps_ffn": "32x0e+4x1o+4x2e", "n_blocks": 1, "max_neighbors": 12}
# SuperCon3D as published: 5 of its CIFs hold overlapping atoms, which the converter refuses unless told.
converter = SODNet(**model_kwargs).make_converter(allow_overlaps=True)
dataset = graph_dataset([r.structure for r in records], ln_tc, converter)
train, val, test = paper_folds([r.id for r in records])[0]
model, summary = fit_tc_model(
    Subset(dataset, train.tolist()),
    Subset(dataset, val.tolist()),
    "runs/example_fold0",
    model_kwargs,
    TrainConfig(max_epochs=3, batch_size=64, ema_decay=0.0),  # 60 steps: too few for the default weight average
)
pred = predict_dataset(model, Subset(dataset, test.tolist()))
print(f"after {summary['epochs_run']} epochs: test MAE {np.abs(pred - ln_tc[test]).mean():.3f} ln K")

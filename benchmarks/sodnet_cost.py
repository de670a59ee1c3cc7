"""SODNet cost on SuperCon3D: parameters, inference structures/s at batch 16, training s/epoch and peak memory.

Usage:
    python benchmarks/sodnet_cost.py --data ../shared/data [--model '{"n_blocks": 3}'] [--threads 2]

Inference is timed on all 1,578 structures (graphs built beforehand; forward passes only), training on
two epochs of fold 0's training block at batch 32. The shipped ``SODNet-SuperCon3D`` ensemble is timed the
same way (load time, then every member on every structure), and so are its composition members alone
(``load_model(..., members="composition")``). ``shipped_first_prediction`` times what ``mgl-supercon predict one.cif``
waits for once the package is imported: loading the ensemble, then its first prediction of one structure (which
encodes the retrieval members' memories). Peak memory is the process's maximum resident set
size, measured in a fresh subprocess for each phase. The ``*_e3nn_codegen`` phases repeat inference and training
with e3nn's generated code in place of SODNet's split-input linear maps and tensor products (the parent classes'
``forward``; the same weights and outputs), the code SODNet ran until 2026-11-28. Writes
``benchmarks/results/sodnet_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from _report import provenance

OUT = Path(__file__).parent / "results" / "sodnet_cost.json"
PHASES = (
    "inference",
    "training",
    "shipped_ensemble",
    "shipped_composition_members",
    "shipped_first_prediction",
    "inference_e3nn_codegen",
    "training_e3nn_codegen",
)


def use_e3nn_codegen() -> None:
    """Run SODNet's linear maps and tensor products through e3nn's own generated code (their parents' forward)."""
    import torch
    from e3nn import o3

    from matgl_supercon.models._attention import DepthwiseTensorProduct
    from matgl_supercon.models._equivariant import SplitLinear

    def linear_blocks(self, blocks):
        return o3.Linear.forward(self, blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=-1))

    SplitLinear.optimize_e3nn_code = DepthwiseTensorProduct.optimize_e3nn_code = True  # e3nn's default
    SplitLinear.forward = o3.Linear.forward
    SplitLinear.forward_blocks = linear_blocks
    DepthwiseTensorProduct.forward = o3.TensorProduct.forward
    DepthwiseTensorProduct.forward_blocks = lambda self, x, y, weight: [o3.TensorProduct.forward(self, x, y, weight)]


def phase(name: str, data: str | None, model_json: str, threads: int) -> dict:
    import numpy as np
    import torch

    from matgl_supercon.data import load_supercon3d, paper_folds
    from matgl_supercon.models import SODNet
    from matgl_supercon.training import Subset, TrainConfig, fit_tc_model, graph_dataset, make_loader

    torch.set_num_threads(threads)
    if name.endswith("_e3nn_codegen"):
        use_e3nn_codegen()
        name = name.removesuffix("_e3nn_codegen")
    records = load_supercon3d(data)
    ln_tc = np.log([r.tc for r in records])
    if name.startswith("shipped_"):
        from matgl_supercon.pretrained import COMPOSITION_MEMBERS, load_model

        members = COMPOSITION_MEMBERS if name == "shipped_composition_members" else "all"
        start = time.perf_counter()
        ensemble = load_model("SODNet-SuperCon3D", members=members)
        load_seconds = time.perf_counter() - start
        if name == "shipped_first_prediction":
            start = time.perf_counter()
            ensemble.predict_ln_tc([records[0].structure])
            return {
                "members": len(ensemble),
                "load_seconds": load_seconds,
                "first_prediction_seconds": time.perf_counter() - start,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        graphs = ensemble.graphs([r.structure for r in records], allow_overlaps=True)  # SuperCon3D as published
        start = time.perf_counter()
        ensemble.predict_graphs(graphs, batch_size=16)
        seconds = time.perf_counter() - start
        return {
            "members": len(ensemble),
            "load_seconds": load_seconds,
            "structures": len(graphs),
            "seconds": seconds,
            "structures_per_s": len(graphs) / seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    torch.manual_seed(0)
    model = SODNet(**json.loads(model_json))
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dataset = graph_dataset([r.structure for r in records], ln_tc, model.make_converter(allow_overlaps=True))
    result = {"n_parameters": model.num_parameters, "rss_before_mb": base_rss}
    if name == "inference":
        model.eval()
        start = time.perf_counter()
        with torch.no_grad():
            for g, lat, _, _ in make_loader(dataset, 16, shuffle=False):
                model(g, lat=lat if lat.dim() == 3 else lat.unsqueeze(0))
        seconds = time.perf_counter() - start
        result |= {"structures": len(dataset), "seconds": seconds, "structures_per_s": len(dataset) / seconds}
    else:
        train, val, _ = paper_folds([r.id for r in records])[0]
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            fit_tc_model(
                Subset(dataset, train.tolist()),
                Subset(dataset, val.tolist()),
                tmp,
                json.loads(model_json),
                TrainConfig(max_epochs=2, batch_size=32),
            )
            seconds = time.perf_counter() - start
        result |= {"epochs": 2, "seconds_per_epoch": seconds / 2, "train_structures": len(train)}
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--model", default="{}", help="JSON of SODNet arguments (default: its defaults)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--phase", choices=PHASES, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.data, args.model, args.threads)))
        return
    results = {}
    for name in PHASES:
        cmd = [sys.executable, __file__, "--phase", name, "--model", args.model, "--threads", str(args.threads)]
        if args.data:
            cmd += ["--data", args.data]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    results["meta"] = provenance(
        f"python benchmarks/sodnet_cost.py --model '{args.model}' --threads {args.threads}", args.threads
    )
    OUT.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

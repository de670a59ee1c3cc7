"""Graph conversion speed on SuperCon3D: OccupancyStructure2Graph vs MatGL's Structure2Graph.

Usage:
    python benchmarks/graph_speed.py --data ../shared/data [--repeats 3] [--out benchmarks/results]

Times the conversion of already-parsed structures (CIF parsing is excluded and reported apart),
median of ``--repeats`` runs, and writes ``graph_speed.json`` and ``graph_speed.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from _report import provenance
from matgl.ext.pymatgen import Structure2Graph

from matgl_supercon.data import load_supercon3d
from matgl_supercon.graph import OccupancyStructure2Graph

# Quoted in the foundation issue: the public SODNet featurizer on 200 random SuperCon3D structures
# (8 A, K = 32) on this kind of machine. Not re-measured here.
SODNET_FEATURIZER_STRUCTURES_PER_S = 0.30


def time_converter(converter, structures, repeats: int) -> tuple[float, list]:
    times, graphs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        graphs = [converter.get_graph(s)[0] for s in structures]
        times.append(time.perf_counter() - start)
    return statistics.median(times), graphs


def sizes(graphs) -> dict:
    nodes = np.array([g.num_nodes for g in graphs])
    edges = np.array([g.edge_index.shape[1] for g in graphs])
    return {
        name: {"median": float(np.median(v)), "p95": float(np.percentile(v, 95)), "max": int(v.max())}
        for name, v in (("nodes", nodes), ("edges", edges))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="data root (default $MATGL_SUPERCON_DATA)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cutoff", type=float, default=8.0)
    parser.add_argument("--max-neighbors", type=int, default=32)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    torch.set_num_threads(1)

    start = time.perf_counter()
    records = load_supercon3d(args.data)
    parse_s = time.perf_counter() - start
    structures = [r.structure for r in records]
    ordered = [r.structure for r in records if r.structure.is_ordered]
    # SuperCon3D as published: 5 of its CIFs hold overlapping atoms (load_supercon3d's docstring).
    ours = OccupancyStructure2Graph(cutoff=args.cutoff, max_neighbors=args.max_neighbors, allow_overlaps=True)
    ours_all_k = OccupancyStructure2Graph(cutoff=args.cutoff, max_neighbors=None, allow_overlaps=True)
    matgl_conv = Structure2Graph(ours.element_types, cutoff=args.cutoff)

    t_all, graphs_all = time_converter(ours, structures, args.repeats)
    t_ord, graphs_ord = time_converter(ours, ordered, args.repeats)
    t_ord_full, _ = time_converter(ours_all_k, ordered, args.repeats)
    t_matgl, graphs_matgl = time_converter(matgl_conv, ordered, args.repeats)
    generator = torch.Generator().manual_seed(0)
    sample = [structures[i] for i in torch.randperm(len(structures), generator=generator)[:200].tolist()]
    t_sample, _ = time_converter(ours, sample, args.repeats)

    result = {
        **provenance(
            f"python benchmarks/graph_speed.py --repeats {args.repeats} --cutoff {args.cutoff} "
            f"--max-neighbors {args.max_neighbors}",
            1,
        ),
        "cutoff_A": args.cutoff,
        "max_neighbors": args.max_neighbors,
        "cif_parse_s_all": parse_s,
        "ours_all": {
            "n": len(structures),
            "seconds": t_all,
            "structures_per_s": len(structures) / t_all,
            **sizes(graphs_all),
        },
        "ours_ordered": {
            "n": len(ordered),
            "seconds": t_ord,
            "structures_per_s": len(ordered) / t_ord,
            **sizes(graphs_ord),
        },
        "ours_ordered_all_neighbors": {"seconds": t_ord_full, "structures_per_s": len(ordered) / t_ord_full},
        "matgl_structure2graph_ordered": {
            "seconds": t_matgl,
            "structures_per_s": len(ordered) / t_matgl,
            **sizes(graphs_matgl),
        },
        "cost_ratio_ours_vs_matgl_ordered": t_ord / t_matgl,
        "random200": {
            "seconds": t_sample,
            "structures_per_s": 200 / t_sample,
            "speedup_vs_quoted_sodnet_featurizer": (200 / t_sample) / SODNET_FEATURIZER_STRUCTURES_PER_S,
        },
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "graph_speed.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# Graph conversion speed (SuperCon3D)",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}  ",
        f"Date: {result['date']}",
        "",
        "| converter | structures | structures/s | edges/graph median / p95 / max |",
        "|---|---|---|---|",
    ]
    for label, key in (
        ("OccupancyStructure2Graph, all", "ours_all"),
        ("OccupancyStructure2Graph, ordered", "ours_ordered"),
        ("MatGL Structure2Graph, ordered (all neighbours)", "matgl_structure2graph_ordered"),
    ):
        r = result[key]
        e = r["edges"]
        lines.append(
            f"| {label} | {r.get('n', len(ordered))} | {r['structures_per_s']:.1f} | "
            f"{e['median']:.0f} / {e['p95']:.0f} / {e['max']} |"
        )
    lines += [
        "",
        f"Cost per ordered structure, ours / MatGL: {result['cost_ratio_ours_vs_matgl_ordered']:.2f} "
        f"(ours without the K cut: {len(ordered) / t_ord_full:.1f} structures/s).  ",
        f"200 random structures: {result['random200']['structures_per_s']:.1f} structures/s, "
        f"{result['random200']['speedup_vs_quoted_sodnet_featurizer']:.0f}x the 0.30 structures/s quoted for the "
        "public SODNet featurizer (quoted, not re-run).  ",
        f"Nodes/graph (all): median {result['ours_all']['nodes']['median']:.0f}, "
        f"p95 {result['ours_all']['nodes']['p95']:.0f}, max {result['ours_all']['nodes']['max']}.",
    ]
    (out / "graph_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Build ``benchmarks/README.md``: the SuperCon3D leaderboard generated from the committed results files.

Usage:
    python benchmarks/leaderboard.py

Rows come from the shipped ensemble's ``calibration.json`` (its held-out scores), from
``results/supercon3d_sodnet/supercon3d_sodnet.json`` (and the previous default's, under
``results/sodnet_variants/blocks2_composition/``), ``results/sodnet_distillation.json`` (the default taught by the
forest), ``results/supercon3d_baselines.json`` (and
``supercon3d_baselines_<extra set>.json``, the forest trained with extra data) and every
``results/tasks/<task>/<model>/summary.json`` written by ``mgl-supercon benchmark``; published numbers are
added as reference rows marked "quoted" (Chen et al., NeurIPS 2024, Table 1; the JARVIS-Leaderboard).
"""

from __future__ import annotations

import json
from pathlib import Path

from matgl_supercon.benchmarks import GNN_MODELS
from matgl_supercon.data import EXTRA_TRAINING_SETS

HERE = Path(__file__).parent
RESULTS = HERE / "results"

QUOTED = [  # (model, regime, MAE ln K, R2) from the SuperCon3D paper, Table 1
    ("SODNet (paper)", "all", 0.505, 0.748),
    ("SODNet (paper)", "O", 0.622, 0.595),
    ("SODNet (paper)", "O+SD", 0.518, 0.716),
    ("SODNet (paper)", "all->O", 0.584, 0.634),
    ("RF-c (paper)", "O", 0.738, 0.711),
    ("SVM-c (paper)", "O", 0.632, 0.801),
    ("RF-geo (paper)", "O", 0.741, 0.759),
    ("SVM-geo (paper)", "O", 0.578, 0.827),
    ("MEGNet (paper)", "O", 0.794, 0.497),
    ("MEGNet (paper)", "O+SD", 0.889, 0.431),
    ("ALIGNN (paper)", "O", 0.755, 0.479),
    ("Matformer (paper)", "O", 0.748, 0.570),
    ("CGCNN (paper)", "O", 0.879, 0.405),
    ("SchNet (paper)", "O", 0.891, 0.401),
]


QUOTED_TASKS = {  # task -> [(model, MAE)] as published, not re-run here
    "jarvis_tc_leaderboard": [
        ("AtomGPT (JARVIS-Leaderboard)", 1.519),
        ("CFID (JARVIS-Leaderboard)", 1.999),
        ("ALIGNN (JARVIS-Leaderboard)", 2.032),
        ("CGCNN (JARVIS-Leaderboard)", 2.574),
    ],
}


def ran_with_previous_defaults(cell: Path) -> bool:
    """Whether a GNN cell's folds trained without a weight average, as every GNN did before 2026-11-27."""
    folds = sorted(cell.glob("fold_*.json"))
    if cell.name not in GNN_MODELS or not folds:
        return False
    # Cells from before the weight average existed do not record it.
    return json.loads(folds[0].read_text())["parameters"].get("ema_decay", 0.0) == 0.0


def task_sections() -> list[str]:
    """One table per Matbench-style task, from the cells' ``summary.json`` files."""
    from matgl_supercon.benchmarks import MODELS, TASKS, runs_on

    lines: list[str] = []
    for task in TASKS:
        cells = sorted((RESULTS / "tasks" / task).glob("*/summary.json"))
        summaries = [json.loads(c.read_text()) for c in cells]
        if not summaries:
            continue
        unit = summaries[0]["unit"]
        lines += [
            "",
            f"### `{task}`: {TASKS[task].description}",
            "",
            f"| model | MAE ({unit}) | R2 | folds | CPU min | files | how it sees a disordered structure |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in sorted(summaries, key=lambda x: x["mae_mean"]):
            cell = f"results/tasks/{task}/{s['model']}"
            mark = " †" if ran_with_previous_defaults(RESULTS / "tasks" / task / s["model"]) else ""
            files = f"[summary]({cell}/summary.json)"
            if s["complete"]:
                files += f", [results.json.gz]({cell}/results.json.gz), [parity]({cell}/parity.png)"
            folds = f"{len(s['folds_done'])}" + ("" if s["complete"] else " (partial)")
            spread = f" ± {s['mae_sd']:.3f}" if len(s["folds_done"]) > 1 else ""  # one fold has no spread
            lines.append(
                f"| {s['model']}{mark} | {s['mae_mean']:.3f}{spread} | {s['r2_mean']:.3f} | {folds} | "
                f"{s['cpu_minutes']:.1f} | {files} | {s['disordered_input']} |"
            )
        done = {s["model"] for s in summaries}
        for model in (m for m in MODELS if m not in done and runs_on(m, task)):
            lines.append(f"| {model} | not run yet | | | | `mgl-supercon benchmark {task} --model {model}` | |")
        for model, value in QUOTED_TASKS.get(task, []):
            lines.append(f"| {model} | {value:.3f} | | | | quoted | |")
        for s in summaries:
            if s["complete"] or not s.get("same_folds"):
                continue
            others = ", ".join(f"{m} {v:.3f}" for m, v in sorted(s["same_folds"].items(), key=lambda item: item[1]))
            folds = f"fold{'s' * (len(s['folds_done']) > 1)} {', '.join(map(str, s['folds_done']))}"
            lines += [
                "",
                f"{s['model']} is partial ({folds}): on the same {folds} it scores {s['mae_mean']:.3f} {unit}, "
                f"the other models {others}.",
            ]
    return lines


#: SuperCon3D's families, in the order of the per-family table.
FAMILIES = ("cuprate", "iron-based", "heavy-Fermion", "h_based", "others")


def disordered_mae(by_disorder: dict[str, dict]) -> dict:
    """Count and MAE of every structure that is not ordered, from the MAE per disorder type."""
    groups = [g for name, g in by_disorder.items() if name != "ordered"]
    n = sum(g["n"] for g in groups)
    return {"n": n, "mae": sum(g["n"] * g["mae"] for g in groups) / n}


def family_section(card: Path) -> list[str]:
    """SuperCon3D all/all per family and order: the shipped ensemble and every complete ``supercon3d_tc`` cell.

    A model should beat the Magpie forest (RF-c) on every family, not only on the mean; the pooled test folds of
    each row are the same 1,578 structures.
    """
    rows = []
    calibration = card / "calibration.json"
    if calibration.exists():
        c = json.loads(calibration.read_text())
        groups = {**c["by_family"], **c["by_order"]}
        rows.append(("SODNet-SuperCon3D, the shipped ensemble", c["held_out_mae"], groups))
    for path in sorted((RESULTS / "tasks" / "supercon3d_tc").glob("*/summary.json")):
        s = json.loads(path.read_text())
        if not s["complete"]:
            continue
        families, by_disorder = s["by_group"]["family"], s["by_group"]["disorder"]
        groups = {**families, "ordered": by_disorder["ordered"], "disordered": disordered_mae(by_disorder)}
        pooled = sum(g["n"] * g["mae"] for g in families.values()) / sum(g["n"] for g in families.values())
        rows.append((f"{s['model']} (`supercon3d_tc` cell)", pooled, groups))
    if not rows:
        return []
    columns = (*FAMILIES, "ordered", "disordered")
    counts = " | ".join(f"{name} ({rows[0][2][name]['n']})" for name in columns)
    lines = [
        "",
        "## SuperCon3D all/all by family and order (MAE ln K over the 10 pooled test folds)",
        "",
        "The shipped ensemble's held-out predictions (each structure scored by the members that did not train on it)",
        "and the `supercon3d_tc` cells above, on the same 1,578 structures; the best of each column in bold.",
        "",
        f"| model | all | {counts} |",
        "|---|---|" + "---|" * len(columns),
    ]
    best = {name: min(r[2][name]["mae"] for r in rows) for name in columns}
    best_all = min(r[1] for r in rows)

    def cell(value: float, lowest: float) -> str:
        return f"**{value:.3f}**" if value == lowest else f"{value:.3f}"

    for label, pooled, groups in sorted(rows, key=lambda r: r[1]):
        values = " | ".join(cell(groups[name]["mae"], best[name]) for name in columns)
        lines.append(f"| {label} | {cell(pooled, best_all)} | {values} |")
    return lines


#: The legend of the † mark, printed when a cell carries it.
PREVIOUS_DEFAULTS_NOTE = (
    " † marks GNN cells that ran with the defaults until\n"
    "2026-11-27: training without a weight average (`--train '{\"ema_decay\": 0.0}'` repeats them) and, for\n"
    "SODNet, a free per-element embedding (`--model-args '{\"learned_element_embedding\": true}'`), the\n"
    "configuration of the `SODNet, default until 2026-11-27` rows above. Unmarked SODNet cells score today's\n"
    "default."
)


def table_row(label: str, regime: str, summary: dict, source: str) -> tuple:
    """One row of the paper-protocol table from a fold summary (``mae_mean``, ``mae_sd``, ``r2_mean``, ...)."""
    keys = ("mae_mean", "mae_sd", "r2_mean", "r2_sd", "n_folds")
    return (label, regime, *(summary[k] for k in keys), source)


def baseline_label(stem: str, model: str) -> str | None:
    """The leaderboard label of ``model``'s rows in ``results/<stem>.json`` (``supercon3d_baselines.py``), or None
    for a file that is not a Table-1 cell (another table, or a run with ``--extra-scope fold``)."""
    extra = stem.removeprefix("supercon3d_baselines").removeprefix("_")
    # --extra-scope compound: every row of the set's whole table 0.02 or more from the fold's held-out compounds.
    per_compound = extra.endswith("_per_compound")
    extra = extra.removesuffix("_per_compound")
    if extra and extra not in EXTRA_TRAINING_SETS:
        return None
    if per_compound:
        return f"{model} + {extra.removesuffix('_new_systems')}, all but the held-out compounds (ours)"
    return f"{model} + {extra} (ours)" if extra else f"{model} (ours)"


def r2_convention_note() -> list[str]:
    """A paragraph on the scale of the quoted R2 values, from ``results/r2_conventions.json`` (none without it)."""
    path = RESULTS / "r2_conventions.json"
    if not path.exists():
        return []
    rows = {(r["model"], r["regime"]): r for r in json.loads(path.read_text())["rows"]}
    matched = [rows[(m, "O")] for m in ("RF-c", "RF-geo") if (m, "O") in rows and rows[(m, "O")]["paper"]]
    if not matched:
        return []
    pairs = "; ".join(
        f"{r['model']} O: MAE {r['mae']:.3f} against the paper's {r['paper']['mae']:.3f}, "
        f"R2 {r['R2 ln, fold mean']:.3f} on ln Tc, {r['R2 K, pooled']:.3f} on Tc in kelvin (pooled) "
        f"against the paper's {r['paper']['r2']:.3f}"
        for r in matched
    )
    return [
        "",
        "Our R2 is on ln Tc, per fold, averaged over the folds. Where our classical baselines match the paper's MAE, "
        f"the paper's R2 matches ours on Tc in kelvin instead ({pairs}): the quoted R2 of the classical rows are "
        "probably not on the scale of ours. Five conventions for every cell: "
        "[results/r2_conventions.md](results/r2_conventions.md).",
    ]


def main() -> None:
    rows = []
    # The default configuration, and the one it replaced on 2026-11-27 (free element embeddings, no weight average).
    for label, folder in (
        ("SODNet (ours)", "supercon3d_sodnet"),
        ("SODNet, default until 2026-11-27 (ours)", "sodnet_variants/blocks2_composition"),
    ):
        sodnet = RESULTS / folder / "supercon3d_sodnet.json"
        if not sodnet.exists():
            continue
        for regime, s in json.loads(sodnet.read_text())["summary"].items():
            rows.append(table_row(label, regime, s, f"results/{folder}/README.md"))
    # The default SODNet taught by the fold's forest member (sodnet_distillation.py; mgl-supercon train --teacher).
    distillation = RESULTS / "sodnet_distillation.json"
    if distillation.exists():
        data = json.loads(distillation.read_text())
        for regime, key in (("all", "summary"), ("all->O", "summary_all_to_ordered")):
            if key in data:
                label = "SODNet taught by the forest, 3 doped copies (ours)"
                rows.append(table_row(label, regime, data[key]["distilled SODNet"], "results/sodnet_distillation.md"))
    # The shipped ensemble, scored by each fold's members on the fold's test block (make_pretrained.py).
    card = HERE.parent / "matgl_supercon" / "pretrained" / "SODNet-SuperCon3D"
    if (card / "calibration.json").exists():
        for regime, s in json.loads((card / "calibration.json").read_text()).get("held_out_folds", {}).items():
            label = "SODNet-SuperCon3D, the shipped ensemble (ours; each fold's members)"
            rows.append(table_row(label, regime, s, "../matgl_supercon/pretrained/SODNet-SuperCon3D/README.md"))
    # The shipped ensemble's recipe on the ordered-only and O+SD regimes' own folds (regime_ensemble.py).
    regime_ensemble = RESULTS / "regime_ensemble.json"
    if regime_ensemble.exists():
        for regime, s in json.loads(regime_ensemble.read_text())["regimes"].items():
            if regime != "all":  # there the shipped ensemble's own row, with every member, stands
                label = "the shipped ensemble's recipe on the regime's folds (ours; no forest-reading SODNet)"
                rows.append(table_row(label, regime, s["the shipped recipe"], "results/regime_ensemble.md"))
    # The baselines, then the same models trained with an extra set (supercon3d_baselines.py --extra-data NAME).
    for baselines in sorted(RESULTS.glob("supercon3d_baselines*.json")):
        if baseline_label(baselines.stem, "") is None:
            continue  # another table (e.g. svr_tuning, a per-fold run), not a Table-1 cell
        data = json.loads(baselines.read_text())
        for key, s in data["results"].items():
            model, regime = key.split(" ")
            label = baseline_label(baselines.stem, model)
            rows.append(table_row(label, regime, s, f"results/{baselines.stem}.md"))
    order = {"all": 0, "all->O": 1, "O+SD": 2, "O": 3}
    sections = task_sections()
    sections_text = "\n".join(sections)
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python benchmarks/leaderboard.py` from the results files; never edited by hand.",
        'Each row links to the file with its command, machine and date. "quoted" rows are published numbers',
        "(Chen et al., NeurIPS 2024, Table 1), not re-run here.",
        "",
        "## SuperCon3D, paper protocol (10 folds 8:1:1, ln Tc; MAE in ln K)",
        "",
        "| model | regime | MAE (mean ± sd) | R2 (mean ± sd) | folds | source |",
        "|---|---|---|---|---|---|",
    ]
    for model, regime, m, msd, r, rsd, n, src in sorted(rows, key=lambda x: (order.get(x[1], 9), x[2])):
        folds = f"{n}" if n == 10 else f"{n} (partial: not comparable with 10-fold rows)"
        lines.append(f"| {model} | {regime} | {m:.3f} ± {msd:.3f} | {r:.3f} ± {rsd:.3f} | {folds} | [{src}]({src}) |")
    for model, regime, m, r in sorted(QUOTED, key=lambda x: (order.get(x[1], 9), x[2])):
        lines.append(f"| {model} | {regime} | {m:.3f} | {r:.3f} | 10 | quoted |")
    lines += r2_convention_note()
    lines += [
        "",
        "## Matbench-style tasks (`mgl-supercon benchmark TASK --model NAME`)",
        "",
        "Each cell is written by the command in its `summary.json` (with machine and date) as Matbench",
        "`results.json.gz`, which `matgl_supercon.benchmarks.read_matbench_results` loads with matbench itself.",
        "MAE ± sd over folds; R2 is the mean over folds." + (PREVIOUS_DEFAULTS_NOTE if "†" in sections_text else ""),
        *sections,
        *family_section(card),
        "",
        "## Other results",
        "",
        "- Every finding in one table, with what did not help: [results/README.md](results/README.md)",
        "- Graph conversion speed: [results/graph_speed.md](results/graph_speed.md)",
        "- 3DSC_MP grouped vs random folds, JARVIS Tc: [results/classical_tasks.md](results/classical_tasks.md)",
        "- DiffCSP core on Perov-5 CSP: [results/perov5_csp.md](results/perov5_csp.md)",
        "- SODNet cost: [results/sodnet_cost.json](results/sodnet_cost.json)",
        "- SODNet configurations tried (accuracy against cost): "
        "[results/sodnet_variants/README.md](results/sodnet_variants/README.md)",
        "- RBF SVR tuning on SuperCon3D: [results/svr_tuning.md](results/svr_tuning.md)",
        "- Why SODNet does not beat the Magpie forest (features vs learner, other composition learners, distillation, "
        "shared errors, residual training): [results/sodnet_vs_forest.md](results/sodnet_vs_forest.md)",
        "- Composition statistics: forest against MLPs with and without periodic embeddings: "
        "[results/composition_mlp.md](results/composition_mlp.md)",
        "- Composition statistics: forest against a retrieval-augmented network (TabR, SODNet's retrieval module): "
        "[results/composition_retrieval.md](results/composition_retrieval.md)",
        "- Compositions as sets of elements: the forest against an element-attention network (Roost / CrabNet-style) "
        "on the formula table: [results/composition_attention.md](results/composition_attention.md)",
        "- Extra trees on composition statistics with the SuperCon formula table (the `CompositionForestTc` members): "
        "[results/composition_forest.md](results/composition_forest.md)",
        "- The same trees with geometry descriptors or JARVIS-DFT Tc rows, per family (what helps the best "
        "composition learner?): [results/forest_inputs.md](results/forest_inputs.md)",
        "- The same trees with their neighbours' Tc as inputs, a median or trimmed mean of the trees, their mean "
        "averaged with their leaf median (the members' prediction since 2026-12-06 night), splits on the absolute "
        "error, or the members' size budget spent otherwise: [results/forest_variants.md](results/forest_variants.md)",
        "- Which elemental properties the composition statistics hold (the solid's properties from pymatgen, Magpie's "
        "DFT ground state): [results/element_properties.md](results/element_properties.md)",
        "- Other learners and settings on the shipped forests' inputs (boosting, features per split, weighted "
        "structures, Magpie columns): [results/forest_learners.md](results/forest_learners.md)",
        "- Which formula-table rows a fold may train on (outside the test chemical systems, or outside the test "
        "compounds; near copies of test compounds): [results/formula_scope.md](results/formula_scope.md)",
        "- The formula table's non-superconductors (Tc = 0) as floor-Tc rows beside the forests' training rows: "
        "[results/non_superconductors.md](results/non_superconductors.md)",
        "- Pretrained CHGNet features against Magpie: [results/pretrained_features.md](results/pretrained_features.md)",
        "- SODNet taught by the composition forest (doped copies labelled by the fold's forest member): "
        "[results/sodnet_distillation.md](results/sodnet_distillation.md)",
        "- Learning curves (MAE against training-set size, with a fitted asymptote): "
        "[results/learning_curve.md](results/learning_curve.md)",
        "- Tc label noise (repeated measurements of one composition): [results/label_noise.md](results/label_noise.md)",
        "- The composition members' intervals on chemical systems none of them saw: "
        "[results/uncertainty_new_systems.md](results/uncertainty_new_systems.md)",
        "- Disorder types per dataset: [results/disorder_counts.md](results/disorder_counts.md)",
        "- SuperCon3D audit (CIFs with overlapping atoms, CIF compositions far from the table's formula): "
        "[results/supercon3d_audit.md](results/supercon3d_audit.md)",
        "- SODNet on 3DSC_MP by mp_id, element descriptors x weight average: "
        "[results/ablations/sodnet_3dsc_mp_mpid.md](results/ablations/sodnet_3dsc_mp_mpid.md)",
        "- SODNet on 3DSC_MP in random folds, the same cells: "
        "[results/ablations/sodnet_3dsc_mp_random.md](results/ablations/sodnet_3dsc_mp_random.md)",
        "",
        "## Scripts",
        "",
        "- `graph_speed.py`: converter throughput vs MatGL's `Structure2Graph`.",
        "- `supercon3d_sodnet.py`: SODNet, paper protocol, resumable per fold (`--folds`, `--regimes`).",
        "- `supercon3d_baselines.py`: RF / SVR on Magpie (-c) and Magpie + geometry (-geo).",
        "- `sodnet_vs_forest.py`: SODNet vs the Magpie forest (features or learner, other composition learners, "
        "an MLP distilled from the forest, shared errors, residual training).",
        "- `composition_mlp.py`: the forest against MLPs (plain, periodic-embedded, seed ensembles) on SODNet's "
        "composition statistics.",
        "- `composition_retrieval.py`: the forest against SODNet's retrieval module (TabR) with a small predictor on "
        "the same statistics.",
        "- `composition_attention.py`: an element-attention network on compositions and the formula table, beside "
        "the forest members (folds 0-1).",
        "- `composition_forest.py`: extra trees on the same statistics, trained beside each fold's formula-table "
        "rows; saves the shipped `CompositionForestTc` members.",
        "- `forest_inputs.py`: those trees (200 of them) with and without the `-geo` cell and neighbour "
        "descriptors, the formula table or JARVIS-DFT's computed Tc, per family and disorder.",
        "- `forest_variants.py`: the same trees (the members' formula rows) with the ln Tc of each row's nearest "
        "compositions as inputs, with a median or trimmed mean of the trees or their mean averaged with the leaf "
        "median in place of their mean, with splits that lower the absolute error, and with the members' size budget "
        "spent on fewer or more trees.",
        "- `forest_residuals.py`: those trees corrected by their out-of-fold errors on neighbouring compositions "
        "(residual smoothing), and where their error lies by distance to the nearest training row.",
        "- `regime_ensemble.py`: the shipped ensemble's recipe (forest, low-Tc forest and the default SODNet, gated "
        "and blended as `make_pretrained.py` blends them) on the paper's ordered-only and O+SD regimes.",
        "- `low_tc_gate.py`: the shipped ensemble with a low-Tc gate: where a forest that also grew on the formula "
        "table's non-superconductors (at a floor Tc) reads cold, the prediction moves towards it.",
        "- `forest_target_encoding.py`: those trees with target encodings (the mean ln Tc of the training rows that "
        "hold each element, or each pair of elements) as inputs.",
        "- `element_properties.py`: those trees on the statistics of five elemental descriptor tables (the solid's "
        "properties, the elemental Tc, Magpie's DFT ground state).",
        "- `forest_element_tables.py`: those trees (the members' formula rows) with one more elemental table: "
        "Oliynyk's properties, XenonPy's, or the MEGNet, mat2vec and SkipAtom element embeddings.",
        "- `forest_learners.py`: gradient boosting and one-setting changes of those trees on the shipped forests' "
        "inputs (training and validation blocks, formula rows outside the test systems).",
        "- `formula_scope.py`: those trees with the formula rows outside the test chemical systems, outside the test "
        "compounds (0.02 or more away in atom fractions) or both, per regime (all, ordered only).",
        "- `non_superconductors.py`: those trees with the formula table's Tc = 0 compositions added at a floor Tc "
        "(with or without copper oxides, two weights).",
        "- `sodnet_variants.py`: SODNet configurations and ensembles of them (`--accelerator gpu --workers N`).",
        "- `sodnet_distillation.py`: SODNet trained beside doped copies of its training structures that the fold's "
        "forest member labels (resumable per fold; about 26 minutes per fold on 2 cores).",
        "- `sodnet_forest_state.py`: SODNet reading, as its state vector, the ln Tc of a forest that never saw the "
        "structure (stacking inside the network); in the shipped ensemble since 2026-12-07, where it reads the "
        "forest members' mean.",
        "- `sodnet_3dsc_ablation.py`: SODNet's element descriptors and weight average, each alone, on 3DSC_MP "
        "grouped by mp_id (`--task 3dsc_mp_tc_random`: random folds).",
        "- `pretrained_features.py`: frozen CHGNet features of each structure's ordered approximant for the forests.",
        "- `learning_curve.py`: SODNet and forests on nested subsets of each fold's training block.",
        "- `label_noise.py`: how far repeated SuperCon measurements of one composition disagree.",
        "- `uncertainty_new_systems.py`: the composition members' coverage on SuperCon3D folds grouped by chemical "
        "system, against random folds built the same way.",
        "- `sodnet_cost.py`: SODNet parameters, inference and training speed, peak memory.",
        "- `svr_tuning.py`: how far a tuned RBF SVR gets on SuperCon3D (the paper's SVM rows).",
        "- `r2_conventions.py`: the committed cells' and the shipped ensemble's R2 on ln Tc and on Tc in kelvin, "
        "per fold and pooled, beside the paper's quoted R2.",
        "- `formula_input.py`: the shipped composition members on SuperCon3D structures and on their bare formulas "
        "(`mgl-supercon predict --formula`).",
        "- `doping_series_held_out.py`: the four doping series of `examples/doping_series.py`, predicted by a forest "
        "grown without their chemical systems.",
        "- `composition_head_alone.py`: how much of a composition-head SODNet's prediction the head makes alone.",
        "- `classical_tasks.py`: composition baselines on 3DSC_MP (grouped vs random folds) and JARVIS Tc.",
        "- `disorder_counts.py`: disorder types per dataset, beside each dataset's own labels.",
        "- `supercon3d_audit.py`: SuperCon3D records whose CIF holds overlapping atoms or a composition far from the "
        "table's formula, and their test error.",
        "- `perov5_csp.py`: the DiffCSP core on Perov-5 crystal structure prediction.",
        "- `make_pretrained.py`: packages the fold models as the shipped `SODNet-SuperCon3D` ensemble.",
        "- `make_element_table.py`: writes the package's copies of Magpie's DFT ground-state columns (from "
        "matminer) and of Oliynyk's elemental properties (from ElementEmbeddings), which `ground_state_descriptors` "
        "and `oliynyk_descriptors` read.",
        "- `run_tasks.sh`: every Matbench-style cell above (`mgl-supercon benchmark`, resumable).",
        "- `diffcsp_sc_generation.py`: Tc-conditioned generation on the DiffCSP-SC split, SR/NSR metrics.",
        "- `leaderboard.py`: this page.",
    ]
    (HERE / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

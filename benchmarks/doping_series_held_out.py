"""Doping trends in a chemical system the forest never saw: ``examples/doping_series.py`` held out.

Usage:
    python benchmarks/doping_series_held_out.py --data ../shared/data

``examples/doping_series.py`` predicts four doping series from their formulas with the shipped composition members,
beside the Tc the SuperCon formula table records for each compound. Those series are in the table the members grew
on, so the example shows what they learned, not how they extrapolate. Here one forest with the shipped members'
settings (``CompositionForestConfig()``, 45 extra trees with the leaf median) grows on all of SuperCon3D and the
table's superconductors (as the shipped members do, without a held-out fold), and then once per series without
every row that holds all of the series' elements (Mg, Al and B for Mg1-xAlxB2: co-doped variants go too, MgB2 and
AlB2 stay). Each prediction is compared with the median Tc the table records within 0.02 (atom fractions, L1) of
the series' compound, as the example prints it: the MAE in ln K over the points with a recorded Tc above 0, and
Spearman's rank correlation along the series (the trend).

Writes ``benchmarks/results/doping_series_held_out.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _report import header_lines, provenance, write_report
from pymatgen.core import Composition
from scipy.stats import spearmanr

from matgl_supercon.data import load_supercon3d, load_supercon_formulas
from matgl_supercon.graph import compact_formula, virtual_crystal
from matgl_supercon.models import CompositionForestTc
from matgl_supercon.training import CompositionForestConfig, fit_composition_forest

RESULTS = Path(__file__).parent / "results"
sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
from doping_series import SERIES, recorded_tc, table_compositions  # noqa: E402  (the example's, once)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="data root (default $MATGL_SUPERCON_DATA)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    start = time.perf_counter()
    structures = load_supercon3d(args.data)
    table = load_supercon_formulas(args.data, skip_invalid=True)
    superconductors = [r for r in table if r.tc > 0]
    reader = CompositionForestTc()  # the shipped members' descriptors
    statistics = np.concatenate(
        [
            # SuperCon3D as published: 5 CIFs hold overlapping atoms (load_supercon3d's docstring).
            reader.structure_composition_statistics([r.structure for r in structures], allow_overlaps=True).numpy(),
            reader.structure_composition_statistics([virtual_crystal(r.composition) for r in superconductors]).numpy(),
        ]
    )
    ln_tc = np.log([r.tc for r in [*structures, *superconductors]])
    elements = [
        frozenset(el.symbol for el in c.elements)
        for c in [r.structure.composition for r in structures] + [r.composition for r in superconductors]
    ]
    # The recorded Tc of each series point, as the example prints it.
    table_fractions, table_tc = table_compositions(table)

    def fit(keep: np.ndarray) -> CompositionForestTc:
        return fit_composition_forest((statistics[keep], ln_tc[keep]), config=CompositionForestConfig())[0]

    everything = fit(np.ones(len(ln_tc), bool))
    rows, summary = [], {}
    for name, (pattern, levels, amount) in SERIES.items():
        formulas = [compact_formula(Composition(pattern.format(a=amount(x), x=x))) for x in levels]
        system = frozenset(el.symbol for f in formulas for el in Composition(f).elements)
        keep = np.array([not system <= e for e in elements])
        held_out = fit(keep)
        points = reader.structure_composition_statistics([virtual_crystal(f) for f in formulas])
        seen = everything.predict_statistics(points).numpy()
        unseen = held_out.predict_statistics(points).numpy()
        recorded = np.array([median for median, _ in recorded_tc(formulas, table_fractions, table_tc)])
        scored = np.isfinite(recorded) & (recorded > 0)
        log_recorded = np.log(np.where(scored, recorded, 1.0))
        summary[name] = {
            "system": sorted(system),
            "rows_left_out": int((~keep).sum()),
            "points_scored": int(scored.sum()),
            "mae_ln_k_all_rows": float(np.abs(seen - log_recorded)[scored].mean()),
            "mae_ln_k_system_left_out": float(np.abs(unseen - log_recorded)[scored].mean()),
            "spearman_all_rows": float(
                spearmanr(np.exp(seen)[np.isfinite(recorded)], recorded[np.isfinite(recorded)])[0]
            ),
            "spearman_system_left_out": float(
                spearmanr(np.exp(unseen)[np.isfinite(recorded)], recorded[np.isfinite(recorded)])[0]
            ),
        }
        for x, formula, r, a, b in zip(levels, formulas, recorded, seen, unseen, strict=True):
            rows.append(
                {
                    "series": name,
                    "x": x,
                    "formula": formula,
                    "recorded_tc": r,
                    "tc_all_rows": float(np.exp(a)),
                    "tc_system_left_out": float(np.exp(b)),
                }
            )
        print(f"{name}: {summary[name]}")
    meta = provenance("python benchmarks/doping_series_held_out.py --data ../shared/data", 2)
    lines = [
        *header_lines("Doping trends in a chemical system the forest never saw", meta),
        "",
        f"One forest with the shipped members' settings, grown on SuperCon3D ({len(structures):,} structures) and "
        f"the formula table's {len(superconductors):,} superconductors, then once per series without every row "
        "that holds all the series' elements. Recorded: the formula table's median Tc within 0.02 (atom fractions) "
        "of the compound, 0 K meaning recorded as not superconducting, '-' none. The series are those of "
        f"`examples/doping_series.py`. {time.perf_counter() - start:.0f} s on 2 cores.",
        "",
        "| series | rows left out | points scored | MAE ln K, all rows | MAE ln K, system left out "
        "| Spearman, all rows | Spearman, system left out |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        lines.append(
            f"| {name} | {s['rows_left_out']} | {s['points_scored']} | {s['mae_ln_k_all_rows']:.2f} | "
            f"{s['mae_ln_k_system_left_out']:.2f} | {s['spearman_all_rows']:.2f} | "
            f"{s['spearman_system_left_out']:.2f} |"
        )
    lines += [
        "",
        "| series | x | formula | recorded Tc / K | Tc / K, all rows | Tc / K, system left out |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        recorded = "-" if np.isnan(r["recorded_tc"]) else f"{r['recorded_tc']:.1f}"
        lines.append(
            f"| {r['series']} | {r['x']:.2f} | {r['formula']} | {recorded} | {r['tc_all_rows']:.1f} | "
            f"{r['tc_system_left_out']:.1f} |"
        )
    figure = RESULTS / "doping_series_held_out.png"
    draw_series(rows, figure, f"{meta['command']} | {meta['machine']} | {meta['date']}")
    lines += ["", f"![Tc along each series: recorded, all rows, system left out]({figure.name})"]
    write_report(RESULTS / "doping_series_held_out", {"meta": meta, "summary": summary, "points": rows}, lines)


def draw_series(rows: list[dict], path: Path, footer: str) -> None:
    """One panel per series: the recorded Tc and both forests' predictions against the doping level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["series"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(3.0 * len(names), 3.0), dpi=120)
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        points = [r for r in rows if r["series"] == name]
        x = [r["x"] for r in points]
        ax.plot(x, [r["recorded_tc"] for r in points], "ko", label="recorded (table median)")
        ax.plot(x, [r["tc_all_rows"] for r in points], "C0.-", label="forest, all rows")
        ax.plot(x, [r["tc_system_left_out"] for r in points], "C3s--", label="forest, system left out")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("x", fontsize=8)
        ax.tick_params(labelsize=7)
    np.atleast_1d(axes)[0].set_ylabel("Tc / K", fontsize=8)
    np.atleast_1d(axes)[0].legend(fontsize=6)
    fig.text(0.01, 0.005, footer, fontsize=6, color="0.4")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()

"""How noisy are Tc labels? Repeated measurements of one composition in SuperCon, against SuperCon3D's labels.

Usage:
    python benchmarks/label_noise.py --data ../shared/data

No model can predict a label better than the labels agree with each other. The formula-only SuperCon table
(Stanev et al. 2018) lists many compounds more than once, from different papers and samples. Compositions are
matched by their fractional composition rounded to 3 decimals (so ``YBa2Cu3O7`` and ``Y2Ba4Cu6O14`` are one
compound); rows with Tc = 0 (non-superconductors) are left out. Reported, in ln K:

- within SuperCon: each repeated measurement against the mean of the other measurements of its composition
  (leave one out), the error of an oracle that knew the compound's average reported Tc;
- SuperCon3D against SuperCon: each SuperCon3D label against the mean of SuperCon's measurements of its
  composition, where SuperCon has two or more;
- SuperCon3D's own repeated compositions, leave one out.

Writes ``benchmarks/results/label_noise.{json,md}``.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
from _report import header_lines, provenance, write_report
from learning_curve import RESULTS, TARGET
from pymatgen.core import Composition

from matgl_supercon.data import load_supercon3d, load_supercon_formulas


def composition_key(composition: Composition, decimals: int = 3) -> tuple[tuple[str, float], ...]:
    """Elements and their atomic fractions rounded to ``decimals``: one key per compound, however normalised."""
    fractions = composition.fractional_composition
    return tuple(sorted((element.symbol, round(float(amount), decimals)) for element, amount in fractions.items()))


def leave_one_out_errors(groups: Iterable[list[float]]) -> np.ndarray:
    """|x - mean of the group's other values| for every value of every group of two or more."""
    return np.array([abs(x - (sum(g) - x) / (len(g) - 1)) for g in groups if len(g) >= 2 for x in g])


def describe(errors: np.ndarray) -> dict:
    return {
        "n": int(errors.size),
        "mae": float(errors.mean()),
        "median": float(np.median(errors)),
        "fraction_above_target": float((errors > TARGET).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    formulas = load_supercon_formulas(args.data, skip_invalid=True)  # warns, naming the 8 unparsable rows
    supercon: dict[tuple, list[float]] = defaultdict(list)
    for row in formulas:
        if row.tc > 0:
            supercon[composition_key(row.composition)].append(float(np.log(row.tc)))
    records = load_supercon3d(args.data)
    own: dict[tuple, list[float]] = defaultdict(list)
    versus = []
    for record in records:
        key = composition_key(record.structure.composition)
        own[key].append(record.ln_tc)
        if len(supercon.get(key, ())) >= 2:
            versus.append(abs(record.ln_tc - np.mean(supercon[key])))
    results = {
        "supercon_repeats": describe(leave_one_out_errors(supercon.values())),
        "supercon3d_vs_supercon_mean": describe(np.array(versus)),
        "supercon3d_repeats": describe(leave_one_out_errors(own.values())),
        "counts": {
            "supercon_rows_used": sum(len(v) for v in supercon.values()),
            "supercon_compositions": len(supercon),
            "supercon_repeated_compositions": sum(len(v) >= 2 for v in supercon.values()),
            "supercon3d_structures": len(records),
            "supercon3d_in_supercon": sum(composition_key(r.structure.composition) in supercon for r in records),
            "supercon3d_repeated_compositions": sum(len(v) >= 2 for v in own.values()),
        },
    }
    meta = provenance("python benchmarks/label_noise.py --data ../shared/data", "1 core")
    counts = results["counts"]
    lines = header_lines("Tc label noise: repeated measurements of one composition", meta)
    lines += [
        "",
        f"SuperCon (Stanev et al. 2018): {counts['supercon_rows_used']:,} rows with Tc > 0 in "
        f"{counts['supercon_compositions']:,} compositions, {counts['supercon_repeated_compositions']:,} of them "
        f"measured more than once. SuperCon3D: {counts['supercon3d_in_supercon']:,} of its "
        f"{counts['supercon3d_structures']:,} compositions appear in SuperCon; "
        f"{counts['supercon3d_repeated_compositions']} compositions occur more than once in SuperCon3D itself.",
        "",
        f"| comparison | labels compared | MAE ln K | median ln K | share above {TARGET} |",
        "|---|---|---|---|---|",
    ]
    names = {
        "supercon_repeats": "SuperCon measurement vs the mean of the other measurements of its composition",
        "supercon3d_vs_supercon_mean": "SuperCon3D label vs the mean of SuperCon's measurements (>= 2)",
        "supercon3d_repeats": "SuperCon3D label vs its other structures of the same composition",
    }
    for key, name in names.items():
        row = results[key]
        lines.append(
            f"| {name} | {row['n']:,} | {row['mae']:.3f} | {row['median']:.3f} | {row['fraction_above_target']:.1%} |"
        )
    lines += [
        "",
        "An oracle that knew each compound's average reported Tc would miss a label by about the MAE of the first",
        "row (SuperCon3D's labels were taken from SuperCon, so the second row, lower, is partly the same numbers",
        "compared with themselves). Models score 0.55-0.70 ln K on the paper folds (`supercon3d_sodnet/README.md`,",
        "`supercon3d_baselines.md`), and the target is 0.45, both far above this floor: what limits the models is",
        "predicting compounds they have not seen, not disagreement between measurements.",
    ]
    write_report(RESULTS / "label_noise", {"meta": meta, "results": results}, lines)


if __name__ == "__main__":
    main()

"""Tc along four doping series, from formulas alone (seconds on a CPU).

Run from the repository root:  python examples/doping_series.py [DATA_ROOT]

The shipped ensemble's composition members read each formula, as ``mgl-supercon predict --formula`` does. With a data
root (or ``$MATGL_SUPERCON_DATA``) each row also shows the median Tc that the SuperCon formula table records for the
compositions within 0.02 of it (atom fractions, L1), and how many there are ("-": none; 0 K: recorded as not
superconducting). These series are in that table, which the forests grew on. So the table shows what the model
learned of known doping trends: Al in MgB2 lowering Tc, the cuprate and iron-pnictide domes, oxygen in YBa2Cu3O6+x.
It does not show its accuracy on new compounds: ``benchmarks/results/formula_input.md`` holds that, and
``benchmarks/results/doping_series_held_out.md`` grows a forest without each series' chemical system.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence

import numpy as np

from matgl_supercon.data import SAME_COMPOUND_DISTANCE, FormulaRecord, atom_fractions, load_supercon_formulas
from matgl_supercon.graph import virtual_crystal
from matgl_supercon.pretrained import load_model
from matgl_supercon.workflows import predict_formula_tc

#: Series name -> (its formula, with the host's amount ``a`` and the dopant's ``x``; the doping levels x; a of x).
SERIES = {
    "Mg1-xAlxB2": ("Mg{a:.2f}Al{x:.2f}B2", (0.0, 0.1, 0.2, 0.3, 0.4, 0.5), lambda x: 1 - x),
    "La2-xSrxCuO4": ("La{a:.2f}Sr{x:.2f}CuO4", (0.05, 0.1, 0.15, 0.2, 0.25, 0.3), lambda x: 2 - x),
    "Ba1-xKxFe2As2": ("Ba{a:.1f}K{x:.1f}Fe2As2", (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), lambda x: 1 - x),
    "YBa2Cu3O6+x": ("YBa2Cu3O{a:.1f}", (0.0, 0.3, 0.5, 0.7, 0.9, 1.0), lambda x: 6 + x),
}


def table_compositions(rows: Sequence[FormulaRecord]) -> tuple[np.ndarray, np.ndarray]:
    """The formula table's atom fractions (``[n, 119]``) and recorded Tc (``[n]``, 0 K rows included)."""
    return atom_fractions([virtual_crystal(r.composition) for r in rows]), np.array([r.tc for r in rows])


def recorded_tc(formulas: Sequence[str], table: np.ndarray, tc: np.ndarray) -> list[tuple[float, int]]:
    """The table's median Tc over the rows of each formula's compound, and their number (NaN and 0: none).

    A row is of the compound when its atom fractions are within ``SAME_COMPOUND_DISTANCE`` (L1) of the formula's.
    """
    near = []
    for fractions in atom_fractions([virtual_crystal(f) for f in formulas]):
        close = np.abs(table - fractions).sum(1) < SAME_COMPOUND_DISTANCE
        near.append((float(np.median(tc[close])) if close.any() else math.nan, int(close.sum())))
    return near


def main() -> None:
    root = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MATGL_SUPERCON_DATA")
    members = load_model("SODNet-SuperCon3D", members="composition")
    table = None
    if root is not None:
        table = table_compositions(load_supercon_formulas(root, skip_invalid=True))  # warns of 8 it cannot parse
    header = "series          x     formula            Tc / K   ±1 sd          SuperCon table"
    print(header if root else header.rsplit("  ", 1)[0].rstrip())
    for name, (pattern, levels, amount) in SERIES.items():
        formulas = [pattern.format(a=amount(x), x=x) for x in levels]
        near = recorded_tc(formulas, *table) if table is not None else [(math.nan, -1)] * len(formulas)
        for x, p, (median, count) in zip(levels, predict_formula_tc(formulas, members), near, strict=True):
            recorded = "" if count < 0 else f"{median:6.1f} K ({count})" if count else "     -"
            spread = f"{p.tc_low:.1f}-{p.tc_high:.1f}"
            print(f"{name:15s} {x:4.2f}  {p.formula:18s} {p.tc:6.1f}   {spread:13s}  {recorded}".rstrip())


if __name__ == "__main__":
    main()

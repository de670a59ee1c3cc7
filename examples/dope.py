"""Which dopant on the Mg site of MgB2 raises the predicted Tc? (the "improve Tc by doping" step)

Run from the repository root:  python examples/dope.py
"""

from __future__ import annotations

from pathlib import Path

from pymatgen.core import Structure

from matgl_supercon.workflows import explore_doping

parent = Structure.from_file(str(Path(__file__).parent / "structures" / "MgB2.cif"))
for v in explore_doping(parent, host="Mg", dopants=["Al", "Li", "Sc", "Zr"], fractions=[0.05, 0.1, 0.2]):
    p = v.prediction
    print(
        f"{v.dopant:3s} x={v.fraction:4.2f}  {p.formula:22s} Tc = {p.tc:5.1f} K (±1 sd {p.tc_low:.1f}-{p.tc_high:.1f})"
    )

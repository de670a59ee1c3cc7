"""Screen a folder of CIFs (here: the examples), resumably, and print the ranking.

Run from the repository root:  python examples/screen.py [FOLDER] [OUT.csv]
Rerun it and it skips what is already in OUT.csv; unreadable files go to OUT.errors.csv.
For a large folder, ``screen_folder(folder, out, load_model("SODNet-SuperCon3D", members="composition"))`` (from
``matgl_supercon.pretrained``) ranks with the ensemble's composition members alone (its forests, with their own
low-Tc gate): SuperCon3D's 1,578 CIFs in 21 s instead of 75 s on 2 CPU cores, parsing included (772 against 34.1
structures/s once parsed, ``benchmarks/results/sodnet_cost.json``), nearly as accurate on SuperCon3D (held-out MAE
0.485 ln K; the whole ensemble 0.480), but blind to the structure.
"""

from __future__ import annotations

import sys
from pathlib import Path

from matgl_supercon.workflows import screen_folder

folder = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "structures"
out = sys.argv[2] if len(sys.argv) > 2 else "screen_results.csv"
report = screen_folder(folder, out, workers=2)
print(f"{report.n_files} files, {report.n_predicted} predicted now, {report.n_errors} errors -> {out}")
for p in report.top:
    print(f"{p.tc:7.1f} K  {p.formula:18s} {p.source}")

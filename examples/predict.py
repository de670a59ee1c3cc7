"""Predict Tc of the example structures with the shipped SODNet-SuperCon3D ensemble (seconds on a CPU).

Run from the repository root:  python examples/predict.py
"""

from __future__ import annotations

from pathlib import Path

from matgl_supercon.workflows import predict_tc

files = sorted((Path(__file__).parent / "structures").glob("*.cif"))
for p in predict_tc(files):
    spread = f"{p.tc_low:.1f}-{p.tc_high:.1f}"
    print(f"{Path(p.source).name:22s} {p.formula:18s} {p.disorder:8s} Tc = {p.tc:6.1f} K  (±1 sd: {spread})")

"""Disorder types (our classifier) over SuperCon3D, 3DSC_MP and JARVIS, beside each dataset's own labels.

Usage:
    python benchmarks/disorder_counts.py --data ../shared/data

Writes ``benchmarks/results/disorder_counts.md``.
"""

from __future__ import annotations

import argparse
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from matgl_supercon.data import load_3dsc_mp, load_jarvis_tc, load_supercon3d
from matgl_supercon.graph import DISORDER_TYPES, classify_disorder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    lines = [
        "# Disorder types",
        "",
        "Command: `python benchmarks/disorder_counts.py --data ../shared/data`  ",
        f"Date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}",
        "",
        "| dataset | " + " | ".join(DISORDER_TYPES) + " | dataset's own label -> ours |",
        "|---|" + "---|" * (len(DISORDER_TYPES) + 1),
    ]
    for name, loader, key in (
        ("SuperCon3D", load_supercon3d, "order"),
        ("3DSC_MP", load_3dsc_mp, "disorder_type"),
        ("JARVIS", load_jarvis_tc, None),
    ):
        records = loader(args.data)
        kinds = [classify_disorder(r.structure)[0] for r in records]
        counts = Counter(kinds)
        cross = Counter((r.metadata[key], k) for r, k in zip(records, kinds, strict=True)) if key else {}
        cross_text = "; ".join(f"{a} -> {b}: {n}" for (a, b), n in sorted(cross.items()))
        lines.append(
            f"| {name} ({len(records)}) | " + " | ".join(str(counts[t]) for t in DISORDER_TYPES) + f" | {cross_text} |"
        )
    out = Path(__file__).parent / "results" / "disorder_counts.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

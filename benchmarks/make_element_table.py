"""Write the package's table of Magpie's DFT ground-state columns, which ``ground_state_descriptors`` reads.

Usage:
    python benchmarks/make_element_table.py   # needs matminer (pip install -e ".[benchmarks]")

The table holds, for each element the graphs know (``ALL_ELEMENTS``, H to Lr), the values matminer's ``MagpieData``
returns for ``GROUND_STATE_COLUMNS`` (Ward et al., npj Comput. Mater. 2, 16028 (2016)): the volume per atom, band gap
and magnetic moment of the element's T = 0 K DFT ground state (OQMD: Saal et al., JOM 65, 1501 (2013)), the space
group number of that ground state, and the covalent radius (pm). For the heaviest elements, which Magpie's files
lack, matminer returns its own fill-in values; they are kept as matminer gives them, so that the table reproduces
``benchmarks/results/element_properties.md``. Written atomically to
``matgl_supercon/models/magpie_ground_state.csv``.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from pymatgen.core import Element

from matgl_supercon._io import write_bytes_atomic
from matgl_supercon.graph import ALL_ELEMENTS
from matgl_supercon.models._embedding import GROUND_STATE_COLUMNS, GROUND_STATE_TABLE


def table_text() -> str:
    """The CSV text: a header ``symbol,<columns>`` and one row per element, values as matminer returns them."""
    from matminer.utils.data import MagpieData

    magpie = MagpieData()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["symbol", *GROUND_STATE_COLUMNS])
    for symbol in ALL_ELEMENTS:
        values = [float(magpie.get_elemental_property(Element(symbol), name)) for name in GROUND_STATE_COLUMNS]
        writer.writerow([symbol, *(repr(v) for v in values)])
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(GROUND_STATE_TABLE))
    args = parser.parse_args()
    write_bytes_atomic(Path(args.out), table_text().encode("utf-8"))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

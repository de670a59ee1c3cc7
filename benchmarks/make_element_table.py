"""Write the package's elemental tables: Magpie's DFT ground-state columns and Oliynyk et al.'s properties.

Usage:
    python benchmarks/make_element_table.py   # needs matminer (pip install -e ".[benchmarks]") and
                                              # pip install --no-deps elementembeddings

The table holds, for each element the graphs know (``ALL_ELEMENTS``, H to Lr), the values matminer's ``MagpieData``
returns for ``GROUND_STATE_COLUMNS`` (Ward et al., npj Comput. Mater. 2, 16028 (2016)): the volume per atom, band gap
and magnetic moment of the element's T = 0 K DFT ground state (OQMD: Saal et al., JOM 65, 1501 (2013)), the space
group number of that ground state, and the covalent radius (pm). For the heaviest elements, which Magpie's files
lack, matminer returns its own fill-in values; they are kept as matminer gives them, so that the table reproduces
``benchmarks/results/element_properties.md``. Written atomically to
``matgl_supercon/models/magpie_ground_state.csv``.

The second table, which ``oliynyk_descriptors`` reads, holds ``OLIYNYK_COLUMNS`` of Oliynyk et al.'s elemental
properties (Chem. Mater. 28, 7324 (2016)) for the 85 elements they list, as the ElementEmbeddings package ships
them (Onwuli et al., Digital Discovery 2, 1558 (2023); MIT licence): its ``oliynyk.csv``, read as a file, since
importing that package pulls in plotting and UMAP. Empty cells stay empty. Written atomically to
``matgl_supercon/models/oliynyk_elements.csv``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import math
from pathlib import Path

from pymatgen.core import Element

from matgl_supercon._io import write_bytes_atomic
from matgl_supercon.graph import ALL_ELEMENTS
from matgl_supercon.models._embedding import GROUND_STATE_COLUMNS, GROUND_STATE_TABLE, OLIYNYK_COLUMNS, OLIYNYK_TABLE


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


def element_embeddings_file(name: str) -> Path:
    """A representation file of the installed ElementEmbeddings package (``element_representations/<name>``)."""
    spec = importlib.util.find_spec("elementembeddings")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("elementembeddings is not installed: pip install --no-deps elementembeddings")
    return Path(spec.submodule_search_locations[0]) / "data" / "element_representations" / name


def oliynyk_text() -> str:
    """The CSV text of the Oliynyk table: ``symbol,<OLIYNYK_COLUMNS>``, a row per element ElementEmbeddings lists."""
    with element_embeddings_file("oliynyk.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["symbol", *OLIYNYK_COLUMNS])
    for row in rows:
        values = [float(row[c]) if row[c].strip() else math.nan for c in OLIYNYK_COLUMNS]
        writer.writerow([row["element"], *("" if math.isnan(v) else repr(v) for v in values)])
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(GROUND_STATE_TABLE))
    parser.add_argument("--oliynyk-out", default=str(OLIYNYK_TABLE))
    args = parser.parse_args()
    for path, text in ((args.out, table_text()), (args.oliynyk_out, oliynyk_text())):
        write_bytes_atomic(Path(path), text.encode("utf-8"))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

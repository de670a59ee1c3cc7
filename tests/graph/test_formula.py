from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from matgl_supercon.graph import OccupancyStructure2Graph, compact_formula


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [("mgb2", "MgB2"), ("mg_deficient_b2", "Mg0.98B2"), ("mg_al_b2", "Mg0.9Al0.1B2")],
)
def test_compact_formula_drops_counts_of_one_only(fixture, expected, request):
    structure = request.getfixturevalue(fixture)
    assert compact_formula(structure.composition) == expected
    assert compact_formula(structure[0].species) == expected.removesuffix("B2")


def test_compact_formula_keeps_counts_that_start_with_one():
    cell = Structure(Lattice.cubic(12.0), ["Mg"] * 11 + ["B"], [[i / 12, 0, 0] for i in range(12)])
    assert compact_formula(cell.composition) == "Mg11B"


def test_graph_summary_and_errors_use_the_compact_formula(mg_deficient_b2):
    converter = OccupancyStructure2Graph(element_types=("B", "Mg"), cutoff=4.0)
    assert str(converter.summary(mg_deficient_b2)).startswith("Mg0.98B2: vacancy |")
    lonely = Structure(Lattice.cubic(20.0), [{"Mg": 0.98}], [[0, 0, 0]])
    with pytest.raises(ValueError, match=r"site 0 \(Mg0.98 at \[0.0, 0.0, 0.0\]\) has no neighbour"):
        converter.get_graph(lonely)

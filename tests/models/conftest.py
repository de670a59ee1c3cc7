"""Tiny crystals shared by the composition model tests."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

ELEMENTS = ("B", "N", "O", "Na", "Mg", "Al", "Cl", "Cu", "Y", "Ba")


def cubic(species, a: float = 3.5) -> Structure:
    """A two-site cubic cell (CsCl positions) with the given species or occupancy dicts."""
    return Structure(Lattice.cubic(a), species, [[0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.fixture
def structures() -> list[Structure]:
    """Eight small ordered and disordered crystals with made-up, composition-dependent ln Tc labels."""
    return [
        cubic(["Mg", "B"], 3.1),
        cubic(["Na", "Cl"]),
        cubic(["Al", "N"], 3.0),
        cubic(["Cu", "O"], 3.2),
        cubic([{"Mg": 0.8, "Al": 0.2}, "B"], 3.1),
        cubic([{"Y": 0.5, "Ba": 0.5}, "Cu"], 3.6),
        cubic(["Ba", {"O": 0.9}], 3.4),
        cubic([{"Mg": 0.5, "Al": 0.5}, "B"], 3.1),
    ]

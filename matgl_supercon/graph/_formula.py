"""Formulas as chemists write them, for everything the package prints."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Composition, Structure


def compact_formula(composition: Composition) -> str:
    """A formula without spaces or counts of 1: ``MgB2``, ``Ba2YCu3O6.9``, a site's ``Mg`` (pymatgen's ``Mg1 B2``...).

    Occupancies stay as they are (``Mg0.98B2``), so a disordered cell or site is not rounded away; pymatgen's order
    of elements (by electronegativity) is kept.
    """
    return re.sub(r"(?<=[A-Za-z])1(?![\d.])", "", composition.formula.replace(" ", ""))


def describe_site(structure: Structure, index: int) -> str:
    """``site 3 (Mg0.98 at [0.0, 0.0, 0.0])``: how error messages name a site, so the user can find it in the file."""
    site = structure[index]
    return f"site {index} ({compact_formula(site.species)} at {np.round(site.frac_coords, 4).tolist()})"


def describe_structure(structure: Structure, position: int) -> str:
    """``structure 17 (MgB2)``: how error messages name a structure in a list (its position and reduced formula)."""
    return f"structure {position} ({structure.composition.reduced_formula})"

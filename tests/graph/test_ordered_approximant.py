from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from matgl_supercon.graph import ordered_approximant


def test_ordered_structure_comes_back_unchanged(mgb2):
    assert ordered_approximant(mgb2) == mgb2


def test_mixed_site_becomes_its_majority_element(mg_al_b2):
    assert ordered_approximant(mg_al_b2) == Structure(mg_al_b2.lattice, ["Mg", "B", "B"], mg_al_b2.frac_coords)
    assert ordered_approximant(mg_al_b2).is_ordered


def test_vacancy_is_filled_and_a_sparse_interstitial_dropped(mg_deficient_b2):
    assert ordered_approximant(mg_deficient_b2).composition.reduced_formula == "MgB2"
    with_interstitial = mg_deficient_b2.copy()
    with_interstitial.append({"Mg": 0.06}, [0.0, 0.0, 0.5])
    assert ordered_approximant(with_interstitial).composition.reduced_formula == "MgB2"


def test_alternative_positions_of_one_atom_give_one_atom(split_site, spd_site):
    approximant = ordered_approximant(split_site)
    assert approximant.composition.reduced_formula == "NaCl"
    assert approximant[1].frac_coords.tolist() == pytest.approx(split_site[1].frac_coords.tolist())
    assert ordered_approximant(spd_site).composition.reduced_formula in ("NaCl", "NaBr")


def test_ring_of_sixteen_positions_gives_one_atom():
    # One Cl spread over 16 positions 0.6 A from the cube centre, 1/16 each.
    angles = np.arange(16) * 2 * np.pi / 16
    ring = [[0.5 + 0.15 * np.cos(a), 0.5 + 0.15 * np.sin(a), 0.5] for a in angles]
    crystal = Structure(Lattice.cubic(4.0), ["Na"] + [{"Cl": 1 / 16}] * 16, [[0, 0, 0], *ring])
    assert ordered_approximant(crystal).composition.reduced_formula == "NaCl"


def test_uniformly_scaled_down_occupancies_still_give_the_parent():
    # Some CIFs list every site below half occupancy (SuperCon3D's Lu2.2Rh5.8 Laves phase).
    crystal = Structure(Lattice.cubic(4.0), [{"Cs": 0.3}, {"Cl": 0.35}], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert ordered_approximant(crystal).composition.reduced_formula == "CsCl"


def test_an_atom_listed_twice_becomes_one(mgb2):
    doubled = mgb2.copy()
    doubled.append("Mg", [0.001, 0.0, 0.0])  # 3 mA from the first Mg, as a broken CIF may list it
    assert ordered_approximant(doubled) == mgb2
